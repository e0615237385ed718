//! The idempotent executor: runs a unit of work once per `(function, key)`.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envelope::Envelope;
use lru::LruCache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::error::{IdempotencyError, StoreError};
use crate::record::{PayloadHash, Record, Status};
use crate::store::{PutOutcome, Store};

/// Picks the idempotency key of an envelope; `None` when the envelope has none.
pub type KeyExtractor = Arc<dyn Fn(&Envelope<Value>) -> Option<String> + Send + Sync>;

/// How long a completed result answers duplicates, unless configured otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// What an execution gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<R> {
    /// The work ran now.
    Executed(R),
    /// The work had run before; this is its stored result.
    Duplicate(R),
}

impl<R> Outcome<R> {
    /// The result, however it was obtained.
    pub fn into_result(self) -> R {
        match self {
            Self::Executed(r) | Self::Duplicate(r) => r,
        }
    }

    /// Whether the work was skipped as a duplicate.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate(_))
    }
}

#[derive(Debug, Clone)]
struct Cached {
    hash: PayloadHash,
    result: String,
    expires_at: i64,
}

/// Runs work at most once per key, over a [`Store`].
pub struct Idempotency<S> {
    store: S,
    function: String,
    ttl: Duration,
    clock: Arc<dyn Clock>,
    key: KeyExtractor,
    cache: Option<Mutex<LruCache<String, Cached>>>,
}

impl<S> std::fmt::Debug for Idempotency<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("function", &self.function)
            .field("ttl", &self.ttl)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: Store> Idempotency<S> {
    /// An executor for `function` (keys are scoped by it) keyed by envelope id, results kept
    /// for an hour, no local cache, on the system clock.
    pub fn new(function: impl Into<String>, store: S) -> Self {
        Self {
            store,
            function: function.into(),
            ttl: DEFAULT_TTL,
            clock: Arc::new(SystemClock),
            key: Arc::new(|envelope| Some(envelope.metadata.id.to_string())),
            cache: None,
        }
    }

    /// How long a completed result answers duplicates.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The clock to read "now" from.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A key other than the envelope id (e.g. the order id, to run once per order).
    #[must_use]
    pub fn with_key(mut self, key: KeyExtractor) -> Self {
        self.key = key;
        self
    }

    /// Keeps up to `capacity` completed results in process, so a duplicate arriving at a warm
    /// instance costs no store call.
    #[must_use]
    pub fn with_cache(mut self, capacity: NonZeroUsize) -> Self {
        self.cache = Some(Mutex::new(LruCache::new(capacity)));
        self
    }

    /// The store, e.g. to inspect an in-memory one in tests.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Runs `work` once for `envelope`. The payload checked against reuse of the key is the
    /// event's type, version and data: what a retrying producer repeats exactly (its time and
    /// trace context may differ between attempts).
    pub async fn execute_envelope<R, E, F, Fut>(
        &self,
        envelope: &Envelope<Value>,
        remaining: Duration,
        work: F,
    ) -> Result<Outcome<R>, IdempotencyError<E>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let metadata = &envelope.metadata;
        let key = (self.key)(envelope).ok_or_else(|| IdempotencyError::MissingKey {
            reason: format!(
                "the key extractor found none in {} {}",
                metadata.event_type, metadata.id
            ),
        })?;
        #[derive(Serialize)]
        struct Payload<'a> {
            #[serde(rename = "type")]
            event_type: &'a str,
            version: u32,
            data: &'a Value,
        }
        let payload = Payload {
            event_type: &metadata.event_type,
            version: metadata.version,
            data: &envelope.data,
        };
        self.execute(&key, &payload, remaining, work).await
    }

    /// Runs `work` once for `key`; `payload` is what the key must always come with, and
    /// `remaining` the invocation's remaining time (how long the key may stay in progress).
    pub async fn execute<P, R, E, F, Fut>(
        &self,
        key: &str,
        payload: &P,
        remaining: Duration,
        work: F,
    ) -> Result<Outcome<R>, IdempotencyError<E>>
    where
        P: Serialize + ?Sized,
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let key = format!("{}#{key}", self.function);
        let hash = PayloadHash::of(payload).map_err(|e| serialization(&key, "payload", &e))?;
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();

        if let Some(cached) = self.cached(&key, now_ms) {
            check_payload(&key, &cached.hash, &hash)?;
            return decode(&key, &cached.result).map(Outcome::Duplicate);
        }

        let record = Record {
            key: key.clone(),
            status: Status::InProgress,
            expires_at: now.timestamp().saturating_add(seconds(self.ttl)),
            in_progress_expires_at_ms: Some(now_ms.saturating_add(millis(remaining))),
            payload_hash: hash.clone(),
            result: None,
        };
        if let PutOutcome::Exists(existing) = self.store.put_in_progress(&record, now_ms).await? {
            return self.duplicate(existing, &hash);
        }

        let result = match work().await {
            Ok(result) => result,
            Err(err) => {
                self.forget(&key).await;
                return Err(IdempotencyError::Work(err));
            }
        };
        let text = match serde_json::to_string(&result) {
            Ok(text) => text,
            Err(err) => {
                self.forget(&key).await;
                return Err(serialization(&key, "result", &err));
            }
        };
        let expires_at = self.clock.now().timestamp().saturating_add(seconds(self.ttl));
        if let Err(err) = self.store.complete(&key, &hash, &text, expires_at).await {
            // An oversize result will never fit: free the key rather than hold it in progress.
            // An unreachable store keeps the record in progress until it expires; either way
            // the caller learns the result was not recorded.
            if matches!(err, StoreError::TooLarge { .. }) {
                self.forget(&key).await;
            }
            return Err(err.into());
        }
        self.remember(&key, &hash, text, expires_at);
        Ok(Outcome::Executed(result))
    }

    fn duplicate<R: DeserializeOwned, E>(
        &self,
        existing: Record,
        hash: &PayloadHash,
    ) -> Result<Outcome<R>, IdempotencyError<E>> {
        check_payload(&existing.key, &existing.payload_hash, hash)?;
        match existing.status {
            Status::InProgress => Err(IdempotencyError::InProgress {
                until_ms: existing
                    .in_progress_expires_at_ms
                    .unwrap_or(existing.expires_at.saturating_mul(1000)),
                key: existing.key,
            }),
            Status::Completed => {
                let Some(text) = existing.result else {
                    return Err(StoreError::Corrupt {
                        key: existing.key,
                        reason: "completed without a stored result".into(),
                    }
                    .into());
                };
                let result = decode(&existing.key, &text)?;
                self.remember(&existing.key, hash, text, existing.expires_at);
                Ok(Outcome::Duplicate(result))
            }
        }
    }

    /// Deletes the record after failed work so a retry can run it. If the store is unreachable
    /// now, the record still expires with the invocation's remaining time, so the key is only
    /// delayed, never lost; the failure is logged, not hidden.
    async fn forget(&self, key: &str) {
        if let Err(err) = self.store.delete(key).await {
            tracing::warn!(idempotency_key = key, error = %err, "could not delete the in-progress record after failed work; it frees itself when it expires");
        }
    }

    fn cached(&self, key: &str, now_ms: i64) -> Option<Cached> {
        let mut cache = self.cache.as_ref()?.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.get(key) {
            Some(entry) if entry.expires_at.saturating_mul(1000) > now_ms => Some(entry.clone()),
            Some(_) => {
                cache.pop(key);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: &str, hash: &PayloadHash, result: String, expires_at: i64) {
        if let Some(cache) = &self.cache {
            let entry = Cached {
                hash: hash.clone(),
                result,
                expires_at,
            };
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .put(key.to_owned(), entry);
        }
    }
}

fn check_payload<E>(key: &str, stored: &PayloadHash, received: &PayloadHash) -> Result<(), IdempotencyError<E>> {
    if stored == received {
        return Ok(());
    }
    Err(IdempotencyError::PayloadMismatch {
        key: key.to_owned(),
        stored: stored.0.clone(),
        received: received.0.clone(),
    })
}

fn decode<R: DeserializeOwned, E>(key: &str, text: &str) -> Result<R, IdempotencyError<E>> {
    serde_json::from_str(text).map_err(|e| serialization(key, "stored result", &e))
}

fn serialization<E>(key: &str, what: &str, err: &serde_json::Error) -> IdempotencyError<E> {
    IdempotencyError::Serialization {
        key: key.to_owned(),
        reason: format!("the {what} is not valid JSON for its type: {err}"),
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

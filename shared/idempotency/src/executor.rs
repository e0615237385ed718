//! The idempotent executor: runs a unit of work once per `(function, key)`.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envelope::{Arrival, Envelope};
use lru::LruCache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::error::{IdempotencyError, StoreError};
use crate::record::{Kept, PayloadHash, Record, Status, sha256_hex};
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

/// What a claim on a key found.
#[derive(Debug)]
pub enum Claim<R> {
    /// The key is now held (in progress) by this invocation: run the work, then
    /// [`Idempotency::complete`] it or, if it failed, [`Idempotency::release`] it.
    Acquired(Ticket),
    /// The work ran before: a duplicate.
    Completed(Completed<R>),
}

/// A key held by this invocation while its work runs.
#[derive(Debug)]
pub struct Ticket {
    key: String,
    hash: PayloadHash,
}

impl Ticket {
    /// The record key (`<function>#<key>`).
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A duplicate: what the work's first run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed<R> {
    /// The record key (`<function>#<key>`), e.g. for [`Idempotency::mark_delivered`].
    pub key: String,
    /// The stored result; `None` when it was too large to keep (its outputs were delivered).
    pub result: Option<R>,
    /// Whether the result's outputs are known to have been delivered.
    pub delivered: bool,
}

#[derive(Debug, Clone)]
struct Cached {
    hash: PayloadHash,
    result: Option<String>,
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
    keep_results: bool,
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
            keep_results: true,
        }
    }

    /// Keeps only each result's digest, never the result: for work whose result holds what
    /// must not be stored (a message naming a person). A duplicate is still recognised; when
    /// the outputs did not go out, the key is released and a retry runs the work again.
    #[must_use]
    pub fn keeping_digests_only(mut self) -> Self {
        self.keep_results = false;
        self
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

    /// The key `envelope` is run once by (before scoping by function), if it has one.
    pub fn key_of(&self, envelope: &Envelope<Value>) -> Option<String> {
        (self.key)(envelope)
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
        let claim = self.claim_envelope(envelope, None, remaining).await?;
        self.run_claimed(claim, work).await
    }

    /// Runs `work` once for `key`; `payload` is what the key must always come with, and
    /// `remaining` the invocation's remaining time (how long the key may stay in progress).
    /// The whole result is kept for duplicates: one over the item limit is an error.
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
        let claim = self.claim(key, payload, remaining).await?;
        self.run_claimed(claim, work).await
    }

    async fn run_claimed<R, E, F, Fut>(&self, claim: Claim<R>, work: F) -> Result<Outcome<R>, IdempotencyError<E>>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let ticket = match claim {
            Claim::Acquired(ticket) => ticket,
            Claim::Completed(Completed { key, result, .. }) => {
                return result.map(Outcome::Duplicate).ok_or_else(|| {
                    StoreError::Corrupt {
                        key,
                        reason: "completed without a stored result".into(),
                    }
                    .into()
                });
            }
        };
        let result = match work().await {
            Ok(result) => result,
            Err(err) => {
                self.release(&ticket).await;
                return Err(IdempotencyError::Work(err));
            }
        };
        let text = match serde_json::to_string(&result) {
            Ok(text) => text,
            Err(err) => {
                let err = serialization(&ticket.key, "result", &err);
                self.release(&ticket).await;
                return Err(err);
            }
        };
        let expires_at = self.expiry();
        // A caller of `execute` hands duplicates the result itself: it must fit.
        let record = match Record::completed(&ticket.key, &ticket.hash, Kept::Result(text), true, expires_at) {
            Ok(record) => record,
            Err(err) => {
                self.release(&ticket).await;
                return Err(err.into());
            }
        };
        // An unreachable store keeps the record in progress until it expires; the caller
        // learns the result was not recorded.
        self.store.complete(&record).await?;
        self.remember(&record);
        Ok(Outcome::Executed(result))
    }

    /// Claims `envelope`'s key before its work runs. The payload the key must come with is
    /// the event as it arrived: `arrived_as` (its version and data before upcasting) when an
    /// upcaster changed it, so a redelivery after an upcaster was deployed is still a duplicate.
    pub async fn claim_envelope<R, E>(
        &self,
        envelope: &Envelope<Value>,
        arrived_as: Option<&Arrival>,
        remaining: Duration,
    ) -> Result<Claim<R>, IdempotencyError<E>>
    where
        R: DeserializeOwned,
    {
        let metadata = &envelope.metadata;
        let key = (self.key)(envelope).ok_or_else(|| IdempotencyError::MissingKey {
            reason: format!(
                "the key extractor found none in {} {}",
                metadata.event_type, metadata.id
            ),
        })?;
        let (version, data) = arrived_as.map_or((metadata.version, &envelope.data), |a| (a.version, &a.data));
        let key = format!("{}#{key}", self.function);
        let hash = PayloadHash::of_event(&metadata.event_type, version, data)
            .map_err(|e| serialization(&key, "payload", &e))?;
        self.claim_hashed(key, hash, remaining).await
    }

    /// Claims `key` (with the `payload` it must always come with) for an invocation with
    /// `remaining` time left: either the key is now held, and the work may run, or the work
    /// ran before and this is a duplicate. One store call; none for a cached duplicate.
    pub async fn claim<P, R, E>(
        &self,
        key: &str,
        payload: &P,
        remaining: Duration,
    ) -> Result<Claim<R>, IdempotencyError<E>>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let key = format!("{}#{key}", self.function);
        let hash = PayloadHash::of(payload).map_err(|e| serialization(&key, "payload", &e))?;
        self.claim_hashed(key, hash, remaining).await
    }

    /// [`Self::claim`] of the function's `key` whose payload hashes to `hash`.
    async fn claim_hashed<R, E>(
        &self,
        key: String,
        hash: PayloadHash,
        remaining: Duration,
    ) -> Result<Claim<R>, IdempotencyError<E>>
    where
        R: DeserializeOwned,
    {
        let now = self.clock.now();
        let now_ms = now.timestamp_millis();

        if let Some(cached) = self.cached(&key, now_ms) {
            check_payload(&key, &cached.hash, &hash)?;
            let result = cached.result.as_deref().map(|text| decode(&key, text)).transpose()?;
            return Ok(Claim::Completed(Completed {
                key,
                result,
                delivered: true,
            }));
        }

        let record = Record {
            key: key.clone(),
            status: Status::InProgress,
            expires_at: now.timestamp().saturating_add(seconds(self.ttl)),
            in_progress_expires_at_ms: Some(now_ms.saturating_add(millis(remaining))),
            payload_hash: hash.clone(),
            result: None,
            result_digest: None,
            delivered: true,
        };
        match self.store.put_in_progress(&record, now_ms).await? {
            PutOutcome::Stored => Ok(Claim::Acquired(Ticket { key, hash })),
            PutOutcome::Exists(existing) => self.duplicate(existing, &hash).map(Claim::Completed),
        }
    }

    /// Records the result of claimed work, and whether its outputs were `delivered`. A result
    /// over the item limit keeps only its digest when delivered (a duplicate is recognised and
    /// needs nothing); when not delivered it cannot be handed to a duplicate, so the key is
    /// released and a retry runs the work again (its outputs have derived ids, so consumers
    /// absorb the repeat).
    pub async fn complete<R: Serialize, E>(
        &self,
        ticket: &Ticket,
        result: &R,
        delivered: bool,
    ) -> Result<Kept, IdempotencyError<E>> {
        let text = match serde_json::to_string(result) {
            Ok(text) => text,
            Err(err) => {
                let err = serialization(&ticket.key, "result", &err);
                self.release(ticket).await;
                return Err(err);
            }
        };
        let expires_at = self.expiry();
        let kept = if self.keep_results {
            Kept::Result(text)
        } else if delivered {
            Kept::Digest(sha256_hex(text.as_bytes()))
        } else {
            // Outputs that did not go out cannot be handed to a duplicate without keeping them.
            self.release(ticket).await;
            return Ok(Kept::Released);
        };
        let record = match Record::completed(&ticket.key, &ticket.hash, kept, delivered, expires_at) {
            Ok(record) => record,
            Err(StoreError::TooLarge { key, size, limit }) if delivered => {
                tracing::warn!(
                    idempotency_key = key,
                    size,
                    limit,
                    "result over the item limit; keeping its digest"
                );
                // The text went into the refused record: written again, only in this rare case.
                let digest = serde_json::to_string(result).map_or_else(|_| String::new(), |t| sha256_hex(t.as_bytes()));
                Record::completed(&key, &ticket.hash, Kept::Digest(digest), delivered, expires_at)?
            }
            Err(err) => {
                tracing::warn!(idempotency_key = ticket.key, error = %err, "undelivered result over the item limit; releasing the key so a retry runs the work again");
                self.release(ticket).await;
                return Err(err.into());
            }
        };
        self.store.complete(&record).await?;
        if delivered {
            self.remember(&record);
        }
        Ok(match (record.result, record.result_digest) {
            (Some(text), _) => Kept::Result(text),
            (None, digest) => Kept::Digest(digest.unwrap_or_default()),
        })
    }

    /// Notes that the outputs of a duplicate's stored result were delivered now.
    pub async fn mark_delivered(&self, key: &str) -> Result<(), StoreError> {
        self.store.mark_delivered(key).await
    }

    /// Frees a claimed key after failed work, so a retry can run it. If the store is
    /// unreachable now, the record still expires with the invocation's remaining time, so the
    /// key is only delayed, never lost; the failure is logged, not hidden.
    pub async fn release(&self, ticket: &Ticket) {
        if let Err(err) = self.store.delete(&ticket.key).await {
            tracing::warn!(idempotency_key = ticket.key, error = %err, "could not delete the in-progress record after failed work; it frees itself when it expires");
        }
    }

    fn expiry(&self) -> i64 {
        self.clock.now().timestamp().saturating_add(seconds(self.ttl))
    }

    fn duplicate<R: DeserializeOwned, E>(
        &self,
        existing: Record,
        hash: &PayloadHash,
    ) -> Result<Completed<R>, IdempotencyError<E>> {
        check_payload(&existing.key, &existing.payload_hash, hash)?;
        match existing.status {
            Status::InProgress => Err(IdempotencyError::InProgress {
                until_ms: existing
                    .in_progress_expires_at_ms
                    .unwrap_or(existing.expires_at.saturating_mul(1000)),
                key: existing.key,
            }),
            Status::Completed => {
                if existing.result.is_none() && existing.result_digest.is_none() {
                    return Err(StoreError::Corrupt {
                        key: existing.key,
                        reason: "completed without a stored result".into(),
                    }
                    .into());
                }
                let result = existing
                    .result
                    .as_deref()
                    .map(|text| decode(&existing.key, text))
                    .transpose()?;
                if existing.delivered {
                    self.remember(&existing);
                }
                Ok(Completed {
                    key: existing.key,
                    result,
                    delivered: existing.delivered,
                })
            }
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

    /// Caches a completed record whose outputs were delivered: its duplicates need no store call.
    fn remember(&self, record: &Record) {
        if let Some(cache) = &self.cache {
            let entry = Cached {
                hash: record.payload_hash.clone(),
                result: record.result.clone(),
                expires_at: record.expires_at,
            };
            cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .put(record.key.clone(), entry);
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

//! In-memory publisher and parking: they record what was sent, and can be told to fail.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use envelope::Envelope;
use serde_json::Value;

use super::{ParkedMessage, Parking, PublishError, Publisher};

/// Records published envelopes.
#[derive(Debug, Default)]
pub struct InMemoryPublisher {
    published: Mutex<Vec<Envelope<Value>>>,
    calls: Mutex<usize>,
    failing: AtomicBool,
    refused: Mutex<Option<String>>,
    throttled_calls: AtomicUsize,
    latency: Mutex<Duration>,
}

impl InMemoryPublisher {
    /// An empty publisher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far.
    pub fn published(&self) -> Vec<Envelope<Value>> {
        self.published.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many times `publish` was called.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// While `true`, every publish fails as a throttled bus would.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Refuses events of `event_type` for good, as a bus refuses a malformed entry; others go out.
    pub fn refuse(&self, event_type: &str) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(event_type.to_owned());
    }

    /// Refuses every event for good: a function declared to publish nothing that returned an
    /// output has a bug, and the record is parked with its reason.
    pub fn refuse_all(&self) {
        self.refuse("*");
    }

    /// In each of the next `calls` calls, the first entry is throttled and the others go out,
    /// as a bus that accepts part of a batch.
    pub fn throttle_first_entry(&self, calls: usize) {
        self.throttled_calls.store(calls, Ordering::SeqCst);
    }

    /// Every call takes `latency` before it answers, as a slow or throttled bus would.
    pub fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap_or_else(PoisonError::into_inner) = latency;
    }
}

impl Publisher for InMemoryPublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        *self.calls.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let latency = *self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(PublishError::all(
                events.len(),
                "ThrottlingException",
                "in-memory publisher set failing",
                false,
            ));
        }
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let throttle_first = self
            .throttled_calls
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok();
        let mut failed = Vec::new();
        let mut published = self.published.lock().unwrap_or_else(PoisonError::into_inner);
        for (index, event) in events.iter().enumerate() {
            if index == 0 && throttle_first {
                failed.push(super::FailedEntry {
                    index,
                    code: "ThrottlingException".into(),
                    message: "throttled by the in-memory publisher".into(),
                    permanent: false,
                });
            } else if refused
                .as_deref()
                .is_some_and(|refused| refused == "*" || refused == event.metadata.event_type)
            {
                failed.push(super::FailedEntry {
                    index,
                    code: "MalformedDetail".into(),
                    message: "refused by the in-memory publisher".into(),
                    permanent: true,
                });
            } else {
                published.push(event.clone());
            }
        }
        PublishError::unless_failed(events.len(), failed)
    }
}

/// Records parked messages.
#[derive(Debug, Default)]
pub struct InMemoryParking {
    parked: Mutex<Vec<ParkedMessage>>,
    failing: AtomicBool,
}

impl InMemoryParking {
    /// Empty parking.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything parked so far.
    pub fn parked(&self) -> Vec<ParkedMessage> {
        self.parked.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// While `true`, parking fails as an unreachable queue would.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Parking for InMemoryParking {
    async fn park(&self, messages: &[ParkedMessage]) -> Result<(), PublishError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PublishError::all(
                messages.len(),
                "Unreachable",
                "in-memory parking set failing",
                false,
            ));
        }
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(messages);
        Ok(())
    }
}

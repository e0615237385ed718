//! EventBridge: PutEvents in chunks of at most 10 entries and [`MAX_ENTRY_BYTES`] (1 MB since
//! January 2026, for an entry and for a call; the envelope crate cites the pages).

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use envelope::{Envelope, MAX_ENTRY_BYTES, PutEventsEntry};
use serde_json::Value;

use super::batch::{Answer, Limits, Service, call_error, send_all};
use super::{PublishError, Publisher};

const LIMITS: Limits = Limits {
    entries: 10,
    bytes: MAX_ENTRY_BYTES,
};

/// Publishes envelopes to one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
    retry: crate::backoff::Backoff,
}

impl EventBridgePublisher {
    /// A publisher to `bus` (name or ARN).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
            retry: crate::backoff::PUBLISH,
        }
    }

    /// Retries failed entries by `policy`.
    #[must_use]
    pub fn with_retry(mut self, retry: crate::backoff::Backoff) -> Self {
        self.retry = retry;
        self
    }

    /// Sends prepared entries; exposed so callers (and tests) can send entries that did not
    /// come from an envelope.
    pub async fn put_entries(&self, entries: &[PutEventsEntry]) -> Result<(), PublishError> {
        let sizes: Vec<usize> = entries.iter().map(PutEventsEntry::size).collect();
        send_all(&sizes, LIMITS, self.retry, |indexes| async move {
            let request: Vec<PutEventsRequestEntry> =
                indexes.iter().map(|&i| self.request_entry(&entries[i])).collect();
            let output = self
                .client
                .put_events()
                .set_entries(Some(request))
                .send()
                .await
                .map_err(|err| call_error(Service::EventBridge, &err))?;
            // Results come back in request order, one per entry.
            let results = output
                .entries()
                .iter()
                .map(|result| (result.event_id(), result.error_code(), result.error_message()));
            Ok(Answer::in_order(Service::EventBridge, indexes.len(), results))
        })
        .await
    }

    fn request_entry(&self, entry: &PutEventsEntry) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&entry.source)
            .detail_type(&entry.detail_type)
            .detail(&entry.detail)
            .time(DateTime::from_millis(entry.time.timestamp_millis()))
            .set_resources(Some(entry.resources.clone()))
            .set_trace_header(entry.trace_header.clone())
            .build()
    }
}

impl Publisher for EventBridgePublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let mut entries = Vec::with_capacity(events.len());
        let mut refused = Vec::new();
        for (index, event) in events.iter().enumerate() {
            match event.to_put_events_entry() {
                Ok(entry) => entries.push((index, entry)),
                Err(err) => refused.push(super::FailedEntry {
                    index,
                    code: err.kind().to_owned(),
                    message: err.to_string(),
                    permanent: true,
                }),
            }
        }
        let (indexes, entries): (Vec<usize>, Vec<PutEventsEntry>) = entries.into_iter().unzip();
        let sent = self.put_entries(&entries).await;
        let mut failed = refused;
        if let Err(err) = sent {
            // Map positions among the sendable entries back to positions among `events`.
            failed.extend(err.failed.into_iter().map(|f| super::FailedEntry {
                index: indexes[f.index],
                ..f
            }));
        }
        if failed.is_empty() {
            return Ok(());
        }
        failed.sort_by_key(|f| f.index);
        Err(PublishError {
            total: events.len(),
            failed,
        })
    }
}

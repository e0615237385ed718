//! event-archive: appends every event of every domain, as it arrived (its original version
//! and the whole envelope), to the event store, with the time it was archived.
//!
//! The store is append-only and keyed by stream position, so the archive needs no idempotency
//! records: a redelivered event finds its own id at its position and changes nothing, and one
//! DynamoDB call is made per event. A different event claiming a position already taken is a
//! conflict: parked with both ids, since no retry can make both fit.

use std::sync::Arc;

use envelope::{Decoder, Envelope, Registry};
use event_store::{Appended, EventStore, EventStorePort, StoredEvent};
use handler_kit::aggregate::{BatchHandler, Instant, Settled};
use handler_kit::config::ConfigError;
use handler_kit::trigger::SqsBatches;
use handler_kit::{Clock, Function, HandlerError, Nowhere, Setting};
use serde_json::Value;

/// Archives events.
pub struct EventArchive<S> {
    store: S,
    clock: Arc<dyn Clock>,
}

impl<S: EventStore> EventArchive<S> {
    /// Archives into `store`, stamping times from `clock`.
    pub fn new(store: S, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The store, e.g. to inspect an in-memory one.
    pub fn store(&self) -> &S {
        &self.store
    }

    async fn archive(&self, envelope: Envelope<Value>) -> Result<(), HandlerError> {
        let event = StoredEvent::new(envelope, self.clock.now());
        match self.store.append(&event).await? {
            Appended::Added | Appended::AlreadyThere => Ok(()),
            Appended::Conflict { stored_id } => Err(HandlerError::permanent(
                "stream-conflict",
                format!(
                    "{} position {} is held by event {stored_id}; event {} ({}) claims it too",
                    event.stream, event.position, event.envelope.metadata.id, event.envelope.metadata.event_type
                ),
            )),
        }
    }
}

impl<S: EventStore> BatchHandler for EventArchive<S> {
    type Sent = ();

    /// No types of its own: it reads every type (see [`Self::decoder`]).
    fn event_types(&self) -> Registry {
        Registry::new()
    }

    /// Every type and version, as it arrived: the store keeps what was sent, never an upcast.
    fn decoder(&self) -> Decoder {
        Decoder::new()
    }

    /// Appends each event. The append is its own idempotency (a repeat changes nothing), so
    /// each record is written and fails on its own, and nothing is published.
    async fn settle(&self, events: Vec<Envelope<Value>>, _by: Instant) -> Result<Settled<()>, HandlerError> {
        let records = futures_util::future::join_all(events.into_iter().map(|e| self.archive(e))).await;
        Ok(Settled {
            records,
            outputs: Vec::new(),
            sent: (),
        })
    }

    async fn tick(&self, _now: chrono::DateTime<chrono::Utc>, _by: Instant) -> Result<Settled<()>, HandlerError> {
        Ok(Settled::nothing())
    }

    async fn sent(&self, (): ()) -> Result<(), HandlerError> {
        Ok(())
    }
}

/// The event store table.
pub const EVENT_STORE_TABLE: Setting = Setting::table("EVENT_STORE_TABLE", "the event store (every event, by stream)");

/// event-archive, declared once: SQS in (a rule matching every event), the store written,
/// nothing published.
pub const FUNCTION: Function<SqsBatches, Nowhere> = Function {
    name: "event-archive",
    trigger: SqsBatches { schedule: None },
    outputs: Nowhere,
    // One conditional PutItem per event: the archive may only put to the store.
    settings: &[EVENT_STORE_TABLE.calls(&["dynamodb:PutItem"])],
    idempotent: false,
};

/// The function's one composition root, on any platform.
pub fn build<P: EventStorePort>(platform: &P) -> Result<EventArchive<P::Events>, ConfigError> {
    Ok(EventArchive::new(
        platform.event_store(&platform.setting(&EVENT_STORE_TABLE)?)?,
        platform.clock(),
    ))
}

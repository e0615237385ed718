//! Reading history back: a stream as it stood at an instant, its events upcast so current code
//! can fold them.

use chrono::{DateTime, Utc};
use envelope::{Envelope, EnvelopeError, Location, Registry};
use serde_json::Value;

use crate::event::StoredEvent;

/// The events of `stream` (in stream order) that had happened by `instant` (event time).
pub fn as_of(stream: &[StoredEvent], instant: DateTime<Utc>) -> impl Iterator<Item = &StoredEvent> {
    stream.iter().filter(move |e| e.envelope.metadata.time <= instant)
}

/// A stored event brought to the current version of its type, for code that folds it.
pub fn upcast(event: &StoredEvent, registry: &Registry) -> Result<Envelope<Value>, EnvelopeError> {
    let at = Location::root().field(&format!("{} at {}", event.stream, event.position));
    registry.upcast(event.envelope.clone(), &at)
}

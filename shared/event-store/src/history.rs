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

/// `stream` as lines, one per event (`position time type version id`), each marked `+` when
/// it happened after `instant`, then how many had happened by then.
pub fn lines(stream: &[StoredEvent], instant: DateTime<Utc>) -> Vec<String> {
    let mut lines: Vec<String> = stream
        .iter()
        .map(|event| {
            let m = &event.envelope.metadata;
            format!(
                "{} {} {} {} v{} {}",
                if m.time <= instant { " " } else { "+" },
                event.position,
                crate::event::time_key(m.time),
                m.event_type,
                m.version,
                m.id
            )
        })
        .collect();
    let happened = as_of(stream, instant).count();
    lines.push(format!("{happened} of {} events had happened by then", stream.len()));
    lines
}

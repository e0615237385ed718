//! Replay: what to read from the store, in which order, and how a replayed event is marked.
//!
//! Replayed events keep their original ids, so every consumer's idempotency absorbs what it
//! handled already; they carry the replay's name in `metadata.replay`, so consumers that tell
//! people something (a notification, an alert) update their state and send nothing.

use chrono::{DateTime, Utc};
use envelope::Envelope;
use serde_json::Value;

use crate::event::StoredEvent;
use crate::store::{EventStore, StoreFailure, sort_by_time};

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One stream (`<source>#<subject>`), in stream order.
    Stream(String),
    /// Every event with an event time in `[from, to)` (of `types` only, unless empty), by
    /// time then id.
    Range {
        /// Inclusive start.
        from: DateTime<Utc>,
        /// Exclusive end.
        to: DateTime<Utc>,
        /// Event types to keep; all when empty.
        types: Vec<String>,
    },
}

impl Selection {
    /// Reads the selection from `store`, in replay order.
    pub async fn read<S: EventStore>(&self, store: &S) -> Result<Vec<StoredEvent>, StoreFailure> {
        match self {
            Self::Stream(stream) => store.stream(stream).await,
            Self::Range { from, to, types } if types.is_empty() => store.between(*from, *to).await,
            Self::Range { from, to, types } => {
                let mut events = Vec::new();
                // A type named twice is read once.
                let types: std::collections::BTreeSet<&String> = types.iter().collect();
                for event_type in types {
                    events.append(&mut store.of_type(event_type, *from, *to).await?);
                }
                sort_by_time(&mut events);
                Ok(events)
            }
        }
    }
}

/// `events` as a replay named `name` sends them: original ids, marked as replayed.
pub fn marked(events: Vec<StoredEvent>, name: &str) -> Vec<Envelope<Value>> {
    events
        .into_iter()
        .map(|event| {
            let mut envelope = event.envelope;
            envelope.metadata.replay = Some(name.to_owned());
            envelope
        })
        .collect()
}

/// A replay name from the time it starts (`replay-20261130T101500Z`): EventBridge's
/// characters, unique enough for one operator.
pub fn default_name(now: DateTime<Utc>) -> String {
    format!("replay-{}", now.format("%Y%m%dT%H%M%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Appended, InMemoryEventStore};
    use envelope::Metadata;

    fn event(id: u128, event_type: &str, subject: &str, time: &str, sequence: Option<u64>) -> StoredEvent {
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::from_u128(id), "type": event_type, "version": 1, "source": "shop.orders",
            "time": time, "subject": subject, "correlationId": "c-1",
        }))
        .unwrap();
        let envelope = Envelope {
            metadata: Metadata { sequence, ..metadata },
            data: Value::Null,
        };
        StoredEvent::new(envelope, Utc::now())
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[tokio::test]
    async fn given_a_store_when_a_range_of_some_types_is_selected_then_it_comes_by_time_and_marked() {
        let store = InMemoryEventStore::new();
        for stored in [
            event(1, "OrderPlaced", "o-1", "2026-11-30T10:00:02Z", Some(1)),
            event(2, "OrderShipped", "o-1", "2026-11-30T10:00:09Z", Some(4)),
            event(3, "OrderPlaced", "o-2", "2026-11-30T10:00:01Z", Some(1)),
            event(4, "PaymentFailed", "o-2", "2026-11-30T10:00:05Z", Some(3)),
            event(5, "OrderPlaced", "o-3", "2026-11-30T11:00:00Z", Some(1)),
        ] {
            assert_eq!(store.append(&stored).await.unwrap(), Appended::Added);
        }
        let selection = Selection::Range {
            from: at("2026-11-30T10:00:00Z"),
            to: at("2026-11-30T11:00:00Z"),
            types: vec!["OrderShipped".into(), "OrderPlaced".into(), "OrderShipped".into()],
        };
        let replayed = marked(selection.read(&store).await.unwrap(), "fix-42");
        let ids: Vec<u128> = replayed.iter().map(|e| e.metadata.id.as_u128()).collect();
        assert_eq!(
            ids,
            [3, 1, 2],
            "by event time, the end excluded, other types left out, each once"
        );
        assert!(replayed.iter().all(|e| e.metadata.replay.as_deref() == Some("fix-42")));
        let stream = Selection::Stream("shop.orders#o-2".into()).read(&store).await.unwrap();
        assert_eq!(stream.len(), 2);
    }
}

//! The event store's contract, written once, run on every adapter: in memory here, DynamoDB
//! on moto in `tests/tests/event_store_dynamodb.rs`.

#![allow(dead_code, unreachable_pub)] // each test binary uses the part it needs

use chrono::{DateTime, Utc};
use envelope::{Envelope, Metadata};
use event_store::replay::Selection;
use event_store::{Appended, EventStore, StoredEvent};
use serde_json::{Value, json};

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// An event of `source`/`subject` with id `n`.
pub fn event(n: u128, source: &str, event_type: &str, subject: &str, time: &str, sequence: Option<u64>) -> StoredEvent {
    let metadata: Metadata = serde_json::from_value(json!({
        "id": uuid::Uuid::from_u128(n), "type": event_type, "version": 1, "source": source,
        "time": time, "subject": subject, "correlationId": "c-1",
    }))
    .unwrap();
    let envelope = Envelope {
        metadata: Metadata { sequence, ..metadata },
        data: json!({ "n": n as u64, "text": "ünïcödé" }),
    };
    StoredEvent::new(envelope, at("2026-12-01T00:00:00Z"))
}

fn ids(events: &[StoredEvent]) -> Vec<u128> {
    events.iter().map(|e| e.envelope.metadata.id.as_u128()).collect()
}

/// Appends are once: the same event again changes nothing; another event at a taken position
/// is a conflict naming the event that holds it.
pub async fn an_append_is_once_and_a_taken_position_is_a_conflict_naming_its_holder(store: impl EventStore) {
    let first = event(1, "shop.orders", "OrderPlaced", "o-1", "2026-11-30T10:00:00Z", Some(1));
    assert_eq!(store.append(&first).await.unwrap(), Appended::Added);
    assert_eq!(store.append(&first).await.unwrap(), Appended::AlreadyThere);
    let rival = event(2, "shop.orders", "OrderPlaced", "o-1", "2026-11-30T10:00:01Z", Some(1));
    assert_eq!(
        store.append(&rival).await.unwrap(),
        Appended::Conflict {
            stored_id: uuid::Uuid::from_u128(1).to_string()
        }
    );
    let stream = store.stream("shop.orders#o-1").await.unwrap();
    assert_eq!(stream, [first], "kept as appended, the rival left out");
}

/// A stream comes in its order (sequence, or time then id), whatever the append order.
pub async fn a_stream_comes_in_order_whatever_the_append_order(store: impl EventStore) {
    for e in [
        event(
            13,
            "shop.orders",
            "OrderShipped",
            "o-2",
            "2026-11-30T10:03:00Z",
            Some(10),
        ),
        event(11, "shop.orders", "OrderPlaced", "o-2", "2026-11-30T10:09:00Z", Some(2)),
        event(
            12,
            "shop.orders",
            "InventoryReserved",
            "o-2",
            "2026-11-30T10:01:00Z",
            Some(9),
        ),
        event(
            21,
            "iot.sensors",
            "SensorReadingReceived",
            "s-1",
            "2026-11-30T10:00:02Z",
            None,
        ),
        event(
            20,
            "iot.sensors",
            "SensorReadingReceived",
            "s-1",
            "2026-11-30T10:00:01+05:45",
            None,
        ),
        event(
            22,
            "iot.sensors",
            "SensorReadingReceived",
            "s-1",
            "2026-11-30T10:00:02Z",
            None,
        ),
    ] {
        assert_eq!(store.append(&e).await.unwrap(), Appended::Added);
    }
    assert_eq!(ids(&store.stream("shop.orders#o-2").await.unwrap()), [11, 12, 13]);
    assert_eq!(ids(&store.stream("iot.sensors#s-1").await.unwrap()), [20, 21, 22]);
    assert!(store.stream("shop.orders#o-nothing").await.unwrap().is_empty());
}

/// Time-range reads cross streams and days, by time then id, the end excluded; a type read
/// keeps only its type.
pub async fn time_range_reads_cross_streams_and_days_and_exclude_the_end(store: impl EventStore) {
    for e in [
        event(
            31,
            "shop.orders",
            "OrderPlaced",
            "o-3",
            "2026-11-29T23:59:59.999Z",
            Some(1),
        ),
        event(32, "shop.orders", "OrderPlaced", "o-4", "2026-11-30T00:00:00Z", Some(1)),
        event(
            33,
            "shop.orders",
            "InventoryReserved",
            "o-3",
            "2026-11-30T00:00:00.5Z",
            Some(2),
        ),
        event(
            34,
            "iot.sensors",
            "AnomalyDetected",
            "s-2",
            "2026-12-01T08:00:00+09:00",
            None,
        ),
        event(35, "shop.orders", "OrderPlaced", "o-5", "2026-12-01T00:00:00Z", Some(1)),
    ] {
        store.append(&e).await.unwrap();
    }
    let (from, to) = (at("2026-11-29T23:00:00Z"), at("2026-12-01T00:00:00Z"));
    assert_eq!(
        ids(&store.between(from, to).await.unwrap()),
        [31, 32, 33, 34],
        "34 is 23:00Z"
    );
    assert_eq!(ids(&store.of_type("OrderPlaced", from, to).await.unwrap()), [31, 32]);
    let both = Selection::Range {
        from,
        to: at("2026-12-02T00:00:00Z"),
        types: vec!["OrderPlaced".into(), "AnomalyDetected".into()],
    };
    assert_eq!(ids(&both.read(&store).await.unwrap()), [31, 32, 34, 35]);
    let mut all = ids(&store.all_from("shop.orders").await.unwrap());
    all.sort_unstable();
    assert_eq!(all, [31, 32, 33, 35]);
}

/// What is read back is the envelope as appended: version, data, every metadata field.
pub async fn an_event_reads_back_as_appended(store: impl EventStore) {
    let mut e = event(
        41,
        "shop.orders",
        "OrderPlaced",
        "o-6 / ü",
        "2026-11-30T10:00:00.123456789+01:00",
        Some(1),
    );
    e.envelope.metadata.causation_id = Some(uuid::Uuid::from_u128(7));
    e.envelope.data = json!({"orderId": "o-6", "items": [{"qty": 1}], "n": Value::Null});
    store.append(&e).await.unwrap();
    assert_eq!(store.stream(&e.stream).await.unwrap(), [e]);
}

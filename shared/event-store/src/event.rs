//! An event as the store keeps it, and the keys it is found by.
//!
//! - A **stream** is every event of one aggregate: `<source>#<subject>` (`shop.orders#o-1001`).
//!   A source never holds `#` (envelope validation), so the first `#` splits the key.
//! - A **position** orders a stream: `s:<sequence, 20 digits>` for events with a sequence,
//!   `t:<event time>#<id>` for the others. Both sort as text in the order they stand for.
//! - **At** (`<event time>#<id>`) orders events across streams, for the time-range reads.
//!
//! Event times are written with nine fractional digits in UTC, so text order is time order.
//! - A **day shard** (`<UTC day>#<shard>`) partitions the time-range reads: a day's events are
//!   spread over [`SHARDS`] partitions by their id, so one busy day (or type) is never one hot
//!   partition key (about 1,000 writes a second each); a read queries every shard of a day.

use chrono::{DateTime, SecondsFormat, Utc};
use envelope::Envelope;
use serde_json::Value;

/// An event in the store: the envelope as it arrived (its original version and data), where
/// it stands, and when it was archived.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Its stream (`<source>#<subject>`).
    pub stream: String,
    /// Its position in the stream.
    pub position: String,
    /// The whole envelope, as the bus carried it (never upcast).
    pub envelope: Envelope<Value>,
    /// When the store took it.
    pub archived_at: DateTime<Utc>,
}

impl StoredEvent {
    /// `envelope`, archived at `archived_at`. A replay marker is not part of the event: it is
    /// dropped, so a replayed copy is the same stored event as the original.
    pub fn new(mut envelope: Envelope<Value>, archived_at: DateTime<Utc>) -> Self {
        envelope.metadata.replay = None;
        Self {
            stream: stream_of(&envelope.metadata.source, &envelope.metadata.subject),
            position: position_of(&envelope),
            envelope,
            archived_at,
        }
    }

    /// Its key across streams: event time, then id.
    pub fn at(&self) -> String {
        at_of(self.envelope.metadata.time, &self.envelope.metadata.id.to_string())
    }

    /// The UTC day of its event time and its shard (`2026-11-30#3`), the partition of the
    /// time-range reads.
    pub fn day_shard(&self) -> String {
        let shard = self.envelope.metadata.id.as_u128() % u128::from(SHARDS);
        format!("{}#{shard}", day_of(self.envelope.metadata.time))
    }
}

/// How many partitions a day's events are spread over in the time-range indexes.
pub const SHARDS: u8 = 8;

/// Every partition of `day` in the time-range indexes.
pub fn shards_of(day: &str) -> impl Iterator<Item = String> + '_ {
    (0..SHARDS).map(move |shard| format!("{day}#{shard}"))
}

/// The stream of `subject` from `source`.
pub fn stream_of(source: &str, subject: &str) -> String {
    format!("{source}#{subject}")
}

/// Where `envelope` stands in its stream.
pub fn position_of(envelope: &Envelope<Value>) -> String {
    let metadata = &envelope.metadata;
    match metadata.sequence {
        Some(sequence) => format!("s:{sequence:020}"),
        None => format!("t:{}", at_of(metadata.time, &metadata.id.to_string())),
    }
}

/// An instant as sortable text: UTC, nine fractional digits.
pub fn time_key(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// The cross-stream key of an event at `time` with `id`.
pub fn at_of(time: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", time_key(time))
}

/// The UTC day of `time`.
pub fn day_of(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d").to_string()
}

/// Every UTC day from the one holding `from` to the one holding the last instant before `to`.
pub fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    if to <= from {
        return days;
    }
    let last = (to - chrono::Duration::nanoseconds(1)).date_naive();
    let mut day = from.date_naive();
    while day <= last {
        days.push(day.format("%Y-%m-%d").to_string());
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use envelope::Metadata;

    fn envelope(time: &str, sequence: Option<u64>) -> Envelope<Value> {
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-4000-8000-000000000001", "type": "OrderPlaced", "version": 2,
            "source": "shop.orders", "time": time, "subject": "o-1#a", "correlationId": "c-1",
            "replay": "fix-42",
        }))
        .unwrap();
        Envelope {
            metadata: Metadata { sequence, ..metadata },
            data: Value::Null,
        }
    }

    #[test]
    fn given_an_event_with_a_sequence_then_its_position_is_the_padded_sequence_and_its_stream_splits_at_the_first_hash()
    {
        let stored = StoredEvent::new(envelope("2026-11-30T10:00:00+05:30", Some(7)), Utc::now());
        assert_eq!(stored.stream, "shop.orders#o-1#a");
        assert_eq!(stored.position, "s:00000000000000000007");
        assert_eq!(stored.envelope.metadata.replay, None, "the replay marker is not stored");
        assert_eq!(stored.day_shard(), "2026-11-30#1", "id 1 of 8 shards");
        assert_eq!(shards_of("2026-11-30").last().as_deref(), Some("2026-11-30#7"));
    }

    #[test]
    fn given_events_without_a_sequence_then_positions_sort_as_event_times() {
        let early = position_of(&envelope("2026-11-30T09:59:59.5Z", None));
        let late = position_of(&envelope("2026-11-30T10:00:00Z", None));
        assert_eq!(
            early,
            "t:2026-11-30T09:59:59.500000000Z#00000000-0000-4000-8000-000000000001"
        );
        assert!(early < late);
        assert!(
            position_of(&envelope("2026-11-30T10:00:00Z", Some(9)))
                < position_of(&envelope("2026-11-30T10:00:00Z", Some(10)))
        );
    }

    #[test]
    fn given_a_range_then_its_days_cover_it_and_an_end_at_midnight_excludes_that_day() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            days_between(t("2026-11-29T23:00:00Z"), t("2026-12-01T00:00:00Z")),
            ["2026-11-29", "2026-11-30"]
        );
        assert!(days_between(t("2026-11-30T00:00:00Z"), t("2026-11-30T00:00:00Z")).is_empty());
    }
}

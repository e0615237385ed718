//! What every adapter checks before a conditional save, so that the in-memory tables refuse
//! exactly what DynamoDB would: states that cannot be keyed, a sequence of 0, one key twice,
//! an item over DynamoDB's 400 KB, and more states of one stream than one transaction writes
//! (100 items, 4 MB).
//!
//! A save is one transaction per stream (sensor, metric), sent side by side: a stream's states
//! (its own, its windows', its periods') are written together or not at all, so a stream never
//! lists as open a window that is stored closed; and one stream's conflict, throttle or refusal
//! is its own ([`Saved`]), never its neighbours'.

use std::collections::{BTreeMap, HashSet};

use sensors::windows::StreamKey;

use crate::error::StoreFailure;

/// The most states one save of one stream (one (sensor, metric)) can write: what one DynamoDB
/// transaction writes.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// The most bytes one DynamoDB transaction writes (4 MB), as its items count them.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

/// The most bytes one DynamoDB item holds (400 KB), names and values counted.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// What a save did, stream by stream.
#[derive(Debug, Default, PartialEq)]
#[must_use = "a stream not saved was not written: read it again and apply again, or retry or park its records"]
pub struct Saved {
    /// Streams another invocation wrote first: nothing of theirs was written; read again and
    /// apply again.
    pub conflicts: Vec<StreamKey>,
    /// Streams whose states were not written, and why: transient (throttled, too many at once:
    /// retry) or permanent (an item that can never be stored: park its records).
    pub failed: BTreeMap<StreamKey, StoreFailure>,
}

impl Saved {
    /// Whether every stream was written.
    pub fn written(&self) -> bool {
        self.conflicts.is_empty() && self.failed.is_empty()
    }

    /// Whether `stream` was written (or had nothing to write).
    pub fn wrote(&self, stream: &StreamKey) -> bool {
        !self.conflicts.contains(stream) && !self.failed.contains_key(stream)
    }
}

/// One state to write.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    /// Its sensor.
    pub(crate) sensor_id: &'a str,
    /// Its metric.
    pub(crate) metric: &'a str,
    /// Its sort key (none: it cannot be keyed).
    pub(crate) item: Option<String>,
    /// The sequence it is written with.
    pub(crate) sequence: u64,
    /// Its state as stored (JSON).
    pub(crate) json: String,
}

impl<'a> Entry<'a> {
    /// The entry of `state`, stored as JSON.
    pub(crate) fn of(
        operation: &'static str,
        sensor_id: &'a str,
        metric: &'a str,
        item: Option<String>,
        sequence: u64,
        state: &impl serde::Serialize,
    ) -> Result<Self, StoreFailure> {
        let json = serde_json::to_string(state).map_err(|e| {
            StoreFailure::permanent(
                operation,
                format!("a state of sensor '{sensor_id}' metric '{metric}': {e}"),
            )
        })?;
        Ok(Self {
            sensor_id,
            metric,
            item,
            sequence,
            json,
        })
    }

    /// The item's size as DynamoDB counts it: attribute names and values; numbers counted
    /// generously.
    fn bytes(&self) -> usize {
        const ATTRIBUTES: usize = "sensorId".len()
            + "item".len()
            + "state".len()
            + "sequence".len()
            + "expiresAt".len()
            + "active".len()
            + "dueShard".len()
            + "dueAt".len()
            + 8 * 21;
        self.sensor_id.len() + self.item.as_ref().map_or(0, String::len) + self.json.len() + ATTRIBUTES
    }
}

/// A save's transactions: per stream, the indexes of its entries (into the entries given), by
/// stream key; and the streams refused before any call, with why.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) streams: Vec<(StreamKey, Vec<usize>)>,
    pub(crate) refused: BTreeMap<StreamKey, StoreFailure>,
}

/// The entries, checked, one transaction per stream. A caller's mistake (a state that cannot
/// be keyed, sequence 0, one state twice) fails the whole save; a stream whose states exceed
/// what DynamoDB stores is refused on its own.
pub(crate) fn plan(operation: &'static str, entries: &[Entry<'_>]) -> Result<Plan, StoreFailure> {
    let mut seen = HashSet::with_capacity(entries.len());
    let mut streams: BTreeMap<StreamKey, Vec<usize>> = BTreeMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(item) = &entry.item else {
            return Err(StoreFailure::permanent(
                operation,
                format!(
                    "a state of sensor '{}' metric '{}' cannot be stored: sensor ids and metrics are names of A-Z, \
                     a-z, 0-9, '-', '_' and '.', and windows and periods start on a whole second",
                    entry.sensor_id, entry.metric
                ),
            ));
        };
        if entry.sequence == 0 {
            return Err(StoreFailure::permanent(
                operation,
                format!(
                    "{item} of sensor '{}' has sequence 0: save states as the domain returns them, whose sequence \
                     is one more than the stored one (1 for a new one)",
                    entry.sensor_id
                ),
            ));
        }
        if !seen.insert((entry.sensor_id, item.as_str())) {
            return Err(StoreFailure::permanent(
                operation,
                format!(
                    "{item} of sensor '{}' is twice in one save: pass each state once",
                    entry.sensor_id
                ),
            ));
        }
        let key = StreamKey {
            sensor_id: entry.sensor_id.to_owned(),
            metric: entry.metric.to_owned(),
        };
        streams.entry(key).or_default().push(index);
    }
    let mut plan = Plan::default();
    for (key, stream) in streams {
        match refusal(operation, &key, entries, &stream) {
            Some(refused) => {
                plan.refused.insert(key, refused);
            }
            None => plan.streams.push((key, stream)),
        }
    }
    Ok(plan)
}

/// Why one stream's states cannot be one transaction, if they cannot.
fn refusal(operation: &'static str, key: &StreamKey, entries: &[Entry<'_>], stream: &[usize]) -> Option<StoreFailure> {
    let StreamKey { sensor_id, metric } = key;
    if let Some(entry) = stream.iter().map(|&i| &entries[i]).find(|e| e.bytes() > MAX_ITEM_BYTES) {
        // Permanent: the same state is as large next time.
        return Some(StoreFailure::permanent(
            operation,
            format!(
                "{} of sensor '{sensor_id}' would be {} bytes, more than the {MAX_ITEM_BYTES} one DynamoDB item holds",
                entry.item.as_deref().unwrap_or("?"),
                entry.bytes()
            ),
        ));
    }
    let bytes: usize = stream.iter().map(|&i| entries[i].bytes()).sum();
    if stream.len() > MAX_TRANSACTION_ITEMS || bytes > MAX_TRANSACTION_BYTES {
        // Transient: the same records in smaller batches will go through.
        return Some(StoreFailure::transient(
            operation,
            format!(
                "{} states ({bytes} bytes) of sensor '{sensor_id}' metric '{metric}' in one save, more than the \
                 {MAX_TRANSACTION_ITEMS} states or {MAX_TRANSACTION_BYTES} bytes one transaction writes: retry the \
                 records in smaller batches",
                stream.len()
            ),
        ));
    }
    None
}

/// Whether a state written with `new` follows the stored one (`stored`: its sequence, none when
/// absent): the stored one is `new - 1`, or absent when `new` is 1.
pub(crate) fn follows(stored: Option<u64>, new: u64) -> bool {
    match stored {
        None => new == 1,
        Some(stored) => stored.checked_add(1) == Some(new),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use envelope::ErrorClass;

    use super::*;

    fn entry<'a>(sensor_id: &'a str, metric: &'a str, item: &str, sequence: u64) -> Entry<'a> {
        Entry {
            sensor_id,
            metric,
            item: Some(item.to_owned()),
            sequence,
            json: "{}".to_owned(),
        }
    }

    fn windows<'a>(sensor_id: &'a str, metric: &'a str, n: usize) -> Vec<Entry<'a>> {
        (0..n)
            .map(|i| entry(sensor_id, metric, &format!("window#{metric}#{i}"), 1))
            .collect()
    }

    fn key(sensor_id: &str, metric: &str) -> StreamKey {
        StreamKey {
            sensor_id: sensor_id.to_owned(),
            metric: metric.to_owned(),
        }
    }

    #[test]
    fn given_streams_then_each_is_one_transaction_by_key() {
        let mut entries = windows("s-1", "temp", 60);
        entries.extend(windows("s-2", "temp", 30));
        entries.extend(windows("s-1", "hum", 50));
        let plan = plan("save", &entries).unwrap();
        let sizes: Vec<(String, usize)> = plan
            .streams
            .iter()
            .map(|(k, i)| (format!("{}/{}", k.sensor_id, k.metric), i.len()))
            .collect();
        assert_eq!(
            sizes,
            [("s-1/hum".into(), 50), ("s-1/temp".into(), 60), ("s-2/temp".into(), 30)]
        );
        assert!(plan.refused.is_empty());
    }

    #[test]
    fn given_a_stream_over_one_transaction_then_only_it_is_refused_as_transient() {
        let mut entries = windows("s-1", "temp", 101);
        entries.extend(windows("s-2", "temp", 3));
        let plan = plan("save windows", &entries).unwrap();
        let refused = &plan.refused[&key("s-1", "temp")];
        assert_eq!(refused.class, ErrorClass::Transient);
        assert!(refused.message.contains("101 states"), "{refused}");
        assert_eq!(plan.streams.len(), 1, "its neighbour is written");

        // 20 items of 300 KB: each fits an item, together not a transaction.
        let mut large = windows("s-1", "temp", 20);
        for e in &mut large {
            e.json = "x".repeat(300 * 1024);
        }
        let refused = &plan_of(&large).refused[&key("s-1", "temp")];
        assert_eq!(refused.class, ErrorClass::Transient);
        assert!(refused.message.contains("bytes one transaction writes"), "{refused}");
    }

    fn plan_of(entries: &[Entry<'_>]) -> Plan {
        plan("save", entries).unwrap()
    }

    #[test]
    fn given_an_item_over_400_kb_then_its_stream_is_refused_as_permanent() {
        let mut entries = windows("s-1", "temp", 2);
        entries[1].json = "x".repeat(MAX_ITEM_BYTES);
        let refused = &plan_of(&entries).refused[&key("s-1", "temp")];
        assert_eq!(refused.class, ErrorClass::Permanent);
        assert!(refused.message.contains("window#temp#1 of sensor 's-1'"), "{refused}");
    }

    #[test]
    fn given_a_state_twice_sequence_0_or_no_key_then_the_save_is_refused_as_permanent() {
        let twice = [entry("s-1", "t", "stream#t", 1), entry("s-1", "t", "stream#t", 2)];
        let zero = [entry("s-1", "t", "stream#t", 0)];
        let unnamed = [Entry {
            sensor_id: "s 1",
            metric: "t",
            item: None,
            sequence: 1,
            json: String::new(),
        }];
        for (entries, says) in [
            (&twice[..], "twice in one save"),
            (&zero[..], "sequence 0"),
            (&unnamed[..], "cannot be stored"),
        ] {
            let refused = plan("save", entries).unwrap_err();
            assert_eq!(refused.class, ErrorClass::Permanent);
            assert!(refused.message.contains(says), "{refused}");
        }
    }

    #[test]
    fn a_state_follows_the_one_before_or_nothing() {
        assert!(follows(None, 1));
        assert!(follows(Some(4), 5));
        assert!(!follows(None, 2));
        assert!(!follows(Some(1), 1));
        assert!(!follows(Some(5), 5));
        assert!(!follows(Some(u64::MAX), 0));
    }
}

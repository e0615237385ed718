//! What every adapter checks before a conditional save, so that the in-memory tables refuse
//! exactly what DynamoDB would: states that cannot be keyed, a sequence of 0, one key twice,
//! and more states of one stream than one transaction writes.
//!
//! A save is cut into transactions of at most [`MAX_TRANSACTION_ITEMS`] states, never cutting a
//! stream: a stream's states (its own, its windows', its periods') are written together or not
//! at all, so a stream never lists as open a window that is stored closed.

use std::collections::{BTreeMap, HashSet};

use crate::error::StoreFailure;

/// The most states one save of one stream (one (sensor, metric)) can write: what one DynamoDB
/// transaction writes. A save of several streams may write more, in several transactions.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

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
}

/// The entries, checked, grouped in transactions (indexes into `entries`): each stream's
/// entries in one, streams in order of their keys, as many streams per transaction as fit.
pub(crate) fn transactions(operation: &'static str, entries: &[Entry<'_>]) -> Result<Vec<Vec<usize>>, StoreFailure> {
    let mut seen = HashSet::with_capacity(entries.len());
    let mut streams: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
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
        streams.entry((entry.sensor_id, entry.metric)).or_default().push(index);
    }
    let mut transactions: Vec<Vec<usize>> = Vec::new();
    for ((sensor_id, metric), stream) in streams {
        if stream.len() > MAX_TRANSACTION_ITEMS {
            // Transient: the same records in smaller batches will go through.
            return Err(StoreFailure::transient(
                operation,
                format!(
                    "{} states of sensor '{sensor_id}' metric '{metric}' in one save, more than the \
                     {MAX_TRANSACTION_ITEMS} one transaction writes: retry the records in smaller batches",
                    stream.len()
                ),
            ));
        }
        match transactions.last_mut() {
            Some(last) if last.len() + stream.len() <= MAX_TRANSACTION_ITEMS => last.extend(stream),
            _ => transactions.push(stream),
        }
    }
    Ok(transactions)
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
        }
    }

    fn windows<'a>(sensor_id: &'a str, metric: &'a str, n: usize) -> Vec<Entry<'a>> {
        (0..n)
            .map(|i| entry(sensor_id, metric, &format!("window#{metric}#{i}"), 1))
            .collect()
    }

    #[test]
    fn given_streams_then_each_stays_whole_and_transactions_are_filled_up_to_the_limit() {
        let mut entries = windows("s-1", "temp", 60);
        entries.extend(windows("s-2", "temp", 30));
        entries.extend(windows("s-1", "hum", 50));
        let sizes: Vec<usize> = transactions("save", &entries).unwrap().iter().map(Vec::len).collect();
        // By key: s-1 hum (50) + s-1 temp (60) do not fit one; s-1 temp + s-2 temp (30) do.
        assert_eq!(sizes, [50, 90]);
        let sizes: Vec<usize> = transactions("save", &windows("s-1", "temp", 100))
            .unwrap()
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [100]);
    }

    #[test]
    fn given_a_stream_of_more_than_one_transaction_then_the_save_is_refused_as_transient() {
        let refused = transactions("save windows", &windows("s-1", "temp", 101)).unwrap_err();
        assert_eq!(refused.class, ErrorClass::Transient);
        assert!(
            refused.message.contains("101 states of sensor 's-1' metric 'temp'"),
            "{refused}"
        );
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
        }];
        for (entries, says) in [
            (&twice[..], "twice in one save"),
            (&zero[..], "sequence 0"),
            (&unnamed[..], "cannot be stored"),
        ] {
            let refused = transactions("save", entries).unwrap_err();
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

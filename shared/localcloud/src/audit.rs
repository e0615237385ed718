//! The audit of a run's event store against what the bus carried.

use std::collections::{BTreeMap, BTreeSet};

use emulator::cloud::LocalCloud;
use event_store::InMemoryEventStore;

/// The audit of a run's event store: it must hold exactly the distinct events the bus
/// carried (by id), each stream in order. The summary line, or every way it fails.
pub async fn audit(cloud: &LocalCloud) -> Result<String, Vec<String>> {
    let stores = cloud.tables().all::<InMemoryEventStore>();
    let mut failures = Vec::new();
    let [(table, store)] = stores.as_slice() else {
        return Err(vec![format!("expected one event store table, found {}", stores.len())]);
    };
    let stored = store.events();
    let mut stored_ids = BTreeMap::new();
    for event in &stored {
        if let Some(other) = stored_ids.insert(event.envelope.metadata.id, &event.stream) {
            failures.push(format!(
                "event {} is stored twice ({other}, {})",
                event.envelope.metadata.id, event.stream
            ));
        }
    }
    let carried: BTreeSet<_> = cloud.carried_ids().map(|(_, _, id)| id).collect();
    for (subject, event_type, id) in cloud.carried_ids() {
        if !stored_ids.contains_key(&id) {
            failures.push(format!(
                "{event_type} {id} of {subject} was carried but is not in the store"
            ));
        }
    }
    for (id, stream) in &stored_ids {
        if !carried.contains(id) {
            failures.push(format!(
                "event {id} of {stream} is in the store but the bus never carried it"
            ));
        }
    }
    // Each stream in order, read as a reader reads it: sequences rise from 1 with no step
    // missing (an event the bus carried but the store lost shows here too); events without
    // one by time, then id.
    let streams: BTreeSet<&str> = stored.iter().map(|e| e.stream.as_str()).collect();
    for stream in &streams {
        let read = match event_store::EventStore::stream(&**store, stream).await {
            Ok(read) => read,
            Err(err) => {
                failures.push(format!("{stream}: {err}"));
                continue;
            }
        };
        let sequences: Vec<Option<u64>> = read.iter().map(|e| e.envelope.metadata.sequence).collect();
        if sequences.iter().all(Option::is_some) {
            let expected: Vec<Option<u64>> = (1..=read.len() as u64).map(Some).collect();
            if sequences != expected {
                failures.push(format!(
                    "{stream}: sequences {sequences:?}, not 1 to {} in order",
                    read.len()
                ));
            }
        } else if !read.windows(2).all(|w| {
            (w[0].envelope.metadata.time, w[0].envelope.metadata.id)
                <= (w[1].envelope.metadata.time, w[1].envelope.metadata.id)
        }) {
            failures.push(format!("{stream}: not in event-time order"));
        }
    }
    if failures.is_empty() {
        Ok(format!(
            "Event store ({table}): {} events in {} streams, exactly the {} distinct events the bus carried, each stream in order.",
            stored.len(),
            streams.len(),
            carried.len()
        ))
    } else {
        Err(failures)
    }
}

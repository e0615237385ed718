//! The domains the local cloud's CLI bundles: the one place that names them. The emulator
//! knows none; each domain brings its functions, event types, samples and demo.

pub mod campaign;

use emulator::domain::Domain;
use emulator::functions::Registry;
use handler_kit::local::{self, Registration};

/// Every domain of the project.
pub fn domains() -> Vec<&'static dyn Domain> {
    vec![&orders_demo::Orders, &sensors_demo::Sensors]
}

/// The functions of the platform itself, deployed whatever the domains: the event archive.
pub fn platform_functions() -> Vec<Registration> {
    vec![local::batches(&event_archive::FUNCTION, event_archive::build)]
}

/// Every function the template deploys: each domain's and the platform's.
pub fn functions() -> Vec<Registration> {
    domains()
        .iter()
        .flat_map(|d| d.functions())
        .chain(platform_functions())
        .collect()
}

/// The runtime every local run needs: one thread, tokio's clock paused. Virtual time is that
/// clock's time, so the kit's timeouts and backoffs take no wall time and cannot make two runs
/// of one seed differ.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The registry of [`functions`], for a local cloud.
pub fn registry() -> Registry {
    Registry::new(functions())
}

/// The audit of a run's event store: it must hold exactly the distinct events the bus
/// carried (by id), each stream in order. The summary line, or every way it fails.
pub async fn audit(cloud: &emulator::cloud::LocalCloud) -> Result<String, Vec<String>> {
    use event_store::InMemoryEventStore;
    let stores = cloud.tables().all::<InMemoryEventStore>();
    let mut failures = Vec::new();
    let [(table, store)] = stores.as_slice() else {
        return Err(vec![format!("expected one event store table, found {}", stores.len())]);
    };
    let stored = store.events();
    let mut stored_ids = std::collections::BTreeMap::new();
    for event in &stored {
        if let Some(other) = stored_ids.insert(event.envelope.metadata.id, &event.stream) {
            failures.push(format!(
                "event {} is stored twice ({other}, {})",
                event.envelope.metadata.id, event.stream
            ));
        }
    }
    let carried: std::collections::BTreeSet<_> = cloud.carried_ids().map(|(_, _, id)| id).collect();
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
    let streams: std::collections::BTreeSet<&str> = stored.iter().map(|e| e.stream.as_str()).collect();
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

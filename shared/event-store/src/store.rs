//! The event store port: append-only, with the three reads replay and queries need.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
pub use handler_kit::StoreFailure;

use crate::event::{StoredEvent, at_of};

/// What an append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// The event is now in its stream.
    Added,
    /// The same event (same id) was already there: nothing changed.
    AlreadyThere,
    /// Another event holds that position of the stream: nothing changed.
    Conflict {
        /// The id of the event that holds it.
        stored_id: String,
    },
}

ports::port! {
    /// Every event, append-only, by stream.
    pub trait EventStore {
        /// Appends `event` at its position, unless that position is taken.
        fn append(&self, event: &StoredEvent) -> Result<Appended, StoreFailure>;

        /// Every event of `stream`, in stream order.
        fn stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreFailure>;

        /// Every event with an event time in `[from, to)`, across streams, by time then id.
        fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StoredEvent>, StoreFailure>;

        /// Every event of type `event_type` with an event time in `[from, to)`, by time then id.
        fn of_type(&self, event_type: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StoredEvent>, StoreFailure>;

        /// Every event from `source`, in no particular order: the whole history, to rebuild a
        /// read model from.
        fn all_from(&self, source: &str) -> Result<Vec<StoredEvent>, StoreFailure>;
    }
}

/// The store in memory: the local cloud's, and tests'.
#[derive(Debug, Default)]
pub struct InMemoryEventStore {
    events: Mutex<BTreeMap<(String, String), StoredEvent>>,
}

impl InMemoryEventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every event, by stream then position.
    pub fn events(&self) -> Vec<StoredEvent> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), StoredEvent>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn by_time(&self, keep: impl Fn(&StoredEvent) -> bool, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<StoredEvent> {
        let mut found: Vec<StoredEvent> = self
            .lock()
            .values()
            .filter(|e| (from..to).contains(&e.envelope.metadata.time) && keep(e))
            .cloned()
            .collect();
        sort_by_time(&mut found);
        found
    }
}

impl EventStore for InMemoryEventStore {
    async fn append(&self, event: &StoredEvent) -> Result<Appended, StoreFailure> {
        let mut events = self.lock();
        let key = (event.stream.clone(), event.position.clone());
        if let Some(stored) = events.get(&key) {
            let stored_id = stored.envelope.metadata.id.to_string();
            return Ok(if stored.envelope.metadata.id == event.envelope.metadata.id {
                Appended::AlreadyThere
            } else {
                Appended::Conflict { stored_id }
            });
        }
        events.insert(key, event.clone());
        Ok(Appended::Added)
    }

    async fn stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreFailure> {
        Ok(self
            .lock()
            .range((stream.to_owned(), String::new())..)
            .take_while(|((s, _), _)| s == stream)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StoredEvent>, StoreFailure> {
        Ok(self.by_time(|_| true, from, to))
    }

    async fn of_type(
        &self,
        event_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredEvent>, StoreFailure> {
        Ok(self.by_time(|e| e.envelope.metadata.event_type == event_type, from, to))
    }

    async fn all_from(&self, source: &str) -> Result<Vec<StoredEvent>, StoreFailure> {
        Ok(self
            .lock()
            .values()
            .filter(|e| e.envelope.metadata.source == source)
            .cloned()
            .collect())
    }
}

impl handler_kit::local::LocalTable for InMemoryEventStore {}

/// Sorts `events` by event time then id (the order of the time-range reads).
pub fn sort_by_time(events: &mut [StoredEvent]) {
    events.sort_by_cached_key(|e| at_of(e.envelope.metadata.time, &e.envelope.metadata.id.to_string()));
}

//! The state of the event-time windows: one item per stream (sensor, metric) and one per
//! window, each written only if it has not changed since it was read.
//!
//! A function reads the states a batch needs ([`WindowStore::load`]), lets the domain apply the
//! batch (`sensors::windows::Windows::apply`), and saves what changed ([`WindowStore::save`]).
//! Each state carries a `sequence` the domain raises by one per write; a save writes on
//! condition that each stored state is the one before (absent for sequence 1). When another
//! invocation wrote first, the stream is among [`Saved::conflicts`] and nothing of it was
//! written: read again and apply again (windows know their readings, so nothing is counted
//! twice). The streams with a `due_at` are indexed, so the tick finds the ones due at once
//! ([`WindowStore::due`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use sensors::windows::{StreamKey, StreamState, WindowKey, WindowState};

use crate::error::StoreFailure;
use crate::keys;
use crate::save::{self, Entry, Saved};

/// The streams due at an instant, as far as they could be read.
#[derive(Debug, Default)]
pub struct Due {
    /// The streams whose `due_at` has come, by key.
    pub streams: Vec<StreamKey>,
    /// The parts of the index that could not be read this time (throttled), with why: the
    /// streams there wait for the next tick.
    pub unread: Vec<StoreFailure>,
}

ports::port! {
    /// The windows' streams and windows.
    pub trait WindowStore {
        /// The stored states of `streams` and `windows` that exist, each list in key order.
        /// Keys may repeat; a key no state can have (not a name, not a whole second) is not
        /// found.
        fn load(&self, streams: &[StreamKey], windows: &[WindowKey]) -> Result<(Vec<StreamState>, Vec<WindowState>), StoreFailure>;

        /// Writes `streams` and `windows`, each on condition that the stored state's sequence is
        /// one less than its own (absent when its own is 1): one transaction per stream, each
        /// written all or none, and what became of each that was not ([`Saved`]).
        fn save(&self, streams: &[StreamState], windows: &[WindowState]) -> Result<Saved, StoreFailure>;

        /// The streams whose `due_at` is at or before `now` (an index of the streams that have
        /// one: open windows, or an outbox), as far as the index could be read.
        fn due(&self, now: DateTime<Utc>) -> Result<Due, StoreFailure>;

        /// Every stream of `sensor_id`, by metric: its latest event time and open windows.
        fn streams_of(&self, sensor_id: &str) -> Result<Vec<StreamState>, StoreFailure>;

        /// The latest closed window of each stream of `sensor_id`, by metric (a stream with no
        /// closed window has none).
        fn last_closed_windows(&self, sensor_id: &str) -> Result<Vec<WindowState>, StoreFailure>;
    }
}

/// The entries a save of these states writes, in order: streams, then windows.
pub(crate) fn entries<'a>(
    operation: &'static str,
    streams: &'a [StreamState],
    windows: &'a [WindowState],
) -> Result<Vec<Entry<'a>>, StoreFailure> {
    let streams = streams.iter().map(|s| {
        let item = keys::stream(&s.sensor_id, &s.metric);
        Entry::of(operation, &s.sensor_id, &s.metric, item, s.sequence, s)
    });
    let windows = windows.iter().map(|w| {
        let item = keys::window(&w.sensor_id, &w.metric, w.start);
        Entry::of(operation, &w.sensor_id, &w.metric, item, w.sequence, w)
    });
    streams.chain(windows).collect()
}

/// Streams and windows in memory, for tests and the local cloud.
#[derive(Debug, Default)]
pub struct InMemoryWindowStore {
    stored: Mutex<Stored>,
}

#[derive(Debug, Default)]
struct Stored {
    streams: BTreeMap<StreamKey, StreamState>,
    windows: BTreeMap<WindowKey, WindowState>,
}

impl InMemoryWindowStore {
    /// No states.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every window kept, by key, e.g. to check a run's verdicts.
    pub fn windows(&self) -> Vec<WindowState> {
        self.lock().windows.values().cloned().collect()
    }

    /// Every stream kept, by key.
    pub fn streams(&self) -> Vec<StreamState> {
        self.lock().streams.values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        self.stored.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WindowStore for InMemoryWindowStore {
    async fn load(
        &self,
        streams: &[StreamKey],
        windows: &[WindowKey],
    ) -> Result<(Vec<StreamState>, Vec<WindowState>), StoreFailure> {
        let stored = self.lock();
        let streams: BTreeMap<&StreamKey, &StreamState> = streams
            .iter()
            .filter_map(|k| Some((k, stored.streams.get(k)?)))
            .collect();
        let windows: BTreeMap<&WindowKey, &WindowState> = windows
            .iter()
            .filter_map(|k| Some((k, stored.windows.get(k)?)))
            .collect();
        Ok((
            streams.into_values().cloned().collect(),
            windows.into_values().cloned().collect(),
        ))
    }

    async fn save(&self, streams: &[StreamState], windows: &[WindowState]) -> Result<Saved, StoreFailure> {
        let entries = entries("save windows", streams, windows)?;
        let plan = save::plan("save windows", &entries)?;
        let mut stored = self.lock();
        let mut saved = Saved {
            conflicts: Vec::new(),
            failed: plan.refused,
        };
        for (key, indexes) in plan.streams {
            // Entries are the streams', then the windows', in order.
            let follows = indexes.iter().all(|&i| match i.checked_sub(streams.len()) {
                None => save::follows(
                    stored.streams.get(&streams[i].key()).map(|s| s.sequence),
                    streams[i].sequence,
                ),
                Some(w) => save::follows(
                    stored.windows.get(&windows[w].key()).map(|s| s.sequence),
                    windows[w].sequence,
                ),
            });
            if !follows {
                saved.conflicts.push(key);
                continue;
            }
            for i in indexes {
                if let Some(w) = i.checked_sub(streams.len()) {
                    stored.windows.insert(windows[w].key(), windows[w].clone());
                } else {
                    stored.streams.insert(streams[i].key(), streams[i].clone());
                }
            }
        }
        Ok(saved)
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Due, StoreFailure> {
        let streams = self
            .lock()
            .streams
            .values()
            .filter(|s| s.due_at.is_some_and(|at| at <= now))
            .map(StreamState::key)
            .collect();
        Ok(Due {
            streams,
            unread: Vec::new(),
        })
    }

    async fn streams_of(&self, sensor_id: &str) -> Result<Vec<StreamState>, StoreFailure> {
        Ok(self
            .lock()
            .streams
            .values()
            .filter(|s| s.sensor_id == sensor_id)
            .cloned()
            .collect())
    }

    async fn last_closed_windows(&self, sensor_id: &str) -> Result<Vec<WindowState>, StoreFailure> {
        let stored = self.lock();
        let last = stored
            .streams
            .values()
            .filter(|s| s.sensor_id == sensor_id)
            .filter_map(|stream| {
                stored
                    .windows
                    .values()
                    .rev()
                    .find(|w| w.sensor_id == sensor_id && w.metric == stream.metric && w.closed)
            })
            .cloned()
            .collect();
        Ok(last)
    }
}

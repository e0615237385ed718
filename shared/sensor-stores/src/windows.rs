//! The state of the event-time windows: one item per stream (sensor, metric) and one per
//! window, each written only if it has not changed since it was read.
//!
//! A function reads the states a batch needs ([`WindowStore::load`]), lets the domain apply the
//! batch (`sensors::windows::Windows::apply`), and saves what changed ([`WindowStore::save`]).
//! Each state carries a `sequence` the domain raises by one per write; a save writes on
//! condition that each stored state is the one before (absent for sequence 1). When another
//! invocation wrote first, the answer is [`Saved::Conflict`] and nothing of the conflicting
//! stream was written: read again and apply again (windows know their readings, so nothing is
//! counted twice).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use sensors::windows::{StreamKey, StreamState, WindowKey, WindowState};

use crate::error::StoreFailure;
use crate::keys;
use crate::save::{self, Entry};

/// What a conditional save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a conflict means the states were not written: read again and apply again"]
pub enum Saved {
    /// Every state was written.
    Written,
    /// A stored state is not the one before a state saved (another invocation wrote first):
    /// the states of its stream were not written. A save of at most
    /// [`crate::MAX_TRANSACTION_ITEMS`] states writes nothing at all; a larger one (several
    /// transactions, each of whole streams) may have written the streams of earlier
    /// transactions. Either way: read again and apply again.
    Conflict,
}

ports::port! {
    /// The windows' streams and windows.
    pub trait WindowStore {
        /// The stored states of `streams` and `windows` that exist, each list in key order.
        /// Keys may repeat; a key no state can have (not a name, not a whole second) is not
        /// found.
        fn load(&self, streams: &[StreamKey], windows: &[WindowKey]) -> Result<(Vec<StreamState>, Vec<WindowState>), StoreFailure>;

        /// Writes `streams` and `windows`, each on condition that the stored state's sequence is
        /// one less than its own (absent when its own is 1). A stream's states are written all
        /// or none; at most [`crate::MAX_TRANSACTION_ITEMS`] states of one stream per save.
        fn save(&self, streams: &[StreamState], windows: &[WindowState]) -> Result<Saved, StoreFailure>;

        /// Every stream of `sensor_id`, by metric: its latest event time and open windows.
        fn streams_of(&self, sensor_id: &str) -> Result<Vec<StreamState>, StoreFailure>;

        /// The latest closed window of each stream of `sensor_id`, by metric (a stream with no
        /// closed window has none).
        fn last_closed_windows(&self, sensor_id: &str) -> Result<Vec<WindowState>, StoreFailure>;
    }
}

/// The entries a save of these states writes, in order: streams, then windows.
pub(crate) fn entries<'a>(streams: &'a [StreamState], windows: &'a [WindowState]) -> Vec<Entry<'a>> {
    let streams = streams.iter().map(|s| Entry {
        sensor_id: &s.sensor_id,
        metric: &s.metric,
        item: keys::stream(&s.sensor_id, &s.metric),
        sequence: s.sequence,
    });
    let windows = windows.iter().map(|w| Entry {
        sensor_id: &w.sensor_id,
        metric: &w.metric,
        item: keys::window(&w.sensor_id, &w.metric, w.start),
        sequence: w.sequence,
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
        save::transactions("save windows", &entries(streams, windows))?;
        let mut stored = self.lock();
        let follows = streams
            .iter()
            .all(|s| save::follows(stored.streams.get(&s.key()).map(|s| s.sequence), s.sequence))
            && windows
                .iter()
                .all(|w| save::follows(stored.windows.get(&w.key()).map(|w| w.sequence), w.sequence));
        if !follows {
            return Ok(Saved::Conflict);
        }
        for stream in streams {
            stored.streams.insert(stream.key(), stream.clone());
        }
        for window in windows {
            stored.windows.insert(window.key(), window.clone());
        }
        Ok(Saved::Written)
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

//! The state of alerts: one item per suppression period of a stream (sensor, metric), written
//! only if it has not changed since it was read, as the windows' states are
//! ([`crate::WindowStore`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use sensors::alerts::{AlertState, PeriodKey};

use crate::error::StoreFailure;
use crate::keys;
use crate::save::{self, Entry, Saved};

ports::port! {
    /// The alert periods.
    pub trait AlertStore {
        /// The stored states of `periods` that exist, in key order. Keys may repeat; a key no
        /// state can have is not found.
        fn load(&self, periods: &[PeriodKey]) -> Result<Vec<AlertState>, StoreFailure>;

        /// Writes `periods`, each on condition that the stored state's sequence is one less than
        /// its own (absent when its own is 1): one transaction per stream (sensor, metric), each
        /// written all or none, and what became of each that was not ([`Saved`]).
        fn save(&self, periods: &[AlertState]) -> Result<Saved, StoreFailure>;

        /// The periods of `sensor_id` whose alert is active (triggered and not resolved), in key
        /// order (metric, then period).
        fn open_alerts(&self, sensor_id: &str) -> Result<Vec<AlertState>, StoreFailure>;
    }
}

/// The entries a save of these periods writes.
pub(crate) fn entries<'a>(operation: &'static str, periods: &'a [AlertState]) -> Result<Vec<Entry<'a>>, StoreFailure> {
    periods
        .iter()
        .map(|p| {
            let item = keys::period(&p.sensor_id, &p.metric, p.period_start);
            Entry::of(operation, &p.sensor_id, &p.metric, item, p.sequence, p)
        })
        .collect()
}

/// Alert periods in memory, for tests and the local cloud.
#[derive(Debug, Default)]
pub struct InMemoryAlertStore {
    periods: Mutex<BTreeMap<PeriodKey, AlertState>>,
}

impl InMemoryAlertStore {
    /// No periods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every period kept, e.g. to compare two runs.
    pub fn periods(&self) -> Vec<AlertState> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<PeriodKey, AlertState>> {
        self.periods.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AlertStore for InMemoryAlertStore {
    async fn load(&self, periods: &[PeriodKey]) -> Result<Vec<AlertState>, StoreFailure> {
        let stored = self.lock();
        let found: BTreeMap<&PeriodKey, &AlertState> =
            periods.iter().filter_map(|k| Some((k, stored.get(k)?))).collect();
        Ok(found.into_values().cloned().collect())
    }

    async fn save(&self, periods: &[AlertState]) -> Result<Saved, StoreFailure> {
        let entries = entries("save alert periods", periods)?;
        let plan = save::plan("save alert periods", &entries)?;
        let mut stored = self.lock();
        let mut saved = Saved {
            conflicts: Vec::new(),
            failed: plan.refused,
        };
        for (key, indexes) in plan.streams {
            if !indexes
                .iter()
                .all(|&i| save::follows(stored.get(&periods[i].key()).map(|s| s.sequence), periods[i].sequence))
            {
                saved.conflicts.push(key);
                continue;
            }
            for i in indexes {
                stored.insert(periods[i].key(), periods[i].clone());
            }
        }
        Ok(saved)
    }

    async fn open_alerts(&self, sensor_id: &str) -> Result<Vec<AlertState>, StoreFailure> {
        Ok(self
            .lock()
            .values()
            .filter(|p| p.sensor_id == sensor_id && p.active.is_some())
            .cloned()
            .collect())
    }
}

//! The sensor catalogue: each sensor's site, time zone and bands, by sensor id.
//!
//! Readings name their sensors; a function asks for the sensors of a batch at once
//! ([`SensorCatalogue::sensors`]) and gets a [`Catalogue`] of those that are known, so an
//! unknown sensor is an answer (the reading is refused), not an error.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use sensors::catalogue::{Catalogue, Sensor};
use serde_json::Value;

use crate::error::{CatalogueFileError, StoreFailure};

ports::port! {
    /// The sensors, by id.
    pub trait SensorCatalogue {
        /// The sensors known among `ids` (repeated, unknown and malformed ids are allowed: they
        /// are simply not in the answer).
        fn sensors(&self, ids: &[String]) -> Result<Catalogue, StoreFailure>;

        /// Every sensor: for the scheduled close of quiet sensors' windows. A catalogue is small
        /// (one item per sensor): on DynamoDB one Scan per 1 MB of items.
        fn all(&self) -> Result<Catalogue, StoreFailure>;

        /// Adds `sensors`, replacing those with the same ids (a later one in `sensors` wins).
        /// Sensors not named are kept.
        fn put(&self, sensors: &[Sensor]) -> Result<(), StoreFailure>;
    }
}

/// The catalogue in memory, for tests and the local cloud (which loads it from a catalogue
/// file: see [`handler_kit::local::LocalTable`]).
#[derive(Debug, Default)]
pub struct InMemorySensorCatalogue {
    sensors: Mutex<HashMap<String, Sensor>>,
}

impl InMemorySensorCatalogue {
    /// A catalogue of `sensors`.
    pub fn with_sensors(sensors: impl IntoIterator<Item = Sensor>) -> Self {
        Self {
            sensors: Mutex::new(sensors.into_iter().map(|s| (s.sensor_id.clone(), s)).collect()),
        }
    }

    /// Adds `sensor`, or replaces the sensor with its id (loading a table).
    pub fn set(&self, sensor: Sensor) {
        self.lock().insert(sensor.sensor_id.clone(), sensor);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sensor>> {
        self.sensors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SensorCatalogue for InMemorySensorCatalogue {
    async fn sensors(&self, ids: &[String]) -> Result<Catalogue, StoreFailure> {
        let sensors = self.lock();
        Ok(Catalogue::new(ids.iter().filter_map(|id| sensors.get(id)).cloned()))
    }

    async fn all(&self) -> Result<Catalogue, StoreFailure> {
        Ok(Catalogue::new(self.lock().values().cloned()))
    }

    async fn put(&self, sensors: &[Sensor]) -> Result<(), StoreFailure> {
        let latest = checked("put sensors", sensors)?;
        let mut stored = self.lock();
        for sensor in latest.into_values() {
            stored.insert(sensor.sensor_id.clone(), sensor.clone());
        }
        Ok(())
    }
}

/// `sensors` by id, the last of each id, each id a name a table can key; or why not.
pub(crate) fn checked<'a>(
    operation: &'static str,
    sensors: &'a [Sensor],
) -> Result<BTreeMap<&'a str, &'a Sensor>, StoreFailure> {
    let mut latest = BTreeMap::new();
    for sensor in sensors {
        if !sensors::catalogue::is_name(&sensor.sensor_id) {
            return Err(StoreFailure::permanent(
                operation,
                format!(
                    "'{}' cannot be a sensor id: 1 to {} of A-Z, a-z, 0-9, '-', '_' and '.'",
                    sensor.sensor_id,
                    sensors::catalogue::MAX_NAME
                ),
            ));
        }
        latest.insert(sensor.sensor_id.as_str(), sensor);
    }
    Ok(latest)
}

/// Puts the sensors of a catalogue file (the text of a JSON array of sensor items, as
/// `events/sensors/catalogue.json`) into `catalogue`, and says how many. A file with any
/// invalid field puts nothing and names every one. What the `sensor-catalogue` command runs.
pub async fn put_catalogue_file(catalogue: &impl SensorCatalogue, text: &str) -> Result<usize, CatalogueFileError> {
    let file: Value = serde_json::from_str(text).map_err(CatalogueFileError::NotJson)?;
    let parsed = Catalogue::from_json(&file).map_err(CatalogueFileError::Invalid)?;
    let mut sensors: Vec<Sensor> = parsed.sensors().cloned().collect();
    sensors.sort_by(|a, b| a.sensor_id.cmp(&b.sensor_id));
    catalogue.put(&sensors).await?;
    Ok(sensors.len())
}

/// A catalogue read through an in-process cache: a sensor's entry (or its absence) is kept
/// for `ttl`, so a warm function reads its sensors once a minute instead of once a batch.
/// A catalogue changes rarely; a changed band takes effect within `ttl`.
#[derive(Debug)]
pub struct CachedCatalogue<C> {
    inner: C,
    ttl: std::time::Duration,
    entries: Mutex<HashMap<String, (std::time::Instant, Option<Sensor>)>>,
}

impl<C> CachedCatalogue<C> {
    /// `inner`, each answer kept for `ttl`.
    pub fn new(inner: C, ttl: std::time::Duration) -> Self {
        Self {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (std::time::Instant, Option<Sensor>)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: SensorCatalogue> SensorCatalogue for CachedCatalogue<C> {
    async fn sensors(&self, ids: &[String]) -> Result<Catalogue, StoreFailure> {
        let now = std::time::Instant::now();
        let missing: Vec<String> = {
            let entries = self.lock();
            let mut missing: Vec<String> = ids
                .iter()
                .filter(|id| {
                    entries
                        .get(*id)
                        .is_none_or(|(at, _)| now.duration_since(*at) >= self.ttl)
                })
                .cloned()
                .collect();
            missing.sort_unstable();
            missing.dedup();
            missing
        };
        // An unreadable item is not kept: it is read again next time, so a corrected item
        // takes effect at once.
        let mut unreadable = Vec::new();
        if !missing.is_empty() {
            let fetched = self.inner.sensors(&missing).await?;
            let mut entries = self.lock();
            for id in missing {
                if let Some(why) = fetched.unreadable(&id) {
                    unreadable.push((id, why.to_owned()));
                    continue;
                }
                let sensor = fetched.sensor(&id).cloned();
                entries.insert(id, (now, sensor));
            }
        }
        let entries = self.lock();
        let catalogue = Catalogue::new(ids.iter().filter_map(|id| entries.get(id).and_then(|(_, s)| s.clone())));
        Ok(unreadable
            .into_iter()
            .fold(catalogue, |catalogue, (id, why)| catalogue.with_unreadable(id, why)))
    }

    async fn all(&self) -> Result<Catalogue, StoreFailure> {
        let all = self.inner.all().await?;
        let now = std::time::Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, (_, sensor)| sensor.is_none());
        for sensor in all.sensors() {
            entries.insert(sensor.sensor_id.clone(), (now, Some(sensor.clone())));
        }
        Ok(all)
    }

    async fn put(&self, sensors: &[Sensor]) -> Result<(), StoreFailure> {
        self.inner.put(sensors).await?;
        let mut entries = self.lock();
        for sensor in sensors {
            entries.remove(&sensor.sensor_id);
        }
        Ok(())
    }
}

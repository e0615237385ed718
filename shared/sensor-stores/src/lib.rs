//! The state the sensors functions keep, behind ports with an in-memory adapter and a DynamoDB
//! one (feature `dynamodb`). Every port is declared with `ports::port!`, so faults can be
//! injected into any of them:
//!
//! - [`SensorCatalogue`]: the sensors (site, time zone, bands) known among the ids of a batch;
//!   loaded from a catalogue file ([`put_catalogue_file`], the `sensor-catalogue` command).
//! - [`WindowStore`]: per stream (sensor, metric) its watermark and open windows, and per window
//!   its readings and verdicts; read in one call per 100 keys, written atomically per stream on
//!   condition that nothing changed since read ([`Saved`] says which streams were not, and
//!   why); the streams due for the tick, from an index; and the reads of a sensor's status
//!   (its streams, its last closed window per metric).
//! - [`AlertStore`]: per suppression period its windows and alert, the same way; and a
//!   sensor's open alerts.
//!
//! The table layouts are described in `dynamodb` (feature `dynamodb`).

mod alerts;
mod catalogue;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod error;
mod keys;
mod platform;
mod save;
mod windows;

/// How long windows and alert periods are kept after they end (7 days): far beyond the late
/// horizon (an hour by default), since readings are judged by event time and a device can
/// replay old readings after an outage. A window expired and then revised would start again
/// from nothing: keep this longer than any outage whose readings should still revise. Replays
/// of anomalies older than this change nothing (raise-alert).
pub const RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The windows table's index of the streams due for the tick (sparse: only a stream with a
/// `due_at` has its attributes): partition key `dueShard` (S), sort key `dueAt` (N, epoch
/// milliseconds), keys only. The template declares it; detect-anomaly may Query it.
pub const DUE_INDEX: &str = "Due";

/// The partitions of [`DUE_INDEX`]: every stream write writes the index too, and one index
/// partition takes about 1,000 writes a second, so the streams are spread over this many (by a
/// hash of sensor and metric) and the tick reads them side by side.
pub const DUE_SHARDS: u32 = 16;

/// The domain whose states these ports keep: its types are the ports' signatures.
pub use sensors;

pub use alerts::{AlertStore, InMemoryAlertStore};
pub use catalogue::{CachedCatalogue, InMemorySensorCatalogue, SensorCatalogue, put_catalogue_file};
#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoAlertStore, DynamoSensorCatalogue, DynamoWindowStore};
pub use error::{CatalogueFileError, StoreFailure};
pub use platform::{
    AlertStorePort, CATALOGUE_TTL, SENSOR_ALERTS_TABLE, SENSOR_CATALOGUE_TABLE, SENSOR_WINDOWS_TABLE,
    SensorCataloguePort, WindowStorePort, cached_catalogue,
};
pub use save::{MAX_ITEM_BYTES, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS, Saved};
pub use windows::{Due, InMemoryWindowStore, WindowStore};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use sensors::stats::Stats;

    /// States are stored as JSON: a window's exact sum must come back to the last bit of every
    /// partial, or a re-read window would publish a revision nothing changed.
    #[test]
    fn given_sums_with_partials_down_to_the_last_bit_then_their_json_reads_back_exactly() {
        let mut failures = Vec::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let mut stats = Stats::of(rng.f64() * 100.0);
            for _ in 0..8 {
                stats.add((rng.f64() - 0.5) * 10f64.powi(rng.i32(-20..4)));
            }
            let json = serde_json::to_string(&stats).unwrap();
            let back: Stats = serde_json::from_str(&json).unwrap();
            if back != stats {
                failures.push(json);
            }
        }
        assert!(
            failures.is_empty(),
            "{} of 2000 read back otherwise, e.g. {}",
            failures.len(),
            failures[0]
        );
    }
}

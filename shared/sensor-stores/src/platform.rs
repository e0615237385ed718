//! The sensors ports on each platform a function runs on: DynamoDB on AWS (feature
//! `dynamodb`), in-memory tables with the run's faults in the local cloud. A function's builder
//! asks for them by the setting naming the table; one declaration per port, beside the port.

use handler_kit::Setting;
use handler_kit::config::ConfigError;
use handler_kit::local::LocalTable;
use sensors::catalogue::Catalogue;
use serde_json::Value;

use crate::alerts::{AlertStore, InMemoryAlertStore};
use crate::catalogue::{InMemorySensorCatalogue, SensorCatalogue};
use crate::windows::{InMemoryWindowStore, WindowStore};

/// The table of sensors and their bands (read by every sensors function).
pub const SENSOR_CATALOGUE_TABLE: Setting = Setting::table(
    "SENSOR_CATALOGUE_TABLE",
    "the DynamoDB table of sensors and their bands",
);
/// The table of streams and their windows.
pub const SENSOR_WINDOWS_TABLE: Setting = Setting::table(
    "SENSOR_WINDOWS_TABLE",
    "the DynamoDB table of streams and their windows",
);
/// The table of alert periods.
pub const SENSOR_ALERTS_TABLE: Setting = Setting::table("SENSOR_ALERTS_TABLE", "the DynamoDB table of alert periods");

/// How long a warm function keeps a sensor's catalogue entry.
pub const CATALOGUE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// The catalogue named by [`SENSOR_CATALOGUE_TABLE`], through an in-process cache of
/// [`CATALOGUE_TTL`]: what every sensors function reads its sensors with.
pub fn cached_catalogue<P: SensorCataloguePort>(
    platform: &P,
) -> Result<crate::CachedCatalogue<P::Catalogue>, ConfigError> {
    let table = platform.setting(&SENSOR_CATALOGUE_TABLE)?;
    Ok(crate::CachedCatalogue::new(
        platform.sensor_catalogue(&table)?,
        CATALOGUE_TTL,
    ))
}

handler_kit::table_port! {
    /// A platform that gives the sensor catalogue port.
    pub trait SensorCataloguePort {
        /// The adapter.
        type Catalogue: SensorCatalogue;

        /// The catalogue in `table`.
        fn sensor_catalogue(&self, table: &str) -> Result<Self::Catalogue, ConfigError>;
    }
    local: InMemorySensorCatalogue;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoSensorCatalogue;

    /// A platform that gives the windows' store.
    pub trait WindowStorePort {
        /// The adapter.
        type Windows: WindowStore;

        /// The streams and windows in `table`.
        fn window_store(&self, table: &str) -> Result<Self::Windows, ConfigError>;
    }
    local: InMemoryWindowStore;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoWindowStore;

    /// A platform that gives the alerts' store.
    pub trait AlertStorePort {
        /// The adapter.
        type Alerts: AlertStore;

        /// The alert periods in `table`.
        fn alert_store(&self, table: &str) -> Result<Self::Alerts, ConfigError>;
    }
    local: InMemoryAlertStore;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoAlertStore;
}

/// The catalogue is loaded from the objects of a catalogue file (`events/sensors/catalogue.json`,
/// `localcloud play --table`): `{"sensorId", "site", "timezone", "metrics": {...}}` each. A file
/// with any invalid field loads nothing and names every one by its path.
impl LocalTable for InMemorySensorCatalogue {
    fn load(&self, items: &[Value]) -> Result<(), String> {
        let catalogue = Catalogue::from_json(&Value::Array(items.to_vec())).map_err(|errors| {
            let named: Vec<String> = errors.iter().map(ToString::to_string).collect();
            format!("invalid sensor catalogue: {}", named.join("; "))
        })?;
        for sensor in catalogue.sensors() {
            self.set(sensor.clone());
        }
        Ok(())
    }
}

/// Windows are made by the functions; nothing is loaded.
impl LocalTable for InMemoryWindowStore {}

/// Alert periods are made by the functions; nothing is loaded.
impl LocalTable for InMemoryAlertStore {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn given_the_objects_of_a_catalogue_file_then_the_sensors_are_loaded_and_bad_ones_are_named() {
        let catalogue = InMemorySensorCatalogue::default();
        let item = json!({ "sensorId": "s-kathmandu-1", "site": "kathmandu-lab", "timezone": "Asia/Kathmandu",
                           "metrics": { "temperature": { "low": 15, "high": 28, "unit": "C" } } });
        catalogue.load(std::slice::from_ref(&item)).unwrap();
        let found = catalogue.sensors(&["s-kathmandu-1".into()]).await.unwrap();
        assert_eq!(found.band("s-kathmandu-1", "temperature").map(|b| b.high), Some(28.0));

        let mut bad = item;
        bad["sensorId"] = json!("s-2");
        bad["timezone"] = json!("Mars/Olympus");
        let err = catalogue.load(&[bad]).unwrap_err();
        assert!(
            err.starts_with("invalid sensor catalogue: [0].timezone: 'Mars/Olympus' is not an IANA time zone"),
            "{err}"
        );
        assert!(catalogue.sensors(&["s-2".into()]).await.unwrap().is_empty());
    }
}

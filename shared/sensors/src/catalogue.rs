//! The sensor catalogue: each sensor's site, time zone (IANA name) and, per metric, the band its
//! window means should stay in and the unit its readings are in.
//!
//! A catalogue file (`events/sensors/catalogue.json`, or a table's items) holds one object per
//! sensor:
//!
//! ```json
//! {"sensorId": "s-berlin-1", "site": "berlin-roof", "timezone": "Europe/Berlin",
//!  "metrics": {"temperature": {"low": -10.0, "high": 35.0, "unit": "C"}}}
//! ```
//!
//! Reading it names every invalid field by its path (`[2].metrics.temperature.low`).

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::FieldError;

/// The longest sensor id, metric name, site and unit.
pub const MAX_NAME: usize = 64;

/// The range a metric's window means should stay in, and the unit of its readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// The lowest mean that is still normal.
    pub low: f64,
    /// The highest mean that is still normal.
    pub high: f64,
    /// The unit readings of the metric must be in, e.g. `C`.
    pub unit: String,
}

/// A sensor of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sensor {
    /// Its id, as readings name it.
    pub sensor_id: String,
    /// Where it is, as alerts name it.
    pub site: String,
    /// The site's time zone, for local times in alerts.
    #[serde(serialize_with = "zone_name")]
    pub timezone: Tz,
    /// Its metrics, each with its band and unit.
    pub metrics: BTreeMap<String, Band>,
}

fn zone_name<S: Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(zone.name())
}

impl Sensor {
    /// Reads one catalogue item, naming every invalid field (paths from the item).
    pub fn from_item(item: &Value) -> Result<Self, Vec<FieldError>> {
        sensor(item, "")
    }

    /// The sensor as a catalogue item, as [`Sensor::from_item`] reads it.
    pub fn to_item(&self) -> Value {
        let metrics: Map<String, Value> = self
            .metrics
            .iter()
            .map(|(metric, band)| {
                let band = serde_json::json!({ "low": band.low, "high": band.high, "unit": band.unit });
                (metric.clone(), band)
            })
            .collect();
        serde_json::json!({
            "sensorId": self.sensor_id, "site": self.site, "timezone": self.timezone.name(), "metrics": metrics,
        })
    }

    /// The band of `metric`, if the sensor has it.
    pub fn band(&self, metric: &str) -> Option<&Band> {
        self.metrics.get(metric)
    }
}

impl<'de> Deserialize<'de> for Sensor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let item = Value::deserialize(deserializer)?;
        Self::from_item(&item).map_err(|errors| {
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            serde::de::Error::custom(shown.join("; "))
        })
    }
}

/// The sensors by id, and the ids whose stored item could not be read (with why): a bad item
/// is its own sensor's problem, never its neighbours'.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    sensors: HashMap<String, Sensor>,
    unreadable: BTreeMap<String, String>,
}

impl Catalogue {
    /// A catalogue of `sensors`; a later sensor with the id of an earlier one replaces it.
    pub fn new(sensors: impl IntoIterator<Item = Sensor>) -> Self {
        Self {
            sensors: sensors.into_iter().map(|s| (s.sensor_id.clone(), s)).collect(),
            unreadable: BTreeMap::new(),
        }
    }

    /// The same catalogue, knowing that sensor `sensor_id`'s item is stored but unreadable, and
    /// why.
    #[must_use]
    pub fn with_unreadable(mut self, sensor_id: impl Into<String>, reason: impl Into<String>) -> Self {
        self.unreadable.insert(sensor_id.into(), reason.into());
        self
    }

    /// Why sensor `sensor_id`'s stored item cannot be read, if it cannot.
    pub fn unreadable(&self, sensor_id: &str) -> Option<&str> {
        self.unreadable.get(sensor_id).map(String::as_str)
    }

    /// Every unreadable item, by sensor id, with why.
    pub fn unreadable_items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unreadable.iter().map(|(id, why)| (id.as_str(), why.as_str()))
    }

    /// Reads a catalogue file: a JSON array of sensor items. Every invalid field is named by
    /// its path from the array (`[2].timezone`), and so is a sensor id given twice.
    pub fn from_json(file: &Value) -> Result<Self, Vec<FieldError>> {
        let Some(items) = file.as_array() else {
            return Err(vec![FieldError::new(
                "",
                "a catalogue is a JSON array of sensors: [{\"sensorId\", \"site\", \"timezone\", \"metrics\"}]",
            )]);
        };
        let mut errors = Vec::new();
        let mut sensors: HashMap<String, Sensor> = HashMap::with_capacity(items.len());
        let mut first_at: HashMap<String, usize> = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match sensor(item, &format!("[{i}]")) {
                Ok(sensor) => {
                    if let Some(first) = first_at.get(&sensor.sensor_id) {
                        errors.push(FieldError::new(
                            format!("[{i}].sensorId"),
                            format!("'{}' is also the id of sensor [{first}]", sensor.sensor_id),
                        ));
                        continue;
                    }
                    first_at.insert(sensor.sensor_id.clone(), i);
                    sensors.insert(sensor.sensor_id.clone(), sensor);
                }
                Err(found) => errors.extend(found),
            }
        }
        if errors.is_empty() {
            Ok(Self::new(sensors.into_values()))
        } else {
            Err(errors)
        }
    }

    /// The sensor `sensor_id`, if catalogued.
    pub fn sensor(&self, sensor_id: &str) -> Option<&Sensor> {
        self.sensors.get(sensor_id)
    }

    /// The band of `metric` at sensor `sensor_id`, if both are catalogued.
    pub fn band(&self, sensor_id: &str, metric: &str) -> Option<&Band> {
        self.sensor(sensor_id)?.band(metric)
    }

    /// Every sensor, in id order (so whatever walks the catalogue does so the same way every
    /// run: a seeded scenario replays exactly).
    pub fn sensors(&self) -> impl Iterator<Item = &Sensor> {
        let mut sensors: Vec<&Sensor> = self.sensors.values().collect();
        sensors.sort_unstable_by(|a, b| a.sensor_id.cmp(&b.sensor_id));
        sensors.into_iter()
    }

    /// How many sensors.
    pub fn len(&self) -> usize {
        self.sensors.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.sensors.is_empty()
    }
}

/// A time zone by its IANA name (`Asia/Kathmandu`), or why not.
pub fn time_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("'{name}' is not an IANA time zone name, like Europe/Berlin or Asia/Kolkata"))
}

/// Whether `name` can be a sensor id or metric: 1 to [`MAX_NAME`] of A-Z, a-z, 0-9, `-`, `_`, `.`.
pub fn is_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn sensor(item: &Value, at: &str) -> Result<Sensor, Vec<FieldError>> {
    let path = |field: &str| {
        if at.is_empty() {
            field.to_owned()
        } else {
            format!("{at}.{field}")
        }
    };
    let Some(object) = item.as_object() else {
        return Err(vec![FieldError::new(
            at,
            "a sensor is an object {\"sensorId\", \"site\", \"timezone\", \"metrics\"}",
        )]);
    };
    let mut errors = Vec::new();
    let sensor_id = match object.get("sensorId").and_then(Value::as_str) {
        Some(id) if is_name(id) => Some(id.to_owned()),
        _ => {
            errors.push(FieldError::new(
                path("sensorId"),
                format!("required: 1 to {MAX_NAME} of A-Z, a-z, 0-9, '-', '_' and '.'"),
            ));
            None
        }
    };
    let site = match object.get("site").and_then(Value::as_str) {
        Some(site) if !site.trim().is_empty() && site.chars().count() <= MAX_NAME => Some(site.to_owned()),
        _ => {
            errors.push(FieldError::new(
                path("site"),
                format!("required: a name of 1 to {MAX_NAME} characters"),
            ));
            None
        }
    };
    let timezone = match object.get("timezone").and_then(Value::as_str) {
        Some(name) => time_zone(name)
            .map_err(|message| errors.push(FieldError::new(path("timezone"), message)))
            .ok(),
        None => {
            errors.push(FieldError::new(
                path("timezone"),
                "required: an IANA time zone name, like Europe/Berlin",
            ));
            None
        }
    };
    let metrics = metrics(object.get("metrics"), &path("metrics"), &mut errors);
    match (sensor_id, site, timezone, metrics) {
        (Some(sensor_id), Some(site), Some(timezone), Some(metrics)) if errors.is_empty() => Ok(Sensor {
            sensor_id,
            site,
            timezone,
            metrics,
        }),
        _ => Err(errors),
    }
}

fn metrics(value: Option<&Value>, at: &str, errors: &mut Vec<FieldError>) -> Option<BTreeMap<String, Band>> {
    let Some(Value::Object(metrics)) = value else {
        errors.push(FieldError::new(
            at,
            "required: an object of metrics, e.g. {\"temperature\": {\"low\": -10, \"high\": 35, \"unit\": \"C\"}}",
        ));
        return None;
    };
    if metrics.is_empty() {
        errors.push(FieldError::new(at, "a sensor measures at least one metric"));
        return None;
    }
    let before = errors.len();
    let mut bands = BTreeMap::new();
    for (metric, band) in metrics {
        let at = format!("{at}.{metric}");
        if !is_name(metric) {
            errors.push(FieldError::new(
                &at,
                format!("a metric's name is 1 to {MAX_NAME} of A-Z, a-z, 0-9, '-', '_' and '.'"),
            ));
            continue;
        }
        let Some(band) = band.as_object() else {
            errors.push(FieldError::new(
                &at,
                "a band is an object {\"low\", \"high\", \"unit\"}",
            ));
            continue;
        };
        let limit = |field: &str, errors: &mut Vec<FieldError>| match band.get(field).and_then(Value::as_f64) {
            Some(x) if crate::stats::is_countable(x) => Some(x),
            _ => {
                errors.push(FieldError::new(format!("{at}.{field}"), "required: a finite number"));
                None
            }
        };
        let (low, high) = (limit("low", errors), limit("high", errors));
        if let (Some(low), Some(high)) = (low, high)
            && low >= high
        {
            errors.push(FieldError::new(
                format!("{at}.high"),
                format!("{high} must be above low ({low})"),
            ));
        }
        let unit = match band.get("unit").and_then(Value::as_str) {
            Some(unit) if !unit.trim().is_empty() && unit.chars().count() <= MAX_NAME => Some(unit.to_owned()),
            _ => {
                errors.push(FieldError::new(
                    format!("{at}.unit"),
                    format!("required: a unit of 1 to {MAX_NAME} characters, e.g. \"C\""),
                ));
                None
            }
        };
        if let (Some(low), Some(high), Some(unit)) = (low, high, unit) {
            bands.insert(metric.clone(), Band { low, high, unit });
        }
    }
    (errors.len() == before).then_some(bands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Value {
        json!({ "sensorId": "s-kathmandu-1", "site": "kathmandu-lab", "timezone": "Asia/Kathmandu",
                "metrics": { "temperature": { "low": 15.0, "high": 28.0, "unit": "C" },
                             "humidity": { "low": 20, "high": 70, "unit": "%" } } })
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn given_a_catalogue_file_then_each_sensor_is_found_with_its_zone_and_bands() {
        let catalogue = Catalogue::from_json(&json!([item()])).unwrap();
        let sensor = catalogue.sensor("s-kathmandu-1").unwrap();
        assert_eq!(sensor.timezone, chrono_tz::Asia::Kathmandu);
        assert_eq!(
            catalogue.band("s-kathmandu-1", "humidity"),
            Some(&Band {
                low: 20.0,
                high: 70.0,
                unit: "%".into()
            })
        );
        assert_eq!(catalogue.band("s-kathmandu-1", "pressure"), None);
        assert_eq!(Sensor::from_item(&sensor.to_item()).unwrap(), *sensor);
        let typed: Sensor = serde_json::from_value(serde_json::to_value(sensor).unwrap()).unwrap();
        assert_eq!(typed, *sensor);
    }

    #[test]
    fn given_an_inverted_band_and_an_unknown_zone_then_each_is_named_by_its_field() {
        let mut bad = item();
        bad["timezone"] = json!("Asia/Katmandoo");
        bad["metrics"]["temperature"]["low"] = json!(30);
        bad["metrics"]["humidity"]["unit"] = json!("");
        let errors = Catalogue::from_json(&json!([item(), bad])).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "[1].timezone",
                "[1].metrics.humidity.unit",
                "[1].metrics.temperature.high"
            ]
        );
        assert!(
            errors[0].message.contains("'Asia/Katmandoo' is not an IANA time zone"),
            "{errors:?}"
        );
        assert_eq!(errors[2].message, "28 must be above low (30)");
    }

    #[test]
    fn given_missing_fields_a_repeated_id_or_no_metrics_then_each_is_named() {
        let mut no_metrics = item();
        no_metrics["metrics"] = json!({});
        let errors = Catalogue::from_json(&json!([item(), item(), json!({ "site": "x" }), no_metrics])).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "[1].sensorId",
                "[2].sensorId",
                "[2].timezone",
                "[2].metrics",
                "[3].metrics"
            ]
        );
        assert_eq!(errors[0].message, "'s-kathmandu-1' is also the id of sensor [0]");
        assert!(Catalogue::from_json(&json!({ "sensors": [] })).is_err());
    }
}

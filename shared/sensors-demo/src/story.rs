//! How a person reads a sensors run in the terminal: each anomaly and revision as the bus
//! carries it, each alert as the topic sends it, with the site's local time (the readings
//! themselves, thousands, only with `--verbose`; refusals, faults and parked readings are told
//! by the platform's lines beside these).

use std::collections::HashSet;

use emulator::domain::Story;
use sensors::catalogue::Catalogue;
use serde_json::Value;

/// The anomalies, revisions and alerts of a run, told as they happen.
#[derive(Debug)]
pub struct SensorStories {
    catalogue: Catalogue,
    /// Event ids already told: a repeated put of one event is told once.
    seen: HashSet<String>,
}

impl SensorStories {
    /// The story of a run on sensors of `catalogue` (for their sites' time zones).
    pub fn new(catalogue: Catalogue) -> Self {
        Self {
            catalogue,
            seen: HashSet::new(),
        }
    }

    /// `utc` (RFC 3339) in the sensor's site's local time, `HH:MM+hh:mm`.
    fn local(&self, sensor: &str, utc: &str) -> String {
        let (Some(found), Ok(time)) = (self.catalogue.sensor(sensor), sensors::time::parse(utc)) else {
            return String::new();
        };
        let local = sensors::time::local(time, found.timezone);
        // `2026-03-29T03:36:00+03:00` -> `03:36+03:00`
        let clock = local.get(11..16).unwrap_or_default();
        let offset = local.get(19..).unwrap_or_default();
        format!(" ({clock}{offset} local)")
    }
}

/// `2026-03-29T00:36:00Z` -> `00:36`.
fn utc_clock(utc: &str) -> &str {
    utc.get(11..16).unwrap_or(utc)
}

/// A figure as a person reads it: two decimals.
fn figure(value: &Value) -> String {
    value.as_f64().map_or_else(|| value.to_string(), |v| format!("{v:.2}"))
}

impl Story for SensorStories {
    fn tell(&mut self, line: &Value) -> Vec<String> {
        let envelope = &line["envelope"];
        let data = &envelope["data"];
        let event_type = envelope["metadata"]["type"].as_str().unwrap_or_default();
        let told = match (line["k"].as_str().unwrap_or_default(), event_type) {
            ("event", "AnomalyDetected" | "AnomalyCleared") => {
                if !self.seen.insert(line["id"].as_str().unwrap_or_default().to_owned()) {
                    return Vec::new();
                }
                let sensor = data["sensorId"].as_str().unwrap_or_default();
                let start = data["windowStart"].as_str().unwrap_or_default();
                let revision = data["revision"].as_u64().unwrap_or(1);
                let verdict = if event_type == "AnomalyCleared" {
                    "back inside".to_owned()
                } else {
                    data["direction"].as_str().unwrap_or("outside").to_owned()
                };
                let what = match (event_type, revision) {
                    ("AnomalyCleared", _) => "REVISED: cleared",
                    (_, 1) => "anomaly",
                    _ => "REVISED anomaly",
                };
                format!(
                    "{what:<16} {sensor} {} window {}Z{}: mean {} {verdict} {}..{} ({} readings, revision {revision})",
                    data["metric"].as_str().unwrap_or_default(),
                    utc_clock(start),
                    self.local(sensor, start),
                    figure(&data["mean"]),
                    figure(&data["low"]),
                    figure(&data["high"]),
                    data["count"],
                )
            }
            ("notification", "AlertTriggered") => format!(
                "{:<16} {} {} {} {}: mean {} outside {}..{} at {}",
                "ALERT",
                data["severity"].as_str().unwrap_or_default(),
                data["site"].as_str().unwrap_or_default(),
                data["sensorId"].as_str().unwrap_or_default(),
                data["metric"].as_str().unwrap_or_default(),
                figure(&data["mean"]),
                figure(&data["low"]),
                figure(&data["high"]),
                data["localTime"].as_str().unwrap_or_default(),
            ),
            _ => return Vec::new(),
        };
        vec![told]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stories() -> SensorStories {
        SensorStories::new(crate::demo_catalogue().unwrap())
    }

    #[test]
    fn given_an_anomaly_then_its_revision_then_each_is_told_once_with_readable_figures_and_local_time() {
        let mut story = stories();
        let anomaly = |id: &str, revision: u32, mean: f64| {
            json!({"k": "event", "id": id, "envelope": {"metadata": {"type": "AnomalyDetected"}, "data": {
                "sensorId": "s-tokyo-2", "metric": "temperature", "windowStart": "2026-03-29T00:46:00Z",
                "mean": mean, "low": 15.0, "high": 30.0, "direction": "below", "count": 4, "revision": revision}}})
        };

        let first = story.tell(&anomaly("a", 1, 9.825));
        let again = story.tell(&anomaly("a", 1, 9.825));
        let revised = story.tell(&anomaly("b", 2, 10.905_000_000_000_001));

        assert_eq!(
            first,
            [
                "anomaly          s-tokyo-2 temperature window 00:46Z (09:46+09:00 local): mean 9.82 below 15.00..30.00 (4 readings, revision 1)"
            ]
        );
        assert!(again.is_empty());
        assert!(revised[0].starts_with("REVISED anomaly"));
        assert!(revised[0].contains("mean 10.91 below"));
    }

    #[test]
    fn given_a_reading_or_an_order_then_nothing_is_told() {
        let mut story = stories();

        let told = story.tell(
            &json!({"k": "event", "id": "r", "envelope": {"metadata": {"type": "SensorReadingReceived"}, "data": {}}}),
        );

        assert!(told.is_empty());
    }
}

//! What a checked run of the sensors' scenario ended with, as the JSON `localcloud play
//! --outcome` writes: what the end-to-end harness (tests/e2e) expects a deployment to hold
//! after playing the same file. Its shape is the harness's contract: the run's counts, the
//! refusals by field, every window's final verdict, the alerts the verdicts call for and the
//! readings parked as too late.

use sensors::time::utc;
use serde_json::{Value, json};

use crate::Checked;

/// `checked` as the harness reads it: `domain`, `violations`, the counts (`readings`,
/// `too_late`, `refused`, `anomalous`, `revised`), `refused_by_field`, `windows` (sorted by
/// sensor, metric and start), `alerts` and `too_late_ids` (sorted).
pub fn expected_json(checked: &Checked) -> Value {
    json!({
        "domain": "sensors",
        "violations": checked.violations,
        "readings": checked.readings,
        "too_late": checked.too_late,
        "refused": checked.refused,
        "anomalous": checked.anomalous,
        "revised": checked.revised,
        "refused_by_field": checked.refused_by_field,
        "windows": windows(checked),
        "alerts": checked.expected_alerts,
        "too_late_ids": checked.too_late_ids,
    })
}

/// Every window's final verdict, in key order (sensor, metric, start). `windowStart` is
/// written by the function that writes it into `AnomalyDetected` (`sensors::time::utc`), so
/// the harness can match it with a deployment's events as text; `direction` is null for a
/// window with no anomaly in the end.
fn windows(checked: &Checked) -> Vec<Value> {
    checked
        .verdicts
        .iter()
        .map(|(key, verdict)| {
            json!({
                "sensorId": key.sensor_id,
                "metric": key.metric,
                "windowStart": utc(key.start),
                "direction": verdict.direction,
                "count": verdict.figures.count,
            })
        })
        .collect()
}

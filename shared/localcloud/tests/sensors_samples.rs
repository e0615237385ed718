//! The sensors functions on their samples (`events/sensors/<function>/`), as `localcloud
//! invoke` runs them: the catalogue loaded from `events/sensors/catalogue.json`, the functions
//! on the local platform with in-memory tables.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `localcloud invoke <function> events/sensors/<function>/<sample>`: its response (the JSON
/// between `response:` and `sent:`) and the lines of what it sent.
fn invoke(function: &str, sample: &str) -> (Value, Vec<String>) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_localcloud"))
        .current_dir(root())
        .args([
            "invoke",
            function,
            &format!("events/sensors/{function}/{sample}"),
            "--table",
            "SensorCatalogueTable=events/sensors/catalogue.json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let (response, sent) = text
        .strip_prefix("response:\n")
        .and_then(|rest| rest.split_once("\nsent:\n"))
        .expect("response: ... sent: ...");
    let sent = sent
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    (serde_json::from_str(response).unwrap(), sent)
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap()).unwrap()
}

#[test]
fn given_readings_in_three_offsets_when_posted_then_202_and_each_is_published_with_its_derived_id() {
    let (response, sent) = invoke("sensor-api", "post-readings.function-url.json");
    assert_eq!(response["statusCode"], 202, "{response}");
    assert_eq!(body(&response)["accepted"], 3);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().all(|s| s.contains("SensorReadingReceived")), "{sent:?}");
    // The same request again: the same ids (a device that resends changes nothing).
    let (_, again) = invoke("sensor-api", "post-readings.function-url.json");
    assert_eq!(again, sent);
}

#[test]
fn given_only_invalid_readings_when_posted_then_400_names_each_by_index_and_field_and_nothing_is_sent() {
    let (response, sent) = invoke("sensor-api", "post-readings-invalid.function-url.json");
    assert_eq!(response["statusCode"], 400, "{response}");
    let problem = body(&response);
    assert_eq!(
        (&problem["accepted"], &problem["refused"]),
        (&serde_json::json!(0), &serde_json::json!(3))
    );
    let fields: Vec<&str> = problem["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["readings[0].sensorId", "readings[1].unit", "readings[2].time"]);
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn given_a_known_sensor_when_its_status_is_asked_then_its_site_and_time_zone_are_answered() {
    let (response, _) = invoke("sensor-api", "get-sensor.function-url.json");
    assert_eq!(response["statusCode"], 200, "{response}");
    let status = body(&response);
    assert_eq!(status["sensorId"], "s-kathmandu-1");
    assert_eq!(status["timezone"], "Asia/Kathmandu");
}

#[test]
fn given_readings_out_of_order_and_twice_then_none_fails_and_none_is_parked() {
    let (response, sent) = invoke("detect-anomaly", "reading-received.sqs-eventbridge.json");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert!(sent.is_empty(), "no window has closed yet, nothing to park: {sent:?}");
}

#[test]
fn given_a_reading_of_an_unknown_sensor_then_it_alone_is_parked_with_its_reason() {
    let (response, sent) = invoke("detect-anomaly", "reading-received-unknown-sensor.sqs-eventbridge.json");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("ParkingQueue") && sent[0].contains("unknown-sensor-or-metric"),
        "{sent:?}"
    );
}

#[test]
fn given_the_scheduled_tick_with_no_open_window_then_it_answers_and_sends_nothing() {
    let (_, sent) = invoke("detect-anomaly", "scheduled-tick.eventbridge.json");
    assert!(sent.is_empty(), "{sent:?}");
}

#[test]
fn given_two_anomalies_then_each_triggers_one_alert_on_the_alerts_topic() {
    let (response, sent) = invoke("raise-alert", "anomaly-detected.sqs-eventbridge.json");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter()
            .all(|s| s.contains("AlertsTopic") && s.contains("AlertTriggered")),
        "{sent:?}"
    );
    assert!(sent.iter().any(|s| s.contains("\"severity\":\"critical\"")), "{sent:?}");
    assert!(sent.iter().any(|s| s.contains("\"severity\":\"warning\"")), "{sent:?}");
    assert!(
        sent.iter()
            .any(|s| s.contains("\"localTime\":\"2026-03-29T03:15:00+02:00\"")),
        "{sent:?}"
    );
}

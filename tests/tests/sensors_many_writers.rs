//! detect-anomaly with many invocations at once on the local cloud: a busy stream is decided
//! by up to 10 invocations side by side (its queue's `MaximumConcurrency`), each resolving the
//! conflicts of its own writes, so nothing cycles to the DLQ and no window is revised.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::scenario::{HttpRequest, Input, Scenario, Step};
use emulator::topology::Topology;
use sensor_stores::InMemoryWindowStore;
use sensors::catalogue::Catalogue;
use sensors::events::reading_id;
use sensors::windows::{Reading, WindowSettings, final_verdicts};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The local cloud of the template, with the sample catalogue, starting at `start`.
fn cloud(start: DateTime<Utc>) -> (LocalCloud, Catalogue) {
    let topology = Topology::load(&root().join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    let options = CloudOptions {
        start,
        schedules_until: 40 * 60_000,
        ..CloudOptions::default()
    };
    let cloud = LocalCloud::new(topology, options, &localcloud::catalogue()).unwrap();
    let items: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join("events/sensors/catalogue.json")).unwrap()).unwrap();
    cloud.load_table("SensorCatalogueTable", &items).unwrap();
    (cloud, Catalogue::from_json(&Value::Array(items)).unwrap())
}

#[tokio::test(start_paused = true)]
async fn given_500_readings_of_one_stream_in_one_post_then_concurrent_invocations_decide_them_with_nothing_in_a_dlq_and_no_revision()
 {
    let start = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let (mut cloud, catalogue) = cloud(start);
    let sensor = catalogue.sensors().next().unwrap().clone();
    let (metric, band) = sensor.metrics.iter().next().unwrap();
    // One reading a second for 500 s: above the band in even minutes, inside in odd ones.
    let readings: Vec<Reading> = (0..500)
        .map(|i| {
            let time = start + TimeDelta::seconds(i);
            let minute = i / 60;
            let value = if minute % 2 == 0 {
                band.high + 5.0
            } else {
                f64::midpoint(band.low, band.high)
            };
            Reading {
                id: reading_id(&sensor.sensor_id, metric, time),
                sensor_id: sensor.sensor_id.clone(),
                metric: metric.clone(),
                time,
                value,
            }
        })
        .collect();
    let body: Vec<Value> = readings
        .iter()
        .map(|r| {
            json!({ "sensorId": r.sensor_id, "metric": r.metric, "value": r.value, "unit": band.unit,
                    "time": sensors::time::utc(r.time) })
        })
        .collect();
    // The device uploads them in one request as the last is made.
    let scenario = Scenario {
        start: None,
        steps: vec![Step {
            at: 500_000,
            label: Some("POST /readings, 500 readings of one stream".into()),
            input: Input::Http(HttpRequest {
                function: "sensor-api".into(),
                method: "POST".into(),
                path: "/readings".into(),
                headers: BTreeMap::new(),
                body: Some(json!({ "readings": body })),
            }),
        }],
    };
    scenario.schedule(&mut cloud).unwrap();
    cloud.run(i64::MAX).await;

    assert_eq!(
        cloud.exchanges()[0].response.as_ref().unwrap()["statusCode"],
        202,
        "{:?}",
        cloud.exchanges()[0]
    );
    let peak = cloud
        .stats()
        .peak_concurrency
        .get("detect-anomaly")
        .copied()
        .unwrap_or(0);
    assert!(peak > 1, "the stream's batches ran side by side: peak {peak}");
    for queue in cloud.queues() {
        let id = &queue.config().logical_id;
        assert!(
            !(id.contains("DeadLetter") || id.contains("Parking")) || queue.is_empty(),
            "{id} holds {} messages",
            queue.len()
        );
    }
    let store = cloud.tables().all::<InMemoryWindowStore>().remove(0).1;
    let windows = store.windows();
    let reference = final_verdicts(&WindowSettings::default(), &catalogue, &readings);
    assert_eq!(windows.len(), reference.len());
    for window in &windows {
        assert!(window.closed, "{:?} never closed", window.key());
        assert!(
            window.revision <= 1,
            "{:?} revised: revision {}",
            window.key(),
            window.revision
        );
        let expected = reference[&window.key()];
        assert_eq!(window.verdict(), expected, "{:?}", window.key());
        assert_eq!(window.revision, u32::from(expected.direction.is_some()));
    }
    assert!(
        store.streams().iter().all(|s| s.outbox.is_empty()),
        "every event went out"
    );
}

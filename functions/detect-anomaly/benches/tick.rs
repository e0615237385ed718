//! The scheduled tick at 10,000 sensors, in memory: what it reads and writes, and how long it
//! takes, when 1% of the sensors have gone quiet (100 windows to close) and when all have
//! (10,000). The tick asks the due index for the streams whose time has come (one Query per
//! shard on DynamoDB) and reads and writes only those; it no longer scans the catalogue and
//! queries every sensor.
//!
//! `cargo bench -p detect-anomaly --no-default-features --bench tick`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a benchmark reports failure

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use detect_anomaly::DetectAnomaly;
use handler_kit::ManualClock;
use handler_kit::aggregate::{BatchHandler, Instant};
use ports::{Fault, FaultPlan, Faulty};
use sensor_stores::{InMemorySensorCatalogue, InMemoryWindowStore, SensorCatalogue, WindowStore};
use sensors::catalogue::Sensor;
use sensors::events::{SensorReadingReceived, reading_event};
use sensors::windows::{StreamState, WindowSettings, WindowState};
use serde_json::json;

/// 10,000 when benchmarking; a few hundred when `cargo test` only checks that it runs (a
/// debug build takes minutes to set 10,000 up).
fn sensors() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        10_000
    } else {
        300
    }
}

/// Counts every port call by operation.
#[derive(Debug, Default)]
struct Calls(Mutex<BTreeMap<&'static str, usize>>);

impl FaultPlan for Calls {
    fn before(&self, operation: &'static str) -> Fault {
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Fault::None
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// The catalogue, built once.
fn catalogue() -> Arc<InMemorySensorCatalogue> {
    static CATALOGUE: std::sync::OnceLock<Arc<InMemorySensorCatalogue>> = std::sync::OnceLock::new();
    Arc::clone(CATALOGUE.get_or_init(|| Arc::new(every_sensor())))
}

fn every_sensor() -> InMemorySensorCatalogue {
    InMemorySensorCatalogue::with_sensors((0..sensors()).map(|n| {
        Sensor::from_item(
            &json!({ "sensorId": format!("s-{n:05}"), "site": "plant", "timezone": "UTC",
            "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } }),
        )
        .unwrap()
    }))
}

/// Every sensor with one open window: `quiet` of them read at 10:00:10 (their window's idle
/// close has come by 10:05:01), the others at 10:04:50 (not yet).
fn states(quiet: usize) -> (Vec<StreamState>, Vec<WindowState>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let store = Arc::new(InMemoryWindowStore::new());
    runtime.block_on(async {
        for n in 0..sensors() {
            let at = if n < quiet {
                start() + TimeDelta::seconds(10)
            } else {
                start() + TimeDelta::seconds(290)
            };
            let f = function(Arc::clone(&store), at);
            let reading = SensorReadingReceived {
                sensor_id: format!("s-{n:05}"),
                metric: "temperature".into(),
                value: 20.0,
                unit: "C".into(),
            };
            let event = reading_event(reading, at).to_untyped().unwrap();
            f.settle(vec![event], far()).await.unwrap();
        }
    });
    (store.streams(), store.windows())
}

fn function<W: WindowStore>(store: W, now: DateTime<Utc>) -> DetectAnomaly<Arc<InMemorySensorCatalogue>, W> {
    with_catalogue(catalogue(), store, now)
}

fn with_catalogue<C: SensorCatalogue, W: WindowStore>(
    catalogue: C,
    store: W,
    now: DateTime<Utc>,
) -> DetectAnomaly<C, W> {
    DetectAnomaly::new(
        catalogue,
        store,
        WindowSettings::default(),
        Arc::new(ManualClock::new(now)),
    )
    .unwrap()
}

fn far() -> Instant {
    Instant::now() + std::time::Duration::from_secs(600)
}

fn tick(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let now = start() + TimeDelta::seconds(301);
    let sensors = sensors();
    for quiet in [sensors / 100, sensors] {
        let (streams, windows) = states(quiet);
        let fresh = || {
            let store = Arc::new(InMemoryWindowStore::new());
            assert!(runtime.block_on(store.save(&streams, &windows)).unwrap().written());
            store
        };
        // One tick counted: what it costs in calls.
        let calls = Arc::new(Calls::default());
        let plan = || Arc::clone(&calls) as Arc<dyn FaultPlan>;
        let store = fresh();
        let f = with_catalogue(
            Faulty::new(catalogue(), plan()),
            Faulty::new(Arc::clone(&store), plan()),
            now,
        );
        let settled = runtime.block_on(f.tick(now, far())).unwrap();
        let closed = runtime
            .block_on(store.due(now + TimeDelta::days(1)))
            .unwrap()
            .streams
            .len();
        eprintln!(
            "tick at {sensors} sensors, {quiet} quiet: {:?}; {} events; {} streams still due later",
            calls.0.lock().unwrap(),
            settled.outputs.len(),
            closed
        );
        c.bench_function(&format!("tick, {sensors} sensors, {quiet} quiet"), |b| {
            b.iter_batched(
                fresh,
                |store| {
                    let f = function(store, now);
                    runtime.block_on(f.tick(now, far())).unwrap()
                },
                BatchSize::LargeInput,
            );
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = tick
}
criterion_main!(benches);

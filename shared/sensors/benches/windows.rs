//! The windowing core: readings per second through `Windows::apply` (goal: 1 million on one
//! core).
//!
//! 100 sensors at sites in 10 time zones, one reading a second each for 10 minutes (60,000
//! readings), 10% of them out of order within the allowed lateness and 5% sent twice, some
//! windows anomalous:
//!
//! - `apply/one-batch`: all of them in one call, from no state: counting, deduplication,
//!   watermarks, closing and the anomaly events; what the core costs per reading.
//! - `apply/batches-of-100`: in batches of 100 in arrival order, each batch's states taken from
//!   and written back to an in-memory map (cloned both ways, as a store round trip would), with
//!   `plan` before each `apply`: what a function's loop costs per reading, store calls aside.
//!
//! Before timing, both must give the reference verdicts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sensors::catalogue::Catalogue;
use sensors::events::{AnomalyEvent, reading_id};
use sensors::windows::{
    Batch, Reading, StreamKey, StreamState, WindowKey, WindowSettings, WindowState, Windows, final_verdicts,
};
use serde_json::json;

const SENSORS: usize = 100;
const SECONDS: i64 = 600;
const ZONES: [&str; 10] = [
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Europe/Berlin",
    "America/Denver",
    "Asia/Tokyo",
    "UTC",
    "America/Sao_Paulo",
];

fn catalogue() -> Catalogue {
    let sensors: Vec<_> = (0..SENSORS)
        .map(|i| {
            json!({ "sensorId": format!("s-{i:03}"), "site": format!("site-{}", i % 10), "timezone": ZONES[i % 10],
                    "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } })
        })
        .collect();
    Catalogue::from_json(&json!(sensors)).unwrap()
}

/// xorshift64*: the same readings on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The readings in arrival order.
fn readings() -> Vec<Reading> {
    let start = DateTime::parse_from_rfc3339("2026-03-29T00:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut arrivals: Vec<(i64, Reading)> = Vec::new();
    for second in 0..SECONDS {
        for sensor in 0..SENSORS {
            let sensor_id = format!("s-{sensor:03}");
            let time = start + TimeDelta::seconds(second) + TimeDelta::milliseconds(sensor as i64);
            // Every seventh sensor runs hot for two of the ten minutes.
            let hot = sensor % 7 == 0 && (120..240).contains(&second);
            let value = if hot { 27.0 } else { 20.0 } + (random.below(400) as f64 - 200.0) / 100.0;
            let reading = Reading {
                id: reading_id(&sensor_id, "temperature", time),
                sensor_id,
                metric: "temperature".into(),
                time,
                value,
            };
            // 10% arrive up to 100 s late, within the 120 s allowed; 5% arrive twice.
            let delay = if random.below(10) == 0 {
                random.below(100_000) as i64
            } else {
                0
            };
            let arrival = time.timestamp_millis() + delay;
            if random.below(20) == 0 {
                arrivals.push((arrival + random.below(50_000) as i64, reading.clone()));
            }
            arrivals.push((arrival, reading));
        }
    }
    arrivals.sort_by_key(|(arrival, _)| *arrival);
    arrivals.into_iter().map(|(_, reading)| reading).collect()
}

fn far_future() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The verdicts the events published say, window by window (the last event of each).
fn published(events: &[AnomalyEvent]) -> BTreeMap<(String, String), bool> {
    let mut last = BTreeMap::new();
    for event in events {
        let key = (event.sensor_id().to_owned(), event.window_start().to_owned());
        last.insert(key, matches!(event, AnomalyEvent::Detected(_)));
    }
    last.retain(|_, anomalous| *anomalous);
    last
}

/// All the readings in one call, then a tick that closes what is left.
fn one_batch(windows: &Windows, catalogue: &Catalogue, readings: &[Reading]) -> Vec<AnomalyEvent> {
    let now = readings.last().unwrap().time;
    let batch = Batch {
        readings,
        streams: &[],
        windows: Vec::new(),
        now,
    };
    let outcome = windows.apply(catalogue, batch).unwrap();
    let mut events = outcome.events;
    let tick = Batch {
        readings: &[],
        streams: &outcome.streams,
        windows: outcome.windows.into_iter().filter(|w| !w.closed).collect(),
        now: far_future(),
    };
    events.extend(windows.apply(catalogue, tick).unwrap().events);
    events
}

/// Batches of 100 in arrival order, with states kept in maps between batches.
fn batches(windows: &Windows, catalogue: &Catalogue, readings: &[Reading]) -> Vec<AnomalyEvent> {
    let mut streams: HashMap<StreamKey, StreamState> = HashMap::new();
    let mut stored: HashMap<WindowKey, WindowState> = HashMap::new();
    let mut events = Vec::new();
    for chunk in readings.chunks(100) {
        let mut keys: Vec<StreamKey> = chunk
            .iter()
            .map(|r| StreamKey {
                sensor_id: r.sensor_id.clone(),
                metric: r.metric.clone(),
            })
            .collect();
        keys.sort();
        keys.dedup();
        let given: Vec<StreamState> = keys.iter().filter_map(|k| streams.get(k).cloned()).collect();
        let now = chunk.iter().map(|r| r.time).max().unwrap();
        let plan = windows.plan(catalogue, chunk, &given, now).unwrap();
        let loaded = plan.iter().filter_map(|k| stored.get(k).cloned()).collect();
        let batch = Batch {
            readings: chunk,
            streams: &given,
            windows: loaded,
            now,
        };
        let outcome = windows.apply(catalogue, batch).unwrap();
        for state in outcome.streams {
            streams.insert(state.key(), state);
        }
        for state in outcome.windows {
            stored.insert(state.key(), state);
        }
        events.extend(outcome.events);
    }
    let given: Vec<StreamState> = streams.into_values().collect();
    let plan = windows.plan(catalogue, &[], &given, far_future()).unwrap();
    let tick = Batch {
        readings: &[],
        streams: &given,
        windows: plan.iter().filter_map(|k| stored.get(k).cloned()).collect(),
        now: far_future(),
    };
    events.extend(windows.apply(catalogue, tick).unwrap().events);
    events
}

fn bench(c: &mut Criterion) {
    let catalogue = catalogue();
    let readings = readings();
    let settings = WindowSettings::default();
    let windows = Windows::new(settings).unwrap();

    let expected: BTreeMap<(String, String), bool> = final_verdicts(&settings, &catalogue, &readings)
        .into_iter()
        .filter(|(_, verdict)| verdict.direction.is_some())
        .map(|(key, _)| ((key.sensor_id, sensors::time::utc(key.start)), true))
        .collect();
    assert!(expected.len() >= 30, "some windows are anomalous: {}", expected.len());
    assert_eq!(published(&one_batch(&windows, &catalogue, &readings)), expected);
    assert_eq!(published(&batches(&windows, &catalogue, &readings)), expected);

    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(readings.len() as u64));
    group.sample_size(20);
    group.bench_function("one-batch", |b| {
        b.iter(|| one_batch(black_box(&windows), &catalogue, black_box(&readings)));
    });
    group.bench_function("batches-of-100", |b| {
        b.iter(|| batches(black_box(&windows), &catalogue, black_box(&readings)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

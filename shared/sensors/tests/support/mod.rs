//! What the tests share: a catalogue of sensors in many time zones, readings, and a store in
//! memory that runs batches the way a function does (stream states, `plan`, the windows named,
//! `apply`, write back).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses part of it; a panic is how a test reports failure

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sensors::alerts::{AlertBatch, AlertOutcome, AlertState, Alerts, PeriodKey};
use sensors::catalogue::Catalogue;
use sensors::events::{AlertEvent, AnomalyEvent, reading_id};
use sensors::windows::{Batch, Reading, StreamKey, StreamState, WindowKey, WindowOutcome, WindowState, Windows};
use serde_json::json;

/// The default windows, but a reading's time moves the watermark at once (no delivery grace):
/// what these tests check is when windows close by event time; the grace has tests of its own.
pub(crate) fn at_once() -> sensors::windows::WindowSettings {
    sensors::windows::WindowSettings {
        delivery_grace_seconds: 0,
        ..sensors::windows::WindowSettings::default()
    }
}

/// Every sensor measures `temperature` in `C` with the band 15..=25 (width 10).
pub(crate) fn catalogue() -> Catalogue {
    let zones = [
        ("s-berlin", "Europe/Berlin"),
        ("s-kolkata", "Asia/Kolkata"),
        ("s-kathmandu", "Asia/Kathmandu"),
        ("s-st-johns", "America/St_Johns"),
        ("s-adelaide", "Australia/Adelaide"),
        ("s-chatham", "Pacific/Chatham"),
        ("s-utc", "UTC"),
    ];
    let sensors: Vec<_> = zones
        .iter()
        .map(|(id, zone)| {
            json!({ "sensorId": id, "site": format!("{}-site", &id[2..]), "timezone": zone,
                    "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } })
        })
        .collect();
    Catalogue::from_json(&json!(sensors)).unwrap()
}

pub(crate) fn time(text: &str) -> DateTime<Utc> {
    sensors::time::parse(text).unwrap()
}

/// A reading of `temperature` at `at` (RFC 3339, any offset), with its derived id.
pub(crate) fn reading(sensor_id: &str, at: &str, value: f64) -> Reading {
    let time = time(at);
    Reading {
        id: reading_id(sensor_id, "temperature", time),
        sensor_id: sensor_id.into(),
        metric: "temperature".into(),
        time,
        value,
    }
}

/// The windows' store, in memory.
#[derive(Debug, Default)]
pub(crate) struct WindowStore {
    pub(crate) streams: BTreeMap<StreamKey, StreamState>,
    pub(crate) windows: BTreeMap<WindowKey, WindowState>,
    /// Every event published, in order.
    pub(crate) events: Vec<AnomalyEvent>,
}

impl WindowStore {
    /// One batch, as a function runs it: the streams' states, `plan`, the windows it names,
    /// `apply`, and everything written back.
    pub(crate) fn run(&mut self, windows: &Windows, readings: &[Reading], now: DateTime<Utc>) -> WindowOutcome {
        self.run_and(windows, readings, now, true)
    }

    /// One batch whose publish fails after its states were written: the outbox keeps what it
    /// holds.
    pub(crate) fn run_unpublished(
        &mut self,
        windows: &Windows,
        readings: &[Reading],
        now: DateTime<Utc>,
    ) -> WindowOutcome {
        self.run_and(windows, readings, now, false)
    }

    fn run_and(
        &mut self,
        windows: &Windows,
        readings: &[Reading],
        now: DateTime<Utc>,
        published: bool,
    ) -> WindowOutcome {
        let catalogue = catalogue();
        let mut keys: Vec<StreamKey> = readings
            .iter()
            .map(|r| StreamKey {
                sensor_id: r.sensor_id.clone(),
                metric: r.metric.clone(),
            })
            .collect();
        if readings.is_empty() {
            // The tick: every stream that is due.
            keys = self
                .streams
                .values()
                .filter(|s| s.due_at.is_some_and(|at| at <= now))
                .map(StreamState::key)
                .collect();
        }
        keys.sort();
        keys.dedup();
        let streams: Vec<StreamState> = keys.iter().filter_map(|k| self.streams.get(k).cloned()).collect();
        let plan = windows.plan(&catalogue, readings, &streams, now).unwrap();
        let stored = plan.iter().filter_map(|k| self.windows.get(k).cloned()).collect();
        let batch = Batch {
            readings,
            streams: &streams,
            windows: stored,
            now,
        };
        let outcome = windows.apply(&catalogue, batch).unwrap();
        for state in &outcome.streams {
            let before = self.streams.get(&state.key()).map_or(0, |s| s.sequence);
            assert_eq!(
                state.sequence,
                before + 1,
                "a stream state is written over the one read"
            );
            self.streams.insert(state.key(), state.clone());
        }
        for state in &outcome.windows {
            let before = self.windows.get(&state.key()).map_or(0, |s| s.sequence);
            assert_eq!(
                state.sequence,
                before + 1,
                "a window state is written over the one read"
            );
            self.windows.insert(state.key(), state.clone());
        }
        if !published {
            return outcome;
        }
        // Published: the outbox entries are done, as a function clears them.
        for event in &outcome.events {
            let (key, start, revision) = sensors::windows::outbox_entry(event).unwrap();
            let stream = self.streams.get_mut(&key).unwrap();
            if stream.sent(start, revision, windows.settings()) {
                stream.sequence += 1;
            }
        }
        self.events.extend(outcome.events.iter().cloned());
        outcome
    }

    /// The window of `sensor_id`'s temperature that starts at `start`.
    pub(crate) fn window(&self, sensor_id: &str, start: &str) -> &WindowState {
        let key = WindowKey {
            sensor_id: sensor_id.into(),
            metric: "temperature".into(),
            start: time(start),
        };
        self.windows.get(&key).unwrap_or_else(|| panic!("no window {key:?}"))
    }
}

/// The alerts' store, in memory.
#[derive(Debug, Default)]
pub(crate) struct AlertStore {
    pub(crate) periods: BTreeMap<PeriodKey, AlertState>,
    /// Every alert event published, in order.
    pub(crate) events: Vec<AlertEvent>,
}

impl AlertStore {
    /// One batch of anomaly events, as a function runs it.
    pub(crate) fn run(&mut self, alerts: &Alerts, events: &[AnomalyEvent]) -> AlertOutcome {
        let plan = alerts.plan(events);
        let periods = plan.iter().filter_map(|k| self.periods.get(k).cloned()).collect();
        let outcome = alerts.apply(&catalogue(), AlertBatch { events, periods }).unwrap();
        for state in &outcome.periods {
            self.periods.insert(state.key(), state.clone());
        }
        self.events.extend(outcome.events.iter().cloned());
        outcome
    }
}

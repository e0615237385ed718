//! What every adapter of the sensors ports must do, written once and run on the in-memory
//! adapters here and on DynamoDB (moto) in `tests/tests/sensor_stores_dynamodb.rs`.
//!
//! States are made by the domain, batch by batch, as the functions make them: the stores must
//! give back exactly what the domain wrote, floats to the last bit.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)] // each test binary uses part of it; a panic is how a test reports failure

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use envelope::ErrorClass;
use sensor_stores::sensors::alerts::{AlertBatch, AlertSettings, AlertState, Alerts, PeriodKey};
use sensor_stores::sensors::catalogue::{Catalogue, Sensor};
use sensor_stores::sensors::events::{AnomalyEvent, reading_id};
use sensor_stores::sensors::time::{parse, utc};
use sensor_stores::sensors::windows::StreamState;
use sensor_stores::sensors::windows::{Batch, Reading, StreamKey, WindowKey, WindowOutcome, WindowSettings, Windows};
use sensor_stores::{AlertStore, CatalogueFileError, Saved, SensorCatalogue, WindowStore, put_catalogue_file};
use serde_json::json;

/// `s-1` measures temperature (15..=25 C) and humidity (30..=70 %), `s-2` temperature.
pub fn catalogue() -> Catalogue {
    Catalogue::new([
        sensor("s-1", &["temperature", "humidity"]),
        sensor("s-2", &["temperature"]),
    ])
}

pub fn sensor(sensor_id: &str, metrics: &[&str]) -> Sensor {
    let bands = |metric: &str| match metric {
        "humidity" => json!({ "low": 30, "high": 70, "unit": "%" }),
        _ => json!({ "low": 15, "high": 25, "unit": "C" }),
    };
    let metrics: serde_json::Map<String, serde_json::Value> =
        metrics.iter().map(|m| ((*m).to_owned(), bands(m))).collect();
    Sensor::from_item(&json!({ "sensorId": sensor_id, "site": format!("{sensor_id}-site"),
                               "timezone": "Asia/Kathmandu", "metrics": metrics }))
    .unwrap()
}

pub fn at(text: &str) -> DateTime<Utc> {
    parse(text).unwrap()
}

/// A reading at `time` (RFC 3339, any offset) with its derived id.
pub fn reading(sensor_id: &str, metric: &str, time: &str, value: f64) -> Reading {
    let time = at(time);
    Reading {
        id: reading_id(sensor_id, metric, time),
        sensor_id: sensor_id.into(),
        metric: metric.into(),
        time,
        value,
    }
}

/// One-minute windows, two minutes of allowed lateness.
pub fn windows() -> Windows {
    // A reading's time moves the watermark at once: what these tests check is the stores.
    Windows::new(WindowSettings {
        delivery_grace_seconds: 0,
        ..WindowSettings::default()
    })
    .unwrap()
}

/// The clock of every batch: at its latest reading (readings arrive as they are made), and
/// not before 09:04:30; before any window closes for a quiet sensor.
pub fn now(readings: &[Reading]) -> DateTime<Utc> {
    readings
        .iter()
        .map(|r| r.time)
        .fold(at("2026-11-23T09:04:30Z"), DateTime::max)
}

/// Reads what `readings` need as a function does, in as few loads as it can: the streams and
/// the windows the readings fall in at once, then the windows the plan adds (windows that
/// close), if any; applies the batch. Nothing is saved.
pub async fn decide(store: &impl WindowStore, readings: &[Reading]) -> WindowOutcome {
    let (windows, catalogue) = (windows(), catalogue());
    let streams: BTreeSet<StreamKey> = readings
        .iter()
        .map(|r| StreamKey {
            sensor_id: r.sensor_id.clone(),
            metric: r.metric.clone(),
        })
        .collect();
    let touched: BTreeSet<WindowKey> = readings
        .iter()
        .map(|r| WindowKey {
            sensor_id: r.sensor_id.clone(),
            metric: r.metric.clone(),
            start: windows.window_of(r.time).0,
        })
        .collect();
    let streams: Vec<StreamKey> = streams.into_iter().collect();
    let touched: Vec<WindowKey> = touched.into_iter().collect();
    let (streams, mut stored) = store.load(&streams, &touched).await.unwrap();
    let planned = windows.plan(&catalogue, readings, &streams, now(readings)).unwrap();
    let more: Vec<WindowKey> = planned.into_iter().filter(|k| !touched.contains(k)).collect();
    if !more.is_empty() {
        stored.extend(store.load(&[], &more).await.unwrap().1);
    }
    windows
        .apply(
            &catalogue,
            Batch {
                readings,
                streams: &streams,
                windows: stored,
                now: now(readings),
            },
        )
        .unwrap()
}

/// Decides and saves a batch; it must be written.
pub async fn run(store: &impl WindowStore, readings: &[Reading]) -> WindowOutcome {
    let outcome = decide(store, readings).await;
    let saved = store.save(&outcome.streams, &outcome.windows).await.unwrap();
    assert!(saved.written(), "{saved:?}");
    outcome
}

/// Every state `outcome` saved, as the store loads it back.
pub async fn reload(store: &impl WindowStore, outcome: &WindowOutcome) -> WindowOutcome {
    let streams: Vec<StreamKey> = outcome.streams.iter().map(|s| s.key()).collect();
    let windows: Vec<WindowKey> = outcome.windows.iter().map(|w| w.key()).collect();
    let (streams, windows) = store.load(&streams, &windows).await.unwrap();
    WindowOutcome {
        streams,
        windows,
        ..outcome.clone()
    }
}

pub async fn a_first_save_of_new_keys_is_written_and_loaded_back_exactly(store: impl WindowStore) {
    // GIVEN nothing stored; a save of nothing is written
    assert_eq!(store.save(&[], &[]).await.unwrap(), Saved::default());

    // WHEN a batch opens two streams of s-1 and three windows (a reading written in Kathmandu
    // time among them), with values whose exact sums keep partials down to the last bit, and
    // one window closes
    let readings = [
        reading("s-1", "temperature", "2026-11-23T09:00:10Z", 0.1),
        reading("s-1", "temperature", "2026-11-23T14:45:20+05:45", 0.2),
        reading("s-1", "temperature", "2026-11-23T09:00:30Z", 1e-17),
        reading("s-1", "temperature", "2026-11-23T09:03:10Z", 20.3),
        reading("s-1", "humidity", "2026-11-23T09:01:30Z", 44.4),
    ];
    let outcome = run(&store, &readings).await;
    assert_eq!((outcome.streams.len(), outcome.windows.len()), (2, 3));
    assert!(outcome.windows.iter().all(|w| w.sequence == 1));
    assert!(outcome.windows[1].closed, "{:?}", outcome.windows[1]);
    assert_eq!(outcome.windows[1].stats.count, 3);

    // THEN each state loads back as saved, in key order, repeated and unknown keys aside
    let loaded = reload(&store, &outcome).await;
    assert_eq!(loaded.streams, outcome.streams);
    assert_eq!(loaded.windows, outcome.windows);
    let mut streams: Vec<StreamKey> = outcome.streams.iter().rev().map(|s| s.key()).collect();
    streams.push(streams[0].clone());
    streams.push(StreamKey {
        sensor_id: "s-2".into(),
        metric: "temperature".into(),
    });
    let mut windows: Vec<WindowKey> = outcome.windows.iter().rev().map(|w| w.key()).collect();
    windows.push(WindowKey {
        start: at("2026-11-23T08:00:00Z"),
        ..windows[0].clone()
    });
    windows.push(WindowKey {
        sensor_id: "not#a-name".into(),
        ..windows[0].clone()
    });
    let (found_streams, found_windows) = store.load(&streams, &windows).await.unwrap();
    assert_eq!(found_streams, outcome.streams);
    assert_eq!(found_windows, outcome.windows);
    assert_eq!(store.load(&[], &[]).await.unwrap(), (Vec::new(), Vec::new()));

    // AND a re-read window decides as before: the same readings again change nothing, and
    // what the outbox holds (nothing cleared it here) comes out again, the same
    let again = decide(&store, &readings).await;
    assert!(again.windows.is_empty() && again.streams.is_empty(), "{again:?}");
    assert_eq!(again.events, outcome.events);
}

pub async fn a_save_over_a_stale_read_is_a_conflict_of_its_stream_alone(store: impl WindowStore) {
    // GIVEN two invocations that read the same (no) states: one with a reading of s-1, the
    // other with another reading of the same window and a reading of a new stream of s-2
    let first = decide(&store, &[reading("s-1", "temperature", "2026-11-23T09:00:10Z", 20.0)]).await;
    let second_readings = [
        reading("s-2", "temperature", "2026-11-23T09:00:05Z", 21.0),
        reading("s-1", "temperature", "2026-11-23T09:00:40Z", 22.0),
    ];
    let second = decide(&store, &second_readings).await;

    // WHEN the first saves, then the second
    let saved = store.save(&first.streams, &first.windows).await.unwrap();
    assert!(saved.written());
    let saved = store.save(&second.streams, &second.windows).await.unwrap();

    // THEN s-1 is a conflict and none of its states was written; s-2, its own stream, was
    let s1 = StreamKey {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
    };
    assert_eq!(saved.conflicts, std::slice::from_ref(&s1));
    assert!(saved.failed.is_empty() && saved.wrote(&second.streams[1].key()) && !saved.wrote(&s1));
    assert_eq!(reload(&store, &first).await.windows, first.windows);
    let s2 = StreamKey {
        sensor_id: "s-2".into(),
        metric: "temperature".into(),
    };
    let s2_window = WindowKey {
        sensor_id: "s-2".into(),
        metric: "temperature".into(),
        start: at("2026-11-23T09:00:00Z"),
    };
    assert_eq!(
        store
            .load(std::slice::from_ref(&s2), std::slice::from_ref(&s2_window))
            .await
            .unwrap()
            .1
            .len(),
        1
    );

    // AND read again and applied again, it is written, and the window holds both readings
    let retried = run(&store, &second_readings).await;
    let window = retried
        .windows
        .iter()
        .find(|w| w.sensor_id == "s-1")
        .expect("s-1's window changed");
    assert_eq!((window.stats.count, window.sequence), (2, 2));

    // AND a state whose sequence skips one, or repeats the stored one, is a conflict too
    let mut skipping = window.clone();
    skipping.sequence = 4;
    assert_eq!(
        store.save(&[], &[skipping]).await.unwrap().conflicts,
        std::slice::from_ref(&s1)
    );
    assert_eq!(
        store.save(&[], std::slice::from_ref(window)).await.unwrap().conflicts,
        [s1]
    );
    assert_eq!(reload(&store, &retried).await.windows, retried.windows);
}

pub async fn saves_no_table_can_take_are_refused_and_write_nothing(store: impl WindowStore) {
    let outcome = decide(&store, &[reading("s-1", "temperature", "2026-11-23T09:00:10Z", 20.0)]).await;
    let window = &outcome.windows[0];

    // A sequence of 0: not a state the domain returns.
    let mut zero = window.clone();
    zero.sequence = 0;
    let refused = store.save(&outcome.streams, &[zero]).await.unwrap_err();
    assert_eq!(refused.class, ErrorClass::Permanent, "{refused}");

    // One window twice.
    let refused = store.save(&[], &[window.clone(), window.clone()]).await.unwrap_err();
    assert_eq!(refused.class, ErrorClass::Permanent, "{refused}");
    assert!(refused.message.contains("twice"), "{refused}");

    // More states of one stream than one transaction takes: transient for that stream (smaller
    // batches pass); its neighbour is written.
    let many: Vec<_> = (0..=sensor_stores::MAX_TRANSACTION_ITEMS)
        .map(|minute| {
            let mut w = window.clone();
            w.start += chrono::TimeDelta::minutes(i64::try_from(minute).unwrap());
            w
        })
        .collect();
    let neighbour = decide(&store, &[reading("s-2", "temperature", "2026-11-23T09:00:10Z", 20.0)]).await;
    let mut windows = many;
    windows.extend(neighbour.windows.iter().cloned());
    let mut streams = outcome.streams.clone();
    streams.extend(neighbour.streams.iter().cloned());
    let saved = store.save(&streams, &windows).await.unwrap();
    let refused = &saved.failed[&outcome.streams[0].key()];
    assert_eq!(refused.class, ErrorClass::Transient, "{refused}");
    assert!(saved.wrote(&neighbour.streams[0].key()));
    assert_eq!(
        reload(&store, &outcome).await.streams,
        Vec::new(),
        "nothing of s-1 written"
    );
    assert_eq!(reload(&store, &neighbour).await.streams, neighbour.streams);

    // A window no DynamoDB item can hold: permanent, for its stream.
    let mut huge = window.clone();
    huge.sensor_id = "s-3".into();
    // 210,000 readings a millisecond apart: each gap "1," is 2 bytes.
    huge.readings = serde_json::from_value(serde_json::json!(vec![1; 210_000])).unwrap();
    let saved = store.save(&[], &[huge]).await.unwrap();
    let refused = saved.failed.values().next().unwrap();
    assert_eq!(refused.class, ErrorClass::Permanent, "{refused}");
    assert!(refused.message.contains("bytes, more than the"), "{refused}");
}

pub async fn a_save_of_many_streams_is_written_and_loaded_whole(store: impl WindowStore) {
    // GIVEN a batch of an hour of readings of three streams: 3 streams and 180 windows, more
    // than one transaction or one batch read takes
    let mut readings = Vec::new();
    for (sensor_id, metric) in [("s-1", "temperature"), ("s-1", "humidity"), ("s-2", "temperature")] {
        for minute in 0..60 {
            let time = format!("2026-11-23T08:{minute:02}:30Z");
            readings.push(reading(sensor_id, metric, &time, 20.0 + f64::from(minute) / 7.0));
        }
    }
    // WHEN it is saved
    let outcome = run(&store, &readings).await;
    assert_eq!((outcome.streams.len(), outcome.windows.len()), (3, 180));

    // THEN every state loads back as saved
    let loaded = reload(&store, &outcome).await;
    assert_eq!(loaded.streams, outcome.streams);
    assert_eq!(loaded.windows, outcome.windows);
}

pub async fn a_sensors_status_is_its_streams_and_last_closed_window_per_metric(store: impl WindowStore) {
    // GIVEN s-1's temperature windows 09:00 and 09:01 closed and 09:04 open, its humidity
    // window 09:00 closed and 09:03 open, and s-2's only window open
    let outcome = run(
        &store,
        &[
            reading("s-1", "temperature", "2026-11-23T09:00:10Z", 20.0),
            reading("s-1", "temperature", "2026-11-23T09:01:10Z", 40.0),
            reading("s-1", "temperature", "2026-11-23T09:04:10Z", 21.0),
            reading("s-1", "humidity", "2026-11-23T09:00:20Z", 50.0),
            reading("s-1", "humidity", "2026-11-23T09:03:30Z", 55.0),
            reading("s-2", "temperature", "2026-11-23T09:00:00Z", 20.0),
        ],
    )
    .await;
    let closed: Vec<String> = outcome
        .windows
        .iter()
        .filter(|w| w.closed)
        .map(|w| format!("{} {} {}", w.sensor_id, w.metric, utc(w.start)))
        .collect();
    assert_eq!(
        closed,
        [
            "s-1 humidity 2026-11-23T09:00:00Z",
            "s-1 temperature 2026-11-23T09:00:00Z",
            "s-1 temperature 2026-11-23T09:01:00Z"
        ]
    );

    // WHEN s-1's status is read
    let streams = store.streams_of("s-1").await.unwrap();
    let last = store.last_closed_windows("s-1").await.unwrap();

    // THEN its two streams, and per metric its latest closed window
    let by_metric: Vec<&str> = streams.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(by_metric, ["humidity", "temperature"]);
    assert_eq!(streams, outcome.streams[..2]);
    let last: Vec<(&str, String)> = last.iter().map(|w| (w.metric.as_str(), utc(w.start))).collect();
    assert_eq!(
        last,
        [
            ("humidity", "2026-11-23T09:00:00Z".to_owned()),
            ("temperature", "2026-11-23T09:01:00Z".to_owned())
        ]
    );

    // AND a sensor with no closed window, an unknown one and a malformed id have none
    assert_eq!(store.streams_of("s-2").await.unwrap().len(), 1);
    assert!(store.last_closed_windows("s-2").await.unwrap().is_empty());
    assert!(store.streams_of("s-9").await.unwrap().is_empty());
    assert!(store.last_closed_windows("s-9").await.unwrap().is_empty());
    assert!(store.streams_of("").await.unwrap().is_empty());
}

/// Suppression periods of 15 minutes.
pub fn alerts() -> Alerts {
    Alerts::new(AlertSettings::default()).unwrap()
}

/// Reads the periods `events` touch, applies them, and saves; it must be written.
pub async fn raise(store: &impl AlertStore, events: &[AnomalyEvent]) -> Vec<AlertState> {
    let alerts = alerts();
    let keys = alerts.plan(events);
    let periods = store.load(&keys).await.unwrap();
    let outcome = alerts.apply(&catalogue(), AlertBatch { events, periods }).unwrap();
    assert!(store.save(&outcome.periods).await.unwrap().written());
    outcome.periods
}

pub async fn alert_periods_are_saved_on_condition_and_open_ones_are_read(
    windows_store: impl WindowStore,
    store: impl AlertStore,
) {
    // GIVEN anomalous windows of s-1 at 09:00 and 09:16 (periods 09:00 and 09:15), closed
    let anomalies = run(
        &windows_store,
        &[
            reading("s-1", "temperature", "2026-11-23T09:00:10Z", 40.0),
            reading("s-1", "temperature", "2026-11-23T09:16:10Z", 40.0),
            reading("s-1", "temperature", "2026-11-23T09:19:30Z", 20.0),
        ],
    )
    .await
    .events;
    assert_eq!(anomalies.len(), 2);

    // WHEN they are raised: two periods with an alert
    let periods = raise(&store, &anomalies).await;
    assert!(periods.iter().all(|p| p.active.is_some() && p.sequence == 1));
    let keys: Vec<PeriodKey> = periods.iter().map(AlertState::key).collect();
    assert_eq!(store.load(&keys).await.unwrap(), periods);

    // AND a late reading brings the 09:16 window back inside its band: its alert is resolved
    let cleared = run(
        &windows_store,
        &[reading("s-1", "temperature", "2026-11-23T09:16:40Z", 9.0)],
    )
    .await
    .events;
    // (The 09:16 window's revision 1 comes out again with it: nothing cleared the outbox here.)
    let revisions: Vec<u32> = cleared.iter().map(AnomalyEvent::revision).collect();
    assert_eq!(revisions, [1, 2]);
    assert!(matches!(cleared[1], AnomalyEvent::Cleared(_)));
    let resolved = raise(&store, &cleared).await;
    assert_eq!(resolved.len(), 1);
    assert!(resolved[0].active.is_none() && resolved[0].sequence == 2);

    // THEN the open alerts of s-1 are the 09:00 period's only; other sensors have none
    let open = store.open_alerts("s-1").await.unwrap();
    assert_eq!(open, periods[..1]);
    assert!(store.open_alerts("s-2").await.unwrap().is_empty());
    assert!(store.open_alerts("").await.unwrap().is_empty());

    // AND a save over a stale read is a conflict of its stream, and a new period of another
    // stream beside it is written
    let mut stale = periods[1].clone();
    stale.sequence = 2; // the stored one is 2 already
    let new = AlertState::new(PeriodKey {
        sensor_id: "s-2".into(),
        metric: "temperature".into(),
        start: at("2026-11-23T09:00:00Z"),
    });
    let new = AlertState { sequence: 1, ..new };
    let saved = store.save(&[new.clone(), stale.clone()]).await.unwrap();
    assert_eq!(
        saved.conflicts,
        [StreamKey {
            sensor_id: stale.sensor_id.clone(),
            metric: stale.metric.clone()
        }]
    );
    assert_eq!(store.load(&[new.key()]).await.unwrap(), std::slice::from_ref(&new));
    assert_eq!(store.load(&[periods[1].key()]).await.unwrap(), resolved);

    // AND a period saved twice in one save is refused
    let refused = store.save(&[new.clone(), new]).await.unwrap_err();
    assert_eq!(refused.class, ErrorClass::Permanent);
}

pub async fn the_catalogue_answers_the_known_sensors_among_the_ids(catalogue: impl SensorCatalogue) {
    // GIVEN two sensors
    catalogue
        .put(&[
            sensor("s-1", &["temperature", "humidity"]),
            sensor("s-2", &["temperature"]),
        ])
        .await
        .unwrap();

    // WHEN asked for them among repeated, unknown and malformed ids
    let ids = ["s-2", "s-ghost", "s-1", "s-2", "", "not#a-name"].map(String::from);
    let found = catalogue.sensors(&ids).await.unwrap();

    // THEN both are there as put, and nothing else
    assert_eq!(found.len(), 2);
    assert_eq!(found.sensor("s-1"), Some(&sensor("s-1", &["temperature", "humidity"])));
    assert_eq!(found.band("s-2", "temperature").map(|b| b.high), Some(25.0));
    assert!(catalogue.sensors(&[]).await.unwrap().is_empty());
    assert_eq!(catalogue.all().await.unwrap(), found);

    // AND a sensor put again replaces it (the last of one id wins), the others are kept
    let humid_only = sensor("s-1", &["humidity"]);
    catalogue
        .put(&[sensor("s-1", &["temperature"]), humid_only.clone()])
        .await
        .unwrap();
    let found = catalogue.sensors(&ids).await.unwrap();
    assert_eq!(found.sensor("s-1"), Some(&humid_only));
    assert!(found.sensor("s-2").is_some());

    // AND a sensor whose id no table can key is refused
    let mut unnamed = humid_only;
    unnamed.sensor_id = "s 1".into();
    let refused = catalogue.put(&[unnamed]).await.unwrap_err();
    assert_eq!(refused.class, ErrorClass::Permanent);
}

pub async fn many_sensors_are_put_and_read_in_batches(catalogue: impl SensorCatalogue) {
    // GIVEN 130 sensors put at once
    let sensors: Vec<Sensor> = (0..130)
        .map(|i| sensor(&format!("s-{i:03}"), &["temperature"]))
        .collect();
    catalogue.put(&sensors).await.unwrap();

    // WHEN all of them and 20 unknown ones are asked for
    let ids: Vec<String> = (0..150).map(|i| format!("s-{i:03}")).collect();
    let found = catalogue.sensors(&ids).await.unwrap();

    // THEN the 130 are there
    assert_eq!(found.len(), 130);
    assert!(sensors.iter().all(|s| found.sensor(&s.sensor_id) == Some(s)));
    assert_eq!(catalogue.all().await.unwrap().len(), 130);
}

pub async fn a_catalogue_file_is_put_whole_or_not_at_all(catalogue: impl SensorCatalogue) {
    // GIVEN a valid file
    let file = json!([
        sensor("s-1", &["temperature"]).to_item(),
        sensor("s-2", &["humidity"]).to_item()
    ]);
    assert_eq!(put_catalogue_file(&catalogue, &file.to_string()).await.unwrap(), 2);
    assert_eq!(catalogue.all().await.unwrap().len(), 2);

    // WHEN a file with a new sensor and an invalid one is put
    let mut bad = sensor("s-4", &["temperature"]).to_item();
    bad["timezone"] = json!("Asia/Katmandoo");
    bad["metrics"]["temperature"]["low"] = json!(99);
    let file = json!([sensor("s-3", &["temperature"]).to_item(), bad]);
    let refused = put_catalogue_file(&catalogue, &file.to_string()).await.unwrap_err();

    // THEN every invalid field is named, and nothing was put
    let CatalogueFileError::Invalid(errors) = &refused else {
        panic!("{refused}");
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["[1].timezone", "[1].metrics.temperature.high"]);
    assert!(
        refused
            .to_string()
            .starts_with("2 invalid field(s), nothing was loaded:\n  [1].timezone"),
        "{refused}"
    );
    assert!(catalogue.sensors(&["s-3".into()]).await.unwrap().is_empty());

    // AND a file that is not JSON says so
    let refused = put_catalogue_file(&catalogue, "[{").await.unwrap_err();
    assert!(matches!(refused, CatalogueFileError::NotJson(_)), "{refused}");
}

pub async fn the_due_streams_are_the_ones_whose_time_has_come(store: impl WindowStore) {
    // GIVEN three streams: due at 09:05, due at 09:10, and none (nothing open, nothing unsent)
    let stream = |sensor_id: &str, metric: &str, due: Option<&str>| StreamState {
        due_at: due.map(at),
        sequence: 1,
        ..StreamState::new(sensor_id, metric)
    };
    let streams = [
        stream("s-1", "temperature", Some("2026-11-23T09:05:00Z")),
        stream("s-1", "humidity", Some("2026-11-23T09:10:00Z")),
        stream("s-2", "temperature", None),
    ];
    assert!(store.save(&streams, &[]).await.unwrap().written());

    // THEN the index answers the ones due at each instant
    let due = |now: &str| {
        let store = &store;
        let now = at(now);
        async move {
            let due = store.due(now).await.unwrap();
            assert!(due.unread.is_empty());
            due.streams
        }
    };
    assert!(due("2026-11-23T09:04:59Z").await.is_empty());
    assert_eq!(due("2026-11-23T09:05:00Z").await, [streams[0].key()]);
    assert_eq!(due("2026-11-23T09:30:00Z").await, [streams[1].key(), streams[0].key()]);

    // AND a stream written again without a due time leaves the index
    let mut done = streams[0].clone();
    done.due_at = None;
    done.sequence = 2;
    assert!(store.save(&[done], &[]).await.unwrap().written());
    assert_eq!(due("2026-11-23T09:30:00Z").await, [streams[1].key()]);
}

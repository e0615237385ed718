//! Event-time windows, given / when / then: given the readings so far, when a batch arrives
//! (or the clock ticks), then the readings' fates, the windows' states and the events published.
//!
//! Windows of 60 s, allowed lateness 120 s, idle 120 s, late horizon 3600 s; every sensor's
//! temperature band is 15..=25.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod support;

use chrono::{DateTime, TimeDelta, Utc};
use sensors::events::{AnomalyEvent, Direction};
use sensors::windows::final_verdicts;
use sensors::windows::{
    Batch, Disposition, MAX_WINDOW_READINGS, Reading, ReadingTimes, StreamState, WindowKey, WindowSettings, Windows,
};
use support::{WindowStore, catalogue, reading, time};

fn windows() -> Windows {
    Windows::new(support::at_once()).unwrap()
}

/// Readings of `s-utc` in the window 10:00:00..10:01:00 with these values, one every 10 s,
/// arriving as they are made (the clock at the last one's time: no lag).
fn given_the_window_at_ten(store: &mut WindowStore, values: &[f64]) {
    let readings: Vec<_> = values
        .iter()
        .enumerate()
        .map(|(i, v)| reading("s-utc", &format!("2026-11-23T10:00:{:02}Z", i * 10), *v))
        .collect();
    let last = readings.iter().map(|r| r.time).max().unwrap();
    store.run(&windows(), &readings, last);
}

/// A reading of `s-utc` at `at` that moves the watermark (its time minus 120 s) there.
fn watermark_to(store: &mut WindowStore, at: &str) -> Vec<AnomalyEvent> {
    let later = reading("s-utc", at, 20.0);
    store.run(&windows(), &[later], time(at)).events
}

fn detected(event: &AnomalyEvent) -> &sensors::events::AnomalyDetected {
    match event {
        AnomalyEvent::Detected(e) => &e.data,
        AnomalyEvent::Cleared(e) => panic!("expected AnomalyDetected, got {e:?}"),
    }
}

#[test]
fn given_a_window_above_its_band_when_the_watermark_reaches_its_end_then_anomaly_detected_revision_1() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[26.0, 28.0, 30.0]);
    assert!(store.events.is_empty());
    assert!(!store.window("s-utc", "2026-11-23T10:00:00Z").closed);

    // 10:02:59.999 - 120 s is a millisecond before the window's end: still open.
    assert!(watermark_to(&mut store, "2026-11-23T10:02:59.999Z").is_empty());
    assert!(!store.window("s-utc", "2026-11-23T10:00:00Z").closed);

    let events = watermark_to(&mut store, "2026-11-23T10:03:00Z");
    assert_eq!(events.len(), 1);
    let anomaly = detected(&events[0]);
    assert_eq!(
        (anomaly.window_start.as_str(), anomaly.window_end.as_str()),
        ("2026-11-23T10:00:00Z", "2026-11-23T10:01:00Z")
    );
    assert_eq!(
        (anomaly.count, anomaly.mean, anomaly.min, anomaly.max),
        (3, 28.0, 26.0, 30.0)
    );
    assert_eq!(
        (anomaly.low, anomaly.high, anomaly.direction, anomaly.revision),
        (15.0, 25.0, Direction::Above, 1)
    );
    let metadata = events[0].metadata();
    assert_eq!(
        (metadata.subject.as_str(), metadata.time),
        ("s-utc", time("2026-11-23T10:01:00Z"))
    );
    assert!(store.window("s-utc", "2026-11-23T10:00:00Z").closed);
}

#[test]
fn given_a_window_inside_its_band_or_on_its_limits_when_it_closes_then_nothing_is_published() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[24.0, 26.0]);
    assert!(watermark_to(&mut store, "2026-11-23T10:03:00Z").is_empty());
    let window = store.window("s-utc", "2026-11-23T10:00:00Z");
    assert!(window.closed);
    assert_eq!((window.revision, window.published), (0, None));
    assert_eq!(window.verdict().figures.mean, 25.0, "the band's limit is inside it");
}

#[test]
fn given_a_window_below_its_band_when_it_closes_then_the_direction_is_below() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[10.0, 12.0]);
    let events = watermark_to(&mut store, "2026-11-23T10:03:00Z");
    assert_eq!(detected(&events[0]).direction, Direction::Below);
}

#[test]
fn given_readings_out_of_order_within_the_allowed_lateness_then_each_is_counted_in_its_window() {
    let mut store = WindowStore::default();
    let windows = windows();
    let now = time("2026-11-23T10:02:30Z");
    let first = [
        reading("s-utc", "2026-11-23T10:02:30Z", 20.0),
        reading("s-utc", "2026-11-23T10:00:10Z", 30.0),
    ];
    let outcome = store.run(&windows, &first, now);
    assert_eq!(outcome.dispositions, [Disposition::Counted, Disposition::Counted]);
    // The watermark is 10:00:30 (the latest, 10:02:30, less 120 s): the 10:00 window is still
    // open, and a reading 100 s behind the latest is counted in it.
    let late = [reading("s-utc", "2026-11-23T10:00:50Z", 30.0)];
    let outcome = store.run(&windows, &late, now);
    assert_eq!(outcome.dispositions, [Disposition::Counted]);
    assert!(outcome.events.is_empty());
    assert_eq!(store.window("s-utc", "2026-11-23T10:00:00Z").stats.count, 2);
    let stream = &store.streams.values().next().unwrap();
    assert_eq!(stream.watermark(windows.settings()), Some(time("2026-11-23T10:00:30Z")));
    let open: Vec<String> = stream.open_windows.iter().map(|t| sensors::time::utc(*t)).collect();
    assert_eq!(open, ["2026-11-23T10:00:00Z", "2026-11-23T10:02:00Z"]);
}

#[test]
fn given_one_reading_written_with_two_offsets_then_it_is_one_reading_in_one_window() {
    let mut store = WindowStore::default();
    let windows = windows();
    let kathmandu = reading("s-kathmandu", "2026-11-23T08:00:30+05:45", 26.0);
    let utc = reading("s-kathmandu", "2026-11-23T02:15:30Z", 26.0);
    assert_eq!(windows.window_of(kathmandu.time), windows.window_of(utc.time));
    assert_eq!(windows.window_of(utc.time).0, time("2026-11-23T02:15:00Z"));
    let outcome = store.run(&windows, &[kathmandu, utc], time("2026-11-23T02:16:00Z"));
    assert_eq!(outcome.dispositions, [Disposition::Counted, Disposition::Duplicate]);
    assert_eq!(store.window("s-kathmandu", "2026-11-23T02:15:00Z").stats.count, 1);
}

#[test]
fn given_a_counted_reading_when_it_arrives_again_even_after_close_then_it_is_not_counted_twice() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[26.0, 28.0]);
    let again = reading("s-utc", "2026-11-23T10:00:10Z", 28.0);
    let outcome = store.run(&windows(), std::slice::from_ref(&again), time("2026-11-23T10:01:00Z"));
    assert_eq!(outcome.dispositions, [Disposition::Duplicate]);
    assert!(outcome.windows.is_empty(), "nothing to write");
    watermark_to(&mut store, "2026-11-23T10:03:00Z");
    let outcome = store.run(&windows(), &[again], time("2026-11-23T10:03:00Z"));
    assert_eq!(outcome.dispositions, [Disposition::Duplicate]);
    assert!(outcome.events.is_empty(), "no revision for a copy");
    assert_eq!(store.window("s-utc", "2026-11-23T10:00:00Z").revision, 1);
}

#[test]
fn given_a_quiet_sensor_when_the_clock_passes_end_plus_lateness_plus_idle_then_its_window_closes() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[30.0]);
    let windows = windows();
    let stream = store.streams.values().next().unwrap();
    assert_eq!(
        stream.idle_close_at(windows.settings()),
        Some(time("2026-11-23T10:05:00Z"))
    );

    assert!(
        store
            .run(&windows, &[], time("2026-11-23T10:04:59.999Z"))
            .events
            .is_empty()
    );
    assert!(!store.window("s-utc", "2026-11-23T10:00:00Z").closed);

    let outcome = store.run(&windows, &[], time("2026-11-23T10:05:00Z"));
    assert_eq!(detected(&outcome.events[0]).revision, 1);
    assert!(store.window("s-utc", "2026-11-23T10:00:00Z").closed);
    let stream = store.streams.values().next().unwrap();
    assert!(stream.open_windows.is_empty());
    assert_eq!(stream.idle_close_at(windows.settings()), None);
}

#[test]
fn given_an_anomalous_closed_window_when_a_late_reading_changes_its_figures_then_revision_2() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[28.0, 30.0]);
    watermark_to(&mut store, "2026-11-23T10:10:00Z");
    let late = reading("s-utc", "2026-11-23T10:00:59Z", 26.0);
    let outcome = store.run(&windows(), &[late], time("2026-11-23T10:10:00Z"));
    assert_eq!(outcome.dispositions, [Disposition::Counted]);
    let revised = detected(&outcome.events[0]);
    assert_eq!((revised.revision, revised.count, revised.mean), (2, 3, 28.0));
    assert_eq!(revised.min, 26.0);
}

#[test]
fn given_an_anomaly_when_a_late_reading_brings_it_back_inside_then_anomaly_cleared_and_again_detected() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[26.0]);
    let events = watermark_to(&mut store, "2026-11-23T10:10:00Z");
    assert_eq!(detected(&events[0]).revision, 1);

    let late = reading("s-utc", "2026-11-23T10:00:45Z", 20.0);
    let outcome = store.run(&windows(), &[late], time("2026-11-23T10:10:00Z"));
    let [AnomalyEvent::Cleared(cleared)] = &outcome.events[..] else {
        panic!("expected AnomalyCleared, got {:?}", outcome.events);
    };
    assert_eq!(
        (cleared.data.revision, cleared.data.count, cleared.data.mean),
        (2, 2, 23.0)
    );
    assert_ne!(cleared.metadata.id, events[0].metadata().id);

    // Inside and staying inside: no revision.
    let inside = reading("s-utc", "2026-11-23T10:00:46Z", 23.0);
    assert!(
        store
            .run(&windows(), &[inside], time("2026-11-23T10:10:00Z"))
            .events
            .is_empty()
    );
    // Out again: the next revision.
    let hot = reading("s-utc", "2026-11-23T10:00:47Z", 40.0);
    let outcome = store.run(&windows(), &[hot], time("2026-11-23T10:10:00Z"));
    assert_eq!(detected(&outcome.events[0]).revision, 3);
}

#[test]
fn given_a_window_inside_at_close_when_a_late_reading_makes_it_anomalous_then_revision_1() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[20.0]);
    assert!(watermark_to(&mut store, "2026-11-23T10:10:00Z").is_empty());
    let late = reading("s-utc", "2026-11-23T10:00:30Z", 60.0);
    let outcome = store.run(&windows(), &[late], time("2026-11-23T10:10:00Z"));
    let revised = detected(&outcome.events[0]);
    assert_eq!((revised.revision, revised.mean), (1, 40.0));
}

#[test]
fn given_a_reading_whose_window_ended_more_than_the_horizon_before_the_watermark_then_it_is_too_late() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[20.0]);
    // Watermark 11:01:00: the 10:00 window ended exactly the horizon (3600 s) before it.
    watermark_to(&mut store, "2026-11-23T11:03:00Z");
    let late = reading("s-utc", "2026-11-23T10:00:30Z", 60.0);
    let outcome = store.run(&windows(), &[late], time("2026-11-23T11:03:00Z"));
    assert_eq!(
        outcome.dispositions,
        [Disposition::Counted],
        "at the horizon it still revises"
    );
    assert_eq!(outcome.events.len(), 1);

    watermark_to(&mut store, "2026-11-23T11:03:00.001Z");
    let too_late = reading("s-utc", "2026-11-23T10:00:40Z", 60.0);
    let outcome = store.run(&windows(), &[too_late], time("2026-11-23T11:03:00Z"));
    let disposition = outcome.dispositions[0];
    assert_eq!(
        disposition,
        Disposition::TooLate {
            window_end: time("2026-11-23T10:01:00Z"),
            watermark: time("2026-11-23T11:01:00.001Z")
        }
    );
    assert_eq!(disposition.parked_reason(), Some("too-late"));
    assert!(
        disposition.to_string().contains("window ended at 2026-11-23T10:01:00Z"),
        "{disposition}"
    );
    assert!(outcome.windows.is_empty() && outcome.events.is_empty());
    assert_eq!(store.window("s-utc", "2026-11-23T10:00:00Z").stats.count, 2);
}

#[test]
fn given_a_reading_after_a_gap_in_a_window_the_watermark_has_passed_then_the_window_opens_and_closes_at_once() {
    let mut store = WindowStore::default();
    watermark_to(&mut store, "2026-11-23T10:30:00Z");
    let late = reading("s-utc", "2026-11-23T10:10:30Z", 50.0);
    let outcome = store.run(&windows(), &[late], time("2026-11-23T10:30:00Z"));
    assert_eq!(detected(&outcome.events[0]).revision, 1);
    assert!(store.window("s-utc", "2026-11-23T10:10:00Z").closed);
}

#[test]
fn given_a_burst_of_old_readings_when_the_clock_is_long_past_their_window_then_it_waits_for_the_watermark() {
    // A device uploading 10 minutes of readings at once: the clock is past the window's end
    // plus lateness plus idle, but the clock rule is for sensors gone quiet, so the window
    // this batch opens stays open until the watermark passes it (or the next tick).
    let mut store = WindowStore::default();
    let windows = windows();
    let burst = [
        reading("s-utc", "2026-11-23T10:00:10Z", 30.0),
        reading("s-utc", "2026-11-23T10:00:20Z", 30.0),
    ];
    let outcome = store.run(&windows, &burst, time("2026-11-23T10:10:00Z"));
    assert!(
        outcome.events.is_empty(),
        "no verdict on what may be part of the window"
    );
    assert!(!store.window("s-utc", "2026-11-23T10:00:00Z").closed);

    // Its readings ran 9 min 40 s behind the clock (its lag): the clock waits that much more
    // than for a sensor whose readings arrive as they are made, then closes the window.
    let stream = store.streams.values().next().unwrap();
    assert_eq!(stream.lag_ms, 580_000);
    assert!(store.run(&windows, &[], time("2026-11-23T10:14:39Z")).events.is_empty());
    let outcome = store.run(&windows, &[], time("2026-11-23T10:14:40Z"));
    assert_eq!(detected(&outcome.events[0]).revision, 1);
    assert_eq!(detected(&outcome.events[0]).count, 2);
}

#[test]
fn given_a_reading_dated_before_1970_then_it_is_parked_and_opens_nothing() {
    let mut store = WindowStore::default();
    let outcome = store.run(
        &windows(),
        &[reading("s-utc", "0000-01-01T00:00:30+01:00", 20.0)],
        time("2026-11-23T10:00:00Z"),
    );
    assert_eq!(outcome.dispositions, [Disposition::TimeOutOfRange]);
    assert_eq!(outcome.dispositions[0].parked_reason(), Some("time-out-of-range"));
    assert!(outcome.streams.is_empty() && outcome.windows.is_empty());
}

#[test]
fn given_unknown_sensors_metrics_or_uncountable_values_then_they_are_refused_and_open_nothing() {
    let mut store = WindowStore::default();
    let mut unknown_metric = reading("s-utc", "2026-11-23T10:00:00Z", 20.0);
    unknown_metric.metric = "pressure".into();
    let readings = [
        reading("s-nowhere", "2026-11-23T10:00:00Z", 20.0),
        unknown_metric,
        reading("s-utc", "2026-11-23T10:00:00Z", f64::NAN),
        reading("s-utc", "2026-11-23T10:00:01Z", 1e301),
    ];
    let outcome = store.run(&windows(), &readings, time("2026-11-23T10:00:00Z"));
    assert_eq!(
        outcome.dispositions,
        [
            Disposition::Unknown,
            Disposition::Unknown,
            Disposition::Uncountable,
            Disposition::Uncountable
        ]
    );
    assert!(outcome.streams.is_empty() && outcome.windows.is_empty());
}

#[test]
fn given_the_same_batch_and_states_twice_then_the_same_events_with_the_same_ids() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[30.0, 31.0]);
    let streams: Vec<StreamState> = store.streams.values().cloned().collect();
    let windows_stored: Vec<_> = store.windows.values().cloned().collect();
    let readings = [reading("s-utc", "2026-11-23T10:03:00Z", 20.0)];
    let run = || {
        let batch = Batch {
            readings: &readings,
            streams: &streams,
            windows: windows_stored.clone(),
            now: time("2026-11-23T10:03:00Z"),
        };
        windows().apply(&catalogue(), batch).unwrap()
    };
    let (first, again) = (run(), run());
    assert_eq!(first.events.len(), 1);
    assert_eq!(first, again);
}

#[test]
fn plan_names_the_windows_of_the_readings_and_the_open_ones_that_close_and_apply_needs_them() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[30.0]);
    let windows = windows();
    let streams: Vec<StreamState> = store.streams.values().cloned().collect();
    let readings = [reading("s-utc", "2026-11-23T10:03:00Z", 20.0)];
    let now = time("2026-11-23T10:03:00Z");
    let plan = windows.plan(&catalogue(), &readings, &streams, now).unwrap();
    let starts: Vec<String> = plan.iter().map(|k: &WindowKey| sensors::time::utc(k.start)).collect();
    assert_eq!(starts, ["2026-11-23T10:00:00Z", "2026-11-23T10:03:00Z"]);

    // The window item is gone (expired, deleted): that stream's readings are refused with
    // the window named, and a neighbour's readings in the same batch are counted.
    let neighbour = reading("s-berlin", "2026-11-23T10:03:00Z", 20.0);
    let both = [readings[0].clone(), neighbour];
    let without_the_closing_window = Batch {
        readings: &both,
        streams: &streams,
        windows: Vec::new(),
        now,
    };
    let outcome = windows.apply(&catalogue(), without_the_closing_window).unwrap();
    let missing = time("2026-11-23T10:00:00Z");
    assert_eq!(
        outcome.dispositions,
        [Disposition::StateMissing { start: missing }, Disposition::Counted]
    );
    assert_eq!(outcome.broken.len(), 1);
    assert_eq!(
        (outcome.broken[0].0.sensor_id.as_str(), outcome.broken[0].1),
        ("s-utc", missing)
    );
    assert!(
        outcome.streams.iter().all(|s| s.sensor_id == "s-berlin")
            && outcome.windows.iter().all(|w| w.sensor_id == "s-berlin"),
        "nothing of the broken stream is written"
    );
    let reason = outcome.dispositions[0].to_string();
    assert!(reason.contains("window#<metric>#2026-11-23T10:00:00Z"), "{reason}");
}

#[test]
fn given_states_that_survive_a_round_trip_through_json_then_the_windows_go_on_from_them() {
    let mut store = WindowStore::default();
    // A float sum loses the 1.0 (1e16 + 1.0 is 1e16) and would give a mean of 0.5.
    given_the_window_at_ten(&mut store, &[1e16, 1.0, -1e16, 2.0]);
    for state in store.windows.values_mut() {
        *state = serde_json::from_value(serde_json::to_value(&*state).unwrap()).unwrap();
    }
    for state in store.streams.values_mut() {
        *state = serde_json::from_value(serde_json::to_value(&*state).unwrap()).unwrap();
    }
    let events = watermark_to(&mut store, "2026-11-23T10:03:00Z");
    let anomaly = detected(&events[0]);
    assert_eq!(anomaly.mean, 0.75, "the exact sum survives the store: 3 / 4");
    let json = serde_json::to_value(store.window("s-utc", "2026-11-23T10:00:00Z")).unwrap();
    assert_eq!(json["start"], "2026-11-23T10:00:00Z");
    assert_eq!(json["readings"].as_array().unwrap().len(), 4);
}

#[test]
fn settings_that_cannot_work_are_named_as_the_configuration_names_them() {
    let settings = WindowSettings {
        window_seconds: 0,
        ..WindowSettings::default()
    };
    assert_eq!(
        Windows::new(settings).unwrap_err().to_string(),
        "WINDOW_SECONDS is 0: a window lasts at least 1 second"
    );
}

/// One stream's readings every 10 s from 10:00 for 20 minutes, 30.0 in the first half of each
/// minute and 10.0 in the second: every whole window's mean is 20, inside the band, and a
/// window closed on part of its readings is outside it. Each reading is stamped `skew` off the
/// true time and arrives `delay` after it, in a batch of its own; the tick runs at every whole
/// minute; `glitch` is one more reading (value 20), stamped that far ahead of its arrival at
/// 10:10:05. What the windows published once the clock has passed everything.
fn timeline(skew: TimeDelta, delay: TimeDelta, glitch: Option<TimeDelta>) -> WindowStore {
    let start = time("2026-11-23T10:00:00Z");
    let mut arrivals: Vec<(DateTime<Utc>, Option<Reading>)> = (0..120)
        .map(|i| {
            let made = start + TimeDelta::seconds(i * 10);
            let value = if (i % 6) < 3 { 30.0 } else { 10.0 };
            let stamped = reading("s-utc", &sensors::time::utc(made + skew), value);
            (made + delay, Some(stamped))
        })
        .collect();
    if let Some(ahead) = glitch {
        let at = time("2026-11-23T10:10:05Z");
        arrivals.push((at, Some(reading("s-utc", &sensors::time::utc(at + ahead), 20.0))));
    }
    arrivals.extend((0..40).map(|m| (start + TimeDelta::minutes(m), None)));
    arrivals.sort_by_key(|(at, r)| (*at, r.is_none()));
    let (mut store, windows) = (WindowStore::default(), windows());
    for (at, reading) in arrivals {
        store.run(&windows, reading.as_slice(), at);
    }
    store.run(&windows, &[], time("2026-11-23T12:00:00Z"));
    store
}

#[test]
fn given_a_device_clock_five_minutes_slow_then_no_window_closes_on_part_of_its_readings() {
    let store = timeline(TimeDelta::minutes(-5), TimeDelta::zero(), None);
    assert!(
        store.events.is_empty(),
        "verdicts on partial windows: {:#?}",
        store.events
    );
    assert_eq!(store.windows.len(), 20);
    assert!(store.windows.values().all(|w| w.closed && w.stats.figures().count == 6));
}

#[test]
fn given_readings_held_up_longer_than_lateness_plus_idle_then_no_window_closes_on_part_of_them() {
    let store = timeline(TimeDelta::zero(), TimeDelta::seconds(290), None);
    assert!(
        store.events.is_empty(),
        "verdicts on partial windows: {:#?}",
        store.events
    );
    assert!(store.windows.values().all(|w| w.closed && w.stats.figures().count == 6));
}

#[test]
fn given_one_reading_stamped_five_minutes_ahead_then_the_watermark_stays_with_the_clock() {
    let store = timeline(TimeDelta::zero(), TimeDelta::zero(), Some(TimeDelta::minutes(5)));
    assert!(
        store.events.is_empty(),
        "verdicts on partial windows: {:#?}",
        store.events
    );
    assert!(store.windows.values().all(|w| w.closed));
    let glitched = store.window("s-utc", "2026-11-23T10:15:00Z");
    assert_eq!(
        glitched.stats.figures().count,
        7,
        "the reading ahead is counted in its own window"
    );
}

#[test]
fn given_a_revision_written_but_not_published_then_each_later_batch_sends_it_again_until_it_is_sent() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[30.0]);
    let windows = windows();
    let first = store
        .run_unpublished(
            &windows,
            &[reading("s-utc", "2026-11-23T10:03:00Z", 20.0)],
            time("2026-11-23T10:03:00Z"),
        )
        .events;
    assert_eq!(first.len(), 1);
    let stream = store.streams.values().next().unwrap();
    let window_start = time("2026-11-23T10:00:00Z");
    assert_eq!(
        stream.outbox.get(&window_start),
        Some(&1),
        "the revision is in the outbox, in the same write"
    );
    assert!(
        stream.due_at.unwrap() <= time("2026-11-23T10:04:00Z"),
        "and the tick will look soon"
    );

    // A batch of the stream that closes nothing still sends it, with the same id...
    let again = store
        .run(
            &windows,
            &[reading("s-utc", "2026-11-23T10:03:10Z", 20.0)],
            time("2026-11-23T10:03:10Z"),
        )
        .events;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].metadata().id, first[0].metadata().id);
    assert_eq!(again[0], first[0]);
    // ...and once it went out, nothing more.
    assert!(store.streams.values().next().unwrap().outbox.is_empty());
    let later = store.run(
        &windows,
        &[reading("s-utc", "2026-11-23T10:03:20Z", 20.0)],
        time("2026-11-23T10:03:20Z"),
    );
    assert!(later.events.is_empty());
}

#[test]
fn given_the_tick_and_an_unsent_revision_then_the_tick_sends_it() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[30.0]);
    let windows = windows();
    store.run_unpublished(
        &windows,
        &[reading("s-utc", "2026-11-23T10:03:00Z", 20.0)],
        time("2026-11-23T10:03:00Z"),
    );
    let tick = store.run(&windows, &[], time("2026-11-23T10:04:00Z"));
    assert_eq!(tick.events.len(), 1);
    assert_eq!(detected(&tick.events[0]).revision, 1);
}

#[test]
fn sent_clears_only_the_revision_that_went_out() {
    let mut stream = StreamState::new("s-utc", "temperature");
    let start = time("2026-11-23T10:00:00Z");
    stream.outbox.insert(start, 2);
    let settings = WindowSettings::default();
    assert!(
        !stream.sent(start, 1, &settings),
        "revision 2 was committed after 1 went out"
    );
    assert_eq!(stream.outbox.get(&start), Some(&2));
    assert!(stream.sent(start, 2, &settings));
    assert!(stream.outbox.is_empty());
    assert_eq!(stream.due_at, None);
}

#[test]
fn given_a_window_that_keeps_the_most_readings_then_one_more_is_parked_and_copies_are_still_known() {
    let mut store = WindowStore::default();
    let windows = windows();
    let start = time("2026-11-23T10:00:00Z");
    let readings: Vec<Reading> = (0..MAX_WINDOW_READINGS)
        .map(|i| {
            let at = start + TimeDelta::milliseconds(i64::try_from(i).unwrap() * 2);
            reading("s-utc", &sensors::time::utc(at), 20.0)
        })
        .collect();
    store.run(&windows, &readings, start + TimeDelta::seconds(40));
    let window = store.window("s-utc", "2026-11-23T10:00:00Z");
    assert_eq!(window.readings.len(), MAX_WINDOW_READINGS);
    let json = serde_json::to_string(window).unwrap();
    assert!(json.len() < 100_000, "the item stays small: {} bytes", json.len());

    let one_more = reading("s-utc", "2026-11-23T10:00:45Z", 20.0);
    let copy = readings[7].clone();
    let outcome = store.run(&windows, &[one_more, copy], time("2026-11-23T10:00:45Z"));
    assert_eq!(
        outcome.dispositions,
        [Disposition::WindowFull { start }, Disposition::Duplicate]
    );
    assert_eq!(outcome.dispositions[0].parked_reason(), Some("window-full"));
}

#[test]
fn reading_times_are_stored_as_the_gaps_between_them_and_a_repeat_is_refused() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[20.0, 21.0, 22.0]);
    let json = serde_json::to_value(store.window("s-utc", "2026-11-23T10:00:00Z")).unwrap();
    assert_eq!(json["readings"], serde_json::json!([0, 10_000, 10_000]));
    let refused = serde_json::from_value::<ReadingTimes>(serde_json::json!([5, 0])).unwrap_err();
    assert!(refused.to_string().contains("reading 1 repeats"), "{refused}");
}

#[test]
fn given_a_window_stored_with_reading_ids_before_times_were_kept_then_its_copies_stay_uncounted() {
    let mut store = WindowStore::default();
    given_the_window_at_ten(&mut store, &[20.0, 22.0]);
    // As the previous version wrote it: the readings' ids.
    let key = store.window("s-utc", "2026-11-23T10:00:00Z").key();
    let first = reading("s-utc", "2026-11-23T10:00:00Z", 20.0);
    let second = reading("s-utc", "2026-11-23T10:00:10Z", 22.0);
    let mut json = serde_json::to_value(&store.windows[&key]).unwrap();
    json["readings"] = serde_json::json!([first.id, second.id]);
    store.windows.insert(key.clone(), serde_json::from_value(json).unwrap());
    assert_eq!(store.windows[&key].readings.ids().len(), 2);

    let outcome = store.run(
        &windows(),
        &[second, reading("s-utc", "2026-11-23T10:00:20Z", 24.0)],
        time("2026-11-23T10:00:20Z"),
    );
    assert_eq!(outcome.dispositions, [Disposition::Duplicate, Disposition::Counted]);
    let json = serde_json::to_value(&store.windows[&key]).unwrap();
    assert_eq!(json["readings"][0], 20_000, "the new one as a time, then the old ids");
    assert_eq!(json["readings"].as_array().unwrap().len(), 3);
    let back: sensors::windows::WindowState = serde_json::from_value(json).unwrap();
    assert_eq!(back, store.windows[&key]);
}

#[test]
fn given_a_reading_past_a_window_then_the_window_closes_only_once_its_time_has_waited_out_the_delivery_grace() {
    let windows = Windows::new(WindowSettings::default()).unwrap();
    let mut store = WindowStore::default();
    store.run(
        &windows,
        &[reading("s-utc", "2026-11-23T10:00:10Z", 30.0)],
        time("2026-11-23T10:00:10Z"),
    );
    // 10:03:00 passes the window's end by the allowed lateness, but was only just seen.
    let passing = reading("s-utc", "2026-11-23T10:03:00Z", 20.0);
    assert!(
        store
            .run(&windows, &[passing], time("2026-11-23T10:03:00Z"))
            .events
            .is_empty()
    );
    let stream = store.streams.values().next().unwrap();
    assert_eq!(stream.max_event_time, Some(time("2026-11-23T10:03:00Z")));
    assert_eq!(stream.settled_max, Some(time("2026-11-23T10:00:10Z")));
    assert_eq!(
        stream.due_at,
        Some(time("2026-11-23T10:04:00Z")),
        "the tick looks when it settles"
    );
    assert!(
        store
            .run(&windows, &[], time("2026-11-23T10:03:59.999Z"))
            .events
            .is_empty()
    );
    let settled = store.run(&windows, &[], time("2026-11-23T10:04:00Z"));
    assert_eq!(detected(&settled.events[0]).revision, 1);
}

#[test]
fn given_a_backlog_of_500_readings_delivered_in_any_order_by_concurrent_batches_then_no_window_is_revised() {
    // One reading a second for 500 s, above the band in even minutes; sent in one request as
    // the last is made, and delivered as a standard queue does: shuffled, in batches of 10,
    // over a few seconds; the tick runs every minute.
    let windows = Windows::new(WindowSettings::default()).unwrap();
    let start = time("2026-11-23T10:00:00Z");
    let mut readings: Vec<Reading> = (0..500)
        .map(|i| {
            let value = if (i / 60) % 2 == 0 { 30.0 } else { 20.0 };
            reading("s-utc", &sensors::time::utc(start + TimeDelta::seconds(i)), value)
        })
        .collect();
    let reference = final_verdicts(&WindowSettings::default(), &catalogue(), &readings);
    let mut seed: u64 = 7;
    for i in (1..readings.len()).rev() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
        readings.swap(i, j);
    }
    let mut store = WindowStore::default();
    let sent = start + TimeDelta::seconds(500);
    for (n, batch) in readings.chunks(10).enumerate() {
        let at = sent + TimeDelta::milliseconds(i64::try_from(n).unwrap() * 97);
        store.run(&windows, batch, at);
    }
    for minute in 1..=10 {
        store.run(&windows, &[], sent + TimeDelta::minutes(minute));
    }
    assert_eq!(store.windows.len(), reference.len());
    for (key, window) in &store.windows {
        assert!(window.closed, "{key:?}");
        assert!(window.revision <= 1, "{key:?} revised: {}", window.revision);
        assert_eq!(window.verdict(), reference[key], "{key:?}");
    }
}

//! Alerts, given / when / then: given the anomaly events so far, when a batch of them arrives,
//! then the alerts triggered and resolved, with their local times in each site's time zone.
//!
//! Suppression periods of 900 s; every sensor's temperature band is 15..=25 (width 10, so a
//! mean more than 2.5 outside is critical).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod support;

use chrono::TimeDelta;
use envelope::{Envelope, EventType};
use sensors::alerts::{AlertDisposition, AlertSettings, Alerts, severity};
use sensors::events::{
    AlertEvent, AlertTriggered, AnomalyCleared, AnomalyDetected, AnomalyEvent, Direction, Severity, alert_event_id,
    alert_id, window_event_id,
};
use sensors::windows::Windows;
use support::{AlertStore, WindowStore, reading, time};

fn alerts() -> Alerts {
    Alerts::new(AlertSettings::default()).unwrap()
}

/// An `AnomalyDetected` of the minute window of `sensor_id` starting at `start`.
fn detected(sensor_id: &str, start: &str, mean: f64, revision: u32) -> AnomalyEvent {
    let start = time(start);
    let end = start + TimeDelta::seconds(60);
    let data = AnomalyDetected {
        sensor_id: sensor_id.into(),
        metric: "temperature".into(),
        window_start: sensors::time::utc(start),
        window_end: sensors::time::utc(end),
        count: 3,
        mean,
        min: mean - 1.0,
        max: mean + 1.0,
        low: 15.0,
        high: 25.0,
        direction: if mean > 25.0 {
            Direction::Above
        } else {
            Direction::Below
        },
        revision,
    };
    let id = window_event_id(AnomalyDetected::TYPE, sensor_id, "temperature", start, revision);
    AnomalyEvent::Detected(Envelope::with_id(id, sensor_id, end, data))
}

/// An `AnomalyCleared` of the minute window of `sensor_id` starting at `start`.
fn cleared(sensor_id: &str, start: &str, revision: u32) -> AnomalyEvent {
    let start = time(start);
    let end = start + TimeDelta::seconds(60);
    let data = AnomalyCleared {
        sensor_id: sensor_id.into(),
        metric: "temperature".into(),
        window_start: sensors::time::utc(start),
        window_end: sensors::time::utc(end),
        count: 4,
        mean: 20.0,
        min: 19.0,
        max: 21.0,
        low: 15.0,
        high: 25.0,
        revision,
    };
    let id = window_event_id(AnomalyCleared::TYPE, sensor_id, "temperature", start, revision);
    AnomalyEvent::Cleared(Envelope::with_id(id, sensor_id, end, data))
}

fn triggered(events: &[AlertEvent]) -> Vec<&Envelope<AlertTriggered>> {
    events
        .iter()
        .filter_map(|e| match e {
            AlertEvent::Triggered(t) => Some(t),
            AlertEvent::Resolved(_) => None,
        })
        .collect()
}

#[test]
fn given_no_alert_when_the_first_anomalous_window_of_a_period_arrives_then_alert_triggered() {
    let mut store = AlertStore::default();
    let outcome = store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:16:00Z", 26.0, 1)]);
    assert_eq!(outcome.dispositions, [AlertDisposition::Applied]);
    let [AlertEvent::Triggered(alert)] = &outcome.events[..] else {
        panic!("expected one AlertTriggered, got {:?}", outcome.events);
    };
    let expected_id = alert_id("s-utc", "temperature", time("2026-11-23T10:15:00Z"));
    let data = &alert.data;
    assert_eq!(data.alert_id, expected_id.to_string());
    assert_eq!(
        (data.sensor_id.as_str(), data.metric.as_str(), data.site.as_str()),
        ("s-utc", "temperature", "utc-site")
    );
    assert_eq!((data.severity, data.direction), (Severity::Warning, Direction::Above));
    assert_eq!(
        (data.window_start.as_str(), data.local_time.as_str()),
        ("2026-11-23T10:16:00Z", "2026-11-23T10:16:00+00:00")
    );
    assert_eq!((data.mean, data.low, data.high), (26.0, 15.0, 25.0));
    assert_eq!(alert.metadata.id, alert_event_id("AlertTriggered", expected_id, 1));
    assert_eq!(alert.metadata.correlation_id, expected_id.to_string());
    assert_eq!(alert.metadata.time, time("2026-11-23T10:16:00Z"));
}

#[test]
fn given_an_alert_when_more_anomalies_of_its_period_arrive_then_they_fold_into_it() {
    let mut store = AlertStore::default();
    store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:16:00Z", 26.0, 1)]);
    let later = [
        detected("s-utc", "2026-11-23T10:20:00Z", 40.0, 1),
        detected("s-utc", "2026-11-23T10:16:00Z", 27.0, 2),
    ];
    let outcome = store.run(&alerts(), &later);
    assert!(outcome.events.is_empty(), "{:?}", outcome.events);
    let period = store.periods.values().next().unwrap();
    assert_eq!(period.windows.len(), 2);
    assert_eq!(
        period.active.as_ref().unwrap().mean,
        26.0,
        "the alert is the one triggered"
    );

    // The next period is another alert.
    let outcome = store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:30:00Z", 26.0, 1)]);
    let next = triggered(&outcome.events);
    assert_eq!(
        next[0].data.alert_id,
        alert_id("s-utc", "temperature", time("2026-11-23T10:30:00Z")).to_string()
    );
}

#[test]
fn given_two_anomalous_windows_in_one_batch_in_any_order_then_the_earliest_triggers_the_alert() {
    for batch in [
        [
            detected("s-utc", "2026-11-23T10:20:00Z", 30.0, 1),
            detected("s-utc", "2026-11-23T10:17:00Z", 12.0, 1),
        ],
        [
            detected("s-utc", "2026-11-23T10:17:00Z", 12.0, 1),
            detected("s-utc", "2026-11-23T10:20:00Z", 30.0, 1),
        ],
    ] {
        let mut store = AlertStore::default();
        let outcome = store.run(&alerts(), &batch);
        let alert = triggered(&outcome.events);
        assert_eq!(alert.len(), 1);
        assert_eq!(
            (alert[0].data.window_start.as_str(), alert[0].data.direction),
            ("2026-11-23T10:17:00Z", Direction::Below)
        );
        assert_eq!(
            alert[0].data.severity,
            Severity::Critical,
            "12 is 3 below 15: more than 2.5"
        );
    }
}

#[test]
fn given_an_alert_when_an_earlier_window_of_its_period_turns_anomalous_then_it_names_that_window_without_telling_again()
{
    let mut store = AlertStore::default();
    store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:20:00Z", 26.0, 1)]);
    let outcome = store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:16:00Z", 40.0, 1)]);
    assert!(outcome.events.is_empty(), "told once: {:?}", outcome.events);
    let active = store.periods.values().next().unwrap().active.clone().unwrap();
    assert_eq!(
        (active.window_start.as_str(), active.mean, active.severity),
        ("2026-11-23T10:16:00Z", 40.0, Severity::Critical)
    );
    assert_eq!(active.alert_id, triggered(&store.events)[0].data.alert_id);
}

#[test]
fn severity_is_critical_past_a_quarter_of_the_band_width_outside_it() {
    assert_eq!(severity(27.5, 15.0, 25.0), Severity::Warning);
    assert_eq!(severity(27.51, 15.0, 25.0), Severity::Critical);
    assert_eq!(severity(12.5, 15.0, 25.0), Severity::Warning);
    assert_eq!(severity(12.49, 15.0, 25.0), Severity::Critical);
}

#[test]
fn given_an_alert_when_revisions_clear_every_anomalous_window_of_its_period_then_alert_resolved() {
    let mut store = AlertStore::default();
    store.run(
        &alerts(),
        &[
            detected("s-utc", "2026-11-23T10:16:00Z", 28.0, 1),
            detected("s-utc", "2026-11-23T10:18:00Z", 26.0, 1),
        ],
    );
    let outcome = store.run(&alerts(), &[cleared("s-utc", "2026-11-23T10:16:00Z", 2)]);
    assert!(outcome.events.is_empty(), "10:18 is still anomalous");

    let outcome = store.run(&alerts(), &[cleared("s-utc", "2026-11-23T10:18:00Z", 2)]);
    let [AlertEvent::Resolved(resolved)] = &outcome.events[..] else {
        panic!("expected one AlertResolved, got {:?}", outcome.events);
    };
    let alert = triggered(&store.events)[0].data.clone();
    assert_eq!(resolved.data.alert_id, alert.alert_id);
    assert_eq!(
        (
            resolved.data.window_start.as_str(),
            resolved.data.mean,
            resolved.data.severity
        ),
        (alert.window_start.as_str(), alert.mean, alert.severity)
    );
    assert_eq!(
        resolved.metadata.time,
        time("2026-11-23T10:19:00Z"),
        "when the last window cleared"
    );
    assert!(store.periods.values().next().unwrap().active.is_none());

    // Anomalous again by a later revision: the same alert, triggered a second time.
    let outcome = store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:18:00Z", 26.0, 3)]);
    let again = triggered(&outcome.events);
    assert_eq!(again[0].data.alert_id, alert.alert_id);
    let id = uuid::Uuid::parse_str(&alert.alert_id).unwrap();
    assert_eq!(again[0].metadata.id, alert_event_id("AlertTriggered", id, 2));
}

#[test]
fn given_stale_or_repeated_anomaly_events_then_they_change_nothing() {
    let mut store = AlertStore::default();
    // The clearing revision overtook the detection it clears.
    let outcome = store.run(&alerts(), &[cleared("s-utc", "2026-11-23T10:16:00Z", 2)]);
    assert!(outcome.events.is_empty());
    let outcome = store.run(&alerts(), &[detected("s-utc", "2026-11-23T10:16:00Z", 28.0, 1)]);
    assert_eq!(outcome.dispositions, [AlertDisposition::Stale]);
    assert!(outcome.events.is_empty() && outcome.periods.is_empty());

    let hot = detected("s-utc", "2026-11-23T10:31:00Z", 28.0, 1);
    let outcome = store.run(&alerts(), &[hot.clone(), hot]);
    assert_eq!(
        outcome.dispositions,
        [AlertDisposition::Applied, AlertDisposition::Stale]
    );
    assert_eq!(outcome.events.len(), 1);
}

#[test]
fn given_an_unknown_sensor_or_an_unreadable_window_start_then_the_event_is_refused_for_parking() {
    let mut unreadable = detected("s-utc", "2026-11-23T10:16:00Z", 28.0, 1);
    if let AnomalyEvent::Detected(e) = &mut unreadable {
        e.data.window_start = "2026-11-23T10:16:00".into();
    }
    let events = [detected("s-nowhere", "2026-11-23T10:16:00Z", 28.0, 1), unreadable];
    let outcome = AlertStore::default().run(&alerts(), &events);
    assert_eq!(outcome.dispositions[0], AlertDisposition::UnknownSensor);
    assert_eq!(outcome.dispositions[0].parked_reason(), Some("unknown-sensor"));
    assert!(matches!(&outcome.dispositions[1], AlertDisposition::Invalid(reason) if reason.contains("offset")));
    assert!(outcome.events.is_empty() && outcome.periods.is_empty());
}

#[test]
fn given_sites_with_half_and_three_quarter_hour_offsets_then_local_times_carry_the_offset_in_force() {
    let cases = [
        ("s-kolkata", "2026-11-23T03:30:00Z", "2026-11-23T09:00:00+05:30"),
        ("s-kathmandu", "2026-11-23T02:15:00Z", "2026-11-23T08:00:00+05:45"),
        // Newfoundland: standard time in November, daylight saving time in July.
        ("s-st-johns", "2026-11-23T12:00:00Z", "2026-11-23T08:30:00-03:30"),
        ("s-st-johns", "2026-07-01T12:00:00Z", "2026-07-01T09:30:00-02:30"),
        // Southern hemisphere: daylight saving time in November, standard time in June.
        ("s-adelaide", "2026-11-23T00:00:00Z", "2026-11-23T10:30:00+10:30"),
        ("s-adelaide", "2026-06-01T00:00:00Z", "2026-06-01T09:30:00+09:30"),
        ("s-chatham", "2026-11-23T00:00:00Z", "2026-11-23T13:45:00+13:45"),
        ("s-chatham", "2026-06-01T00:00:00Z", "2026-06-01T12:45:00+12:45"),
    ];
    for (sensor_id, window_start, local_time) in cases {
        let outcome = AlertStore::default().run(&alerts(), &[detected(sensor_id, window_start, 30.0, 1)]);
        let alert = &triggered(&outcome.events)[0].data;
        assert_eq!(alert.local_time, local_time, "{sensor_id} at {window_start}");
        assert_eq!(alert.window_start, window_start);
    }
}

#[test]
fn given_berlin_on_the_night_clocks_go_forward_then_local_times_jump_from_plus_one_to_plus_two() {
    // 2026-03-29: at 01:00Z Berlin goes from 02:00+01:00 straight to 03:00+02:00.
    let before = detected("s-berlin", "2026-03-29T00:45:00Z", 30.0, 1);
    let after = detected("s-berlin", "2026-03-29T01:15:00Z", 30.0, 1);
    let outcome = AlertStore::default().run(&alerts(), &[after, before]);
    let local: Vec<&str> = triggered(&outcome.events)
        .iter()
        .map(|a| a.data.local_time.as_str())
        .collect();
    assert_eq!(local, ["2026-03-29T01:45:00+01:00", "2026-03-29T03:15:00+02:00"]);
}

#[test]
fn given_an_anomaly_that_a_late_reading_clears_then_its_alert_is_triggered_and_resolved() {
    let windows = Windows::new(support::at_once()).unwrap();
    let (mut readings_store, mut alert_store) = (WindowStore::default(), AlertStore::default());
    let mut run = |readings: &[sensors::windows::Reading], now: &str| {
        let outcome = readings_store.run(&windows, readings, time(now));
        alert_store.run(&alerts(), &outcome.events).events
    };
    let hot = [
        reading("s-chatham", "2026-11-23T10:16:05+13:45", 27.0),
        reading("s-chatham", "2026-11-23T10:16:35+13:45", 26.0),
    ];
    assert!(run(&hot, "2026-11-22T20:32:00Z").is_empty());
    let alert = run(
        &[reading("s-chatham", "2026-11-23T10:19:00+13:45", 20.0)],
        "2026-11-22T20:34:00Z",
    );
    let alert = triggered(&alert)[0].data.clone();
    assert_eq!(
        (alert.window_start.as_str(), alert.local_time.as_str()),
        ("2026-11-22T20:31:00Z", "2026-11-23T10:16:00+13:45")
    );
    assert_eq!((alert.mean, alert.severity), (26.5, Severity::Warning));

    let late = [
        reading("s-chatham", "2026-11-23T10:16:50+13:45", 10.0),
        reading("s-chatham", "2026-11-23T10:16:55+13:45", 10.0),
    ];
    let resolved = run(&late, "2026-11-22T20:40:00Z");
    let [AlertEvent::Resolved(resolved)] = &resolved[..] else {
        panic!("expected AlertResolved, got {resolved:?}");
    };
    assert_eq!(resolved.data.alert_id, alert.alert_id);
}

#[test]
fn settings_that_cannot_work_are_named_as_the_configuration_names_them() {
    let refused = Alerts::new(AlertSettings { suppress_seconds: 0 }).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "SUPPRESS_SECONDS is 0: a suppression period lasts at least 1 second"
    );
}

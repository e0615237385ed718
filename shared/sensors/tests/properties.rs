//! The verdicts and alerts of a set of readings do not depend on how the readings arrive.
//!
//! Readings of three sensors (Kathmandu +05:45, St John's -02:30, Chatham +13:45) over 30
//! minutes are delivered in an order and with copies chosen by proptest, in batches of chosen
//! sizes, each batch run as a function runs it (stored states in, new states out), with the
//! clock at the latest arrival so far; a final tick closes what is left. Then:
//!
//! - within the allowed lateness (each reading overtaken only by readings at most 120 s
//!   younger than it): every window's published verdict and figures are the reference
//!   computation's over the whole set, at revision 1, and the alerts are the reference's;
//! - later, within the late horizon: the final published verdicts are still the reference's
//!   (through revisions), and so are the periods with an alert;
//! - the alerts of a set of anomaly events do not depend on their order or copies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod support;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::TimeDelta;
use proptest::prelude::*;
use sensors::alerts::{AlertSettings, Alerts, ExpectedAlert, PeriodKey, final_alerts};
use sensors::events::{AlertEvent, AnomalyEvent, Direction};
use sensors::stats::Figures;
use sensors::windows::{Disposition, Reading, WindowSettings, Windows, final_verdicts};
use support::{AlertStore, WindowStore, catalogue, reading, time};

const SENSORS: [&str; 3] = ["s-kathmandu", "s-st-johns", "s-chatham"];

/// Readings, and the order they arrive in: `(reading, arrival key)`, copies included.
#[derive(Debug, Clone)]
struct Arrivals {
    readings: Vec<Reading>,
    arriving: Vec<Reading>,
    batches: Vec<usize>,
}

/// Up to 120 readings over 30 minutes, values 10.0..=30.0 in tenths (band 15..=25; a tenth has
/// no exact float, so a float sum would depend on the order), each
/// arriving up to `max_delay_ms` after its time, a third of them again up to `max_delay_ms`
/// after it, in batches of 1 to 25.
fn arrivals(max_delay_ms: i64) -> impl Strategy<Value = Arrivals> {
    let one = (0..SENSORS.len(), 0..1_800_000_i64, 100..=300_u32);
    prop::collection::vec(one, 1..120)
        .prop_flat_map(move |raw| {
            let n = raw.len();
            (
                Just(raw),
                prop::collection::vec(0..=max_delay_ms, n),
                prop::collection::vec((0..n, 0..=max_delay_ms), 0..=n / 3 + 1),
                prop::collection::vec(1..=25_usize, 1..=40),
            )
        })
        .prop_map(|(raw, delays, copies, batches)| {
            let start = time("2026-03-29T00:30:00Z");
            // A reading is its sensor, metric and time (its id): two values drawn for one
            // instant would be two different readings with one id, whose verdict rightly
            // depends on which arrives first. Copies are drawn below, identical.
            let mut ids = std::collections::HashSet::new();
            let readings: Vec<Reading> = raw
                .iter()
                .map(|&(sensor, offset_ms, tenths)| {
                    let at = sensors::time::utc(start + TimeDelta::milliseconds(offset_ms));
                    reading(SENSORS[sensor], &at, f64::from(tenths) / 10.0)
                })
                .filter(|r| ids.insert(r.id))
                .collect();
            let mut keyed: Vec<(i64, usize, &Reading)> = readings
                .iter()
                .zip(&delays)
                .enumerate()
                .map(|(i, (r, delay))| (r.time.timestamp_millis() + delay, i, r))
                .collect();
            for (n, &(i, delay)) in copies.iter().filter(|(i, _)| *i < readings.len()).enumerate() {
                let r = &readings[i];
                keyed.push((r.time.timestamp_millis() + delay, readings.len() + n, r));
            }
            keyed.sort_by_key(|&(key, tie, _)| (key, tie));
            let arriving = keyed.into_iter().map(|(_, _, r)| r.clone()).collect();
            Arrivals {
                readings,
                arriving,
                batches,
            }
        })
}

/// What a run published and decided.
struct Run {
    dispositions: Vec<Disposition>,
    windows: WindowStore,
    alerts: AlertStore,
}

/// Every batch through the windows, and each batch's anomaly events through the alerts.
fn run(arrivals: &Arrivals) -> Run {
    let windows = Windows::new(WindowSettings::default()).unwrap();
    let alerts = Alerts::new(AlertSettings::default()).unwrap();
    let (mut window_store, mut alert_store) = (WindowStore::default(), AlertStore::default());
    let mut dispositions = Vec::new();
    let (mut at, mut sizes) = (0, arrivals.batches.iter().cycle());
    let mut clock = time("2026-03-29T00:00:00Z");
    while at < arrivals.arriving.len() {
        let size = (*sizes.next().unwrap()).min(arrivals.arriving.len() - at);
        let batch = &arrivals.arriving[at..at + size];
        at += size;
        // The clock is at the latest arrival: no earlier than any event time seen.
        clock = batch.iter().map(|r| r.time).fold(clock, std::cmp::max);
        let outcome = window_store.run(&windows, batch, clock);
        dispositions.extend(outcome.dispositions);
        alert_store.run(&alerts, &outcome.events);
    }
    let outcome = window_store.run(&windows, &[], time("2026-03-30T00:00:00Z"));
    alert_store.run(&alerts, &outcome.events);
    Run {
        dispositions,
        windows: window_store,
        alerts: alert_store,
    }
}

/// The last published verdict of each window: anomalous (direction and figures), or not.
fn published(events: &[AnomalyEvent]) -> BTreeMap<(String, String), Option<(Direction, Figures)>> {
    let mut last = BTreeMap::new();
    for event in events {
        let key = (event.sensor_id().to_owned(), event.window_start().to_owned());
        let verdict = match event {
            AnomalyEvent::Detected(e) => {
                let d = &e.data;
                let figures = Figures {
                    count: d.count,
                    mean: d.mean,
                    min: d.min,
                    max: d.max,
                };
                Some((d.direction, figures))
            }
            AnomalyEvent::Cleared(_) => None,
        };
        last.insert(key, verdict);
    }
    last.retain(|_, verdict| verdict.is_some());
    last
}

fn expected(readings: &[Reading]) -> BTreeMap<(String, String), Option<(Direction, Figures)>> {
    final_verdicts(&WindowSettings::default(), &catalogue(), readings)
        .into_iter()
        .filter_map(|(key, v)| {
            let direction = v.direction?;
            Some((
                (key.sensor_id, sensors::time::utc(key.start)),
                Some((direction, v.figures)),
            ))
        })
        .collect()
}

fn expected_alerts(readings: &[Reading]) -> BTreeMap<PeriodKey, ExpectedAlert> {
    let verdicts = final_verdicts(&WindowSettings::default(), &catalogue(), readings);
    final_alerts(&AlertSettings::default(), &verdicts)
}

/// The alerts active at the end, as the reference states them.
fn active(alerts: &AlertStore) -> BTreeMap<PeriodKey, ExpectedAlert> {
    alerts
        .periods
        .iter()
        .filter_map(|(key, state)| {
            let alert = state.active.as_ref()?;
            let expected = ExpectedAlert {
                alert_id: alert.alert_id.parse().unwrap(),
                window_start: time(&alert.window_start),
            };
            Some((key.clone(), expected))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_order_and_copies_within_the_allowed_lateness_give_the_reference_verdicts_and_alerts(
        arrivals in arrivals(120_000)
    ) {
        let run = run(&arrivals);
        let distinct: HashSet<_> = arrivals.readings.iter().map(|r| r.id).collect();
        let counted = run.dispositions.iter().filter(|d| **d == Disposition::Counted).count();
        prop_assert_eq!(counted, distinct.len(), "each distinct reading counted once");
        prop_assert!(run.dispositions.iter().all(|d| matches!(d, Disposition::Counted | Disposition::Duplicate)));

        prop_assert_eq!(published(&run.windows.events), expected(&arrivals.readings));
        prop_assert!(run.windows.events.iter().all(|e| e.revision() == 1), "nothing to revise");
        prop_assert!(run.windows.windows.values().all(|w| w.closed));
        let verdicts = final_verdicts(&WindowSettings::default(), &catalogue(), &arrivals.readings);
        prop_assert_eq!(run.windows.windows.len(), verdicts.len());
        for (key, verdict) in &verdicts {
            prop_assert_eq!(run.windows.windows[key].verdict(), *verdict);
        }

        let alerts = expected_alerts(&arrivals.readings);
        let triggered = run.alerts.events.iter().filter(|e| matches!(e, AlertEvent::Triggered(_))).count();
        prop_assert_eq!(triggered, alerts.len(), "one alert per period with an anomaly, and none resolved");
        prop_assert_eq!(active(&run.alerts), alerts);
    }

    #[test]
    fn any_order_and_copies_within_the_late_horizon_give_the_reference_verdicts_through_revisions(
        arrivals in arrivals(600_000)
    ) {
        let run = run(&arrivals);
        prop_assert!(run.dispositions.iter().all(|d| matches!(d, Disposition::Counted | Disposition::Duplicate)));
        prop_assert_eq!(published(&run.windows.events), expected(&arrivals.readings));
        let alert_ids: BTreeSet<_> = active(&run.alerts).into_values().map(|a| a.alert_id).collect();
        let expected_ids: BTreeSet<_> = expected_alerts(&arrivals.readings).into_values().map(|a| a.alert_id).collect();
        prop_assert_eq!(alert_ids, expected_ids);
    }

    #[test]
    fn any_order_and_copies_of_anomaly_events_give_the_same_alerts(
        arrivals in arrivals(120_000),
        shuffle in prop::collection::vec(any::<u64>(), 1..200),
        batch in 1..10_usize,
    ) {
        let run = run(&arrivals);
        let mut events = run.windows.events.clone();
        // A copy of every other event, then an order drawn from `shuffle`.
        events.extend(run.windows.events.iter().step_by(2).cloned());
        let mut keyed: Vec<(u64, AnomalyEvent)> = events
            .into_iter()
            .zip(shuffle.iter().cycle())
            .map(|(e, k)| (*k, e))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        let shuffled: Vec<AnomalyEvent> = keyed.into_iter().map(|(_, e)| e).collect();
        let alerts = Alerts::new(AlertSettings::default()).unwrap();
        let mut store = AlertStore::default();
        for chunk in shuffled.chunks(batch) {
            store.run(&alerts, chunk);
        }
        let ids = |alerts: &BTreeMap<PeriodKey, ExpectedAlert>| -> BTreeSet<_> { alerts.values().map(|a| a.alert_id).collect() };
        prop_assert_eq!(ids(&active(&store)), ids(&active(&run.alerts)));
        let triggered = store.events.iter().filter(|e| matches!(e, AlertEvent::Triggered(_))).count();
        prop_assert_eq!(triggered, active(&store).len(), "one alert per period, never resolved");
    }
}

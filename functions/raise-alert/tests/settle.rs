//! raise-alert settling batches: alerts committed with their period before they go out, sent
//! again from the outbox until cleared, and replays that change nothing they should not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use envelope::Envelope;
use envelope::EventType;
use handler_kit::ManualClock;
use handler_kit::aggregate::{BatchHandler, Instant};
use raise_alert::RaiseAlert;
use sensor_stores::{InMemoryAlertStore, InMemorySensorCatalogue};
use sensors::alerts::AlertSettings;
use sensors::catalogue::Sensor;
use sensors::events::{AnomalyDetected, Direction, window_event_id};
use serde_json::{Value, json};

fn at(text: &str) -> DateTime<Utc> {
    sensors::time::parse(text).unwrap()
}

fn raise_alert(now: DateTime<Utc>) -> RaiseAlert<InMemorySensorCatalogue, Arc<InMemoryAlertStore>> {
    on(Arc::new(InMemoryAlertStore::new()), Arc::new(ManualClock::new(now)))
}

/// raise-alert on `store`, reading `clock`.
fn on(
    store: Arc<InMemoryAlertStore>,
    clock: Arc<ManualClock>,
) -> RaiseAlert<InMemorySensorCatalogue, Arc<InMemoryAlertStore>> {
    let item = json!({ "sensorId": "s-1", "site": "lab", "timezone": "UTC",
                       "metrics": { "temperature": { "low": 15.0, "high": 25.0, "unit": "C" } } });
    let catalogue = InMemorySensorCatalogue::with_sensors([Sensor::from_item(&item).unwrap()]);
    RaiseAlert::new(catalogue, store, AlertSettings::default(), clock).unwrap()
}

/// `AnomalyDetected` revision 1 of the window 10:00 of `s-1` (mean 40).
fn anomaly() -> Envelope<Value> {
    let start = at("2026-11-23T10:00:00Z");
    let id = window_event_id(AnomalyDetected::TYPE, "s-1", "temperature", start, 1);
    let data = AnomalyDetected {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
        window_start: "2026-11-23T10:00:00Z".into(),
        window_end: "2026-11-23T10:01:00Z".into(),
        count: 1,
        mean: 40.0,
        min: 40.0,
        max: 40.0,
        low: 15.0,
        high: 25.0,
        direction: Direction::Above,
        revision: 1,
    };
    Envelope::with_id(id, "s-1", start + TimeDelta::minutes(1), data)
        .to_untyped()
        .unwrap()
}

fn far() -> Instant {
    Instant::now() + std::time::Duration::from_secs(60)
}

#[tokio::test]
async fn given_an_alert_committed_whose_publish_failed_then_once_its_sender_is_past_its_deadline_the_next_batch_sends_it_until_it_is_sent()
 {
    let (store, clock) = (
        Arc::new(InMemoryAlertStore::new()),
        Arc::new(ManualClock::new(at("2026-11-23T10:05:00Z"))),
    );
    let f = on(Arc::clone(&store), Arc::clone(&clock));
    let first = f.settle(vec![anomaly()], far()).await.unwrap();
    assert_eq!(first.outputs.len(), 1, "AlertTriggered");
    let period = store.periods().remove(0);
    assert_eq!(period.outbox.len(), 1, "committed with the period, before it goes out");

    // While its sender may still be sending it, another invocation holding the same record
    // (a throttled one outliving its visibility timeout) leaves it, and its record comes back.
    let other = f.settle(vec![anomaly()], far()).await.unwrap();
    assert!(other.outputs.is_empty(), "told once, not twice");
    assert_eq!(other.records[0].as_ref().unwrap_err().kind(), "alert-held");

    // The publish failed and the sender is past its deadline: the record comes back, a
    // duplicate now, and the alert goes again, the same.
    clock.advance(TimeDelta::minutes(2));
    let again = f.settle(vec![anomaly()], far()).await.unwrap();
    assert_eq!(again.outputs.len(), 1);
    assert_eq!(again.outputs[0].metadata.id, first.outputs[0].metadata.id);
    assert_eq!(again.outputs[0].data, first.outputs[0].data);

    // Sent: the outbox is clear, and the next copy tells no one.
    f.sent(again.sent).await.unwrap();
    assert!(store.periods()[0].outbox.is_empty());
    let last = f.settle(vec![anomaly()], far()).await.unwrap();
    assert!(last.outputs.is_empty() && last.records[0].is_ok());
}

#[tokio::test]
async fn given_replayed_anomalies_then_those_older_than_the_retention_change_nothing_and_newer_ones_keep_state_without_alerting()
 {
    let mut replayed = anomaly();
    replayed.metadata.replay = Some("fix".into());

    // Eight days on: the windows and periods of then have expired.
    let late = raise_alert(at("2026-12-01T10:00:00Z"));
    let settled = late.settle(vec![replayed.clone()], far()).await.unwrap();
    assert!(settled.records[0].is_ok(), "acknowledged");
    assert!(settled.outputs.is_empty() && late.store().periods().is_empty());

    // The same day: the period is kept as it was told, and no one is alerted again.
    let soon = raise_alert(at("2026-11-23T12:00:00Z"));
    let settled = soon.settle(vec![replayed], far()).await.unwrap();
    assert!(settled.outputs.is_empty());
    let periods = soon.store().periods();
    assert_eq!(periods.len(), 1);
    assert!(periods[0].active.is_some() && periods[0].outbox.is_empty());
}

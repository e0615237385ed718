//! Event sourcing end to end on the local cloud: the store holds exactly what the bus carried,
//! read models rebuild from it to what the live projection made, and replays (from the store
//! or from the template's EventBridge archive, to every rule or to one) are absorbed by
//! consumers, who tell no one again.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use emulator::cloud::LocalCloud;
use emulator::faults::Faults;
use event_store::InMemoryEventStore;
use event_store::replay::{Selection, marked};
use order_stores::{InMemoryOrderViews, OrderViews};
use orders_demo::{Shop, place_mix};

fn shop(seed: u64, faults: Faults) -> Shop {
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    Shop::open(&template, seed, faults, 1_000, &localcloud::catalogue()).unwrap()
}

async fn demo(seed: u64) -> Shop {
    let mut shop = shop(seed, Faults::demo());
    place_mix(&mut shop, 30, seed).unwrap();
    let outcome = shop.settle().await;
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    shop
}

fn store(cloud: &LocalCloud) -> Arc<InMemoryEventStore> {
    cloud.tables().all::<InMemoryEventStore>().remove(0).1
}

fn live_views(cloud: &LocalCloud) -> Arc<InMemoryOrderViews> {
    cloud.tables().all::<InMemoryOrderViews>().remove(0).1
}

/// Records each function crate was handed so far.
fn records(cloud: &LocalCloud) -> BTreeMap<String, u64> {
    cloud.stats().records.clone()
}

fn grown(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> Vec<String> {
    after
        .iter()
        .filter(|(name, n)| before.get(*name) != Some(n))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The distinct messages sent to topics: an alert sent again from an outbox (the same id and
/// content, at least once) tells no one anything new.
fn told(cloud: &LocalCloud) -> usize {
    cloud
        .emitted()
        .iter()
        .filter(|e| e.topic.is_some())
        .map(|e| e.event.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

#[tokio::test(start_paused = true)]
async fn given_the_demo_with_faults_then_the_store_holds_what_the_bus_carried_and_rebuilt_views_equal_the_live_ones_order_by_order()
 {
    for seed in [1, 7, 42] {
        let shop = demo(seed).await;
        let cloud = shop.cloud();
        let audit = localcloud::audit(cloud)
            .await
            .unwrap_or_else(|failures| panic!("seed {seed}: {failures:#?}"));
        assert!(audit.contains("exactly the"), "{audit}");

        let (events, live) = (store(cloud), live_views(cloud));
        let fresh = InMemoryOrderViews::new();
        let rebuilt = order_projection::rebuild(&*events, &fresh, &*live).await.unwrap();
        assert!(
            rebuilt.differences.is_empty() && rebuilt.lagging.is_empty(),
            "seed {seed}: {rebuilt:#?}"
        );
        let live_all = live.all().await.unwrap();
        assert!(
            live_all.len() >= 25,
            "seed {seed}: the demo's accepted orders, {}",
            live_all.len()
        );
        assert_eq!(rebuilt.orders, live_all.len());
        for view in live_all {
            assert_eq!(fresh.get(&view.order_id).await.unwrap(), Some(view), "seed {seed}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn given_a_replay_from_the_store_to_one_rule_then_only_its_function_sees_it_and_absorbs_it() {
    let mut shop = demo(3).await;
    let cloud = shop.cloud_mut();
    cloud.keep_emitted();
    let (before, told_before) = (records(cloud), told(cloud));
    let selection = Selection::Range {
        from: DateTime::<Utc>::UNIX_EPOCH,
        to: DateTime::<Utc>::MAX_UTC,
        types: vec!["OrderShipped".into(), "PaymentFailed".into()],
    };
    let events = selection.read(&*store(cloud)).await.unwrap();
    assert!(events.len() >= 10, "{}", events.len());
    let bus = cloud.topology().buses.values().next().unwrap().name.clone();
    cloud.put_events_to(&bus, marked(events, "fix-42"), "replay", Some("NotifyCustomerRule"));
    cloud.run(i64::MAX).await;

    assert_eq!(grown(&before, &records(cloud)), ["notify-customer"], "the rule filter");
    assert_eq!(told(cloud), told_before, "no customer is told again");
    localcloud::audit(cloud).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn given_a_replay_of_the_template_archive_to_every_rule_then_every_consumer_absorbs_it_and_nothing_new_happens() {
    let mut shop = demo(5).await;
    let before_states = live_views(shop.cloud()).all().await.unwrap().len();
    let cloud = shop.cloud_mut();
    cloud.keep_emitted();
    let (before, told_before) = (records(cloud), told(cloud));
    let emitted_before = cloud.emitted().len();
    let replayed = cloud
        .replay_archive(
            "EventBusArchive",
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MAX_UTC,
            None,
            "after-fix-7",
        )
        .unwrap();
    cloud.run(i64::MAX).await;

    let distinct: usize = cloud.carried_ids().count();
    assert!(
        replayed >= distinct,
        "every event the archive kept ({replayed}) covers the {distinct} distinct ones"
    );
    let grown = grown(&before, &records(cloud));
    for consumer in [
        "reserve-inventory",
        "process-payment",
        "ship-order",
        "order-projection",
        "notify-customer",
        "event-archive",
    ] {
        assert!(
            grown.contains(&consumer.to_owned()),
            "{consumer} saw the replay: {grown:?}"
        );
    }
    assert_eq!(told(cloud), told_before, "no customer is told again");
    let new_events = cloud.emitted()[emitted_before..]
        .iter()
        .filter(|e| e.bus.is_some() && e.event.get("replay-name").is_none())
        .count();
    assert_eq!(
        new_events, 0,
        "every effect was decided before: nothing new is published"
    );
    assert_eq!(live_views(cloud).all().await.unwrap().len(), before_states);
    localcloud::audit(cloud).await.unwrap();
    let err = cloud
        .replay_archive(
            "NoSuchArchive",
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MAX_UTC,
            None,
            "x",
        )
        .unwrap_err();
    assert!(err.contains("EventBusArchive"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn given_an_archive_replay_limited_in_time_then_exactly_the_events_of_that_range_go_and_the_end_is_excluded() {
    let mut shop = shop(9, Faults::demo());
    shop.cloud_mut().keep_emitted();
    place_mix(&mut shop, 30, 9).unwrap();
    assert!(shop.settle().await.violations.is_empty());
    let cloud = shop.cloud_mut();
    let time_of = |event: &serde_json::Value| -> DateTime<Utc> { event["time"].as_str().unwrap().parse().unwrap() };
    // What the bus received (each put, so an event put twice is archived twice), by time.
    let mut received: Vec<DateTime<Utc>> = cloud
        .emitted()
        .iter()
        .filter(|e| e.bus.is_some() && e.event["source"] == "shop.orders")
        .map(|e| time_of(&e.event))
        .collect();
    received.sort();
    let (from, to) = (received[received.len() / 4], received[received.len() * 3 / 4]);
    assert!(from < to);
    let expected = received.iter().filter(|t| (from..to).contains(*t)).count();
    let emitted_before = cloud.emitted().len();

    let replayed = cloud
        .replay_archive("EventBusArchive", from, to, None, "middle")
        .unwrap();
    assert_eq!(replayed, expected);
    let sent: Vec<DateTime<Utc>> = cloud.emitted()[emitted_before..]
        .iter()
        .filter(|e| e.event.get("replay-name").is_some())
        .map(|e| time_of(&e.event))
        .collect();
    assert_eq!(sent.len(), expected);
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert!(sent.iter().all(|t| *t >= from && *t < to), "the end is excluded");
}

#[tokio::test(start_paused = true)]
async fn given_the_sensors_demo_when_its_archive_is_replayed_then_raise_alert_updates_its_state_but_alerts_no_one_again()
 {
    use emulator::domain::{DemoOptions, Domain};
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let options = DemoOptions {
        size: 6,
        seed: 2,
        faults: Faults::demo(),
        replay: None,
        variant: None,
    };
    let mut run = sensors_demo::Sensors
        .demo(&template, options, &localcloud::catalogue())
        .unwrap();
    run.cloud_mut().keep_timeline(false);
    let report = run.finish().await;
    assert!(report.violations.is_empty(), "{:#?}", report.violations);
    let cloud = run.cloud_mut();
    localcloud::audit(cloud).await.unwrap();
    cloud.keep_emitted();
    let (before, told_before) = (records(cloud), told(cloud));
    let replayed = cloud
        .replay_archive(
            "EventBusArchive",
            DateTime::<Utc>::UNIX_EPOCH,
            DateTime::<Utc>::MAX_UTC,
            Some("RaiseAlertRule"),
            "sensors-fix",
        )
        .unwrap();
    cloud.run(i64::MAX).await;
    assert!(replayed > 0, "the demo's anomalies were archived");
    assert_eq!(grown(&before, &records(cloud)), ["raise-alert"]);
    assert_eq!(told(cloud), told_before, "no alert is sent again");
}

/// raise-alert in a fresh deployment (no alert state yet), with the sample catalogue: what an
/// SQS batch of `sample` makes it send, and the periods it then keeps.
async fn raise_alert_on(sample: &str) -> (usize, Vec<sensors::alerts::AlertState>) {
    use emulator::topology::Topology;
    use handler_kit::local::Sent;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let topology = Topology::load(&root.join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    let mut cloud = LocalCloud::new(
        topology,
        emulator::cloud::CloudOptions::default(),
        &localcloud::catalogue(),
    )
    .unwrap();
    let catalogue: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("events/sensors/catalogue.json")).unwrap()).unwrap();
    cloud.load_table("SensorCatalogueTable", &catalogue).unwrap();
    let payload = serde_json::from_str(&std::fs::read_to_string(root.join(sample)).unwrap()).unwrap();
    let (response, sent) = cloud.invoke_alone("RaiseAlert", payload).await;
    assert_eq!(response.unwrap()["batchItemFailures"], serde_json::json!([]));
    let alerts = sent
        .iter()
        .map(|s| match s {
            Sent::Notifications { messages, .. } => messages.len(),
            _ => 0,
        })
        .sum();
    let periods = cloud
        .tables()
        .all::<sensor_stores::InMemoryAlertStore>()
        .remove(0)
        .1
        .periods();
    (alerts, periods)
}

#[tokio::test(start_paused = true)]
async fn given_replayed_anomalies_older_than_the_retention_in_a_fresh_deployment_then_raise_alert_keeps_nothing_and_alerts_no_one()
 {
    let (alerts, periods) = raise_alert_on("events/sensors/raise-alert/anomaly-detected.sqs-eventbridge.json").await;
    assert!(
        alerts > 0 && !periods.is_empty(),
        "as sent at the time: alerted ({alerts}), {periods:?} kept"
    );
    // The samples are of March; the clock is past their windows' 7 days: taking them again
    // would open alerts no later revision can resolve.
    let replayed = raise_alert_on("events/sensors/raise-alert/anomaly-detected-replayed.sqs-eventbridge.json").await;
    assert_eq!(replayed, (0, Vec::new()), "replayed: nothing kept, no alert");
}

#[tokio::test(start_paused = true)]
async fn given_a_store_that_drifted_from_the_bus_then_the_audit_names_each_way() {
    use event_store::{EventStore, StoredEvent};
    let shop = demo(11).await;
    let cloud = shop.cloud();
    let events = store(cloud);
    // An event the bus never carried, leaving a gap in its order's sequences.
    let mut stray = events.events().remove(0).envelope;
    stray.metadata.id = uuid::Uuid::from_u128(7);
    stray.metadata.sequence = Some(9);
    let stream = format!("{}#{}", stray.metadata.source, stray.metadata.subject);
    events.append(&StoredEvent::new(stray, Utc::now())).await.unwrap();

    let failures = localcloud::audit(cloud).await.unwrap_err();
    assert!(failures.iter().any(|f| f.contains("never carried")), "{failures:#?}");
    assert!(
        failures.iter().any(|f| f.starts_with(&format!("{stream}: sequences"))),
        "{failures:#?}"
    );
}

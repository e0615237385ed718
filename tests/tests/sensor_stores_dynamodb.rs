//! The sensors ports' contract on the DynamoDB adapters (moto in server mode, tables with the
//! template's keys and TTL, through the real SDK), the items as they are stored, the calls a
//! batch costs, and an unreachable table.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

// The contract is written once, beside the in-memory adapters' tests.
#[path = "../../shared/sensor-stores/tests/contract/mod.rs"]
mod contract;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use contract::*;
use envelope::ErrorClass;
use motoserver::{CallLog, TableSpec};
use sensor_stores::dynamodb::RETENTION;
use sensor_stores::sensors::alerts::{AlertState, PeriodKey};
use sensor_stores::sensors::windows::{StreamKey, WindowKey};
use sensor_stores::{
    AlertStore, DynamoAlertStore, DynamoSensorCatalogue, DynamoWindowStore, InMemoryWindowStore, SensorCatalogue,
    WindowStore, put_catalogue_file,
};

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// A table as the template declares it: the catalogue keyed by `sensorId`; windows and alerts
/// by `sensorId` and `item`, with TTL on `expiresAt`.
async fn table(kind: &str, log: Option<&CallLog>) -> (Client, String) {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let name = format!(
        "{kind}-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    let spec = match kind {
        "catalogue" => TableSpec::new(&name, "sensorId"),
        "windows" => TableSpec::new(&name, "sensorId")
            .with_sort_key("item")
            .with_ttl("expiresAt")
            .with_keys_only_index(sensor_stores::DUE_INDEX, "dueShard", "dueAt"),
        _ => TableSpec::new(&name, "sensorId")
            .with_sort_key("item")
            .with_ttl("expiresAt"),
    };
    moto.create_table(&config, &spec).await.unwrap();
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Some(log) = log {
        builder = builder.interceptor(log.clone());
    }
    (Client::from_conf(builder.build()), name)
}

async fn catalogue() -> DynamoSensorCatalogue {
    let (client, name) = table("catalogue", None).await;
    DynamoSensorCatalogue::new(client, name)
}

async fn windows() -> DynamoWindowStore {
    let (client, name) = table("windows", None).await;
    on_moto(DynamoWindowStore::new(client, name))
}

async fn alerts() -> DynamoAlertStore {
    let (client, name) = table("alerts", None).await;
    DynamoAlertStore::new(client, name).with_transactions_at_once(1)
}

/// One transaction at a time: moto undoes a cancelled transaction by restoring the whole table,
/// which would undo the others sent beside it (see `with_transactions_at_once`).
fn on_moto(store: DynamoWindowStore) -> DynamoWindowStore {
    store.with_transactions_at_once(1)
}

#[tokio::test]
async fn dynamodb_a_first_save_of_new_keys_is_written_and_loaded_back_exactly() {
    a_first_save_of_new_keys_is_written_and_loaded_back_exactly(windows().await).await;
}

#[tokio::test]
async fn dynamodb_a_save_over_a_stale_read_is_a_conflict_of_its_stream_alone() {
    a_save_over_a_stale_read_is_a_conflict_of_its_stream_alone(windows().await).await;
}

#[tokio::test]
async fn dynamodb_the_due_streams_are_the_ones_whose_time_has_come() {
    the_due_streams_are_the_ones_whose_time_has_come(windows().await).await;
}

#[tokio::test]
async fn dynamodb_saves_no_table_can_take_are_refused_and_write_nothing() {
    saves_no_table_can_take_are_refused_and_write_nothing(windows().await).await;
}

#[tokio::test]
async fn dynamodb_a_save_of_many_streams_is_written_and_loaded_whole() {
    // GIVEN the contract's 3 streams and 180 windows, counted
    let log = CallLog::new();
    let (client, name) = table("windows", Some(&log)).await;
    let store = on_moto(DynamoWindowStore::new(client, name));
    a_save_of_many_streams_is_written_and_loaded_whole(store.clone()).await;

    // THEN 183 states were read with 2 BatchGetItem, written in 3 transactions (one stream of
    // 61 states each: two do not fit one), and read back with 2 BatchGetItem
    assert_eq!(
        log.take(),
        [
            "BatchGetItem",
            "BatchGetItem",
            "TransactWriteItems",
            "TransactWriteItems",
            "TransactWriteItems",
            "BatchGetItem",
            "BatchGetItem"
        ]
    );

    // WHEN the three streams and their windows are saved again (3 transactions), s-2's stale
    let streams = [("s-1", "humidity"), ("s-1", "temperature"), ("s-2", "temperature")];
    let stream_keys: Vec<StreamKey> = streams
        .iter()
        .map(|(sensor_id, metric)| StreamKey {
            sensor_id: (*sensor_id).into(),
            metric: (*metric).into(),
        })
        .collect();
    let window_keys: Vec<WindowKey> = streams
        .iter()
        .flat_map(|(sensor_id, metric)| {
            (0..60).map(|minute| WindowKey {
                sensor_id: (*sensor_id).into(),
                metric: (*metric).into(),
                start: at(&format!("2026-11-23T08:{minute:02}:00Z")),
            })
        })
        .collect();
    let (mut streams, mut windows) = store.load(&stream_keys, &window_keys).await.unwrap();
    assert_eq!((streams.len(), windows.len()), (3, 180));
    streams
        .iter_mut()
        .filter(|s| s.sensor_id == "s-1")
        .for_each(|s| s.sequence += 1);
    windows
        .iter_mut()
        .filter(|w| w.sensor_id == "s-1")
        .for_each(|w| w.sequence += 1);
    log.take();
    let saved = store.save(&streams, &windows).await.unwrap();

    // THEN s-2 alone is a conflict: each stream is its own transaction, so s-1's streams
    // were written, each whole
    assert_eq!(saved.conflicts, [stream_keys[2].clone()]);
    assert!(saved.failed.is_empty());
    assert_eq!(log.take(), ["TransactWriteItems"; 3]);
    let (streams, windows) = store.load(&stream_keys, &window_keys).await.unwrap();
    let sequences = |sensor_id: &str| {
        let of_streams = streams.iter().filter(|s| s.sensor_id == sensor_id).map(|s| s.sequence);
        let of_windows = windows.iter().filter(|w| w.sensor_id == sensor_id).map(|w| w.sequence);
        of_streams.chain(of_windows).collect::<BTreeSet<u64>>()
    };
    assert_eq!(sequences("s-1"), BTreeSet::from([2]));
    assert_eq!(sequences("s-2"), BTreeSet::from([1]));
}

#[tokio::test]
async fn dynamodb_a_sensors_status_is_its_streams_and_last_closed_window_per_metric() {
    a_sensors_status_is_its_streams_and_last_closed_window_per_metric(windows().await).await;
}

#[tokio::test]
async fn dynamodb_alert_periods_are_saved_on_condition_and_open_ones_are_read() {
    alert_periods_are_saved_on_condition_and_open_ones_are_read(windows().await, alerts().await).await;
}

#[tokio::test]
async fn dynamodb_the_catalogue_answers_the_known_sensors_among_the_ids() {
    the_catalogue_answers_the_known_sensors_among_the_ids(catalogue().await).await;
}

#[tokio::test]
async fn dynamodb_many_sensors_are_put_and_read_in_batches() {
    many_sensors_are_put_and_read_in_batches(catalogue().await).await;
}

/// What the `sensor-catalogue` command runs, against a table.
#[tokio::test]
async fn dynamodb_a_catalogue_file_is_put_whole_or_not_at_all() {
    a_catalogue_file_is_put_whole_or_not_at_all(catalogue().await).await;
}

#[tokio::test]
async fn dynamodb_a_batch_costs_at_most_2_calls_per_window_it_touches() {
    // GIVEN s-1's temperature and humidity streams, each with its 09:00 window open
    let log = CallLog::new();
    let (client, name) = table("windows", Some(&log)).await;
    let store = on_moto(DynamoWindowStore::new(client, name));
    run(
        &store,
        &[
            reading("s-1", "temperature", "2026-11-23T09:00:10Z", 20.0),
            reading("s-1", "humidity", "2026-11-23T09:00:20Z", 50.0),
        ],
    )
    .await;
    log.take();

    // WHEN a batch touches 3 windows of the 2 streams: temperature 09:00 (a reading, and it
    // closes) and 09:03 (new), humidity 09:01 (new)
    let touching_3 = [
        reading("s-1", "temperature", "2026-11-23T09:00:40Z", 21.0),
        reading("s-1", "temperature", "2026-11-23T09:03:05Z", 22.0),
        reading("s-1", "humidity", "2026-11-23T09:01:30Z", 51.0),
    ];
    let outcome = run(&store, &touching_3).await;
    let calls = log.take();
    // AND a batch whose reading closes a window it does not fall in (temperature 09:03): the
    // one case the windows it names cannot all be read with the streams
    let closing_another = run(&store, &[reading("s-1", "temperature", "2026-11-23T09:06:10Z", 23.0)]).await;
    let closing_calls = log.take();

    // THEN one read and one transaction per stream for the first, a second read for the other
    let touched = |o: &sensor_stores::sensors::windows::WindowOutcome| {
        o.windows.iter().map(|w| w.key()).collect::<BTreeSet<_>>().len()
    };
    assert_eq!((touched(&outcome), outcome.streams.len()), (3, 2));
    assert_eq!(touched(&closing_another), 2);
    println!(
        "DynamoDB calls per batch: 3 windows of 2 streams: {} {calls:?} ({:.2} per window); \
         a window closing outside the readings' windows (2 windows): {} {closing_calls:?} ({:.2} per window)",
        calls.len(),
        ratio(calls.len(), 3),
        closing_calls.len(),
        ratio(closing_calls.len(), 2),
    );
    assert_eq!(calls, ["BatchGetItem", "TransactWriteItems", "TransactWriteItems"]);
    assert_eq!(closing_calls, ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]);
    assert!(calls.len() <= 2 * 3 && closing_calls.len() <= 2 * 2);
}

fn ratio(calls: usize, windows: u32) -> f64 {
    f64::from(u32::try_from(calls).unwrap()) / f64::from(windows)
}

#[tokio::test]
async fn dynamodb_items_hold_the_state_as_json_with_its_sequence_and_windows_and_periods_expire() {
    // GIVEN a saved batch with an anomalous window that closes, and its alert raised
    let (client, name) = table("windows", None).await;
    let store = on_moto(DynamoWindowStore::new(client.clone(), name.clone()));
    let outcome = run(
        &store,
        &[
            reading("s-1", "temperature", "2026-11-23T09:00:10Z", 40.0),
            reading("s-1", "temperature", "2026-11-23T09:03:10Z", 20.0),
        ],
    )
    .await;
    let (alert_client, alert_table) = table("alerts", None).await;
    let periods = raise(
        &DynamoAlertStore::new(alert_client.clone(), alert_table.clone()).with_transactions_at_once(1),
        &outcome.events,
    )
    .await;

    let get = |client: Client, table: String, item: &str| {
        let item = item.to_owned();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("sensorId", AttributeValue::S("s-1".into()))
                .key("item", AttributeValue::S(item))
                .send()
                .await
                .unwrap()
                .item
                .expect("the item")
        }
    };

    // THEN the stream item holds its state and sequence, and never expires
    let stream = get(client.clone(), name.clone(), "stream#temperature").await;
    assert_eq!(stream["sequence"], AttributeValue::N("1".into()));
    let state: serde_json::Value = serde_json::from_str(stream["state"].as_s().unwrap()).unwrap();
    assert_eq!(state["openWindows"], serde_json::json!(["2026-11-23T09:03:00Z"]));
    assert!(!stream.contains_key("expiresAt"));

    // AND a window expires RETENTION after its end: 09:01 plus 7 days
    let window = get(client, name, "window#temperature#2026-11-23T09:00:00Z").await;
    let end = at("2026-11-23T09:01:00Z").timestamp();
    let retention = i64::try_from(RETENTION.as_secs()).unwrap();
    assert_eq!(window["expiresAt"], AttributeValue::N((end + retention).to_string()));
    assert_eq!(retention, 7 * 24 * 3600);

    // AND an alert period says whether its alert is active, and expires after its latest window
    assert_eq!(periods.len(), 1);
    let period = get(alert_client, alert_table, "period#temperature#2026-11-23T09:00:00Z").await;
    assert_eq!(period["active"], AttributeValue::Bool(true));
    let started = at("2026-11-23T09:00:00Z").timestamp();
    assert_eq!(
        period["expiresAt"],
        AttributeValue::N((started + retention).to_string())
    );
}

#[tokio::test]
async fn dynamodb_a_sensor_is_stored_as_its_catalogue_item_and_one_that_no_longer_reads_is_named() {
    // GIVEN a sensor put, and another edited by hand into an invalid item
    let (client, name) = table("catalogue", None).await;
    let catalogue = DynamoSensorCatalogue::new(client.clone(), name.clone());
    let file = serde_json::json!([sensor("s-1", &["temperature"]).to_item()]);
    put_catalogue_file(&catalogue, &file.to_string()).await.unwrap();
    let mut edited = sensor("s-2", &["temperature"]).to_item();
    edited["metrics"]["temperature"]["unit"] = serde_json::json!("");
    client
        .put_item()
        .table_name(&name)
        .item("sensorId", AttributeValue::S("s-2".into()))
        .item("sensor", AttributeValue::S(edited.to_string()))
        .send()
        .await
        .unwrap();

    // THEN the first is stored as the file's object
    let stored = client
        .get_item()
        .table_name(&name)
        .key("sensorId", AttributeValue::S("s-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let item: serde_json::Value = serde_json::from_str(stored["sensor"].as_s().unwrap()).unwrap();
    assert_eq!(item, file[0]);

    // AND reading the second names it, its field and the way out, and the first still reads:
    // one bad item is its own sensor's problem
    let read = catalogue.sensors(&["s-1".into(), "s-2".into()]).await.unwrap();
    assert_eq!(read.len(), 1);
    let why = read.unreadable("s-2").unwrap();
    assert!(
        why.contains(&format!("sensor 's-2' in table {name}: metrics.temperature.unit")),
        "{why}"
    );
    assert!(
        why.ends_with("load a corrected catalogue file with sensor-catalogue"),
        "{why}"
    );
    let all = catalogue.all().await.unwrap();
    assert_eq!((all.len(), all.unreadable("s-2").is_some()), (1, true));
    assert_eq!(catalogue.sensors(&["s-1".into()]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn given_an_unreachable_table_then_every_operation_fails_transiently() {
    let config = motoserver::unreachable_sdk_config().await;
    let client = Client::new(&config);
    let catalogue = DynamoSensorCatalogue::new(client.clone(), "catalogue");
    let windows = DynamoWindowStore::new(client.clone(), "windows");
    let alerts = DynamoAlertStore::new(client, "alerts");
    let stream = StreamKey {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
    };
    let window = WindowKey {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
        start: at("2026-11-23T09:00:00Z"),
    };
    let period = PeriodKey {
        sensor_id: "s-1".into(),
        metric: "temperature".into(),
        start: at("2026-11-23T09:00:00Z"),
    };
    let pending = decide(
        &InMemoryWindowStore::new(),
        &[reading("s-1", "temperature", "2026-11-23T09:00:10Z", 20.0)],
    )
    .await;
    let new_period = AlertState {
        sequence: 1,
        ..AlertState::new(period.clone())
    };
    let saved = [
        windows.save(&pending.streams, &pending.windows).await.unwrap(),
        alerts.save(&[new_period]).await.unwrap(),
    ];
    for saved in saved {
        assert!(saved.conflicts.is_empty(), "{saved:?}");
        let failure = saved.failed.values().next().unwrap();
        assert_eq!(failure.class, ErrorClass::Transient, "{failure}");
    }
    let failures = [
        catalogue.sensors(&["s-1".into()]).await.unwrap_err(),
        catalogue.all().await.unwrap_err(),
        catalogue.put(&[sensor("s-1", &["temperature"])]).await.unwrap_err(),
        windows.load(&[stream], &[window]).await.unwrap_err(),
        windows.streams_of("s-1").await.unwrap_err(),
        windows.last_closed_windows("s-1").await.unwrap_err(),
        alerts.load(&[period]).await.unwrap_err(),
        alerts.open_alerts("s-1").await.unwrap_err(),
    ];
    for failure in failures {
        assert_eq!(failure.class, ErrorClass::Transient, "{failure}");
    }
}

//! The event store contract on DynamoDB (moto in server mode, through the real SDK), on a table
//! created exactly as infra/template.yaml declares `EventStoreTable` (keys and indexes), and
//! the cost of an append in DynamoDB calls.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

#[path = "../../shared/event-store/tests/contract/mod.rs"]
mod contract;

use std::sync::atomic::{AtomicUsize, Ordering};

use contract::*;
use event_store::{Appended, DynamoEventStore, EventStore};
use motoserver::CallLog;
use serde_yaml_ng::Value;

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// A store on a table created as the template declares `EventStoreTable`.
async fn store(log: Option<&CallLog>) -> DynamoEventStore {
    let name = format!(
        "events-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    let client = system_tests::declared_table("EventStoreTable", &name, log).await;
    DynamoEventStore::new(client, name)
}

#[test]
fn the_adapter_reads_the_indexes_the_template_declares() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml")).unwrap();
    let template: Value = serde_yaml_ng::from_str(&text).unwrap();
    let declared = template["Resources"]["EventStoreTable"]["Properties"]["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap();
    for index in declared {
        assert_eq!(
            index["Projection"]["ProjectionType"], "ALL",
            "a replay reads whole events from the index"
        );
    }
    let indexes: Vec<&str> = declared.iter().map(|i| i["IndexName"].as_str().unwrap()).collect();
    assert_eq!(indexes, [event_store::BY_TIME, event_store::BY_TYPE]);
}

#[tokio::test]
async fn dynamodb_an_append_is_once_and_a_taken_position_is_a_conflict() {
    an_append_is_once_and_a_taken_position_is_a_conflict_naming_its_holder(store(None).await).await;
}

#[tokio::test]
async fn dynamodb_a_stream_comes_in_order() {
    a_stream_comes_in_order_whatever_the_append_order(store(None).await).await;
}

#[tokio::test]
async fn dynamodb_time_range_reads_cross_streams_and_days() {
    time_range_reads_cross_streams_and_days_and_exclude_the_end(store(None).await).await;
}

#[tokio::test]
async fn dynamodb_an_event_reads_back_as_appended() {
    an_event_reads_back_as_appended(store(None).await).await;
}

#[tokio::test]
async fn dynamodb_an_archived_event_costs_one_call_new_repeated_or_in_conflict_and_reads_are_queries() {
    let log = CallLog::new();
    let store = store(Some(&log)).await;
    let first = event(1, "shop.orders", "OrderPlaced", "o-1", "2026-11-30T10:00:00Z", Some(1));
    let rival = event(2, "shop.orders", "OrderPlaced", "o-1", "2026-11-30T10:00:00Z", Some(1));
    assert_eq!(store.append(&first).await.unwrap(), Appended::Added);
    assert_eq!(log.take(), ["PutItem"], "a new event");
    assert_eq!(store.append(&first).await.unwrap(), Appended::AlreadyThere);
    assert_eq!(log.take(), ["PutItem"], "a redelivered event");
    assert!(matches!(store.append(&rival).await.unwrap(), Appended::Conflict { .. }));
    assert_eq!(
        log.take(),
        ["PutItem"],
        "a conflict: the holder comes back with the refusal"
    );

    store.stream("shop.orders#o-1").await.unwrap();
    assert_eq!(log.take(), ["Query"]);
    store
        .between(at("2026-11-29T12:00:00Z"), at("2026-11-30T12:00:00Z"))
        .await
        .unwrap();
    let shards = usize::from(event_store::event::SHARDS);
    assert_eq!(
        log.take(),
        vec!["Query"; 2 * shards],
        "one query per shard of each day, no scan"
    );
    store
        .of_type("OrderPlaced", at("2026-11-30T00:00:00Z"), at("2026-11-30T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(log.take(), vec!["Query"; shards]);
}

#[tokio::test]
async fn dynamodb_reads_over_a_megabyte_come_back_whole_page_after_page() {
    let log = CallLog::new();
    let store = store(Some(&log)).await;
    // 12 events of about 120 KB each: 1.4 MB in one stream, one day, one type and one shard
    // (ids 8 apart), so every read crosses DynamoDB's 1 MB page.
    let big = "x".repeat(120_000);
    for n in 0..12u64 {
        let mut e = event(
            u128::from(n) * u128::from(event_store::event::SHARDS) + 100,
            "shop.orders",
            "OrderPlaced",
            "o-big",
            &format!("2026-11-30T10:00:{n:02}Z"),
            Some(n + 1),
        );
        e.envelope.data = serde_json::json!({ "padding": big });
        store.append(&e).await.unwrap();
    }
    log.take();
    let (from, to) = (at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    let stream = store.stream("shop.orders#o-big").await.unwrap();
    assert_eq!(stream.len(), 12);
    assert!(stream.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(store.between(from, to).await.unwrap().len(), 12);
    assert_eq!(store.of_type("OrderPlaced", from, to).await.unwrap().len(), 12);
    assert_eq!(store.all_from("shop.orders").await.unwrap().len(), 12);
    let calls = log.take();
    // Three reads, one shard each holding everything: the stream query, 8 shard queries per
    // range read, and at least one more page for each of the three.
    let queries = calls.iter().filter(|c| *c == "Query").count();
    let unpaged = 1 + 2 * usize::from(event_store::event::SHARDS);
    assert!(queries >= unpaged + 3, "each read paged: {calls:?}");
    assert!(
        calls.iter().filter(|c| *c == "Scan").count() >= 2,
        "the scan paged: {calls:?}"
    );
}

#[tokio::test]
async fn dynamodb_an_event_the_table_can_never_hold_is_a_permanent_failure_so_it_is_parked_not_retried() {
    let store = store(None).await;
    let mut huge = event(
        500,
        "shop.orders",
        "OrderPlaced",
        "o-huge",
        "2026-11-30T10:00:00Z",
        Some(1),
    );
    // Over DynamoDB's 400 KB item limit (the bus would refuse it first; a store must not loop).
    huge.envelope.data = serde_json::json!({ "padding": "x".repeat(450_000) });
    let refused = store.append(&huge).await.unwrap_err();
    assert_eq!(refused.class, envelope::ErrorClass::Permanent, "{refused}");
    assert!(refused.to_string().starts_with("append: "), "{refused}");
}

//! The store contract on DynamoDB (moto in server mode, through the real SDK), the cost of each
//! path in DynamoDB calls, and an unreachable endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

// The store contract is written once, beside the in-memory store's tests.
#[path = "../../shared/idempotency/tests/contract/mod.rs"]
#[macro_use]
mod contract;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use envelope::ErrorClass;
use idempotency::{Claim, DynamoDbStore, IdempotencyError, StoreError};
use motoserver::{CallLog, TableSpec};

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// The idempotency table as the template declares it: key `id`, TTL on `expiration`.
fn table_spec() -> TableSpec {
    let n = TABLES.fetch_add(1, Ordering::SeqCst);
    TableSpec::new(format!("idempotency-{}-{n}", std::process::id()), "id").with_ttl("expiration")
}

async fn client_and_table(log: Option<&CallLog>) -> (Client, String) {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let spec = table_spec();
    moto.create_table(&config, &spec).await.unwrap();
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Some(log) = log {
        builder = builder.interceptor(log.clone());
    }
    (Client::from_conf(builder.build()), spec.name)
}

async fn store() -> DynamoDbStore {
    let (client, table) = client_and_table(None).await;
    DynamoDbStore::new(client, table)
}

store_contract!(store);

#[tokio::test]
async fn dynamodb_calls_per_record_are_2_for_new_1_for_duplicate_2_for_failure_2_for_an_undelivered_duplicate() {
    let log = CallLog::new();
    let (client, table) = client_and_table(Some(&log)).await;
    let executor = contract::executor(DynamoDbStore::new(client, table), &contract::clock());
    let runs = Arc::new(AtomicUsize::new(0));
    let remaining = Duration::from_secs(30);

    executor
        .execute("e-new", "payload", remaining, contract::counted(&runs))
        .await
        .unwrap();
    let new = log.take();
    executor
        .execute("e-new", "payload", remaining, contract::counted(&runs))
        .await
        .unwrap();
    let duplicate = log.take();
    let failed = executor
        .execute("e-fail", "payload", remaining, || async {
            Err::<contract::Reserved, _>(contract::WorkFailed)
        })
        .await;
    assert!(failed.is_err());
    let failure = log.take();

    // Work done but its outputs not delivered: the first redelivery sends them and marks them.
    let held = match executor
        .claim::<_, contract::Reserved, contract::WorkFailed>("e-undelivered", "payload", remaining)
        .await
        .unwrap()
    {
        Claim::Acquired(ticket) => ticket,
        Claim::Completed(_) => panic!("a fresh key"),
    };
    executor
        .complete::<_, contract::WorkFailed>(
            &held,
            &contract::Reserved {
                order_id: "o-1".into(),
                reservation: 1,
            },
            false,
        )
        .await
        .unwrap();
    log.take();
    let Claim::Completed(undelivered) = executor
        .claim::<_, contract::Reserved, contract::WorkFailed>("e-undelivered", "payload", remaining)
        .await
        .unwrap()
    else {
        panic!("a duplicate");
    };
    executor.mark_delivered(&undelivered.key).await.unwrap();
    let redelivered = log.take();

    println!(
        "DynamoDB calls per record: new {new:?}, duplicate {duplicate:?}, failure {failure:?}, undelivered duplicate {redelivered:?}"
    );
    assert_eq!(new, ["PutItem", "UpdateItem"]);
    assert_eq!(redelivered, ["PutItem", "UpdateItem"]);
    assert_eq!(
        duplicate,
        ["PutItem"],
        "the duplicate path reads the old item from the failed put, with no GetItem"
    );
    assert_eq!(failure, ["PutItem", "DeleteItem"]);
}

#[tokio::test]
async fn records_are_stored_in_the_powertools_layout_with_a_ttl_in_epoch_seconds() {
    let (client, table) = client_and_table(None).await;
    let executor = contract::executor(DynamoDbStore::new(client.clone(), table.clone()), &contract::clock());
    let runs = Arc::new(AtomicUsize::new(0));
    executor
        .execute("e-1", "payload", Duration::from_secs(30), contract::counted(&runs))
        .await
        .unwrap();
    let item = client
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::S(format!("{}#e-1", contract::FUNCTION)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["status"], AttributeValue::S("COMPLETED".into()));
    // 2026-11-23T10:00:00Z: the clock's 09:00 plus the default hour.
    assert_eq!(item["expiration"], AttributeValue::N("1795428000".into()));
    assert!(!item.contains_key("in_progress_expiration"));
    assert!(matches!(&item["validation"], AttributeValue::S(hash) if hash.len() == 64));
    assert!(matches!(&item["data"], AttributeValue::S(data) if data.contains("\"reservation\":1")));
}

#[tokio::test]
async fn given_an_unreachable_endpoint_then_the_error_is_transient_and_the_work_does_not_run() {
    let config = motoserver::unreachable_sdk_config().await;
    let store = DynamoDbStore::new(Client::new(&config), "idempotency");
    let executor = contract::executor(store, &contract::clock());
    let runs = Arc::new(AtomicUsize::new(0));
    let err = executor
        .execute("e-1", "payload", Duration::from_secs(30), contract::counted(&runs))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            IdempotencyError::Store(StoreError::Unavailable { operation: "put", .. })
        ),
        "{err}"
    );
    assert_eq!(err.class_with(|_| ErrorClass::Permanent), ErrorClass::Transient);
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

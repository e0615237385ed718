//! The orders ports' contract on the DynamoDB adapters: moto in server mode, tables with the
//! template's key schema, through the real SDK.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

// The contract is written once, beside the in-memory adapters' tests.
#[path = "../../shared/order-stores/tests/contract/mod.rs"]
mod contract;

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use contract::*;
use order_stores::{DynamoInventory, DynamoOrderViews, Inventory};
use orders::decisions::StockOutcome;

static TABLES: AtomicUsize = AtomicUsize::new(0);

async fn dynamo_table(partition_key: &str) -> (aws_sdk_dynamodb::Client, String) {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let name = format!(
        "{partition_key}-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::SeqCst)
    );
    moto.create_table(&config, &motoserver::TableSpec::new(&name, partition_key))
        .await
        .unwrap();
    (aws_sdk_dynamodb::Client::new(&config), name)
}

async fn dynamo_inventory() -> DynamoInventory {
    let (client, table) = dynamo_table("id").await;
    let inventory = DynamoInventory::new(client, table);
    inventory.restock("SKU-MUG", 5).await.unwrap();
    inventory.restock("SKU-TEA", 1).await.unwrap();
    inventory
}

#[tokio::test]
async fn dynamodb_reservations_are_all_or_nothing_and_once() {
    reservations_are_all_or_nothing_and_once(dynamo_inventory().await).await;
}

#[tokio::test]
async fn dynamodb_release_gives_back_exactly_the_reservation_once() {
    a_release_gives_back_exactly_the_reservation_once(dynamo_inventory().await).await;
}

#[tokio::test]
async fn dynamodb_given_a_released_reservation_when_reserved_again_then_reserved_and_no_stock_moves() {
    a_released_reservation_is_never_reserved_again(dynamo_inventory().await).await;
}

#[tokio::test]
async fn dynamodb_given_stock_reserved_when_restocked_then_available_grows_and_reserved_is_kept() {
    a_restock_adds_to_available_and_leaves_reservations_alone(dynamo_inventory().await).await;
}

#[tokio::test]
async fn dynamodb_given_a_reservation_written_before_tombstones_when_released_then_given_back_once() {
    // GIVEN a reservation item as written before tombstones: no `state`
    let (client, table) = dynamo_table("id").await;
    let inventory = DynamoInventory::new(client.clone(), table.clone());
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::S("SKU-MUG".into()))
        .item("available", AttributeValue::N("3".into()))
        .item("reserved", AttributeValue::N("2".into()))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::S("reservation#o-old".into()))
        .item("lines", AttributeValue::S(r#"[{"sku":"SKU-MUG","quantity":2}]"#.into()))
        .send()
        .await
        .unwrap();
    let order = [line("SKU-MUG", 2)];

    // WHEN it is released twice
    inventory.release("o-old", &order).await.unwrap();
    inventory.release("o-old", &order).await.unwrap();

    // THEN its stock comes back once, and it is never reserved again
    assert_eq!(stock(&inventory, "SKU-MUG").await, (5, 0));
    assert_eq!(
        inventory.reserve("o-old", &order).await.unwrap(),
        StockOutcome::Reserved
    );
    assert_eq!(stock(&inventory, "SKU-MUG").await, (5, 0));
}

#[tokio::test]
async fn dynamodb_views_are_written_only_if_unchanged_since_read() {
    let (client, table) = dynamo_table("orderId").await;
    a_view_is_written_only_if_unchanged_since_read(DynamoOrderViews::new(client, table)).await;
}

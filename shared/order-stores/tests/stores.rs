//! The same contract on both adapters: in memory, and DynamoDB on moto (tables with the
//! template's key schema).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use envelope::Envelope;
use order_stores::{
    DynamoInventory, DynamoOrderViews, InMemoryInventory, InMemoryOrderViews, Inventory, OrderViews, Saved, Stock,
};
use orders::decisions::StockOutcome;
use orders::events::{OrderPlaced, StockLine};
use orders::lifecycle::{Applied, OrderEvent, OrderView};

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

fn line(sku: &str, quantity: u32) -> StockLine {
    StockLine {
        sku: sku.into(),
        quantity,
    }
}

async fn stock(inventory: &impl Inventory, sku: &str) -> (u64, u64) {
    let Stock { available, reserved } = inventory.stock(sku).await.unwrap().unwrap();
    (available, reserved)
}

async fn reservations_are_all_or_nothing_and_once(inventory: impl Inventory) {
    let order = [line("SKU-MUG", 2), line("SKU-TEA", 1)];
    assert_eq!(inventory.reserve("o-1", &order).await.unwrap(), StockOutcome::Reserved);
    assert_eq!(
        (stock(&inventory, "SKU-MUG").await, stock(&inventory, "SKU-TEA").await),
        ((3, 2), (0, 1))
    );

    // Delivered again: reserved, and nothing moves.
    assert_eq!(inventory.reserve("o-1", &order).await.unwrap(), StockOutcome::Reserved);
    assert_eq!(stock(&inventory, "SKU-MUG").await, (3, 2));

    // Short of tea and of an unknown sku: nothing at all is reserved.
    let greedy = [line("SKU-MUG", 1), line("SKU-TEA", 1), line("SKU-GHOST", 1)];
    let outcome = inventory.reserve("o-2", &greedy).await.unwrap();
    assert_eq!(
        outcome,
        StockOutcome::OutOfStock {
            skus: vec!["SKU-TEA".into(), "SKU-GHOST".into()]
        }
    );
    assert_eq!(stock(&inventory, "SKU-MUG").await, (3, 2), "no partial reservation");
}

async fn a_release_gives_back_exactly_the_reservation_once(inventory: impl Inventory) {
    let order = [line("SKU-MUG", 2), line("SKU-TEA", 1)];
    inventory.reserve("o-1", &order).await.unwrap();
    inventory.release("o-1", &order).await.unwrap();
    assert_eq!(
        (stock(&inventory, "SKU-MUG").await, stock(&inventory, "SKU-TEA").await),
        ((5, 0), (1, 0))
    );
    inventory.release("o-1", &order).await.unwrap();
    assert_eq!(
        stock(&inventory, "SKU-MUG").await,
        (5, 0),
        "a second release gives nothing back"
    );
    inventory.release("o-never-reserved", &order).await.unwrap();
    assert_eq!(stock(&inventory, "SKU-MUG").await, (5, 0));
}

async fn a_released_reservation_is_never_reserved_again(inventory: impl Inventory) {
    // GIVEN an order reserved, then released
    let order = [line("SKU-MUG", 2), line("SKU-TEA", 1)];
    inventory.reserve("o-1", &order).await.unwrap();
    inventory.release("o-1", &order).await.unwrap();

    // WHEN its OrderPlaced is redriven and the order reserved again
    let outcome = inventory.reserve("o-1", &order).await.unwrap();

    // THEN it answers as the first reservation did, and no stock moves
    assert_eq!(outcome, StockOutcome::Reserved);
    assert_eq!(
        (stock(&inventory, "SKU-MUG").await, stock(&inventory, "SKU-TEA").await),
        ((5, 0), (1, 0))
    );
    inventory.release("o-1", &order).await.unwrap();
    assert_eq!(
        stock(&inventory, "SKU-MUG").await,
        (5, 0),
        "a release after the tombstone gives nothing back"
    );
}

async fn a_restock_adds_to_available_and_leaves_reservations_alone(inventory: impl Inventory) {
    // GIVEN stock reserved for an order
    let order = [line("SKU-MUG", 2)];
    inventory.reserve("o-1", &order).await.unwrap();
    assert_eq!(stock(&inventory, "SKU-MUG").await, (3, 2));

    // WHEN the sku is restocked by 4, and a new sku stocked
    inventory.restock("SKU-MUG", 4).await.unwrap();
    inventory.restock("SKU-NEW", 3).await.unwrap();

    // THEN available grows by 4, reserved is unchanged, the new sku is stocked
    assert_eq!(stock(&inventory, "SKU-MUG").await, (7, 2));
    assert_eq!(stock(&inventory, "SKU-NEW").await, (3, 0));

    // AND a release afterwards gives back exactly the reservation
    inventory.release("o-1", &order).await.unwrap();
    assert_eq!(stock(&inventory, "SKU-MUG").await, (9, 0));
}

fn view(sequence: u64) -> OrderView {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let placed = OrderPlaced {
        order_id: "o-1".into(),
        customer_id: "c-1".into(),
        currency: "EUR".into(),
        lines: Vec::new(),
        total: 0,
        payment_token: None,
    };
    let envelope = Envelope::new("o-1", time, placed.clone()).with_sequence(sequence);
    match OrderView::apply(None, &envelope.metadata, &OrderEvent::Placed(placed)).unwrap() {
        Applied::Updated(view) => view,
        Applied::Stale { .. } => unreachable!("a first view is never stale"),
    }
}

async fn a_view_is_written_only_if_unchanged_since_read(views: impl OrderViews) {
    assert_eq!(views.get("o-1").await.unwrap(), None);
    assert_eq!(views.save_if_unchanged(&view(1), None).await.unwrap(), Saved::Written);
    // Another writer read nothing too, or an outdated sequence: it must read again.
    assert_eq!(views.save_if_unchanged(&view(2), None).await.unwrap(), Saved::Conflict);
    assert_eq!(
        views.save_if_unchanged(&view(3), Some(2)).await.unwrap(),
        Saved::Conflict
    );
    assert_eq!(
        views.save_if_unchanged(&view(2), Some(1)).await.unwrap(),
        Saved::Written
    );
    assert_eq!(views.get("o-1").await.unwrap(), Some(view(2)));
}

#[tokio::test]
async fn in_memory_reservations_are_all_or_nothing_and_once() {
    reservations_are_all_or_nothing_and_once(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)])).await;
}

#[tokio::test]
async fn dynamodb_reservations_are_all_or_nothing_and_once() {
    reservations_are_all_or_nothing_and_once(dynamo_inventory().await).await;
}

#[tokio::test]
async fn in_memory_release_gives_back_exactly_the_reservation_once() {
    a_release_gives_back_exactly_the_reservation_once(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)]))
        .await;
}

#[tokio::test]
async fn dynamodb_release_gives_back_exactly_the_reservation_once() {
    a_release_gives_back_exactly_the_reservation_once(dynamo_inventory().await).await;
}

#[tokio::test]
async fn in_memory_given_a_released_reservation_when_reserved_again_then_reserved_and_no_stock_moves() {
    a_released_reservation_is_never_reserved_again(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)]))
        .await;
}

#[tokio::test]
async fn dynamodb_given_a_released_reservation_when_reserved_again_then_reserved_and_no_stock_moves() {
    a_released_reservation_is_never_reserved_again(dynamo_inventory().await).await;
}

#[tokio::test]
async fn in_memory_given_stock_reserved_when_restocked_then_available_grows_and_reserved_is_kept() {
    a_restock_adds_to_available_and_leaves_reservations_alone(InMemoryInventory::with_stock([
        ("SKU-MUG", 5),
        ("SKU-TEA", 1),
    ]))
    .await;
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
async fn in_memory_views_are_written_only_if_unchanged_since_read() {
    a_view_is_written_only_if_unchanged_since_read(InMemoryOrderViews::new()).await;
}

#[tokio::test]
async fn dynamodb_views_are_written_only_if_unchanged_since_read() {
    let (client, table) = dynamo_table("orderId").await;
    a_view_is_written_only_if_unchanged_since_read(DynamoOrderViews::new(client, table)).await;
}

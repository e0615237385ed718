//! What every adapter of the orders ports must do, written once and run on the in-memory
//! adapters here and on DynamoDB (moto) in `tests/tests/order_stores_dynamodb.rs`.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use chrono::{TimeZone, Utc};
use envelope::Envelope;
use order_stores::{Inventory, OrderViews, Saved, Stock};
use orders::decisions::StockOutcome;
use orders::events::{OrderPlaced, StockLine};
use orders::lifecycle::{Applied, OrderEvent, OrderView};

pub fn line(sku: &str, quantity: u32) -> StockLine {
    StockLine {
        sku: sku.into(),
        quantity,
    }
}

pub async fn stock(inventory: &impl Inventory, sku: &str) -> (u64, u64) {
    let Stock { available, reserved } = inventory.stock(sku).await.unwrap().unwrap();
    (available, reserved)
}

pub async fn reservations_are_all_or_nothing_and_once(inventory: impl Inventory) {
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

pub async fn a_release_gives_back_exactly_the_reservation_once(inventory: impl Inventory) {
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

pub async fn a_released_reservation_is_never_reserved_again(inventory: impl Inventory) {
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

pub async fn a_restock_adds_to_available_and_leaves_reservations_alone(inventory: impl Inventory) {
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

pub fn view(sequence: u64) -> OrderView {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let placed = OrderPlaced {
        order_id: "o-1".into(),
        customer: orders::events::Customer {
            id: "c-1".into(),
            contact: None,
        },
        currency: "EUR".into(),
        lines: Vec::new(),
        total: 0,
        shipping_address: None,
        payment_token: None,
    };
    let envelope = Envelope::new("o-1", time, placed.clone()).with_sequence(sequence);
    match OrderView::apply(None, &envelope.metadata, &OrderEvent::Placed(placed)).unwrap() {
        Applied::Updated(view) => view,
        Applied::Stale { .. } => unreachable!("a first view is never stale"),
    }
}

pub async fn a_view_is_written_only_if_unchanged_since_read(views: impl OrderViews) {
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
    // Every view comes back from `all`, as written (what a rebuild compares with).
    let mut other = view(1);
    other.order_id = "o-2".into();
    assert_eq!(views.save_if_unchanged(&other, None).await.unwrap(), Saved::Written);
    let mut all = views.all().await.unwrap();
    all.sort_by(|a, b| a.order_id.cmp(&b.order_id));
    assert_eq!(all, [view(2), other]);
}

//! release-inventory on its sample event: the failed order's reservation comes back, once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use handler_kit::testing::{failed_ids, function_sample, in_memory, stopped_clock};
use order_stores::{InMemoryInventory, Inventory, Stock};
use orders::events::StockLine;
use release_inventory::ReleaseInventory;

#[tokio::test]
async fn given_a_failed_payment_then_exactly_its_reservation_is_released_once() {
    let inventory = InMemoryInventory::with_stock([("SKU-RED-MUG", 10)]);
    let reserved = [StockLine {
        sku: "SKU-RED-MUG".into(),
        quantity: 1,
    }];
    inventory.reserve("o-1003", &reserved).await.unwrap();
    let clock = stopped_clock();
    let processor = in_memory("release-inventory", ReleaseInventory::new(inventory, clock));
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/release-inventory/payment-failed.sqs-eventbridge.json",
    )
    .unwrap();

    for _ in 0..2 {
        assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    }
    let (handler, _, publisher, _) = processor.parts();
    assert_eq!(
        handler.inventory().stock("SKU-RED-MUG").await.unwrap(),
        Some(Stock {
            available: 10,
            reserved: 0
        })
    );
    let released = &publisher.published()[0];
    assert_eq!(
        (released.metadata.event_type.as_str(), released.metadata.sequence),
        ("InventoryReleased", Some(4))
    );
}

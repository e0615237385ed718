//! reserve-inventory on its sample events: one order in stock, one not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use handler_kit::testing::{failed_ids, function_sample, in_memory, stopped_clock};
use order_stores::{InMemoryInventory, Inventory, Stock};
use reserve_inventory::ReserveInventory;

#[tokio::test]
async fn given_one_order_in_stock_and_one_not_then_one_is_reserved_and_one_rejected_naming_the_sku() {
    let clock = stopped_clock();
    let stock = InMemoryInventory::with_stock([("SKU-RED-MUG", 10), ("SKU-TEA-100G", 10), ("SKU-LAMP", 0)]);
    let processor = in_memory("reserve-inventory", ReserveInventory::new(stock, clock));
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/reserve-inventory/order-placed.sqs-eventbridge.json",
    )
    .unwrap();

    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    // Every message delivered twice: nothing is reserved twice.
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());

    let (handler, _, publisher, _) = processor.parts();
    let published = publisher.published();
    assert_eq!(published[0].metadata.event_type, "InventoryReserved");
    assert_eq!(published[0].data["paymentToken"], "tok_approve");
    assert_eq!(published[1].metadata.event_type, "OrderRejected");
    assert_eq!(published[1].data["skus"], serde_json::json!(["SKU-LAMP"]));
    assert_eq!(
        handler.inventory().stock("SKU-RED-MUG").await.unwrap(),
        Some(Stock {
            available: 8,
            reserved: 2
        })
    );
}

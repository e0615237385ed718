//! order-projection on its sample: a batch with events out of order and a duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use handler_kit::testing::{failed_ids, function_sample, in_memory};
use order_projection::OrderProjection;
use order_stores::{InMemoryOrderViews, OrderViews};
use orders::lifecycle::OrderStatus;

#[tokio::test]
async fn given_events_out_of_order_with_a_duplicate_then_each_view_ends_at_its_newest_event() {
    let processor = in_memory("order-projection", OrderProjection::new(InMemoryOrderViews::new()));
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/order-projection/order-events.sqs-eventbridge.json",
    )
    .unwrap();

    for _ in 0..2 {
        assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    }
    let views = processor.parts().0.views();
    let shipped = views.get("o-1001").await.unwrap().unwrap();
    assert_eq!((shipped.status, shipped.sequence), (OrderStatus::Shipped, 4));
    assert!(shipped.tracking.unwrap().starts_with("DHL"));
    let cancelled = views.get("o-1003").await.unwrap().unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.reason.as_deref(), Some("card declined"));
    assert!(
        processor.parts().2.published().is_empty(),
        "a projection publishes nothing"
    );
    assert!(processor.parts().3.parked().is_empty());
}

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

#[tokio::test]
async fn given_the_events_the_projection_saw_when_rebuilt_from_the_store_then_the_views_equal_and_a_drifted_view_is_named()
 {
    use event_store::{EventStore, InMemoryEventStore, StoredEvent};
    let processor = in_memory("order-projection", OrderProjection::new(InMemoryOrderViews::new()));
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/order-projection/order-events.sqs-eventbridge.json",
    )
    .unwrap();
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    let store = InMemoryEventStore::new();
    for record in envelope::Decoder::new().decode_sqs(&event) {
        store
            .append(&StoredEvent::new(record.envelope.unwrap(), chrono::Utc::now()))
            .await
            .unwrap();
    }
    let live = processor.parts().0.views();

    let fresh = InMemoryOrderViews::new();
    let rebuilt = order_projection::rebuild(&store, &fresh, live).await.unwrap();
    assert_eq!(
        (rebuilt.orders, rebuilt.events),
        (2, 8),
        "the duplicate was stored once"
    );
    assert!(rebuilt.differences.is_empty(), "{:?}", rebuilt.differences);
    assert_eq!(fresh.get("o-1001").await.unwrap(), live.get("o-1001").await.unwrap());

    // A live view that drifted (a bug fixed since) is named, field by field.
    let mut drifted = live.get("o-1003").await.unwrap().unwrap();
    let revision = drifted.timeline.len();
    drifted.reason = None;
    drifted.timeline.push(drifted.timeline[0].clone());
    live.save_if_unchanged(&drifted, Some(revision)).await.unwrap();
    let again = order_projection::rebuild(&store, &InMemoryOrderViews::new(), live)
        .await
        .unwrap();
    assert_eq!(again.differences.len(), 1, "{:?}", again.differences);
    assert!(
        again.differences[0].starts_with("o-1003: reason live absent rebuilt \"card declined\"; timeline"),
        "{}",
        again.differences[0]
    );
    // A live view behind the store (its projection lags) is told apart from a difference.
    let behind = InMemoryOrderViews::new();
    let mut early = fresh.get("o-1001").await.unwrap().unwrap();
    early.sequence = 2;
    early.timeline.truncate(2);
    behind.save_if_unchanged(&early, None).await.unwrap();
    let lagging = order_projection::rebuild(&store, &InMemoryOrderViews::new(), &behind)
        .await
        .unwrap();
    assert_eq!(lagging.lagging, ["o-1001: live at sequence 2, the store at 4"]);
    assert_eq!(lagging.differences, ["o-1003: not in the live view"]);

    let not_fresh = order_projection::rebuild(&store, &fresh, live).await.unwrap_err();
    assert!(not_fresh.to_string().contains("fresh table"), "{not_fresh}");
}

//! event-archive on its sample: events of both domains, a replayed copy and a conflict.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::Arc;

use event_archive::EventArchive;
use event_store::{EventStore, InMemoryEventStore};
use handler_kit::aggregate::BatchProcessor;
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::testing::{function_sample, invocation, stopped_clock};

#[tokio::test]
async fn given_events_of_both_domains_a_replayed_copy_and_a_conflict_then_each_is_kept_once_as_sent_and_the_conflict_is_parked_with_both_ids()
 {
    let store = Arc::new(InMemoryEventStore::new());
    let processor = BatchProcessor::new(
        "event-archive",
        EventArchive::new(Arc::clone(&store), stopped_clock()),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    );
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "archive/event-archive/every-domain.sqs-eventbridge.json",
    )
    .unwrap();

    for _ in 0..2 {
        let response = processor.process_sqs(&event, &invocation()).await.unwrap();
        assert!(
            response.batch_item_failures.is_empty(),
            "a conflict is parked, not retried"
        );
    }

    assert_eq!(
        store.len(),
        2,
        "the order event once (its replayed copy is the same event), the anomaly once"
    );
    let order = store.stream("shop.orders#o-0999").await.unwrap();
    assert_eq!(order.len(), 1);
    let kept = &order[0].envelope;
    assert_eq!(kept.metadata.version, 1, "kept as sent, not upcast");
    assert_eq!(kept.metadata.replay, None, "the replay marker is not part of the event");
    assert!(kept.data.get("items").is_some(), "v1 data as sent");
    assert_eq!(store.stream("iot.sensors#s-berlin-2").await.unwrap().len(), 1);

    let parked = processor.parts().2.parked();
    assert_eq!(parked.len(), 2, "the conflict, once per delivery");
    let reason = &parked[0].reason;
    assert!(
        reason.contains("6a1f2e3d-4c5b-4a69-8877-665544332211")
            && reason.contains("7b2e3f4a-5d6c-4b7a-9988-776655443322"),
        "{reason}"
    );
    assert!(reason.contains("shop.orders#o-0999"), "{reason}");
}

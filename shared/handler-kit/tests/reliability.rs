//! What review found the processor got wrong against AWS's semantics, one test per defect:
//! completed work is never parked or lost, a redelivery does not tell anyone twice, the
//! invocation answers before its deadline, a panic fails one record, FIFO output order holds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::sync::Arc;
use std::time::Duration;

use envelope::{Envelope, EventType, Location, Registry, Upcaster};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{HandlerError, Invocation, RecordHandler, RecordProcessor};
use idempotency::{Idempotency, InMemoryStore, Status, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use common::*;

fn subjects(publisher: &InMemoryPublisher) -> Vec<String> {
    publisher
        .published()
        .iter()
        .map(|e| e.metadata.subject.clone())
        .collect()
}

#[tokio::test]
async fn given_outputs_too_large_to_store_when_handled_then_they_are_published_and_a_duplicate_sends_nothing() {
    // Two outputs of 210 KB: their result is over DynamoDB's 400 KB item limit.
    let processor = processor();
    let event = batch(&["o-huge"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    let (handler, idempotency, publisher, parking) = processor.parts();
    assert!(response.batch_item_failures.is_empty());
    assert!(parking.parked().is_empty(), "completed work is never parked");
    assert_eq!(publisher.published().len(), 2, "both outputs went out");

    let record = &idempotency.store().records()[0];
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.result, None, "too large to keep");
    assert_eq!(
        record.result_digest.as_ref().map(String::len),
        Some(64),
        "its digest is kept"
    );
    assert!(record.delivered);

    // THEN a redelivery is recognised: nothing runs, nothing is sent, nothing is parked.
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(handler.runs("o-huge"), 1);
    assert_eq!(publisher.published().len(), 2);
    assert!(parking.parked().is_empty());
}

#[tokio::test]
async fn given_outputs_too_large_to_store_and_publishing_fails_then_the_record_is_retried_and_runs_again() {
    let processor = processor();
    let (handler, idempotency, publisher, parking) = processor.parts();
    publisher.set_failing(true);
    let event = batch(&["o-huge"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-huge"]);
    assert!(parking.parked().is_empty());
    assert!(
        idempotency.store().records().is_empty(),
        "what cannot be kept or sent frees its key"
    );

    publisher.set_failing(false);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(handler.runs("o-huge"), 2, "the work ran again to recover its outputs");
    assert_eq!(publisher.published().len(), 2);
}

#[tokio::test]
async fn given_a_handled_record_when_redelivered_then_its_outputs_are_not_sent_again() {
    let processor = processor();
    let event = batch(&["o-1", "o-2"]);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    processor.process_sqs(&event, &invocation()).await.unwrap();
    processor.process_sqs(&event, &invocation()).await.unwrap();
    let (handler, _, publisher, _) = processor.parts();
    assert_eq!(subjects(publisher), ["o-1", "o-2"], "told once");
    assert_eq!((handler.runs("o-1"), handler.runs("o-2")), (1, 1));
}

#[tokio::test]
async fn given_outputs_that_failed_to_go_out_when_redelivered_then_they_are_sent_once_and_marked_delivered() {
    let processor = processor();
    let (handler, idempotency, publisher, _) = processor.parts();
    let event = batch(&["o-1"]);
    publisher.set_failing(true);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-1"]);
    assert!(
        !idempotency.store().records()[0].delivered,
        "recorded as done, not delivered"
    );

    publisher.set_failing(false);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(idempotency.store().records()[0].delivered);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(subjects(publisher), ["o-1"], "sent by the first redelivery only");
    assert_eq!(handler.runs("o-1"), 1, "the work ran once");
}

#[tokio::test(start_paused = true)]
async fn given_3s_left_a_900ms_handler_and_a_2500ms_publisher_then_the_processor_answers_in_time_naming_the_retries() {
    let processor = processor();
    let (handler, idempotency, publisher, _) = processor.parts();
    publisher.set_latency(Duration::from_millis(2500));
    let event = batch(&["o-work1", "o-work2", "o-invalid"]);
    let started = Instant::now();
    let invocation = Invocation::with_remaining("req-1", Duration::from_secs(3));

    let response = processor.process_sqs(&event, &invocation).await.unwrap();

    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "answered after {took:?}, past the deadline"
    );
    assert_eq!(failed_ids(&response), ["m-o-work1", "m-o-work2"]);
    // The work is recorded as done but not delivered: the retry publishes without re-running.
    publisher.set_latency(Duration::ZERO);
    let response = processor.process_sqs(&event, &invocation_with_time()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((handler.runs("o-work1"), handler.runs("o-work2")), (1, 1));
    assert!(idempotency.store().records().iter().all(|r| r.delivered));
}

fn invocation_with_time() -> Invocation {
    Invocation::with_remaining("req-2", Duration::from_secs(30))
}

#[tokio::test(start_paused = true)]
async fn given_parking_that_hangs_then_the_processor_answers_in_time_and_retries_the_record() {
    struct HangingParking;
    impl handler_kit::publish::Parking for HangingParking {
        async fn park(
            &self,
            _: &[handler_kit::publish::ParkedMessage],
        ) -> Result<(), handler_kit::publish::PublishError> {
            std::future::pending().await
        }
    }
    let processor = RecordProcessor::new(
        "reserve-inventory",
        ReserveInventory::default(),
        Idempotency::new("reserve-inventory", InMemoryStore::new()),
        InMemoryPublisher::new(),
        HangingParking,
    );
    let started = Instant::now();
    let invocation = Invocation::with_remaining("req-1", Duration::from_secs(5));
    let response = processor
        .process_sqs(&batch(&["o-invalid", "o-ok"]), &invocation)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failed_ids(&response), ["m-o-invalid"]);
}

#[tokio::test]
async fn given_a_handler_that_panics_on_one_record_of_ten_then_only_that_record_is_retried() {
    let processor = processor();
    let orders = ["o-0", "o-1", "o-2", "o-3", "o-panic", "o-5", "o-6", "o-7", "o-8", "o-9"];
    let response = processor.process_sqs(&batch(&orders), &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-panic"]);
    let (_, idempotency, publisher, parking) = processor.parts();
    assert_eq!(
        publisher.published().len(),
        9,
        "the other nine are answered and published"
    );
    assert!(parking.parked().is_empty());
    assert_eq!(
        idempotency.store().records().len(),
        9,
        "the panicking record's key is released, so its retry runs"
    );
}

#[test]
fn the_profile_the_functions_ship_with_unwinds_so_a_panic_can_be_caught() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap();
    assert!(
        release.lines().any(|l| l.replace(' ', "") == "panic=\"unwind\""),
        "[profile.release] must set panic = \"unwind\": with abort a panicking record kills the whole batch\n{release}"
    );
}

fn fifo(
    mut event: aws_lambda_events::event::sqs::SqsEvent,
    groups: &[&str],
) -> aws_lambda_events::event::sqs::SqsEvent {
    for (record, group) in event.records.iter_mut().zip(groups) {
        record.event_source_arn = Some("arn:aws:sqs:eu-west-1:123456789012:orders.fifo".into());
        record.attributes.insert("MessageGroupId".into(), (*group).into());
    }
    event
}

#[tokio::test]
async fn given_a_fifo_batch_and_a_bus_that_throttles_the_first_entry_once_then_its_group_stops_and_order_is_kept() {
    let processor = processor();
    let (handler, _, publisher, _) = processor.parts();
    publisher.throttle_first_entry(1);
    let event = fifo(
        batch(&["o-a1", "o-a2", "o-a3", "o-b1", "o-b2"]),
        &["a", "a", "a", "b", "b"],
    );

    let response = processor.process_sqs(&event, &invocation()).await.unwrap();

    // o-a1's output was throttled: group a stops there; o-a2 and o-a3 are not published.
    assert_eq!(failed_ids(&response), ["m-o-a1", "m-o-a2", "m-o-a3"]);
    assert_eq!(subjects(publisher), ["o-b1", "o-b2"], "group b went on, in order");

    // The redelivery publishes group a in record order, without running its work again.
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(subjects(publisher), ["o-b1", "o-b2", "o-a1", "o-a2", "o-a3"]);
    assert_eq!(
        (handler.runs("o-a1"), handler.runs("o-a2"), handler.runs("o-a3")),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn given_a_fifo_group_that_fails_after_a_later_record_was_parked_then_that_record_is_parked_once() {
    let processor = processor();
    let (_, _, publisher, parking) = processor.parts();
    publisher.throttle_first_entry(1);
    let mut event = fifo(batch(&["o-a1", "o-a2"]), &["a", "a"]);
    event.records[1].body = Some("{not json".into());

    // o-a1's output is throttled, so group a failed; o-a2 cannot be read and was parked.
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-a1"], "the parked record is not sent back");
    assert_eq!(parking.parked().len(), 1);

    // SQS redelivers o-a1 alone: nothing is parked again.
    let mut redelivered = event.clone();
    redelivered.records.truncate(1);
    let response = processor.process_sqs(&redelivered, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(parking.parked().len(), 1, "parked once");
    assert_eq!(subjects(publisher), ["o-a1"]);
}

#[tokio::test]
async fn given_a_fifo_batch_then_each_publish_carries_at_most_one_output_per_group() {
    let processor = processor();
    let event = fifo(batch(&["o-a1", "o-a2", "o-b1"]), &["a", "a", "b"]);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    let publisher = processor.parts().2;
    // Round 1: a1 and b1; round 2: a2. A retried a1 can never be overtaken by a2.
    assert_eq!(publisher.calls(), 2);
    assert_eq!(subjects(publisher), ["o-a1", "o-b1", "o-a2"]);
}

/// `Charged` at version 1 (`amount_cents`) and at version 2 (`amount` with a currency).
#[derive(Debug, Serialize, Deserialize)]
struct ChargedV1 {
    order_id: String,
    amount_cents: u64,
}
impl EventType for ChargedV1 {
    const TYPE: &'static str = "Charged";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.payments";
}
#[derive(Debug, Serialize, Deserialize)]
struct ChargedV2 {
    order_id: String,
    amount: Value,
}
impl EventType for ChargedV2 {
    const TYPE: &'static str = "Charged";
    const VERSION: u32 = 2;
    const SOURCE: &'static str = "shop.payments";
    const UPCASTERS: &'static [Upcaster] = &[|mut data| {
        let cents = data["amount_cents"].take();
        Ok(json!({ "order_id": data["order_id"].take(), "amount": { "cents": cents, "currency": "EUR" } }))
    }];
}

/// Records the charges it sees, registered at version 1 or 2.
struct Ship {
    version: u32,
}
impl RecordHandler for Ship {
    fn event_types(&self) -> Registry {
        match self.version {
            1 => Registry::new().register::<ChargedV1>(),
            _ => Registry::new().register::<ChargedV2>(),
        }
    }
    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        if self.version == 2 {
            event.into_typed::<ChargedV2>(&Location::root())?;
        }
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn given_a_v1_event_handled_when_redelivered_after_an_upcaster_to_v2_was_deployed_then_it_is_a_duplicate() {
    let store = Arc::new(InMemoryStore::new());
    let deployed = |version| {
        RecordProcessor::new(
            "ship-order",
            Ship { version },
            Idempotency::new("ship-order", store.clone()),
            InMemoryPublisher::new(),
            InMemoryParking::new(),
        )
    };
    let charged = ChargedV1 {
        order_id: "o-1".into(),
        amount_cents: 1250,
    };
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .unwrap()
        .to_utc();
    let v1 = Envelope::new("o-1", time, charged).to_untyped().unwrap();
    let event = batch_of(&[v1]);

    let before = deployed(1);
    assert!(
        before
            .process_sqs(&event, &invocation())
            .await
            .unwrap()
            .batch_item_failures
            .is_empty()
    );

    let after = deployed(2);
    let response = after.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert!(
        after.parts().3.parked().is_empty(),
        "a redelivery of the same v1 message is a duplicate, not a payload mismatch: {:?}",
        after.parts().3.parked()
    );
    assert_eq!(store.records().len(), 1);
    assert!(store.get(&store.records()[0].key).await.unwrap().is_some());
}

#[tokio::test]
async fn given_a_whole_publish_failing_for_now_then_no_completed_record_is_parked() {
    let processor = processor();
    let (_, _, publisher, parking) = processor.parts();
    publisher.set_failing(true);
    let orders: Vec<String> = (0..10).map(|i| format!("o-{i}")).collect();
    let event = batch(&orders.iter().map(String::as_str).collect::<Vec<_>>());
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 10, "all retried");
    assert!(parking.parked().is_empty(), "nothing whose effects happened is parked");
    assert_eq!(processor.parts().2.calls(), 1, "one publish call for the whole batch");
}

#[tokio::test]
async fn given_one_message_delivered_twice_in_a_batch_then_both_copies_end_as_one_without_waiting() {
    let processor = processor();
    let mut event = batch(&["o-1", "o-2"]);
    let mut copy = event.records[0].clone();
    copy.message_id = Some("m-o-1-again".into());
    event.records.push(copy);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(
        response.batch_item_failures.is_empty(),
        "the copy is not turned away as in progress: {:?}",
        failed_ids(&response)
    );
    let (handler, _, publisher, _) = processor.parts();
    assert_eq!(handler.runs("o-1"), 1);
    assert_eq!(subjects(publisher), ["o-1", "o-2"]);
}

#[tokio::test]
async fn given_a_fifo_group_holding_two_copies_of_one_event_then_the_group_is_not_blocked() {
    let processor = processor();
    let mut event = batch(&["o-a1", "o-a2"]);
    let mut copy = event.records[0].clone();
    copy.message_id = Some("m-o-a1-again".into());
    event.records.insert(1, copy);
    let event = fifo(event, &["a", "a", "a"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{:?}", failed_ids(&response));
    assert_eq!(subjects(processor.parts().2), ["o-a1", "o-a2"]);
}

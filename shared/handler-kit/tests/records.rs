//! Batch processing on in-memory adapters: exact batch item failures, parking with reasons,
//! duplicates not re-run, FIFO groups, the deadline, publishing and parking failures, direct
//! EventBridge and SNS events, bounded concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use envelope::encode::AwsContext;
use envelope::{Carrier, Envelope, Registry};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{HandlerError, Invocation, Limits, RecordHandler, RecordProcessor};
use idempotency::{Idempotency, InMemoryStore};
use serde_json::Value;

use common::*;

#[tokio::test]
async fn given_a_mixed_batch_then_exactly_the_transient_failure_is_retried_and_permanent_ones_are_parked() {
    let processor = processor();
    processor.process_sqs(&batch(&["o-dup"]), &invocation()).await.unwrap();

    let mut event = batch(&["o-ok", "o-timeout", "o-invalid", "o-dup"]);
    let mut malformed = SqsMessage::default();
    malformed.message_id = Some("m-malformed".into());
    malformed.body = Some("{\"detail-type\": \"OrderPlaced\", ".into());
    event.records.push(malformed);

    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-timeout"]);

    let (handler, _, publisher, parking) = processor.parts();
    assert_eq!(handler.runs("o-dup"), 1, "a duplicate is not re-run");
    let parked = parking.parked();
    let by_id: HashMap<_, _> = parked.iter().map(|p| (p.message_id.clone().unwrap(), p)).collect();
    assert_eq!(by_id.len(), 2);
    assert_eq!(by_id["m-o-invalid"].kind, "invalid-order");
    assert!(by_id["m-o-invalid"].reason.contains("order has no lines"));
    assert_eq!(
        &by_id["m-o-invalid"].body,
        event.records[2].body.as_ref().unwrap(),
        "the original body"
    );
    assert_eq!(by_id["m-malformed"].kind, "malformed-json");
    assert!(
        by_id["m-malformed"].reason.contains("Records[4].body"),
        "{}",
        by_id["m-malformed"].reason
    );
    assert_eq!(by_id["m-malformed"].function, "reserve-inventory");

    // o-ok's reservation goes out; o-dup's went out the first time and is not sent again.
    let published: Vec<String> = publisher
        .published()
        .iter()
        .map(|e| e.metadata.subject.clone())
        .collect();
    assert_eq!(published, ["o-dup", "o-ok"]);
    assert_eq!(publisher.calls(), 2, "one publish per batch");
}

#[tokio::test]
async fn given_a_fifo_batch_then_a_group_stops_at_its_first_failure_and_other_groups_go_on() {
    let processor = processor();
    let mut event = batch(&["o-a1", "o-timeout", "o-a3", "o-b1", "o-b2"]);
    for (record, group) in event.records.iter_mut().zip(["a", "a", "a", "b", "b"]) {
        record.event_source_arn = Some("arn:aws:sqs:eu-west-1:123456789012:orders.fifo".into());
        record.attributes.insert("MessageGroupId".into(), group.into());
    }
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-timeout", "m-o-a3"]);
    let (handler, ..) = processor.parts();
    assert_eq!(handler.runs("o-a3"), 0, "not started after its group failed");
    assert_eq!((handler.runs("o-b1"), handler.runs("o-b2")), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn given_the_deadline_approaches_then_records_not_started_are_reported_failed() {
    let processor = processor().with_limits(Limits {
        concurrency: 1,
        deadline_margin: Duration::from_secs(1),
    });
    // One record a second, 3.5 s left, 1 s margin: two finish; the third starts with 1.5 s
    // left and is stopped at the margin (it could not finish); the last two never start.
    let event = batch(&["o-slow1", "o-slow2", "o-slow3", "o-slow4", "o-slow5"]);
    let invocation = Invocation::with_remaining("req-1", Duration::from_millis(3500));
    let response = processor.process_sqs(&event, &invocation).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-slow3", "m-o-slow4", "m-o-slow5"]);
    assert_eq!(
        (processor.parts().0.runs("o-slow4"), processor.parts().0.runs("o-slow5")),
        (0, 0)
    );
    assert_eq!(
        processor.parts().2.published().len(),
        2,
        "the two that finished published"
    );
}

#[tokio::test(start_paused = true)]
async fn given_a_record_that_would_run_past_the_deadline_then_it_is_stopped_and_the_others_still_answer() {
    let processor = processor().with_limits(Limits {
        concurrency: 2,
        deadline_margin: Duration::from_millis(500),
    });
    // o-slow1 takes a second; only 0.8 s are left: it is stopped at 0.3 s, o-ok goes through.
    let event = batch(&["o-slow1", "o-ok"]);
    let invocation = Invocation::with_remaining("req-1", Duration::from_millis(800));
    let response = processor.process_sqs(&event, &invocation).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-slow1"]);
    assert_eq!(processor.parts().2.published().len(), 1, "o-ok's output still went out");
}

#[tokio::test]
async fn given_publishing_fails_then_the_records_are_retried_and_the_retry_republishes_without_rerunning() {
    let processor = processor();
    let (handler, _, publisher, _) = processor.parts();
    publisher.set_failing(true);
    let event = batch(&["o-1", "o-2"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-1", "m-o-2"]);

    publisher.set_failing(false);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!((handler.runs("o-1"), handler.runs("o-2")), (1, 1), "effects ran once");
    assert_eq!(publisher.published().len(), 2);
}

#[tokio::test]
async fn given_an_output_the_bus_refuses_for_good_then_its_record_is_parked_not_retried() {
    let processor = processor();
    processor.parts().2.refuse("InventoryReserved");
    let response = processor.process_sqs(&batch(&["o-1"]), &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let parked = processor.parts().3.parked();
    assert_eq!(parked[0].kind, "output-refused");
    assert!(parked[0].reason.contains("MalformedDetail"), "{}", parked[0].reason);
}

#[tokio::test]
async fn given_parking_fails_then_the_record_is_retried_not_lost() {
    let processor = processor();
    processor.parts().3.set_failing(true);
    let response = processor
        .process_sqs(&batch(&["o-invalid", "o-ok"]), &invocation())
        .await
        .unwrap();
    assert_eq!(failed_ids(&response), ["m-o-invalid"]);
}

#[tokio::test]
async fn direct_eventbridge_and_sns_events_use_the_same_decoding_and_idempotency() {
    let processor = processor();
    let aws = AwsContext::default();
    let event = Carrier::EventBridge.wrap(&[placed("o-eb")], &aws).unwrap().remove(0);
    processor
        .process_eventbridge(serde_json::from_value(event.clone()).unwrap(), &invocation())
        .await
        .unwrap();
    processor
        .process_eventbridge(serde_json::from_value(event).unwrap(), &invocation())
        .await
        .unwrap();
    assert_eq!(processor.parts().0.runs("o-eb"), 1);

    let sns = Carrier::Sns.wrap(&[placed("o-timeout")], &aws).unwrap().remove(0);
    let err = processor
        .process_sns(&serde_json::from_value(sns).unwrap(), &invocation())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the inventory table timed out"), "{err}");
}

#[tokio::test]
async fn handlers_run_concurrently_up_to_the_limit() {
    struct Gauge {
        now: AtomicUsize,
        peak: AtomicUsize,
    }
    impl RecordHandler for Gauge {
        fn event_types(&self) -> Registry {
            Registry::new().register::<OrderPlaced>()
        }
        async fn handle(&self, _: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(Vec::new())
        }
    }
    let gauge = Gauge {
        now: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
    };
    let processor = RecordProcessor::new(
        "gauge",
        gauge,
        Idempotency::new("gauge", InMemoryStore::new()),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
    .with_limits(Limits {
        concurrency: 4,
        deadline_margin: Duration::from_secs(1),
    });
    let orders: Vec<String> = (0..12).map(|i| format!("o-{i}")).collect();
    let event = batch(&orders.iter().map(String::as_str).collect::<Vec<_>>());
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(processor.parts().0.peak.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn what_a_rule_or_topic_invokes_goes_on_in_the_invocations_trace_unless_it_names_its_own() {
    let processor = processor();
    let aws = AwsContext::default();
    let lambda = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let invocation = invocation().in_trace(Some(lambda));
    let untraced = Carrier::EventBridge
        .wrap(&[placed("o-untraced")], &aws)
        .unwrap()
        .remove(0);
    let own = envelope::TraceContext {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        tracestate: None,
    };
    let mut own_traced = placed("o-traced");
    own_traced.metadata.trace = Some(own.clone());
    let traced = Carrier::Sns.wrap(&[own_traced], &aws).unwrap().remove(0);
    processor
        .process_eventbridge(serde_json::from_value(untraced).unwrap(), &invocation)
        .await
        .unwrap();
    processor
        .process_sns(&serde_json::from_value(traced).unwrap(), &invocation)
        .await
        .unwrap();

    let traces: HashMap<String, String> = processor
        .parts()
        .2
        .published()
        .into_iter()
        .map(|e| (e.metadata.subject, e.metadata.trace.unwrap().traceparent))
        .collect();
    assert_eq!(
        traces["o-untraced"],
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    );
    assert_eq!(traces["o-traced"], own.traceparent);
}

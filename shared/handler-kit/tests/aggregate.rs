//! Aggregating functions: one decision per batch, outputs published before the state is
//! committed, the same per-record failure reporting as per-record handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use envelope::{Envelope, EventType, Registry};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{BatchHandler, BatchProcessor, Decision, HandlerError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use common::{OrderPlaced, batch_of, failed_ids, invocation, uuid_of};

/// A total per customer: what the aggregate decides.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TotalChanged {
    customer: String,
    total: usize,
}
impl EventType for TotalChanged {
    const TYPE: &'static str = "TotalChanged";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "test.totals";
}

/// Counts orders per customer (the order id's first letter), each order once.
#[derive(Default)]
struct Totals {
    committed: Mutex<BTreeMap<String, BTreeSet<String>>>,
    commits: AtomicUsize,
    conflict_once: AtomicBool,
}

type Pending = BTreeMap<String, BTreeSet<String>>;

impl Totals {
    fn decided(&self, events: &[Envelope<Value>]) -> Decision<Pending> {
        let mut state = self.committed.lock().unwrap().clone();
        let mut touched = BTreeSet::new();
        let mut records = Vec::new();
        for event in events {
            let order = event.data["order_id"].as_str().unwrap_or_default().to_owned();
            if order == "o-flaky" {
                records.push(Err(HandlerError::transient("flaky", "not this time")));
                continue;
            }
            if order == "o-refused" {
                records.push(Err(HandlerError::permanent(
                    "refused",
                    "this order can never be counted",
                )));
                continue;
            }
            let customer = order.chars().nth(2).map(String::from).unwrap_or_default();
            state.entry(customer.clone()).or_default().insert(order);
            touched.insert(customer);
            records.push(Ok(()));
        }
        let outputs = touched
            .iter()
            .map(|customer| {
                let total = state[customer].len();
                let id = uuid_of(&format!("{customer}#{total}"));
                Envelope::with_id(
                    id,
                    customer,
                    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
                    TotalChanged {
                        customer: customer.clone(),
                        total,
                    },
                )
                .to_untyped()
                .unwrap()
            })
            .collect();
        Decision {
            records,
            outputs,
            pending: state,
        }
    }
}

impl BatchHandler for Totals {
    type Pending = Pending;

    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }

    async fn decide(&self, events: Vec<Envelope<Value>>) -> Result<Decision<Pending>, HandlerError> {
        Ok(self.decided(&events))
    }

    async fn tick(&self, _now: chrono::DateTime<Utc>) -> Result<Decision<Pending>, HandlerError> {
        Ok(self.decided(&[]))
    }

    async fn commit(&self, pending: Pending) -> Result<(), HandlerError> {
        if self.conflict_once.swap(false, Ordering::SeqCst) {
            return Err(HandlerError::transient("conflict", "another invocation wrote first"));
        }
        *self.committed.lock().unwrap() = pending;
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn processor() -> BatchProcessor<Totals, InMemoryPublisher, InMemoryParking> {
    BatchProcessor::new(
        "totals",
        Totals::default(),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
}

fn totals(publisher: &InMemoryPublisher) -> Vec<(String, u64)> {
    publisher
        .published()
        .iter()
        .map(|e| {
            (
                e.data["customer"].as_str().unwrap().to_owned(),
                e.data["total"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn orders(ids: &[&str]) -> aws_lambda_events::event::sqs::SqsEvent {
    batch_of(&ids.iter().map(|id| common::placed(id)).collect::<Vec<_>>())
}

#[tokio::test]
async fn given_a_batch_then_one_decision_publishes_its_outputs_then_commits_once() {
    let processor = processor();
    let response = processor
        .process_sqs(&orders(&["o-a1", "o-a2", "o-b1"]), &invocation())
        .await
        .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let (handler, publisher, _) = processor.parts();
    assert_eq!(
        totals(publisher),
        [("a".into(), 2), ("b".into(), 1)],
        "one output per customer touched"
    );
    assert_eq!(handler.commits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn given_publishing_fails_then_nothing_is_committed_and_the_redelivery_sends_the_same_outputs() {
    let processor = processor();
    let (handler, publisher, _) = processor.parts();
    publisher.set_failing(true);
    let event = orders(&["o-a1", "o-a2"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-a1", "m-o-a2"]);
    assert_eq!(
        handler.commits.load(Ordering::SeqCst),
        0,
        "state not written before its outputs went out"
    );

    publisher.set_failing(false);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    processor.process_sqs(&event, &invocation()).await.unwrap();
    let published = publisher.published();
    assert_eq!(
        totals(publisher),
        [("a".into(), 2), ("a".into(), 2)],
        "counted once, however often delivered"
    );
    assert_eq!(
        published[0].metadata.id, published[1].metadata.id,
        "the same decision, the same id"
    );
}

#[tokio::test]
async fn given_a_commit_that_conflicts_then_the_batch_comes_back_and_converges() {
    let processor = processor();
    let (handler, publisher, _) = processor.parts();
    handler.conflict_once.store(true, Ordering::SeqCst);
    let event = orders(&["o-a1"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-a1"]);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(handler.commits.load(Ordering::SeqCst), 1);
    assert_eq!(totals(publisher), [("a".into(), 1), ("a".into(), 1)]);
}

#[tokio::test]
async fn given_a_record_refused_for_good_or_unreadable_then_it_alone_is_parked_with_its_reason() {
    let processor = processor();
    let mut event = orders(&["o-a1", "o-refused"]);
    let mut malformed = event.records[0].clone();
    malformed.message_id = Some("m-malformed".into());
    malformed.body = Some("{\"detail-type\": ".into());
    event.records.push(malformed);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let parked = processor.parts().2.parked();
    let kinds: Vec<(&str, &str)> = parked
        .iter()
        .map(|p| (p.message_id.as_deref().unwrap(), p.kind.as_str()))
        .collect();
    assert_eq!(kinds, [("m-o-refused", "refused"), ("m-malformed", "malformed-json")]);
    assert_eq!(totals(processor.parts().1), [("a".into(), 1)]);
}

#[tokio::test]
async fn given_a_fifo_batch_when_a_record_is_retried_then_the_rest_of_its_group_comes_back_with_it() {
    let batch = || {
        let mut event = orders(&["o-a1", "o-flaky", "o-a2"]);
        for record in &mut event.records {
            record.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:alerts.fifo".into());
            record.attributes.insert("MessageGroupId".into(), "alerts".into());
        }
        event
    };
    let failed = |event| async move {
        let response = processor().process_sqs(&event, &invocation()).await.unwrap();
        response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        failed(batch()).await,
        ["m-o-flaky", "m-o-a2"],
        "o-a2 must not overtake o-flaky"
    );
    let mut standard = batch();
    for record in &mut standard.records {
        record.event_source_arn = Some("arn:aws:sqs:us-east-1:000000000000:alerts".into());
    }
    assert_eq!(failed(standard).await, ["m-o-flaky"], "a standard queue keeps no order");
}

#[tokio::test]
async fn given_a_tick_then_what_time_decides_is_published_and_committed() {
    let processor = processor();
    processor.process_tick(Utc::now(), &invocation()).await.unwrap();
    assert_eq!(processor.parts().0.commits.load(Ordering::SeqCst), 1);
    processor.parts().1.set_failing(true);
    processor.process_sqs(&orders(&["o-a1"]), &invocation()).await.unwrap();
    assert!(processor.parts().1.published().is_empty());
}

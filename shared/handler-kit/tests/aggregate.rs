//! Aggregating functions: one decision per batch, its state committed with its outputs in an
//! outbox before they are published, the same per-record failure reporting as per-record
//! handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use envelope::{Envelope, EventType, Registry};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{BatchHandler, BatchProcessor, HandlerError, Settled};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

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

/// Counts orders per customer (the order id's first letter), each order once; a changed total
/// goes in the outbox with the state.
#[derive(Default)]
struct Totals {
    committed: Mutex<State>,
    commits: AtomicUsize,
    fail_commit_once: AtomicBool,
}

#[derive(Debug, Clone, Default)]
struct State {
    orders: BTreeMap<String, BTreeSet<String>>,
    /// Customer -> total committed but not known to have gone out.
    outbox: BTreeMap<String, usize>,
}

fn total_changed(customer: &str, total: usize) -> Envelope<Value> {
    let id = uuid_of(&format!("{customer}#{total}"));
    Envelope::with_id(
        id,
        customer,
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        TotalChanged {
            customer: customer.to_owned(),
            total,
        },
    )
    .to_untyped()
    .unwrap()
}

impl Totals {
    fn settled(&self, events: &[Envelope<Value>]) -> Result<Settled<Vec<(String, usize)>>, HandlerError> {
        let mut committed = self.committed.lock().unwrap();
        let mut state = committed.clone();
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
            let orders = state.orders.entry(customer.clone()).or_default();
            if orders.insert(order) {
                let total = orders.len();
                state.outbox.insert(customer, total);
            }
            records.push(Ok(()));
        }
        if self.fail_commit_once.swap(false, Ordering::SeqCst) {
            return Err(HandlerError::transient("store", "the table is throttled"));
        }
        *committed = state.clone();
        self.commits.fetch_add(1, Ordering::SeqCst);
        let sent: Vec<(String, usize)> = state.outbox.into_iter().collect();
        Ok(Settled {
            records,
            outputs: sent.iter().map(|(c, t)| total_changed(c, *t)).collect(),
            sent,
        })
    }
}

impl BatchHandler for Totals {
    type Sent = Vec<(String, usize)>;

    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }

    async fn settle(&self, events: Vec<Envelope<Value>>, _by: Instant) -> Result<Settled<Self::Sent>, HandlerError> {
        self.settled(&events)
    }

    async fn tick(&self, _now: chrono::DateTime<Utc>, _by: Instant) -> Result<Settled<Self::Sent>, HandlerError> {
        self.settled(&[])
    }

    async fn sent(&self, sent: Self::Sent) -> Result<(), HandlerError> {
        let mut committed = self.committed.lock().unwrap();
        for (customer, total) in sent {
            if committed.outbox.get(&customer) == Some(&total) {
                committed.outbox.remove(&customer);
            }
        }
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
async fn given_a_batch_then_its_state_is_committed_once_then_its_outputs_go_out_and_leave_the_outbox() {
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
    assert!(handler.committed.lock().unwrap().outbox.is_empty(), "sent, so cleared");
}

#[tokio::test]
async fn given_publishing_fails_after_the_commit_then_the_outbox_keeps_the_outputs_and_the_redelivery_sends_them() {
    let processor = processor();
    let (handler, publisher, _) = processor.parts();
    publisher.set_failing(true);
    let event = orders(&["o-a1", "o-a2"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-a1", "m-o-a2"]);
    assert_eq!(handler.commits.load(Ordering::SeqCst), 1, "the state went first");
    assert_eq!(
        handler.committed.lock().unwrap().outbox.get("a"),
        Some(&2),
        "with its outputs beside it"
    );

    publisher.set_failing(false);
    processor.process_sqs(&event, &invocation()).await.unwrap();
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(
        totals(publisher),
        [("a".into(), 2)],
        "counted once, sent once the publisher took it, then no more"
    );
    assert!(handler.committed.lock().unwrap().outbox.is_empty());
}

#[tokio::test]
async fn given_a_settle_that_fails_then_nothing_is_published_and_the_batch_comes_back() {
    let processor = processor();
    let (handler, publisher, _) = processor.parts();
    handler.fail_commit_once.store(true, Ordering::SeqCst);
    let event = orders(&["o-a1"]);
    let response = processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m-o-a1"]);
    assert!(
        publisher.published().is_empty(),
        "nothing goes out that is not committed"
    );
    processor.process_sqs(&event, &invocation()).await.unwrap();
    assert_eq!(handler.commits.load(Ordering::SeqCst), 1);
    assert_eq!(totals(publisher), [("a".into(), 1)]);
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
async fn given_a_tick_then_what_the_outbox_holds_goes_out() {
    let processor = processor();
    let (handler, publisher, _) = processor.parts();
    publisher.set_failing(true);
    processor.process_sqs(&orders(&["o-a1"]), &invocation()).await.unwrap();
    publisher.set_failing(false);
    processor.process_tick(Utc::now(), &invocation()).await.unwrap();
    assert_eq!(totals(publisher), [("a".into(), 1)]);
    assert!(handler.committed.lock().unwrap().outbox.is_empty());
}

//! Fixtures shared by the processor tests: a reserve-inventory handler whose order ids name
//! the case, and SQS batches of EventBridge-carried envelopes.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

pub mod runtime_api;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{TimeZone, Utc};
use envelope::encode::AwsContext;
use envelope::{Carrier, Envelope, EventType, Registry};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{HandlerError, Invocation, RecordHandler, RecordProcessor};
use idempotency::{Idempotency, InMemoryStore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
}
impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.orders";
}
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InventoryReserved {
    pub order_id: String,
}
impl EventType for InventoryReserved {
    const TYPE: &'static str = "InventoryReserved";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.inventory";
}

/// Reserves inventory for an order: order ids name the case. `o-slow*` take a second each,
/// `o-work*` 900 ms; `o-panic` panics; `o-huge` emits two outputs of 210 KB each.
#[derive(Default)]
pub struct ReserveInventory {
    runs: Mutex<HashMap<String, usize>>,
}

impl ReserveInventory {
    pub fn runs(&self, order: &str) -> usize {
        self.runs.lock().unwrap().get(order).copied().unwrap_or(0)
    }
}

impl RecordHandler for ReserveInventory {
    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let placed = event.into_typed::<OrderPlaced>(&envelope::Location::root())?;
        let order = placed.data.order_id.clone();
        *self.runs.lock().unwrap().entry(order.clone()).or_default() += 1;
        match order.as_str() {
            "o-timeout" => {
                return Err(HandlerError::transient(
                    "inventory-timeout",
                    "the inventory table timed out",
                ));
            }
            "o-invalid" => return Err(HandlerError::permanent("invalid-order", "order has no lines")),
            "o-panic" => panic!("index out of bounds in the reservation code"),
            "o-huge" => {
                let outputs = (0..2).map(|n| {
                    let big = InventoryReserved {
                        order_id: format!("{order}-{}", "x".repeat(210 * 1024)),
                    };
                    Envelope::caused_by(&placed.metadata, n, &order, placed.metadata.time, big).to_untyped()
                });
                return Ok(outputs.collect::<Result<_, _>>()?);
            }
            slow if slow.starts_with("o-slow") => tokio::time::sleep(Duration::from_secs(1)).await,
            work if work.starts_with("o-work") => tokio::time::sleep(Duration::from_millis(900)).await,
            _ => {}
        }
        let reserved = Envelope::caused_by(
            &placed.metadata,
            0,
            &order,
            placed.metadata.time,
            InventoryReserved {
                order_id: order.clone(),
            },
        );
        Ok(vec![reserved.to_untyped()?])
    }
}

pub type TestProcessor = RecordProcessor<ReserveInventory, InMemoryStore, InMemoryPublisher, InMemoryParking>;

pub fn processor() -> TestProcessor {
    RecordProcessor::new(
        "reserve-inventory",
        ReserveInventory::default(),
        Idempotency::new("reserve-inventory", InMemoryStore::new()),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
}

pub fn placed(order: &str) -> Envelope<Value> {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let id = envelope::Metadata::derived_id(uuid_of(order), "test", 0);
    Envelope::with_id(id, order, time, OrderPlaced { order_id: order.into() })
        .to_untyped()
        .unwrap()
}

pub fn uuid_of(text: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, text.as_bytes())
}

/// An SQS batch of EventBridge-carried envelopes, message ids `m-<order>`.
pub fn batch(orders: &[&str]) -> SqsEvent {
    let envelopes: Vec<_> = orders.iter().map(|o| placed(o)).collect();
    batch_of(&envelopes)
}

/// An SQS batch carrying `envelopes` as EventBridge events, message ids `m-<subject>`.
pub fn batch_of(envelopes: &[Envelope<Value>]) -> SqsEvent {
    let mut event: SqsEvent = serde_json::from_value(
        Carrier::SqsEventBridge
            .wrap(envelopes, &AwsContext::default())
            .unwrap()
            .remove(0),
    )
    .unwrap();
    for (record, envelope) in event.records.iter_mut().zip(envelopes) {
        record.message_id = Some(format!("m-{}", envelope.metadata.subject));
    }
    event
}

pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

pub fn invocation() -> Invocation {
    Invocation::with_remaining("req-1", Duration::from_secs(60))
}

/// A local platform for a function named `f` with a parking queue and an idempotency table.
pub fn local_platform() -> handler_kit::local::LocalPlatform {
    local_platform_with(std::sync::Arc::new(ports::NoFaults))
}

/// [`local_platform`] whose port calls meet `faults`.
pub fn local_platform_with(faults: std::sync::Arc<dyn ports::FaultPlan>) -> handler_kit::local::LocalPlatform {
    use handler_kit::local::{LocalPlatform, Outbox, World, env_of};
    LocalPlatform::new(
        env_of(
            "f",
            &[
                ("PARKING_QUEUE_URL", "https://sqs.local/parking"),
                ("IDEMPOTENCY_TABLE", "idempotency"),
            ],
        ),
        std::sync::Arc::new(handler_kit::ManualClock::new(chrono::Utc::now())),
        faults,
        std::sync::Arc::default(),
        Outbox::default(),
        std::sync::Arc::new(World {
            queues: [("https://sqs.local/parking".to_owned(), 256 * 1024)].into(),
            ..World::default()
        }),
    )
}

//! The local adapters injected into functions: publishers to the local bus and topics, parking
//! on a local queue, in-memory tables that fail when the dice say so, and a payment gateway
//! that keeps a ledger of charges.
//!
//! Functions run inside an invocation; what they send goes to an [`Outbox`] that the cloud
//! drains when the invocation returns, at the invocation's virtual time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use envelope::{Envelope, ErrorClass};
use handler_kit::publish::{
    AttributesOf, FailedEntry, ParkedMessage, Parking, PublishError, Publisher, message_attributes,
};
use idempotency::{InMemoryStore, PutOutcome, Record, Store, StoreError};
use order_stores::{InMemoryInventory, InMemoryOrderViews, Inventory, OrderViews, Saved, Stock, StoreFailure};
use orders::decisions::{PaymentOutcome, StockOutcome};
use orders::events::StockLine;
use orders::lifecycle::OrderView;
use process_payment::{Charge, GatewayUnavailable, PaymentGateway, SimulatedGateway};
use serde_json::Value;

use crate::faults::Dice;
use crate::sqs::Outgoing;

/// The largest PutEvents entry EventBridge accepts.
pub const MAX_EVENT_BYTES: usize = 262_144;

/// What a function sent during an invocation.
#[derive(Debug, Clone)]
pub enum Sent {
    /// PutEvents to the bus named `bus`.
    Events {
        /// The bus name.
        bus: String,
        /// The events.
        events: Vec<Envelope<Value>>,
    },
    /// Publish to the topic `topic_arn`.
    Notifications {
        /// The topic ARN.
        topic_arn: String,
        /// Each message with its attributes.
        messages: Vec<Outgoing>,
    },
    /// SendMessage to the queue `queue_url`.
    Messages {
        /// The queue URL.
        queue_url: String,
        /// The messages.
        messages: Vec<Outgoing>,
    },
}

/// Where sends wait for the cloud.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Sent>>>);

impl Outbox {
    fn push(&self, sent: Sent) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(sent);
    }

    /// Everything sent since the last drain.
    pub fn drain(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Where a function publishes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// An event bus, by name.
    Bus(String),
    /// An SNS topic, by ARN, with extra message attributes.
    Topic(String, Option<AttributesOf>),
}

/// A publisher to the local bus or a local topic.
#[derive(Debug, Clone)]
pub struct LocalPublisher {
    outbox: Outbox,
    destination: Destination,
    slow: Option<Arc<Dice>>,
}

impl LocalPublisher {
    /// Publishes to `destination` through `outbox`.
    pub fn new(outbox: Outbox, destination: Destination) -> Self {
        Self {
            outbox,
            destination,
            slow: None,
        }
    }

    /// Some calls answer late, when `dice` say so (on tokio's clock, which the kit's deadline
    /// reads): a call dropped at the deadline sends nothing.
    #[must_use]
    pub fn with_slow_calls(mut self, dice: Arc<Dice>) -> Self {
        self.slow = Some(dice);
        self
    }
}

impl Publisher for LocalPublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let latency = self.slow.as_ref().map_or(0, |dice| dice.publish_latency_ms());
        if latency > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
        }
        match &self.destination {
            Destination::Bus(bus) => {
                // EventBridge refuses an entry over 256 KiB for good, and takes the others.
                let mut failed = Vec::new();
                let mut accepted = Vec::new();
                for (index, event) in events.iter().enumerate() {
                    let size = event.to_put_events_entry().map(|e| e.size()).unwrap_or(usize::MAX);
                    if size > MAX_EVENT_BYTES {
                        failed.push(FailedEntry {
                            index,
                            code: "ValidationException".into(),
                            message: format!("entry of {size} bytes is over the {MAX_EVENT_BYTES}-byte limit"),
                            permanent: true,
                        });
                    } else {
                        accepted.push(event.clone());
                    }
                }
                self.outbox.push(Sent::Events {
                    bus: bus.clone(),
                    events: accepted,
                });
                PublishError::unless_failed(events.len(), failed)
            }
            Destination::Topic(topic_arn, extra) => {
                let messages = events
                    .iter()
                    .map(|event| Outgoing {
                        body: serde_json::to_string(event).unwrap_or_default(),
                        attributes: message_attributes(event, *extra).into_iter().collect(),
                        ..Outgoing::default()
                    })
                    .collect();
                self.outbox.push(Sent::Notifications {
                    topic_arn: topic_arn.clone(),
                    messages,
                });
                Ok(())
            }
        }
    }
}

/// Parking on a local queue, with the reason in message attributes (as the SQS adapter does).
/// A message over the queue's size limit is refused, as SendMessage refuses it, so the record
/// is retried and ends in its DLQ rather than vanishing.
#[derive(Debug, Clone)]
pub struct LocalParking {
    outbox: Outbox,
    queue_url: String,
    max_bytes: usize,
}

impl LocalParking {
    /// Parks on the queue at `queue_url`, which takes messages up to `max_bytes`.
    pub fn new(outbox: Outbox, queue_url: impl Into<String>, max_bytes: usize) -> Self {
        Self {
            outbox,
            queue_url: queue_url.into(),
            max_bytes,
        }
    }
}

impl Parking for LocalParking {
    async fn park(&self, parked: &[ParkedMessage]) -> Result<(), PublishError> {
        let mut failed = Vec::new();
        let mut messages = Vec::new();
        for (index, p) in parked.iter().enumerate() {
            let message = Outgoing {
                body: p.body.clone(),
                attributes: p.attributes().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ..Outgoing::default()
            };
            let size = message.size();
            if size > self.max_bytes {
                failed.push(FailedEntry {
                    index,
                    code: "InvalidParameterValue".into(),
                    message: format!(
                        "message of {size} bytes is over the queue's limit of {} bytes",
                        self.max_bytes
                    ),
                    permanent: true,
                });
            } else {
                messages.push(message);
            }
        }
        self.outbox.push(Sent::Messages {
            queue_url: self.queue_url.clone(),
            messages,
        });
        PublishError::unless_failed(parked.len(), failed)
    }
}

/// An in-memory table behind the dice: each call may fail as a throttled table would.
#[derive(Debug, Clone)]
pub struct Faulty<T> {
    inner: Arc<T>,
    dice: Arc<Dice>,
    crashes: bool,
}

impl<T> Faulty<T> {
    /// `inner`, failing when `dice` say so.
    pub fn new(inner: Arc<T>, dice: Arc<Dice>) -> Self {
        Self {
            inner,
            dice,
            crashes: false,
        }
    }

    /// Also crashes the invocation before a record is recorded done, when the dice say so
    /// (for functions run by the cloud's invoker, which sees the crash).
    #[must_use]
    pub fn with_crashes(mut self) -> Self {
        self.crashes = true;
        self
    }

    fn check(&self, operation: &'static str) -> Result<(), StoreFailure> {
        if self.dice.store_error() {
            Err(StoreFailure {
                operation,
                message: "ProvisionedThroughputExceededException (injected by the local cloud)".into(),
                class: ErrorClass::Transient,
            })
        } else {
            Ok(())
        }
    }
}

impl Store for Faulty<InMemoryStore> {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<PutOutcome, StoreError> {
        self.idempotency_check("put", &record.key)?;
        self.inner.put_in_progress(record, now_ms).await
    }

    async fn complete(&self, record: &Record) -> Result<(), StoreError> {
        self.crash_check("complete", &record.key)?;
        let result = self.idempotency_check("complete", &record.key);
        self.dice.recorded(&record.key, result.is_ok());
        result?;
        self.inner.complete(record).await
    }

    async fn mark_delivered(&self, key: &str) -> Result<(), StoreError> {
        self.crash_check("mark_delivered", key)?;
        let result = self.idempotency_check("mark_delivered", key);
        self.dice.recorded(key, result.is_ok());
        result?;
        self.inner.mark_delivered(key).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.idempotency_check("delete", key)?;
        self.inner.delete(key).await
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        self.idempotency_check("get", key)?;
        self.inner.get(key).await
    }
}

impl Faulty<InMemoryStore> {
    /// Recording a record done after its outputs went out is where a crash costs a repeat.
    fn crash_check(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        if self.crashes && self.dice.crash_before_record(key) {
            return Err(StoreError::Unavailable {
                operation,
                key: key.to_owned(),
                source: "the function crashed before recording its work (injected by the local cloud)".into(),
            });
        }
        Ok(())
    }

    fn idempotency_check(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        self.check(operation).map_err(|failure| StoreError::Unavailable {
            operation,
            key: key.to_owned(),
            source: failure.into(),
        })
    }
}

impl Inventory for Faulty<InMemoryInventory> {
    async fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure> {
        self.check("reserve")?;
        self.inner.reserve(order_id, lines).await
    }

    async fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure> {
        self.check("release")?;
        self.inner.release(order_id, lines).await
    }

    async fn restock(&self, sku: &str, added: u64) -> Result<(), StoreFailure> {
        self.check("restock")?;
        self.inner.restock(sku, added).await
    }

    async fn stock(&self, sku: &str) -> Result<Option<Stock>, StoreFailure> {
        self.check("stock")?;
        self.inner.stock(sku).await
    }
}

impl OrderViews for Faulty<InMemoryOrderViews> {
    async fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure> {
        self.check("get view")?;
        self.inner.get(order_id).await
    }

    async fn save_if_unchanged(&self, view: &OrderView, read: Option<usize>) -> Result<Saved, StoreFailure> {
        self.check("save view")?;
        self.inner.save_if_unchanged(view, read).await
    }
}

/// Every table of the cloud, by physical name, created empty on first use.
#[derive(Debug, Default)]
pub struct Tables {
    idempotency: Mutex<HashMap<String, Arc<InMemoryStore>>>,
    inventory: Mutex<HashMap<String, Arc<InMemoryInventory>>>,
    views: Mutex<HashMap<String, Arc<InMemoryOrderViews>>>,
    stock: Vec<(String, u64)>,
}

fn table<T: Default>(tables: &Mutex<HashMap<String, Arc<T>>>, name: &str, make: impl FnOnce() -> T) -> Arc<T> {
    Arc::clone(
        tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(make())),
    )
}

/// Every table of one kind, by name.
fn every<T>(tables: &Mutex<HashMap<String, Arc<T>>>) -> Vec<(String, Arc<T>)> {
    let tables = tables.lock().unwrap_or_else(PoisonError::into_inner);
    let mut all: Vec<_> = tables.iter().map(|(n, t)| (n.clone(), Arc::clone(t))).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

impl Tables {
    /// Tables whose inventory tables start with `stock` per sku.
    pub fn with_stock(stock: Vec<(String, u64)>) -> Self {
        Self {
            stock,
            ..Self::default()
        }
    }

    /// The idempotency table `name`.
    pub fn idempotency(&self, name: &str) -> Arc<InMemoryStore> {
        table(&self.idempotency, name, InMemoryStore::new)
    }

    /// The inventory table `name`.
    pub fn inventory(&self, name: &str) -> Arc<InMemoryInventory> {
        table(&self.inventory, name, || {
            InMemoryInventory::with_stock(self.stock.iter().map(|(sku, n)| (sku.as_str(), *n)))
        })
    }

    /// The order views table `name`.
    pub fn views(&self, name: &str) -> Arc<InMemoryOrderViews> {
        table(&self.views, name, InMemoryOrderViews::new)
    }

    /// Every inventory table.
    pub fn inventories(&self) -> Vec<(String, Arc<InMemoryInventory>)> {
        every(&self.inventory)
    }

    /// Every idempotency table.
    pub fn all_idempotency(&self) -> Vec<(String, Arc<InMemoryStore>)> {
        every(&self.idempotency)
    }

    /// Every views table.
    pub fn all_views(&self) -> Vec<(String, Arc<InMemoryOrderViews>)> {
        every(&self.views)
    }

    /// The stock the inventory tables started with.
    pub fn initial_stock(&self) -> &[(String, u64)] {
        &self.stock
    }
}

/// The simulated gateway, keeping a ledger of approved charges by order and idempotency key
/// (as a real gateway does: one charge per key, however often it is asked).
#[derive(Debug, Default)]
pub struct LedgerGateway {
    gateway: SimulatedGateway,
    approved: Mutex<BTreeMap<String, Vec<String>>>,
}

impl LedgerGateway {
    /// How many distinct charges `order_id` got.
    pub fn charges(&self, order_id: &str) -> usize {
        self.approved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order_id)
            .map_or(0, Vec::len)
    }
}

/// A shared gateway.
#[derive(Debug, Clone, Default)]
pub struct SharedGateway(pub Arc<LedgerGateway>);

impl PaymentGateway for SharedGateway {
    async fn charge(&self, charge: &Charge) -> Result<PaymentOutcome, GatewayUnavailable> {
        let outcome = self.0.gateway.charge(charge).await?;
        if matches!(outcome, PaymentOutcome::Approved { .. }) {
            let mut approved = self.0.approved.lock().unwrap_or_else(PoisonError::into_inner);
            let keys = approved.entry(charge.order_id.clone()).or_default();
            if !keys.contains(&charge.idempotency_key) {
                keys.push(charge.idempotency_key.clone());
            }
        }
        Ok(outcome)
    }
}

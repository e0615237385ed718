//! The local platform: what a function's builder gets when the local cloud (or a test) runs it
//! in process. Sends go to an [`Outbox`] the cloud drains after each invocation; tables are
//! in-memory, shared by name across functions, and every port call goes through the run's
//! [`FaultPlan`]. The local cloud registers functions from their declarations and builders
//! ([`records`], [`batches`], [`http`]) and knows nothing else of them.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envelope::{Envelope, MAX_ENTRY_BYTES, TraceContext};
use idempotency::{Clock, InMemoryStore};
use ports::{FaultPlan, Faulty};
use serde_json::Value;

use crate::aggregate::BatchHandler;
use crate::config::{ConfigError, Env};
use crate::dispatch::{self, Entry, PayloadOf, RecordTrigger};
use crate::function::{Bus, Function, Nowhere, Outputs, Resource, Setting, Topic};
use crate::http::HttpHandler;
use crate::invocation::Invocation;
use crate::platform::{Platform, PublishesTo};
use crate::publish::{
    AttributesOf, FailedEntry, MAX_SNS_MESSAGE_BYTES, ParkedMessage, Parking, PublishError, Publisher,
    message_attributes,
};
use crate::records::RecordHandler;
use crate::trigger::{FunctionUrl, SqsBatches, Trigger, TriggerKind};

/// A message to a topic or a queue: its body and string attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalMessage {
    /// The body.
    pub body: String,
    /// Message attributes (all of data type `String`).
    pub attributes: Vec<(String, String)>,
    /// The X-Ray header the call carries (SNS's `X-Amzn-Trace-Id`, SQS's `AWSTraceHeader`),
    /// which SNS and SQS hand on and do not count in the size.
    pub trace_header: Option<String>,
}

impl LocalMessage {
    /// Its size as SQS and SNS count it: the body and each attribute's name, data type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| name.len() + "String".len() + value.len())
                .sum::<usize>()
    }
}

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
        messages: Vec<LocalMessage>,
    },
    /// SendMessage to the queue `queue_url`.
    Messages {
        /// The queue URL.
        queue_url: String,
        /// The messages.
        messages: Vec<LocalMessage>,
    },
}

tokio::task_local! {
    /// The invocation whose future is being polled: the local cloud runs many at once on one
    /// thread, and what a port call does (a send, a fault) belongs to the invocation that made it.
    static INVOCATION: u64;
}

/// Runs `work` as invocation `id`: every send it makes and every fault drawn for its port
/// calls are told apart from those of the invocations running beside it.
pub async fn in_invocation<F: Future>(id: u64, work: F) -> F::Output {
    INVOCATION.scope(id, work).await
}

/// The invocation being polled, if any (see [`in_invocation`]).
pub fn current_invocation() -> Option<u64> {
    INVOCATION.try_with(|id| *id).ok()
}

/// What invocations sent, each with the invocation that sent it.
type Tagged = Mutex<Vec<(Option<u64>, Sent)>>;

/// Where sends wait for the cloud, each with the invocation that made it; the cloud is woken
/// when something is sent.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<(Tagged, tokio::sync::Notify)>);

impl Outbox {
    fn push(&self, sent: Sent) {
        self.0
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((current_invocation(), sent));
        self.0.1.notify_one();
    }

    /// Resolves once something was sent since the last time it resolved.
    pub async fn sent(&self) {
        self.0.1.notified().await;
    }

    /// Everything sent since the last drain.
    pub fn drain(&self) -> Vec<Sent> {
        self.drain_by_invocation().into_iter().map(|(_, sent)| sent).collect()
    }

    /// Everything sent since the last drain, in the order it was sent, each with the
    /// invocation that sent it (none outside [`in_invocation`]).
    pub fn drain_by_invocation(&self) -> Vec<(Option<u64>, Sent)> {
        std::mem::take(&mut *self.0.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// An in-memory table the local cloud can load from items (the JSON objects the deployed
/// table would hold) and show.
pub trait LocalTable: Any + Send + Sync {
    /// Adds `items` to the table. The default refuses: the table is not meant to be seeded.
    fn load(&self, items: &[Value]) -> Result<(), String> {
        let _ = items;
        Err("this table cannot be loaded from items".to_owned())
    }
}

impl LocalTable for InMemoryStore {}

/// Every in-memory table of a run, by name, each of the type its first user asked for.
#[derive(Default)]
pub struct Tables {
    tables: Mutex<BTreeMap<String, Arc<dyn Any + Send + Sync>>>,
    loaders: Mutex<BTreeMap<String, Arc<dyn LocalTable>>>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").field("names", &self.names()).finish()
    }
}

impl Tables {
    /// The table `name`, made with `make` if it does not exist yet. A name already used by a
    /// table of another type is a configuration error.
    pub fn get_or_make<T: LocalTable>(&self, name: &str, make: impl FnOnce() -> T) -> Result<Arc<T>, ConfigError> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = tables.get(name) {
            return Arc::clone(existing)
                .downcast::<T>()
                .map_err(|_| ConfigError::Malformed {
                    name: name.to_owned(),
                    value: name.to_owned(),
                    reason: format!(
                        "table {name} is used as two different kinds of table ({})",
                        std::any::type_name::<T>()
                    ),
                });
        }
        let table = Arc::new(make());
        tables.insert(name.to_owned(), Arc::clone(&table) as _);
        self.loaders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Arc::clone(&table) as _);
        Ok(table)
    }

    /// The table `name`, if some function made it and it is a `T`.
    pub fn get<T: LocalTable>(&self, name: &str) -> Option<Arc<T>> {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(tables.get(name)?).downcast::<T>().ok()
    }

    /// Every table that is a `T`, by name.
    pub fn all<T: LocalTable>(&self) -> Vec<(String, Arc<T>)> {
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        tables
            .iter()
            .filter_map(|(name, table)| Some((name.clone(), Arc::clone(table).downcast::<T>().ok()?)))
            .collect()
    }

    /// Loads `items` into the table `name`.
    pub fn load(&self, name: &str, items: &[Value]) -> Result<(), String> {
        let loaders = self.loaders.lock().unwrap_or_else(PoisonError::into_inner);
        let table = loaders
            .get(name)
            .ok_or_else(|| format!("no function uses a table named {name}"))?;
        table.load(items)
    }

    /// The names of the tables made so far.
    pub fn names(&self) -> Vec<String> {
        self.tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

/// What the local cloud deploys: the names a function's settings may point to, and each
/// queue's size limit.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Bus names.
    pub buses: BTreeSet<String>,
    /// Topic ARNs.
    pub topics: BTreeSet<String>,
    /// Queue URLs, with the largest message each takes.
    pub queues: BTreeMap<String, usize>,
}

/// The platform a function runs on in the local cloud.
#[derive(Clone)]
pub struct LocalPlatform {
    env: Env,
    clock: Arc<dyn Clock>,
    faults: Arc<dyn FaultPlan>,
    tables: Arc<Tables>,
    outbox: Outbox,
    world: Arc<World>,
}

impl std::fmt::Debug for LocalPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPlatform")
            .field("world", &self.world)
            .finish_non_exhaustive()
    }
}

impl LocalPlatform {
    /// A function's platform: its environment, the run's clock, faults, tables, outbox and
    /// deployed resources.
    pub fn new(
        env: Env,
        clock: Arc<dyn Clock>,
        faults: Arc<dyn FaultPlan>,
        tables: Arc<Tables>,
        outbox: Outbox,
        world: Arc<World>,
    ) -> Self {
        Self {
            env,
            clock,
            faults,
            tables,
            outbox,
            world,
        }
    }

    /// `port`, with the run's faults around each call.
    pub fn faulty<T>(&self, port: T) -> Faulty<T> {
        Faulty::new(port, Arc::clone(&self.faults))
    }

    /// The table `name` (from a setting), made with `make` on first use.
    pub fn table<T: LocalTable>(&self, name: &str, make: impl FnOnce() -> T) -> Result<Arc<T>, ConfigError> {
        self.tables.get_or_make(name, make)
    }

    fn publisher(&self, destination: Destination) -> LocalPublisher {
        LocalPublisher {
            outbox: self.outbox.clone(),
            destination,
            faults: Arc::clone(&self.faults),
        }
    }
}

impl Platform for LocalPlatform {
    type Store = Faulty<Arc<InMemoryStore>>;
    type Parking = LocalParking;

    fn env(&self) -> &Env {
        &self.env
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    fn idempotency_store(&self, table: &str) -> Self::Store {
        // Only idempotency stores are made without a type check failing: a clash would have
        // been reported by the template loader's one-resource-per-name rule first.
        let store = self
            .tables
            .get_or_make(table, InMemoryStore::new)
            .unwrap_or_else(|_| Arc::new(InMemoryStore::new()));
        self.faulty(store)
    }

    fn parking(&self, queue_url: &str) -> Self::Parking {
        LocalParking {
            outbox: self.outbox.clone(),
            queue_url: queue_url.to_owned(),
            max_bytes: self.world.queues.get(queue_url).copied().unwrap_or(0),
        }
    }

    /// A setting naming a bus, topic or queue must name one the template deploys: a function
    /// sending where nothing is would otherwise lose what it sends.
    fn setting(&self, setting: &Setting) -> Result<String, ConfigError> {
        let value = self.env.required(setting.variable, setting.purpose)?;
        let known = match setting.resource {
            Resource::Bus => Some(("event bus", self.world.buses.contains(&value))),
            Resource::Topic => Some(("topic", self.world.topics.contains(&value))),
            Resource::Queue => Some(("queue", self.world.queues.contains_key(&value))),
            Resource::Table | Resource::Key | Resource::Value => None,
        };
        match known {
            Some((what, false)) => Err(ConfigError::Malformed {
                name: setting.variable.to_owned(),
                value,
                reason: format!("names no {what} of the template"),
            }),
            _ => Ok(value),
        }
    }
}

impl PublishesTo<Bus> for LocalPlatform {
    type Publisher = LocalPublisher;

    fn publisher(&self, outputs: &Bus) -> Result<LocalPublisher, ConfigError> {
        let setting = outputs.destination().unwrap_or(crate::function::EVENT_BUS_NAME);
        Ok(self.publisher(Destination::Bus(self.setting(&setting)?, outputs.sources)))
    }
}

impl PublishesTo<Topic> for LocalPlatform {
    type Publisher = LocalPublisher;

    fn publisher(&self, outputs: &Topic) -> Result<LocalPublisher, ConfigError> {
        let setting = Setting::topic(outputs.variable, "the SNS topic outputs are published to");
        Ok(self.publisher(Destination::Topic(self.setting(&setting)?, outputs.attributes)))
    }
}

impl PublishesTo<Nowhere> for LocalPlatform {
    type Publisher = LocalPublisher;

    fn publisher(&self, _: &Nowhere) -> Result<LocalPublisher, ConfigError> {
        Ok(self.publisher(Destination::Nowhere))
    }
}

/// Where a local publisher sends.
#[derive(Debug, Clone)]
enum Destination {
    /// The bus's name, and the sources the function may put there.
    Bus(String, &'static [&'static str]),
    Topic(String, AttributesOf),
    Nowhere,
}

/// A publisher to the local bus or a local topic; it refuses what EventBridge would refuse,
/// and its calls go through the run's faults (a slow publish).
pub struct LocalPublisher {
    outbox: Outbox,
    destination: Destination,
    faults: Arc<dyn FaultPlan>,
}

impl std::fmt::Debug for LocalPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalPublisher")
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

impl Publisher for LocalPublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let faulty = Faulty::new((), Arc::clone(&self.faults));
        if let Err(injected) = faulty.before("Publisher::publish").await {
            return Err(PublishError::all(
                events.len(),
                "ThrottlingException",
                &injected.to_string(),
                false,
            ));
        }
        match &self.destination {
            Destination::Bus(bus, sources) => {
                // EventBridge refuses an entry over its limit (1 MB) for good, and takes the others.
                // An entry of a source the function's role may not put fails alone, as the role's
                // `events:source` condition fails it on AWS; retried like any access denied.
                let mut failed = Vec::new();
                let mut accepted = Vec::new();
                for (index, event) in events.iter().enumerate() {
                    let size = event.to_put_events_entry().map(|e| e.size()).unwrap_or(usize::MAX);
                    if !sources.contains(&event.metadata.source.as_str()) {
                        failed.push(FailedEntry {
                            index,
                            code: "NotAuthorizedForSourceException".into(),
                            message: format!(
                                "not authorized for the source {}: this function puts only {}",
                                event.metadata.source,
                                sources.join(", ")
                            ),
                            permanent: false,
                        });
                    } else if size > MAX_ENTRY_BYTES {
                        failed.push(FailedEntry {
                            index,
                            code: "ValidationException".into(),
                            message: format!("entry of {size} bytes is over the {MAX_ENTRY_BYTES}-byte limit"),
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
                // SNS refuses a message over its limit (still 256 KB) for good, and takes the others.
                let mut failed = Vec::new();
                let mut messages = Vec::new();
                for (index, event) in events.iter().enumerate() {
                    let message = LocalMessage {
                        body: serde_json::to_string(event).unwrap_or_default(),
                        attributes: message_attributes(event, Some(*extra)),
                        trace_header: event.metadata.trace.as_ref().and_then(TraceContext::xray_header),
                    };
                    let size = message.size();
                    if size > MAX_SNS_MESSAGE_BYTES {
                        failed.push(FailedEntry {
                            index,
                            code: "InvalidParameter".into(),
                            message: format!("message of {size} bytes is over the {MAX_SNS_MESSAGE_BYTES}-byte limit"),
                            permanent: true,
                        });
                    } else {
                        messages.push(message);
                    }
                }
                self.outbox.push(Sent::Notifications {
                    topic_arn: topic_arn.clone(),
                    messages,
                });
                PublishError::unless_failed(events.len(), failed)
            }
            Destination::Nowhere => Err(PublishError::all(
                events.len(),
                "NoDestination",
                "this function is declared to publish nothing",
                true,
            )),
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

impl Parking for LocalParking {
    async fn park(&self, parked: &[ParkedMessage]) -> Result<(), PublishError> {
        let mut failed = Vec::new();
        let mut messages = Vec::new();
        for (index, p) in parked.iter().enumerate() {
            let message = LocalMessage {
                body: p.body.clone(),
                attributes: p.attributes().into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                ..LocalMessage::default()
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
        if !messages.is_empty() {
            self.outbox.push(Sent::Messages {
                queue_url: self.queue_url.clone(),
                messages,
            });
        }
        PublishError::unless_failed(parked.len(), failed)
    }
}

/// A boxed invocation result: the response payload, or the function's error.
pub type Invoked<'a> = Pin<Box<dyn Future<Output = Result<Value, String>> + 'a>>;

/// A function running in process.
pub trait LocalFunction {
    /// Whether it consumes events of `event_type` (false for an HTTP function).
    fn consumes(&self, event_type: &str) -> bool;

    /// Runs one invocation on `payload`, as Lambda would deliver it, in the X-Ray trace of
    /// `trace` (Lambda's `Lambda-Runtime-Trace-Id`) when given.
    fn invoke<'a>(
        &'a self,
        payload: Value,
        request_id: &'a str,
        trace: Option<&'a str>,
        timeout: Duration,
    ) -> Invoked<'a>;
}

/// Every entry runs in process as on Lambda: the payload read once into its trigger's type
/// (what Lambda's runtime would refuse is refused), then [`dispatch::invoke`].
impl<E: Entry> LocalFunction for E {
    fn consumes(&self, event_type: &str) -> bool {
        Entry::consumes(self, event_type)
    }

    fn invoke<'a>(
        &'a self,
        payload: Value,
        request_id: &'a str,
        trace: Option<&'a str>,
        timeout: Duration,
    ) -> Invoked<'a> {
        Box::pin(async move {
            let payload: PayloadOf<E> = serde_json::from_value(payload)
                .map_err(|e| format!("payload is not {}: {e}", <E::Trigger as Trigger>::PAYLOAD))?;
            let invocation = Invocation::with_remaining(request_id, timeout).in_trace(trace);
            let response = dispatch::invoke(self, payload, &invocation)
                .await
                .map_err(|e| e.to_string())?;
            serde_json::to_value(response).map_err(|e| e.to_string())
        })
    }
}

type Make = Box<dyn Fn(LocalPlatform) -> Result<Box<dyn LocalFunction>, ConfigError> + Send + Sync>;

/// A function the local cloud can deploy: its declaration, and how to build it on a
/// [`LocalPlatform`].
pub struct Registration {
    /// The crate (and binary) name.
    pub name: &'static str,
    /// How events reach it.
    pub trigger: TriggerKind,
    /// The scheduled rule's expression that also invokes it, if any.
    pub schedule: Option<&'static str>,
    /// Every variable it reads.
    pub variables: Vec<Setting>,
    /// The variable naming where it publishes, if anywhere.
    pub publishes_to: Option<Setting>,
    make: Make,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// Builds the function on `platform`.
    pub fn build(&self, platform: LocalPlatform) -> Result<Box<dyn LocalFunction>, ConfigError> {
        (self.make)(platform)
    }

    fn of<T: Trigger, O: Outputs, E: Entry>(
        function: &'static Function<T, O>,
        make: impl Fn(&LocalPlatform) -> Result<E, ConfigError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: function.name,
            trigger: T::KIND,
            schedule: function.schedule(),
            variables: function.variables(),
            publishes_to: function.outputs.destination(),
            make: Box::new(move |platform| Ok(Box::new(make(&platform)?) as Box<dyn LocalFunction>)),
        }
    }
}

/// Registers a function whose records are handled one by one: its declaration and its
/// builder (the same as `main.rs` hands `handler_kit::lambda`).
pub fn records<T, O, H, B>(function: &'static Function<T, O>, build: B) -> Registration
where
    T: RecordTrigger,
    O: Outputs,
    LocalPlatform: PublishesTo<O>,
    H: RecordHandler + 'static,
    B: Fn(&LocalPlatform) -> Result<H, ConfigError> + Send + Sync + 'static,
{
    Registration::of(function, move |platform| {
        dispatch::records(platform, function, build(platform)?)
    })
}

/// Registers a function whose SQS batches are taken whole (and its scheduled ticks): its
/// declaration and its builder.
pub fn batches<O, H, B>(function: &'static Function<SqsBatches, O>, build: B) -> Registration
where
    O: Outputs,
    LocalPlatform: PublishesTo<O>,
    H: BatchHandler + 'static,
    B: Fn(&LocalPlatform) -> Result<H, ConfigError> + Send + Sync + 'static,
{
    Registration::of(function, move |platform| {
        dispatch::batches(platform, function, build(platform)?)
    })
}

/// Registers an HTTP function behind a Function URL: its declaration and its builder.
pub fn http<O, H, B>(function: &'static Function<FunctionUrl, O>, build: B) -> Registration
where
    O: Outputs,
    H: HttpHandler + 'static,
    B: Fn(&LocalPlatform) -> Result<H, ConfigError> + Send + Sync + 'static,
{
    Registration::of(function, move |platform| {
        Ok(dispatch::http(platform, function, build(platform)?))
    })
}

/// The environment of a test's function: `pairs` and its deployed name.
pub fn env_of(name: &str, pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.to_owned())]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use idempotency::ManualClock;

    #[derive(Default)]
    struct Counter(Mutex<u64>);
    impl LocalTable for Counter {}

    #[test]
    fn given_one_name_then_every_user_of_it_shares_one_table_of_one_type() {
        let tables = Tables::default();
        let first = tables.get_or_make("T", Counter::default).unwrap();
        *first.0.lock().unwrap() += 1;
        let again = tables.get_or_make("T", Counter::default).unwrap();
        assert_eq!(*again.0.lock().unwrap(), 1);
        let clash = tables.get_or_make("T", InMemoryStore::new).unwrap_err();
        assert!(clash.to_string().contains("two different kinds of table"), "{clash}");
        assert!(tables.load("T", &[]).unwrap_err().contains("cannot be loaded"));
        assert!(
            tables
                .load("Nope", &[])
                .unwrap_err()
                .contains("no function uses a table named Nope")
        );
    }

    #[test]
    fn given_a_setting_naming_nothing_the_template_deploys_then_it_is_refused() {
        let world = World {
            buses: BTreeSet::from(["orders".to_owned()]),
            ..World::default()
        };
        let platform = LocalPlatform::new(
            env_of("f", &[("EVENT_BUS_NAME", "typo")]),
            Arc::new(ManualClock::new(chrono::Utc::now())),
            Arc::new(ports::NoFaults),
            Arc::default(),
            Outbox::default(),
            Arc::new(world),
        );
        let err = PublishesTo::<Bus>::publisher(
            &platform,
            &Bus {
                sources: &["shop.orders"],
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable EVENT_BUS_NAME=\"typo\" is invalid: names no event bus of the template"
        );
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Noted {
        note: String,
    }
    impl envelope::EventType for Noted {
        const TYPE: &'static str = "Noted";
        const VERSION: u32 = 1;
        const SOURCE: &'static str = "shop.orders";
    }

    /// An envelope of about `bytes`.
    fn of_size(bytes: usize) -> Envelope<Value> {
        let time = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .to_utc();
        let note = "x".repeat(bytes);
        Envelope::new("o-1", time, Noted { note }).to_untyped().unwrap()
    }

    #[tokio::test]
    async fn given_2026s_limits_then_the_bus_takes_an_entry_of_900_kb_and_a_topic_refuses_300_kb_for_good() {
        let world = World {
            buses: BTreeSet::from(["bus".to_owned()]),
            topics: BTreeSet::from(["arn:aws:sns:eu-west-1:123456789012:alerts".to_owned()]),
            ..World::default()
        };
        let outbox = Outbox::default();
        let platform = LocalPlatform::new(
            env_of(
                "f",
                &[
                    ("EVENT_BUS_NAME", "bus"),
                    ("ALERTS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts"),
                ],
            ),
            Arc::new(ManualClock::new(chrono::Utc::now())),
            Arc::new(ports::NoFaults),
            Arc::default(),
            outbox.clone(),
            Arc::new(world),
        );
        // EventBridge and SQS went to 1 MB in January 2026: 900 KB goes out, 1.1 MB does not.
        let bus = PublishesTo::<Bus>::publisher(
            &platform,
            &Bus {
                sources: &["shop.orders"],
            },
        )
        .unwrap();
        bus.publish(&[of_size(900 * 1024)]).await.unwrap();
        let refused = bus.publish(&[of_size(1100 * 1024)]).await.unwrap_err();
        assert!(refused.failed[0].permanent && refused.failed[0].code == "ValidationException");
        // A source the function does not declare fails as its role's condition fails it on AWS.
        let sensors_only = PublishesTo::<Bus>::publisher(
            &platform,
            &Bus {
                sources: &["iot.sensors"],
            },
        )
        .unwrap();
        let refused = sensors_only.publish(&[of_size(10)]).await.unwrap_err();
        assert_eq!(refused.failed[0].code, "NotAuthorizedForSourceException");
        assert!(!refused.failed[0].permanent, "retried, as access denied is");

        // SNS stayed at 256 KB.
        let topic = Topic {
            variable: "ALERTS_TOPIC_ARN",
            attributes: |_| Vec::new(),
            personal: false,
        };
        let alerts = PublishesTo::<Topic>::publisher(&platform, &topic).unwrap();
        alerts.publish(&[of_size(200 * 1024)]).await.unwrap();
        let refused = alerts.publish(&[of_size(300 * 1024)]).await.unwrap_err();
        assert!(refused.failed[0].permanent, "{refused}");
        assert!(
            refused.failed[0].message.contains("over the 262144-byte limit"),
            "{refused}"
        );

        let sent: Vec<usize> = outbox
            .drain()
            .iter()
            .map(|sent| match sent {
                Sent::Events { events, .. } => events.len(),
                Sent::Notifications { messages, .. } => messages.len(),
                Sent::Messages { .. } => 0,
            })
            .collect();
        assert_eq!(sent, [1, 0, 0, 1, 0], "what went out, call by call");
    }

    struct Nothing;
    impl RecordHandler for Nothing {
        fn event_types(&self) -> envelope::Registry {
            envelope::Registry::new()
        }
        async fn handle(
            &self,
            _: envelope::Envelope<Value>,
        ) -> Result<Vec<envelope::Envelope<Value>>, crate::HandlerError> {
            Ok(Vec::new())
        }
    }
    impl BatchHandler for Nothing {
        type Sent = ();
        fn event_types(&self) -> envelope::Registry {
            envelope::Registry::new()
        }
        async fn settle(
            &self,
            _: Vec<envelope::Envelope<Value>>,
            _: tokio::time::Instant,
        ) -> Result<crate::Settled<()>, crate::HandlerError> {
            Ok(crate::Settled::nothing())
        }
        async fn tick(
            &self,
            _: chrono::DateTime<chrono::Utc>,
            _: tokio::time::Instant,
        ) -> Result<crate::Settled<()>, crate::HandlerError> {
            Ok(crate::Settled::nothing())
        }
        async fn sent(&self, (): ()) -> Result<(), crate::HandlerError> {
            Ok(())
        }
    }

    #[test]
    fn given_no_idempotency_table_then_an_aggregate_builds_and_an_idempotent_function_names_what_is_missing() {
        static FUNCTION: Function<crate::trigger::Sqs, Nowhere> = Function {
            name: "f",
            trigger: crate::trigger::Sqs,
            outputs: Nowhere,
            settings: &[],
            idempotent: false,
        };
        let platform = LocalPlatform::new(
            env_of("f", &[("PARKING_QUEUE_URL", "https://sqs.local/parking")]),
            Arc::new(ManualClock::new(chrono::Utc::now())),
            Arc::new(ports::NoFaults),
            Arc::default(),
            Outbox::default(),
            Arc::new(World::default()),
        );
        assert!(
            crate::platform::batch_processor(&platform, &FUNCTION, Nothing).is_ok(),
            "its state is its own"
        );
        let Err(err) = crate::platform::processor(&platform, &FUNCTION, Nothing) else {
            panic!("an idempotent processor needs its table")
        };
        assert!(err.to_string().contains("IDEMPOTENCY_TABLE"), "{err}");
    }
}

//! The local cloud: the template's buses, rules, queues, topics, event source mappings and
//! functions, run in process on a virtual clock by a seeded scheduler.
//!
//! One agenda of timed tasks drives everything: deliveries into queues (after a small, random
//! latency), polls of event source mappings, asynchronous invocations. Invocations run
//! concurrently, as on AWS: an event source mapping keeps up to its concurrency of batches in
//! flight, Function URL requests and asynchronous invocations run beside them. Virtual time is
//! tokio's paused clock: every port call takes a seeded virtual latency, so the invocations in
//! flight interleave at their port calls in an order the seed decides, and the clock jumps to
//! the next thing that happens. Tasks and wake-ups at the same instant run in a fixed order,
//! and every random choice comes from a seeded stream of its component ([`crate::faults`]), so
//! a seed replays a run exactly, byte for byte the same timeline.
//!
//! Each service is a module of its own, all of them methods of [`LocalCloud`] over the state
//! this module holds: the timeline (`timeline`), EventBridge buses, rules and schedules
//! (`eventbridge`), SNS topics (`sns`), invocations and what functions send (`lambda`), and
//! queues read through event source mappings (`polling`).

mod eventbridge;
mod lambda;
mod polling;
mod record;
mod redrive;
mod sns;
mod timeline;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use event_pattern::Matcher;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use handler_kit::local::{LocalFunction, Outbox, Tables, World};
use idempotency::Clock;
use serde_json::Value;

pub use eventbridge::Emitted;
pub(crate) use eventbridge::target_input;
pub use lambda::{CLIENT_RETRIES, Exchange, RETRIED_BY_CLIENT};
pub use sns::Notification;
pub use timeline::{Entry, What, clock_text};

use crate::faults::{Choice, Dice, Faults, Injected};
use crate::functions::{BuildError, FunctionCatalogue, Wiring};
use crate::sqs::{Message, Outgoing, Queue};
use crate::topology::Topology;

/// Who sent what came from outside the template (a scenario, a producer), in the run record.
const OUTSIDE: &str = "outside";

/// The trace ids of a subject's events by type (notifications as `(notification)`); `None` for
/// one that travelled in no trace.
pub type Traces = BTreeMap<String, BTreeSet<Option<String>>>;

/// How a cloud starts.
#[derive(Debug, Clone)]
pub struct CloudOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Faults to inject.
    pub faults: Faults,
    /// Virtual time zero.
    pub start: DateTime<Utc>,
    /// Scheduled rules fire until this many virtual ms after the start (a schedule has no end
    /// of its own, and a run must).
    pub schedules_until: i64,
    /// Replay exactly these choices instead of drawing from the seed (a fault file).
    pub replay: Option<Arc<Vec<Choice>>>,
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            faults: Faults::none(),
            start: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().unwrap_or_default(),
            schedules_until: 10 * 60_000,
            replay: None,
        }
    }
}

/// The run's clock, as functions read it: the virtual start plus tokio's paused clock's time
/// since the run began, so a function sees time pass across its own port calls.
#[derive(Debug)]
struct VirtualClock {
    start: DateTime<Utc>,
    /// Virtual ms at the last sync, and tokio's instant then (none outside a run).
    synced: Mutex<(i64, Option<tokio::time::Instant>)>,
}

impl VirtualClock {
    /// Ties virtual ms `now` to tokio's current instant (at the start of each run: a run may
    /// be driven by another runtime than the last).
    fn sync(&self, now: i64) {
        *self.synced.lock().unwrap_or_else(PoisonError::into_inner) = (now, Some(tokio::time::Instant::now()));
    }

    /// Virtual ms since the start.
    fn elapsed_ms(&self) -> i64 {
        let (ms, at) = *self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        at.map_or(ms, |at| {
            ms + i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX / 2)
        })
    }

    /// Tokio's instant of virtual ms `at` (not before now).
    fn instant_of(&self, at: i64) -> tokio::time::Instant {
        let (ms, synced) = *self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        let synced = synced.unwrap_or_else(tokio::time::Instant::now);
        synced + Duration::from_millis(u64::try_from(at - ms).unwrap_or(0))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let (ms, at) = *self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = at.map_or(Duration::ZERO, |at| at.elapsed());
        self.start + chrono::Duration::milliseconds(ms) + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Events put on buses, by detail-type: (puts, distinct envelope ids).
    pub events: BTreeMap<String, (u64, u64)>,
    /// Invocations by function crate.
    pub invocations: BTreeMap<String, u64>,
    /// Records delivered to functions by crate.
    pub records: BTreeMap<String, u64>,
    /// Batches that did not fully succeed, by crate.
    pub failed_batches: BTreeMap<String, u64>,
    /// Things that could not be delivered.
    pub undeliverable: Vec<String>,
    /// Invocations that answered after their timeout (on tokio's clock, which the kit's
    /// deadline reads): each would have been killed by Lambda, its whole batch retried.
    pub late_invocations: Vec<String>,
    /// The most invocations in flight at once, by crate.
    pub peak_concurrency: BTreeMap<String, usize>,
}

#[derive(Debug)]
enum Task {
    Deliver {
        queue: String,
        message: Outgoing,
        dead_letter: Option<String>,
        /// Who sent it (a node of the event graph, for the run record).
        from: String,
    },
    Poll {
        mapping: usize,
    },
    Invoke {
        function: String,
        payload: Value,
        label: Option<String>,
        attempt: u32,
        /// When the event was first handed to Lambda (its age bounds its retries).
        first_at: i64,
    },
    /// A rule retries a delivery its target throttled.
    Redeliver(Box<eventbridge::Delivery>),
    /// The poller's invocation of a batch Lambda throttled is let through.
    Unthrottle {
        mapping: usize,
        batch: Vec<Message>,
    },
    /// A scheduled rule fires (and schedules its next firing within the horizon).
    Fire {
        schedule: usize,
    },
    /// An event put on a bus from outside the template (a scenario's input).
    Put {
        bus: String,
        event: Value,
    },
}

#[derive(Debug)]
struct Scheduled {
    at: i64,
    seq: u64,
    task: Task,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A function of the cloud, with what the timeline calls it.
struct Deployed {
    crate_name: String,
    timeout: Duration,
    function: Rc<dyn LocalFunction>,
}

/// What to do when an invocation ends.
#[derive(Debug)]
enum After {
    /// Settle the batch of event source mapping `mapping`.
    Batch { mapping: usize, batch: Vec<Message> },
    /// An asynchronous invocation (a rule, a subscription): Lambda's retries.
    Async {
        function: String,
        payload: Value,
        attempt: u32,
        first_at: i64,
    },
    /// An HTTP client's request: its retries, or its exchange.
    Client {
        function: String,
        payload: Value,
        label: String,
        attempt: u32,
    },
}

/// An invocation that ended: its answer, and how long it took on tokio's clock.
struct Ended {
    id: u64,
    function: String,
    request_id: String,
    timeout: Duration,
    result: Result<Value, String>,
    took: Duration,
    after: After,
}

type Running = Pin<Box<dyn Future<Output = Ended>>>;

/// Who sees the timeline as it happens.
type Observer = Box<dyn FnMut(&Entry)>;

/// Who takes the run record's lines as they happen (see [`LocalCloud::record_run`]).
type Recorder = Box<dyn FnMut(&Value)>;

/// The local cloud.
pub struct LocalCloud {
    topology: Topology,
    account: String,
    region: String,
    start: DateTime<Utc>,
    now: i64,
    clock: Arc<VirtualClock>,
    dice: Arc<Dice>,
    outbox: Outbox,
    tables: Arc<Tables>,
    /// Invocations in flight.
    running: FuturesUnordered<Running>,
    /// The crate of each invocation in flight, by invocation id.
    in_flight: BTreeMap<u64, String>,
    invocations: u64,
    /// Notifications each invocation in flight published (indexes into `notifications`): at
    /// risk of a repeat if it then fails to record its work.
    notified_by: HashMap<u64, Vec<usize>>,
    /// Batches in flight per mapping, and since when each mapping has had messages.
    batches_in_flight: Vec<usize>,
    active_since: Vec<Option<i64>>,
    schedules_until: i64,
    emitted: Option<Vec<Emitted>>,
    queues: BTreeMap<String, Queue>,
    matchers: BTreeMap<String, Matcher<usize>>,
    functions: BTreeMap<String, Deployed>,
    polls: Vec<Option<i64>>,
    windows: Vec<Option<i64>>,
    agenda: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    counter: u64,
    observer: Option<Observer>,
    recorder: Option<Recorder>,
    /// Whether the recorder takes every step (messages, invocations), or only the timeline.
    record_steps: bool,
    timeline: Vec<Entry>,
    keep_timeline: bool,
    failures: HashMap<String, String>,
    /// Per message id: failed receives in invocations with an injected fault, and others.
    receive_failures: HashMap<String, (u32, u32)>,
    exchanges: Vec<Exchange>,
    notifications: Vec<Notification>,
    stats: Stats,
    ids: HashMap<(String, String), Vec<uuid::Uuid>>,
    /// The X-Ray trace ids each subject's events (by type) and notifications travelled in.
    traces: HashMap<String, Traces>,
    /// Each archive's events (by archive logical id), as the bus received them: their time,
    /// and the event as JSON text (a tree per event would cost several times the memory).
    archived: HashMap<String, Vec<(DateTime<Utc>, String)>>,
}

impl fmt::Debug for LocalCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCloud")
            .field("now", &self.now)
            .field("queues", &self.queues.keys().collect::<Vec<_>>())
            .field("functions", &self.functions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl LocalCloud {
    /// A cloud running `topology`.
    pub fn new(topology: Topology, options: CloudOptions, registry: &FunctionCatalogue) -> Result<Self, BuildError> {
        let dice = Arc::new(match &options.replay {
            Some(choices) => Dice::replaying(options.faults, choices),
            None => Dice::new(options.seed, options.faults),
        });
        let clock = Arc::new(VirtualClock {
            start: options.start,
            synced: Mutex::new((0, None)),
        });
        let outbox = Outbox::default();
        let tables = Arc::new(Tables::default());
        let wiring = Wiring {
            outbox: outbox.clone(),
            tables: Arc::clone(&tables),
            faults: Arc::clone(&dice) as _,
            clock: Arc::clone(&clock) as _,
            world: Arc::new(World {
                buses: topology.buses.values().map(|b| b.name.clone()).collect(),
                topics: topology.topics.values().map(|t| t.arn.clone()).collect(),
                queues: topology
                    .queues
                    .values()
                    .map(|q| (q.url.clone(), q.max_message_bytes))
                    .collect(),
            }),
        };
        let mut functions = BTreeMap::new();
        for (id, function) in &topology.functions {
            functions.insert(
                id.clone(),
                Deployed {
                    crate_name: function.spec.binary.clone(),
                    timeout: function.spec.timeout,
                    function: Rc::from(registry.build(&function.spec, &wiring)?),
                },
            );
        }
        let queues = topology
            .queues
            .iter()
            .map(|(id, config)| (id.clone(), Queue::new(config.clone())))
            .collect();
        let mut matchers: BTreeMap<String, Matcher<usize>> = BTreeMap::new();
        for (index, rule) in topology.rules.iter().enumerate() {
            if rule.enabled {
                matchers
                    .entry(rule.bus.clone())
                    .or_default()
                    .add(index, rule.pattern.clone());
            }
        }
        let arn = topology
            .queues
            .values()
            .map(|q| q.arn.clone())
            .next()
            .unwrap_or_default();
        let parts: Vec<&str> = arn.split(':').collect();
        let mappings = topology.mappings.len();
        let mut cloud = Self {
            account: parts.get(4).map_or("000000000000", |s| *s).to_owned(),
            region: parts.get(3).map_or("us-east-1", |s| *s).to_owned(),
            start: options.start,
            now: 0,
            clock,
            dice,
            outbox,
            tables,
            running: FuturesUnordered::new(),
            in_flight: BTreeMap::new(),
            invocations: 0,
            notified_by: HashMap::new(),
            batches_in_flight: vec![0; mappings],
            active_since: vec![None; mappings],
            schedules_until: options.schedules_until,
            emitted: None,
            queues,
            matchers,
            functions,
            polls: vec![None; mappings],
            windows: vec![None; mappings],
            agenda: BinaryHeap::new(),
            seq: 0,
            counter: 0,
            observer: None,
            recorder: None,
            record_steps: false,
            timeline: Vec::new(),
            keep_timeline: true,
            failures: HashMap::new(),
            receive_failures: HashMap::new(),
            exchanges: Vec::new(),
            notifications: Vec::new(),
            stats: Stats::default(),
            ids: HashMap::new(),
            traces: HashMap::new(),
            archived: HashMap::new(),
            topology,
        };
        for (schedule, rule) in cloud.topology.schedules.iter().enumerate() {
            if rule.enabled && rule.every_ms <= cloud.schedules_until {
                let first = rule.every_ms;
                cloud.agenda.push(Reverse(Scheduled {
                    at: first,
                    seq: schedule as u64,
                    task: Task::Fire { schedule },
                }));
            }
        }
        cloud.seq = cloud.topology.schedules.len() as u64;
        Ok(cloud)
    }

    /// Keeps every event put on a bus and every message published to a topic, as delivered
    /// (`localcloud play --emitted`); off by default, since long runs would hold them all.
    pub fn keep_emitted(&mut self) {
        self.emitted.get_or_insert_with(Vec::new);
    }

    /// What was emitted so far, if kept.
    pub fn emitted(&self) -> &[Emitted] {
        self.emitted.as_deref().unwrap_or_default()
    }

    /// Schedules a message to queue `logical_id` at virtual time `at`, as a producer outside
    /// the template would send it.
    pub fn send_at(&mut self, at: i64, logical_id: &str, message: Outgoing) {
        self.schedule(
            at,
            Task::Deliver {
                queue: logical_id.to_owned(),
                message,
                dead_letter: None,
                from: OUTSIDE.to_owned(),
            },
        );
    }

    /// Schedules an event (`source`, `detail-type`, `detail`) put on the bus named `bus` at
    /// virtual time `at`, as PutEvents from outside the template.
    pub fn put_event_at(&mut self, at: i64, bus: &str, source: &str, detail_type: &str, detail: Value) {
        let event = serde_json::json!({
            "version": "0",
            "source": source,
            "detail-type": detail_type,
            "resources": [],
            "detail": detail,
        });
        self.schedule(
            at,
            Task::Put {
                bus: bus.to_owned(),
                event,
            },
        );
    }

    /// Calls `observer` with every timeline entry as it happens.
    pub fn observe(&mut self, observer: impl FnMut(&Entry) + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// Hands `recorder` every line of the run record as it happens, one JSON object each, its
    /// kind in `k` and its virtual time in `at`: the timeline's entries, each event and
    /// notification with its envelope, and with `steps` what the timeline leaves out (each
    /// message sent, received and gone, each invocation's start and end): `localcloud ...
    /// --record`, the run page; the demo's story reads the lines without steps. Nothing is
    /// built without a recorder.
    pub fn record_run(&mut self, steps: bool, recorder: impl FnMut(&Value) + 'static) {
        self.record_steps = steps;
        self.recorder = Some(Box::new(recorder));
    }

    /// Hands the recorder the step `line` builds, if it takes steps.
    fn note_step(&mut self, line: impl FnOnce(&Self) -> Value) {
        if self.record_steps {
            self.note(line);
        }
    }

    /// Hands the recorder the line `line` builds, if there is a recorder.
    fn note(&mut self, line: impl FnOnce(&Self) -> Value) {
        if self.recorder.is_some() {
            let line = line(self);
            if let Some(recorder) = &mut self.recorder {
                recorder(&line);
            }
        }
    }

    /// Whether to keep the timeline in memory (on by default; off for long runs).
    pub fn keep_timeline(&mut self, keep: bool) {
        self.keep_timeline = keep;
    }

    /// The event graph.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Virtual ms since the start.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The timeline so far.
    pub fn timeline(&self) -> &[Entry] {
        &self.timeline
    }

    /// The tables.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Loads `items` (the JSON objects the deployed table would hold) into the table the
    /// template declares as `logical_id`, before a run: `--table <LogicalId>=<items.json>`.
    pub fn load_table(&self, logical_id: &str, items: &[Value]) -> Result<(), String> {
        let resource = self
            .topology
            .template
            .resource(logical_id)
            .filter(|r| r.kind == "AWS::DynamoDB::Table")
            .ok_or_else(|| format!("the template has no DynamoDB table {logical_id}"))?;
        let name = resource.ref_value.as_deref().unwrap_or(&resource.physical_name);
        self.tables
            .load(name, items)
            .map_err(|reason| format!("table {logical_id} ({name}): {reason}"))
    }

    /// A queue by logical id.
    pub fn queue(&self, logical_id: &str) -> Option<&Queue> {
        self.queues.get(logical_id)
    }

    /// Every queue.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// The last failure recorded for a message id.
    pub fn failure_of(&self, message_id: &str) -> Option<&str> {
        self.failures.get(message_id).map(String::as_str)
    }

    /// Whether every failed receive of message `message_id` came from an invocation into which
    /// a fault was injected (a crash, a throttled call): a message dead-lettered so is the
    /// platform keeping what the injected faults kept from being processed, not a defect.
    pub fn failed_only_by_faults(&self, message_id: &str) -> bool {
        self.receive_failures
            .get(message_id)
            .is_some_and(|(faulted, other)| *faulted > 0 && *other == 0)
    }

    /// HTTP exchanges so far.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Messages published to topics.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// Invocations in flight now, by function crate.
    pub fn invocations_in_flight(&self) -> BTreeMap<String, usize> {
        let mut in_flight = BTreeMap::new();
        for function in self.in_flight.values() {
            *in_flight.entry(function.clone()).or_default() += 1;
        }
        in_flight
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Faults injected so far.
    pub fn injected(&self) -> Injected {
        self.dice.injected()
    }

    /// The choices the run made so far (its fault file; none when it replays one).
    pub fn choices(&self) -> Vec<Choice> {
        self.dice.choices()
    }

    /// Port calls made so far, how many while another invocation was in flight, and a
    /// digest of the order the invocations made them in.
    pub fn schedule_digest(&self) -> (u64, u64, u64) {
        self.dice.schedule()
    }

    /// Whether function `logical_id` consumes `event_type`.
    pub fn consumes(&self, logical_id: &str, event_type: &str) -> bool {
        self.functions
            .get(logical_id)
            .is_some_and(|f| f.function.consumes(event_type))
    }

    fn record(&mut self, what: What) {
        let entry = Entry { at: self.now, what };
        if let Some((subject, kind)) = entry.subject_and_kind()
            && !subject.is_empty()
        {
            self.traces
                .entry(subject.to_owned())
                .or_default()
                .entry(kind.to_owned())
                .or_default()
                .insert(entry.trace_id().map(str::to_owned));
        }
        if let Some(observer) = &mut self.observer {
            observer(&entry);
        }
        // Events and notifications have lines of their own, with their envelopes.
        if !matches!(entry.what, What::Event { .. } | What::Notification { .. }) {
            self.note(|_| record::entry(&entry));
        }
        if self.keep_timeline {
            self.timeline.push(entry);
        }
    }

    fn schedule(&mut self, at: i64, task: Task) {
        self.seq += 1;
        self.agenda.push(Reverse(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            task,
        }));
    }

    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:08}", self.counter)
    }

    /// Schedules an HTTP request to function `logical_id` at virtual time `at`; its answer is
    /// kept under `label` in [`LocalCloud::exchanges`].
    pub fn request(&mut self, at: i64, logical_id: &str, payload: Value, label: impl Into<String>) {
        self.schedule(
            at,
            Task::Invoke {
                function: logical_id.to_owned(),
                payload,
                label: Some(label.into()),
                attempt: 0,
                first_at: at,
            },
        );
    }

    /// Sends a message to queue `logical_id` now, as a producer outside the template would.
    pub fn send(&mut self, logical_id: &str, message: Outgoing) {
        self.schedule(
            self.now,
            Task::Deliver {
                queue: logical_id.to_owned(),
                message,
                dead_letter: None,
                from: OUTSIDE.to_owned(),
            },
        );
    }

    fn undeliverable(&mut self, target: String, reason: String) {
        self.stats.undeliverable.push(format!("{target}: {reason}"));
        self.record(What::Undeliverable { target, reason });
    }

    /// Runs tasks and the invocations they start until nothing is left to do, or the next
    /// task is after virtual time `until` (invocations still in flight then go on in the next
    /// run). Returns how many tasks ran and invocations ended. Needs tokio's clock paused
    /// (`start_paused`): virtual time is its time.
    pub async fn run(&mut self, until: i64) -> usize {
        self.clock.sync(self.now);
        let mut ran = 0;
        loop {
            self.catch_up();
            let due = self
                .agenda
                .peek()
                .map(|Reverse(next)| next.at)
                .filter(|at| *at <= until);
            if due.is_none() && self.running.is_empty() {
                break;
            }
            let wake = due.or((until != i64::MAX).then_some(until));
            let deadline = wake.map(|at| self.clock.instant_of(at));
            let sleep = async move {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let outbox = self.outbox.clone();
            tokio::select! {
                biased;
                // What an invocation sends takes effect when it sends it, not when it ends.
                () = outbox.sent() => {}
                Some(ended) = self.running.next() => {
                    self.catch_up();
                    self.ended(ended);
                    ran += 1;
                }
                () = sleep => {
                    self.catch_up();
                    if due.is_none() {
                        break;
                    }
                    if let Some(Reverse(next)) = self.agenda.pop() {
                        self.execute(next.task);
                        ran += 1;
                    }
                }
            }
        }
        self.catch_up();
        ran
    }

    /// Moves `now` to the virtual clock and routes what the invocations in flight sent since.
    fn catch_up(&mut self) {
        self.now = self.now.max(self.clock.elapsed_ms());
        self.route_sends();
    }

    /// Whether no task is waiting and no invocation is in flight.
    pub fn is_idle(&self) -> bool {
        self.agenda.is_empty() && self.running.is_empty()
    }

    fn execute(&mut self, task: Task) {
        match task {
            Task::Deliver {
                queue,
                message,
                dead_letter,
                from,
            } => self.deliver(&queue, message, dead_letter, &from),
            Task::Poll { mapping } => self.poll(mapping),
            Task::Fire { schedule } => self.fire(schedule),
            Task::Put { bus, event } => self.put_raw(&bus, event),
            Task::Redeliver(delivery) => self.redeliver(*delivery),
            Task::Unthrottle { mapping, batch } => self.invoke_batch(mapping, batch),
            Task::Invoke {
                function,
                payload,
                label,
                attempt,
                first_at,
            } => {
                // No label: a rule or a subscription invoked it; a label: an HTTP client did.
                let after = match label {
                    None => After::Async {
                        function: function.clone(),
                        payload: payload.clone(),
                        attempt,
                        first_at,
                    },
                    Some(label) => After::Client {
                        function: function.clone(),
                        payload: payload.clone(),
                        label,
                        attempt,
                    },
                };
                self.start_invocation(&function, payload, after);
            }
        }
    }

    /// Every distinct envelope id put on a bus, with its subject and type.
    pub fn carried_ids(&self) -> impl Iterator<Item = (&str, &str, uuid::Uuid)> {
        self.ids.iter().flat_map(|((subject, event_type), ids)| {
            ids.iter().map(move |id| (subject.as_str(), event_type.as_str(), *id))
        })
    }

    /// The X-Ray trace ids `subject`'s events (by type) and notifications (`(notification)`)
    /// travelled in, `None` for one that travelled in none: when every hop hands the trace on,
    /// what follows an event is in its trace.
    pub fn traces_of(&self, subject: &str) -> Option<&Traces> {
        self.traces.get(subject)
    }

    /// The distinct envelope ids of type `event_type` put on a bus for `subject`: more than one
    /// means an effect was decided twice.
    pub fn event_ids(&self, subject: &str, event_type: &str) -> &[uuid::Uuid] {
        self.ids
            .get(&(subject.to_owned(), event_type.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

//! The local cloud: the template's buses, rules, queues, topics, event source mappings and
//! functions, run in process on a virtual clock by a seeded scheduler.
//!
//! One agenda of timed tasks drives everything: deliveries into queues (after a small, random
//! latency), polls of event source mappings, asynchronous invocations. Tasks at the same
//! virtual time run in the order they were scheduled, and every random choice comes from one
//! seeded source, so a seed replays a run exactly.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, TimeZone, Utc};
use envelope::{Envelope, Metadata};
use event_pattern::Matcher;
use handler_kit::ManualClock;
use handler_kit::local::{LocalFunction, LocalMessage, Outbox, Sent, Tables, World};
use serde_json::Value;

use crate::esm::{self, MappingConfig};
use crate::faults::{Dice, Faults, Injected};
use crate::functions::{Registry, RegistryError, Wiring};
use crate::sqs::{Message, Outgoing, Queue};
use crate::topology::{Endpoint, Input, Topology};

/// A function's message as a queue or topic takes it.
fn outgoing(message: LocalMessage) -> Outgoing {
    Outgoing {
        body: message.body,
        attributes: message.attributes.into_iter().collect(),
        ..Outgoing::default()
    }
}

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
}

impl Default for CloudOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            faults: Faults::none(),
            start: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).single().unwrap_or_default(),
            schedules_until: 10 * 60_000,
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Virtual milliseconds since the start.
    pub at: i64,
    /// What happened.
    pub what: What,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// An HTTP request to a function.
    Request {
        /// The function's crate.
        function: String,
        /// The request's label (`POST /orders`).
        request: String,
        /// HTTP status.
        status: u16,
        /// Where the created resource is (`Location`), or the problem's detail.
        detail: String,
    },
    /// An event on a bus and where it went (`rule -> queue -> function` each).
    Event {
        /// detail-type.
        event_type: String,
        /// The envelope's subject (the aggregate's id).
        subject: String,
        /// Who published it.
        from: String,
        /// Each matching rule's route.
        routes: Vec<String>,
    },
    /// A batch that did not fully succeed.
    Batch {
        /// The function's crate.
        function: String,
        /// Records in the batch.
        size: usize,
        /// Records left to come back.
        retried: usize,
        /// Why the whole batch failed, if it did.
        failure: Option<String>,
    },
    /// A fault: the function crashed after publishing.
    Crash {
        /// The function's crate.
        function: String,
        /// Records in the batch.
        size: usize,
    },
    /// A fault: the function crashed after publishing a record's outputs, before recording
    /// the record done.
    CrashBeforeRecord {
        /// The function's crate.
        function: String,
    },
    /// A fault: a rule delivered an event twice.
    Duplicate {
        /// The queue.
        queue: String,
    },
    /// A message moved to a dead-letter queue.
    DeadLetter {
        /// The queue it left.
        queue: String,
        /// The dead-letter queue.
        dead_letter_queue: String,
        /// Receives it had.
        receives: u32,
    },
    /// A message outlived its queue's retention period and was deleted unread.
    Expired {
        /// The queue.
        queue: String,
        /// The message id.
        id: String,
    },
    /// A function parked a message.
    Parked {
        /// The function that parked it.
        by: String,
        /// Error kind.
        kind: String,
        /// The reason.
        reason: String,
    },
    /// A message published to a topic.
    Notification {
        /// The topic.
        topic: String,
        /// The message's `subject` attribute (the aggregate's id).
        subject: String,
        /// Who published it.
        from: String,
        /// Subscriptions it reached.
        delivered: usize,
    },
    /// Something could not be delivered where the template sends it.
    Undeliverable {
        /// Where it was going.
        target: String,
        /// Why not.
        reason: String,
    },
}

/// Formats virtual milliseconds as `+mm:ss.mmm`.
pub fn clock_text(at: i64) -> String {
    format!("+{:02}:{:02}.{:03}", at / 60_000, (at / 1000) % 60, at % 1000)
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  ", clock_text(self.at))?;
        match &self.what {
            What::Request {
                function,
                request,
                status,
                detail,
            } => write!(f, "HTTP {request} -> {function} -> {status} {detail}"),
            What::Event {
                event_type,
                subject,
                from,
                routes,
            } => {
                let head = format!("{event_type:<18} {subject:<35} {from:<17}");
                write!(f, "{head}")?;
                if routes.is_empty() {
                    return write!(f, " -> (no rule matches)");
                }
                // Under the first arrow: the time column is 12 wide.
                let indent = 12 + head.len();
                for (index, route) in routes.iter().enumerate() {
                    if index > 0 {
                        write!(f, "\n{:indent$}", "")?;
                    }
                    write!(f, " -> {route}")?;
                }
                Ok(())
            }
            What::Batch {
                function,
                size,
                retried,
                failure,
            } => match failure {
                Some(reason) => write!(f, "  {function}: whole batch of {size} retried: {reason}"),
                None => write!(
                    f,
                    "  {function}: {retried} of {size} records retried (batch item failures)"
                ),
            },
            What::Crash { function, size } => write!(
                f,
                "  FAULT {function} crashed after publishing; its batch of {size} comes back after the visibility timeout"
            ),
            What::CrashBeforeRecord { function } => write!(
                f,
                "  FAULT {function} crashed after publishing, before recording its records done; they run again when redelivered"
            ),
            What::Duplicate { queue } => write!(f, "  FAULT event delivered twice to {queue}"),
            What::DeadLetter {
                queue,
                dead_letter_queue,
                receives,
            } => write!(
                f,
                "  {queue}: message moved to {dead_letter_queue} after {receives} receives"
            ),
            What::Expired { queue, id } => {
                write!(f, "  {queue}: message {id} expired unread after the retention period")
            }
            What::Parked { by, kind, reason } => write!(f, "  PARKED by {by} ({kind}): {reason}"),
            What::Notification {
                topic,
                subject,
                from,
                delivered,
            } => write!(
                f,
                "{:<18} {subject:<35} {from:<17} -> {topic} ({delivered} subscriptions)",
                "(notification)"
            ),
            What::Undeliverable { target, reason } => write!(f, "  UNDELIVERABLE to {target}: {reason}"),
        }
    }
}

/// An HTTP exchange with a function.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The caller's label.
    pub label: String,
    /// The response payload (statusCode, headers, body) or the function's error.
    pub response: Result<Value, String>,
}

/// A message published to a topic.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Virtual time.
    pub at: i64,
    /// Topic logical id.
    pub topic: String,
    /// The message.
    pub message: Outgoing,
    /// Sent by an invocation that then failed to record the record it came from (a crash or a
    /// failed table write): its rerun may send it again.
    pub at_risk: bool,
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
}

#[derive(Debug)]
enum Task {
    Deliver {
        queue: String,
        message: Outgoing,
        dead_letter: Option<String>,
    },
    Poll {
        mapping: usize,
    },
    Invoke {
        function: String,
        payload: Value,
        label: Option<String>,
        attempt: u32,
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

/// Something a run put on a bus or published to a topic, as delivered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Emitted {
    /// Virtual ms since the start.
    pub at: i64,
    /// The bus's name, for an event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// The topic's logical id, for a message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The EventBridge event, or the message (its body as JSON when it is JSON, with its
    /// attributes).
    pub event: Value,
}

/// How often an HTTP client retries a request answered 5xx or 409 (same request, same
/// Idempotency-Key), with exponential backoff from 100 ms capped at 5 s: about a minute in all,
/// longer than an API holds an idempotency key, so a client always learns what became of its
/// request.
pub const CLIENT_RETRIES: u32 = 20;

/// How often Lambda retries a failed asynchronous invocation (a rule or a subscription
/// invoking a function directly).
pub const ASYNC_RETRIES: u32 = 2;

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
    function: Box<dyn LocalFunction>,
}

/// Who sees the timeline as it happens.
type Observer = Box<dyn FnMut(&Entry)>;

/// The local cloud.
pub struct LocalCloud {
    topology: Topology,
    account: String,
    region: String,
    start: DateTime<Utc>,
    now: i64,
    clock: Arc<ManualClock>,
    dice: Arc<Dice>,
    outbox: Outbox,
    tables: Arc<Tables>,
    /// Whether the invocation being dispatched failed to record a record (see [`Notification`]).
    dispatching_at_risk: bool,
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
    timeline: Vec<Entry>,
    keep_timeline: bool,
    failures: HashMap<String, String>,
    exchanges: Vec<Exchange>,
    notifications: Vec<Notification>,
    stats: Stats,
    ids: HashMap<(String, String), Vec<uuid::Uuid>>,
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

/// The value at a JSON path of the form `$`, `$.a.b` or `$.a[0]`.
fn at_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let rest = path.strip_prefix('$')?;
    let mut current = value;
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((name, index)) => (name, index.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        if let Some(index) = index {
            current = current.get(index)?;
        }
    }
    Some(current)
}

/// What a target sends for `event`.
pub(crate) fn target_input(input: &Input, event: &Value) -> Result<String, String> {
    match input {
        Input::Event => Ok(event.to_string()),
        Input::Constant(text) => Ok(text.clone()),
        Input::Path(path) => at_path(event, path)
            .map(Value::to_string)
            .ok_or_else(|| format!("InputPath {path} is not in the event")),
        Input::Transformer { paths, template } => Ok(fill(template, paths, event)),
    }
}

/// An `InputTemplate` filled from `event`: a placeholder inside a JSON string takes the value's
/// characters; elsewhere its JSON (so `{"id": <id>}` stays JSON). A template that is not a JSON
/// object or array is text, where every placeholder takes the characters.
fn fill(template: &str, paths: &BTreeMap<String, String>, event: &Value) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_string = !matches!(template.trim_start().chars().next(), Some('{' | '['));
    let text_template = in_string;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some((name, after)) = rest[1..].split_once('>')
            && let Some(path) = paths.get(name)
        {
            let value = at_path(event, path).cloned().unwrap_or(Value::Null);
            match (&value, in_string) {
                (Value::String(s), true) if text_template => out.push_str(s),
                (Value::String(s), true) => {
                    let quoted = serde_json::to_string(s).unwrap_or_default();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                (other, _) => out.push_str(&other.to_string()),
            }
            rest = after;
            continue;
        }
        if !text_template {
            if c == '"' && !escaped {
                in_string = !in_string;
            }
            escaped = c == '\\' && !escaped;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

impl LocalCloud {
    /// A cloud running `topology`.
    pub fn new(topology: Topology, options: CloudOptions, registry: &Registry) -> Result<Self, RegistryError> {
        let dice = Arc::new(Dice::new(options.seed, options.faults));
        let clock = Arc::new(ManualClock::new(options.start));
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
                    function: registry.build(&function.spec, &wiring)?,
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
            dispatching_at_risk: false,
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
            timeline: Vec::new(),
            keep_timeline: true,
            failures: HashMap::new(),
            exchanges: Vec::new(),
            notifications: Vec::new(),
            stats: Stats::default(),
            ids: HashMap::new(),
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

    /// HTTP exchanges so far.
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }

    /// Messages published to topics.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Faults injected so far.
    pub fn injected(&self) -> Injected {
        self.dice.injected()
    }

    /// Whether function `logical_id` consumes `event_type`.
    pub fn consumes(&self, logical_id: &str, event_type: &str) -> bool {
        self.functions
            .get(logical_id)
            .is_some_and(|f| f.function.consumes(event_type))
    }

    fn record(&mut self, what: What) {
        let entry = Entry { at: self.now, what };
        if let Some(observer) = &mut self.observer {
            observer(&entry);
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
            },
        );
    }

    /// Puts `events` on the bus named `bus` now, as `from`.
    pub fn put_events(&mut self, bus: &str, events: Vec<Envelope<Value>>, from: &str) {
        let Some(bus_id) = self
            .topology
            .buses
            .values()
            .find(|b| b.name == bus)
            .map(|b| b.logical_id.clone())
        else {
            self.undeliverable(format!("bus {bus}"), "no such bus in the template".into());
            return;
        };
        for envelope in events {
            let entry = match envelope.to_put_events_entry() {
                Ok(entry) => entry,
                Err(err) => {
                    self.undeliverable(format!("bus {bus}"), err.to_string());
                    continue;
                }
            };
            self.counter += 1;
            let id = Metadata::derived_id(
                envelope.metadata.id,
                "local-eventbridge",
                u32::try_from(self.counter).unwrap_or(0),
            );
            match entry.to_event(&id.to_string(), &self.account, &self.region) {
                Ok(event) => {
                    let value = serde_json::to_value(&event).unwrap_or(Value::Null);
                    let subject = envelope.metadata.subject.clone();
                    let counts = self
                        .stats
                        .events
                        .entry(envelope.metadata.event_type.clone())
                        .or_default();
                    counts.0 += 1;
                    let ids = self
                        .ids
                        .entry((subject.clone(), envelope.metadata.event_type.clone()))
                        .or_default();
                    if !ids.contains(&envelope.metadata.id) {
                        ids.push(envelope.metadata.id);
                        counts.1 += 1;
                    }
                    self.route(&bus_id, &value, &subject, from);
                }
                Err(err) => self.undeliverable(format!("bus {bus}"), err.to_string()),
            }
        }
    }

    /// Routes an EventBridge event on bus `bus_id` to every matching rule's targets.
    fn route(&mut self, bus_id: &str, event: &Value, subject: &str, from: &str) {
        self.emit_event(bus_id, event);
        let matched = self.matchers.get(bus_id).map(|m| m.matches(event)).unwrap_or_default();
        let mut routes = Vec::new();
        // Injected duplicates, told after the event they duplicate.
        let mut doubled = Vec::new();
        for rule_index in matched {
            let rule = &self.topology.rules[rule_index];
            let (rule_id, targets) = (rule.logical_id.clone(), rule.targets.clone());
            self.deliver_to_targets(&rule_id, &targets, event, &mut routes, &mut doubled);
        }
        self.record(What::Event {
            event_type: event
                .get("detail-type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subject: subject.to_owned(),
            from: from.to_owned(),
            routes,
        });
        for queue in doubled {
            self.record(What::Duplicate { queue });
        }
    }

    /// Sends `event` to each of rule `rule_id`'s `targets`, as its input says.
    fn deliver_to_targets(
        &mut self,
        rule_id: &str,
        targets: &[crate::topology::Target],
        event: &Value,
        routes: &mut Vec<String>,
        doubled: &mut Vec<String>,
    ) {
        for target in targets {
            let input = match target_input(&target.input, event) {
                Ok(input) => input,
                Err(reason) => {
                    self.undeliverable(format!("{rule_id} target {}", target.id), reason);
                    continue;
                }
            };
            let destination = target.endpoint.logical_id().to_owned();
            routes.push(self.topology.route_from(rule_id, target));
            match &target.endpoint {
                Endpoint::Queue(queue) => {
                    let message = Outgoing {
                        body: input,
                        group_id: target.message_group_id.clone(),
                        deduplication_id: event.get("id").and_then(Value::as_str).map(str::to_owned),
                        ..Outgoing::default()
                    };
                    let copies = if self.dice.duplicate() { 2 } else { 1 };
                    for copy in 0..copies {
                        let latency = self.dice.between(5, 25) + self.dice.delay();
                        if copy == 1 {
                            doubled.push(queue.clone());
                        }
                        self.schedule(
                            self.now + latency,
                            Task::Deliver {
                                queue: queue.clone(),
                                message: message.clone(),
                                dead_letter: target.dead_letter.clone(),
                            },
                        );
                    }
                }
                Endpoint::Topic(topic) => self.publish(topic, Outgoing::body(input), rule_id),
                Endpoint::Function(function) => match serde_json::from_str(&input) {
                    Ok(payload) => self.invoke_later(function, payload),
                    Err(err) => self.undeliverable(destination, format!("input is not JSON: {err}")),
                },
            }
        }
    }

    /// A scheduled rule fires: EventBridge's `Scheduled Event` to its targets, then the next
    /// firing, if within the horizon.
    fn fire(&mut self, schedule: usize) {
        let Some(rule) = self.topology.schedules.get(schedule).cloned() else {
            return;
        };
        let event = self.stamped(serde_json::json!({
            "version": "0",
            "source": "aws.events",
            "detail-type": "Scheduled Event",
            "resources": [rule.arn],
            "detail": {},
        }));
        self.emit_event("default", &event);
        let (mut routes, mut doubled) = (Vec::new(), Vec::new());
        self.deliver_to_targets(&rule.logical_id, &rule.targets, &event, &mut routes, &mut doubled);
        self.record(What::Event {
            event_type: "Scheduled Event".to_owned(),
            subject: String::new(),
            from: rule.logical_id.clone(),
            routes,
        });
        for queue in doubled {
            self.record(What::Duplicate { queue });
        }
        let next = self.now + rule.every_ms;
        if next <= self.schedules_until {
            self.schedule(next, Task::Fire { schedule });
        }
    }

    /// An event from outside the template, put on bus `bus` (by name) now.
    fn put_raw(&mut self, bus: &str, event: Value) {
        let Some(bus_id) = self.topology.bus(bus).map(|b| b.logical_id.clone()) else {
            self.undeliverable(format!("bus {bus}"), "no such bus in the template".into());
            return;
        };
        let event = self.stamped(event);
        let subject = event
            .pointer("/detail/metadata/subject")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.route(&bus_id, &event, &subject, "scenario");
    }

    /// `event` with what EventBridge adds on receipt: id, account, region, time (now).
    fn stamped(&mut self, mut event: Value) -> Value {
        let id = self.next_id("event");
        let time =
            (self.start + chrono::Duration::milliseconds(self.now)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Value::Object(fields) = &mut event {
            fields.insert("id".into(), Value::String(id));
            fields.insert("account".into(), Value::String(self.account.clone()));
            fields.insert("region".into(), Value::String(self.region.clone()));
            fields.insert("time".into(), Value::String(time));
        }
        event
    }

    fn emit_event(&mut self, bus_id: &str, event: &Value) {
        let at = self.now;
        let bus = self
            .topology
            .buses
            .get(bus_id)
            .map_or_else(|| bus_id.to_owned(), |b| b.name.clone());
        if let Some(emitted) = &mut self.emitted {
            emitted.push(Emitted {
                at,
                bus: Some(bus),
                topic: None,
                event: event.clone(),
            });
        }
    }

    /// Publishes `message` to topic `topic_id` (logical id) now, as `from`: every subscription
    /// whose filter policy passes it (on its typed attributes or its body) gets it, raw or
    /// wrapped in an SNS notification, its attributes with their data types.
    pub fn publish(&mut self, topic_id: &str, message: Outgoing, from: &str) {
        let Some(topic) = self.topology.topics.get(topic_id).cloned() else {
            self.undeliverable(format!("topic {topic_id}"), "no such topic in the template".into());
            return;
        };
        let message_id = self.next_id("sns");
        let attributes = message.typed_attributes();
        let mut delivered = 0;
        for subscription in &topic.subscriptions {
            if let Some(policy) = &subscription.filter
                && !policy.matches_message(&message.body, &attributes)
            {
                continue;
            }
            delivered += 1;
            let mut notification = envelope::encode::sns_notification(
                &topic.arn,
                &message_id,
                message.body.clone(),
                self.start + chrono::Duration::milliseconds(self.now),
            );
            notification.message_attributes = message.sns_attributes();
            match &subscription.endpoint {
                Endpoint::Queue(queue) => {
                    let outgoing = if subscription.raw {
                        message.clone()
                    } else {
                        Outgoing::body(envelope::encode::sns_notification_body(&notification))
                    };
                    self.schedule(
                        self.now + self.dice.between(5, 25),
                        Task::Deliver {
                            queue: queue.clone(),
                            message: outgoing,
                            dead_letter: None,
                        },
                    );
                }
                Endpoint::Function(function) => {
                    let event = envelope::encode::sns_event(
                        &format!("{}:{}", topic.arn, subscription.logical_id),
                        [notification],
                    );
                    self.invoke_later(function, serde_json::to_value(event).unwrap_or(Value::Null));
                }
                // The template loader only subscribes queues and functions.
                Endpoint::Topic(_) => delivered -= 1,
            }
        }
        self.record(What::Notification {
            topic: topic_id.to_owned(),
            subject: message.attributes.get("subject").cloned().unwrap_or_default(),
            from: from.to_owned(),
            delivered,
        });
        if let Some(emitted) = &mut self.emitted {
            let body = serde_json::from_str(&message.body).unwrap_or_else(|_| Value::String(message.body.clone()));
            emitted.push(Emitted {
                at: self.now,
                bus: None,
                topic: Some(topic_id.to_owned()),
                event: serde_json::json!({ "message": body, "attributes": message.attributes }),
            });
        }
        self.notifications.push(Notification {
            at: self.now,
            topic: topic_id.to_owned(),
            message,
            at_risk: self.dispatching_at_risk,
        });
    }

    /// An asynchronous invocation (a rule or subscription targeting a function), shortly.
    fn invoke_later(&mut self, function: &str, payload: Value) {
        let at = self.now + self.dice.between(5, 25);
        self.schedule(
            at,
            Task::Invoke {
                function: function.to_owned(),
                payload,
                label: None,
                attempt: 0,
            },
        );
    }

    fn undeliverable(&mut self, target: String, reason: String) {
        self.stats.undeliverable.push(format!("{target}: {reason}"));
        self.record(What::Undeliverable { target, reason });
    }

    /// Runs tasks until none is left, or the next is after virtual time `until`. Returns how
    /// many ran.
    pub async fn run(&mut self, until: i64) -> usize {
        let mut ran = 0;
        while let Some(Reverse(next)) = self.agenda.peek() {
            if next.at > until {
                break;
            }
            let Some(Reverse(next)) = self.agenda.pop() else {
                break;
            };
            if next.at > self.now {
                self.clock.advance(chrono::Duration::milliseconds(next.at - self.now));
                self.now = next.at;
            }
            self.execute(next.task).await;
            ran += 1;
        }
        ran
    }

    /// Whether no task is waiting.
    pub fn is_idle(&self) -> bool {
        self.agenda.is_empty()
    }

    async fn execute(&mut self, task: Task) {
        match task {
            Task::Deliver {
                queue,
                message,
                dead_letter,
            } => self.deliver(&queue, message, dead_letter),
            Task::Poll { mapping } => self.poll(mapping).await,
            Task::Fire { schedule } => self.fire(schedule),
            Task::Put { bus, event } => self.put_raw(&bus, event),
            Task::Invoke {
                function,
                payload,
                label,
                attempt,
            } => {
                let Some(label) = label else {
                    // Lambda retries a failed asynchronous invocation twice, a minute and then
                    // two minutes later; what still fails is kept, payload and all.
                    if let Err(error) = self.invoke(&function, payload.clone()).await {
                        if attempt < ASYNC_RETRIES {
                            self.schedule(
                                self.now + 60_000 * i64::from(attempt + 1),
                                Task::Invoke {
                                    function,
                                    payload,
                                    label: None,
                                    attempt: attempt + 1,
                                },
                            );
                        } else {
                            let crate_name = self.topology.crate_of(&function).to_owned();
                            self.undeliverable(
                                crate_name,
                                format!(
                                    "asynchronous invocation failed {} times ({error}); event: {payload}",
                                    attempt + 1
                                ),
                            );
                        }
                    }
                    return;
                };
                let result = self.invoke(&function, payload.clone()).await;
                let status = result
                    .as_ref()
                    .ok()
                    .and_then(|r| r.get("statusCode"))
                    .and_then(Value::as_u64);
                let retryable = result.is_err() || status.is_some_and(|s| s >= 500 || s == 409);
                if retryable && attempt < CLIENT_RETRIES {
                    self.record(What::Request {
                        function: self.topology.crate_of(&function).to_owned(),
                        request: label.clone(),
                        status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                        detail: "(the client retries)".into(),
                    });
                    self.schedule(
                        self.now + (100_i64 << attempt.min(6)).min(5_000),
                        Task::Invoke {
                            function,
                            payload,
                            label: Some(label),
                            attempt: attempt + 1,
                        },
                    );
                } else {
                    self.exchanged(&function, label, result);
                }
            }
        }
    }

    fn exchanged(&mut self, function: &str, label: String, response: Result<Value, String>) {
        let (status, detail) = match &response {
            Ok(response) => {
                let body: Value = response
                    .get("body")
                    .and_then(Value::as_str)
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                let location = response.pointer("/headers/location").and_then(Value::as_str);
                let detail = location
                    .or_else(|| body.get("detail").and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                let status = response.get("statusCode").and_then(Value::as_u64).unwrap_or(0);
                (u16::try_from(status).unwrap_or(0), detail)
            }
            Err(error) => (500, error.clone()),
        };
        self.record(What::Request {
            function: self.topology.crate_of(function).to_owned(),
            request: label.clone(),
            status,
            detail,
        });
        self.exchanges.push(Exchange { label, response });
    }

    /// Invokes function `logical_id` on `payload` now and handles what it sent.
    async fn invoke(&mut self, logical_id: &str, payload: Value) -> Result<Value, String> {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            return Err(format!("no function {logical_id}"));
        };
        let crate_name = deployed.crate_name.clone();
        let timeout = deployed.timeout;
        *self.stats.invocations.entry(crate_name.clone()).or_default() += 1;
        self.dice.begin_invocation();
        let started = tokio::time::Instant::now();
        let mut result = deployed.function.invoke(payload, &request_id, timeout).await;
        let took = started.elapsed();
        if took > timeout {
            self.stats.late_invocations.push(format!(
                "{crate_name} ({request_id}) answered after {} ms, past its {} ms timeout",
                took.as_millis(),
                timeout.as_millis()
            ));
        }
        if self.dice.crashed_inside() {
            self.record(What::CrashBeforeRecord {
                function: crate_name.clone(),
            });
            result = Err("Runtime.ExitError: crashed before recording its work (injected)".into());
        }
        let sent = self.outbox.drain();
        self.dispatching_at_risk = self.dice.record_failed_inside();
        self.dispatch(sent, &crate_name);
        self.dispatching_at_risk = false;
        result
    }

    /// Invokes function `logical_id` on `payload` now, without routing what it sends: the
    /// response and the sends, for `localcloud invoke`.
    pub async fn invoke_alone(&mut self, logical_id: &str, payload: Value) -> (Result<Value, String>, Vec<Sent>) {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            return (Err(format!("no function {logical_id} in the template")), Vec::new());
        };
        let result = deployed.function.invoke(payload, &request_id, deployed.timeout).await;
        (result, self.outbox.drain())
    }

    /// Handles a function's sends, now.
    fn dispatch(&mut self, sent: Vec<Sent>, from: &str) {
        for sent in sent {
            match sent {
                Sent::Events { bus, events } => self.put_events(&bus, events, from),
                Sent::Notifications { topic_arn, messages } => {
                    let topic = self
                        .topology
                        .topics
                        .values()
                        .find(|t| t.arn == topic_arn)
                        .map(|t| t.logical_id.clone());
                    for message in messages {
                        match &topic {
                            Some(topic) => self.publish(topic, outgoing(message), from),
                            None => self.undeliverable(topic_arn.clone(), "no such topic in the template".into()),
                        }
                    }
                }
                Sent::Messages { queue_url, messages } => {
                    let queue = self
                        .queues
                        .values()
                        .find(|q| q.config().url == queue_url)
                        .map(|q| q.config().logical_id.clone());
                    for message in messages.into_iter().map(outgoing) {
                        if let Some(reason) = message.attributes.get("parked-reason") {
                            self.record(What::Parked {
                                by: from.to_owned(),
                                kind: message.attributes.get("parked-kind").cloned().unwrap_or_default(),
                                reason: reason.clone(),
                            });
                        }
                        match &queue {
                            Some(queue) => self.deliver(queue, message, None),
                            None => self.undeliverable(queue_url.clone(), "no such queue in the template".into()),
                        }
                    }
                }
            }
        }
    }

    /// A message arrives in `queue_id`; a refused one goes to `dead_letter` with the reason.
    fn deliver(&mut self, queue_id: &str, message: Outgoing, dead_letter: Option<String>) {
        let Some(queue) = self.queues.get_mut(queue_id) else {
            self.undeliverable(queue_id.to_owned(), "no such queue".into());
            return;
        };
        match queue.send(self.now, message.clone()) {
            Ok(_) => self.wake(queue_id),
            Err(refused) => match dead_letter {
                Some(dlq) => {
                    let mut parked = message;
                    parked.attributes.insert("ERROR_CODE".into(), "SQS_SEND_FAILED".into());
                    parked.attributes.insert("ERROR_MESSAGE".into(), refused.to_string());
                    parked.group_id = None;
                    self.record(What::Undeliverable {
                        target: queue_id.to_owned(),
                        reason: format!("{refused}; kept in {dlq}"),
                    });
                    self.deliver(&dlq, parked, None);
                }
                None => self.undeliverable(queue_id.to_owned(), refused.to_string()),
            },
        }
    }

    /// Makes sure every mapping on `queue_id` polls now.
    fn wake(&mut self, queue_id: &str) {
        let now = self.now;
        for index in 0..self.topology.mappings.len() {
            if self.topology.mappings[index].queue == queue_id {
                self.poll_at(index, now);
            }
        }
    }

    fn poll_at(&mut self, mapping: usize, at: i64) {
        if self.polls[mapping].is_some_and(|pending| pending <= at) {
            return;
        }
        self.polls[mapping] = Some(at);
        self.schedule(at, Task::Poll { mapping });
    }

    async fn poll(&mut self, index: usize) {
        if self.polls[index] != Some(self.now) {
            return; // superseded by an earlier poll
        }
        self.polls[index] = None;
        let mapping: MappingConfig = self.topology.mappings[index].clone();
        if !mapping.enabled {
            return;
        }
        let Some(queue) = self.queues.get_mut(&mapping.queue) else {
            return;
        };
        let visible = queue.visible(self.now);
        if visible == 0 {
            if let Some(next) = queue.next_visible_after(self.now) {
                self.poll_at(index, next);
            }
            return;
        }
        // The batching window: wait for a full batch, at most the window after the first record.
        if visible < mapping.batch_size && mapping.window_ms > 0 {
            let opened = *self.windows[index].get_or_insert(self.now);
            if self.now < opened + mapping.window_ms {
                self.poll_at(index, opened + mapping.window_ms);
                return;
            }
        }
        self.windows[index] = None;
        let received = queue.receive(self.now, mapping.batch_size);
        let fifo = queue.config().fifo;
        let config = queue.config().clone();
        for dead in received.dead_letters {
            self.dead_letter(&config, dead);
        }
        for expired in received.expired {
            self.record(What::Expired {
                queue: config.logical_id.clone(),
                id: expired.id,
            });
        }
        let mut batch = received.messages;
        if batch.is_empty() {
            // Only dead letters came out: look again when something can be received.
            let next = self.queues.get(&mapping.queue).and_then(|q| {
                if q.visible(self.now) > 0 {
                    Some(self.now)
                } else {
                    q.next_visible_after(self.now)
                }
            });
            if let Some(next) = next {
                self.poll_at(index, next);
            }
            return;
        }
        if !fifo && self.dice.faults().reorder_ms > 0 {
            self.dice.shuffle(&mut batch);
        }
        let event = self.sqs_event(&config, &batch);
        let crate_name = self.topology.crate_of(&mapping.function).to_owned();
        *self.stats.records.entry(crate_name.clone()).or_default() += batch.len() as u64;
        let mut result = self
            .invoke(&mapping.function, serde_json::to_value(event).unwrap_or(Value::Null))
            .await;
        if self.dice.crash() {
            self.record(What::Crash {
                function: crate_name.clone(),
                size: batch.len(),
            });
            result = Err("Runtime.ExitError: crashed after publishing (injected)".into());
        }
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let settlement = esm::settle(&ids, &result, mapping.report_batch_item_failures);
        let queue = self.queues.get_mut(&mapping.queue);
        if let Some(queue) = queue {
            for message in batch.iter().filter(|m| settlement.delete.contains(&m.id)) {
                queue.delete(message.receipt.as_deref().unwrap_or_default());
            }
        }
        if !settlement.retry.is_empty() {
            *self.stats.failed_batches.entry(crate_name.clone()).or_default() += 1;
            let reason = settlement
                .batch_failure
                .clone()
                .unwrap_or_else(|| format!("{crate_name} reported it as a batch item failure"));
            for id in &settlement.retry {
                self.failures.insert(id.clone(), reason.clone());
            }
            self.record(What::Batch {
                function: crate_name,
                size: batch.len(),
                retried: settlement.retry.len(),
                failure: settlement.batch_failure,
            });
        }
        // The poller takes the next batch once this invocation is over.
        let busy = self.dice.between(5, 40);
        let next = self.queues.get(&mapping.queue).and_then(|q| {
            if q.visible(self.now + busy) > 0 {
                Some(self.now + busy)
            } else {
                q.next_visible_after(self.now + busy)
            }
        });
        if let Some(next) = next {
            self.poll_at(index, next);
        }
    }

    fn dead_letter(&mut self, from: &crate::sqs::QueueConfig, message: Message) {
        let Some((_, arn)) = &from.redrive else {
            return;
        };
        let target = self
            .queues
            .values()
            .find(|q| &q.config().arn == arn)
            .map(|q| q.config().logical_id.clone());
        match target {
            Some(target) => {
                self.record(What::DeadLetter {
                    queue: from.logical_id.clone(),
                    dead_letter_queue: target.clone(),
                    receives: message.receive_count,
                });
                let now = self.now;
                if let Some(queue) = self.queues.get_mut(&target) {
                    queue.enqueue_dead_letter(now, message);
                }
                self.wake(&target);
            }
            None => self.undeliverable(
                arn.clone(),
                format!("dead-letter queue of {} not found", from.logical_id),
            ),
        }
    }

    /// The SQS event Lambda's poller hands to the function for `batch`.
    fn sqs_event(&self, queue: &crate::sqs::QueueConfig, batch: &[Message]) -> SqsEvent {
        let epoch = |at: i64| {
            (self.start + chrono::Duration::milliseconds(at))
                .timestamp_millis()
                .to_string()
        };
        let mut event = SqsEvent::default();
        event.records = batch
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = Some(m.id.clone());
                record.receipt_handle.clone_from(&m.receipt);
                record.body = Some(m.sent.body.clone());
                let mut attributes = HashMap::from([
                    ("ApproximateReceiveCount".to_owned(), m.receive_count.to_string()),
                    ("SentTimestamp".to_owned(), epoch(m.sent_at)),
                    ("SenderId".to_owned(), "AIDALOCALCLOUD".to_owned()),
                    (
                        "ApproximateFirstReceiveTimestamp".to_owned(),
                        epoch(m.first_received_at.unwrap_or(m.sent_at)),
                    ),
                ]);
                if let Some(group) = &m.sent.group_id {
                    attributes.insert("MessageGroupId".into(), group.clone());
                }
                record.attributes = attributes;
                record.message_attributes = m.sent.sqs_attributes();
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn = Some(queue.arn.clone());
                record.aws_region = Some(self.region.clone());
                record
            })
            .collect();
        event
    }

    /// The distinct envelope ids of type `event_type` put on a bus for `subject`: more than one
    /// means an effect was decided twice.
    pub fn event_ids(&self, subject: &str, event_type: &str) -> &[uuid::Uuid] {
        self.ids
            .get(&(subject.to_owned(), event_type.to_owned()))
            .map_or(&[], Vec::as_slice)
    }
}

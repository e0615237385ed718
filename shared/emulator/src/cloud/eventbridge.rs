//! EventBridge: events put on buses (by functions, scenarios and scheduled rules), matched by
//! the rules' patterns and sent to each target with the input the target asks for.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use envelope::{Envelope, Metadata};
use serde_json::Value;

use super::{LocalCloud, Task, What};
use crate::sqs::Outgoing;
use crate::topology::{Endpoint, Input};

/// One event on its way from a rule to a target, and how often the target refused it.
#[derive(Debug)]
pub(crate) struct Delivery {
    rule: String,
    target: crate::topology::Target,
    input: String,
    event_id: Option<String>,
    /// The entry's `TraceHeader`, handed on to a queue as its `AWSTraceHeader`.
    trace_header: Option<String>,
    first_at: i64,
    attempts: u32,
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

/// An EventBridge event's `time`.
fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    let time = event.get("time")?.as_str()?;
    Some(DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc))
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
    /// Puts `events` on the bus named `bus` now, as `from`.
    pub fn put_events(&mut self, bus: &str, events: Vec<Envelope<Value>>, from: &str) {
        self.put_events_to(bus, events, from, None);
    }

    /// Puts `events` on the bus named `bus` now, as `from`; with `only_rule`, only that rule
    /// (by logical id) sees them, as a replay with a rule filter delivers.
    pub fn put_events_to(&mut self, bus: &str, events: Vec<Envelope<Value>>, from: &str, only_rule: Option<&str>) {
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
                    let trace = Trace::of_entry(&entry);
                    self.route(&bus_id, &value, &subject, from, only_rule, trace);
                }
                Err(err) => self.undeliverable(format!("bus {bus}"), err.to_string()),
            }
        }
    }

    /// Routes an EventBridge event on bus `bus_id` to every matching rule's targets (only
    /// `only_rule`'s, when given), and into every archive of the bus whose pattern it matches.
    /// Replayed events are not archived again.
    fn route(&mut self, bus_id: &str, event: &Value, subject: &str, from: &str, only_rule: Option<&str>, trace: Trace) {
        self.emit_event(bus_id, event);
        if event.get("replay-name").is_none() {
            let time = event_time(event);
            for archive in self.topology.archives.iter().filter(|a| a.bus == bus_id) {
                if let Some(time) = time
                    && archive.pattern.as_ref().is_none_or(|p| p.matches(event))
                {
                    self.archived
                        .entry(archive.logical_id.clone())
                        .or_default()
                        .push((time, event.to_string()));
                }
            }
        }
        let mut matched = self.matchers.get(bus_id).map(|m| m.matches(event)).unwrap_or_default();
        if let Some(rule) = only_rule {
            matched.retain(|&index| self.topology.rules[index].logical_id == rule);
        }
        let mut routes = Vec::new();
        // Injected duplicates, told after the event they duplicate.
        let mut doubled = Vec::new();
        for rule_index in matched {
            let rule = &self.topology.rules[rule_index];
            let (rule_id, targets) = (rule.logical_id.clone(), rule.targets.clone());
            self.deliver_to_targets(
                &rule_id,
                &targets,
                event,
                trace.header.as_deref(),
                &mut routes,
                &mut doubled,
            );
        }
        self.note_event(bus_id, event, from, &routes, trace.id.as_deref());
        self.record(What::Event {
            trace_id: trace.id,
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
        trace_header: Option<&str>,
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
            let stream = format!("rule:{rule_id}:{}", target.id);
            let copies = match &target.endpoint {
                Endpoint::Queue(_) if self.dice.duplicate(&stream) => 2,
                _ => 1,
            };
            for copy in 0..copies {
                if copy == 1 {
                    doubled.push(destination.clone());
                }
                let delivery = Delivery {
                    rule: rule_id.to_owned(),
                    target: target.clone(),
                    input: input.clone(),
                    event_id: event.get("id").and_then(Value::as_str).map(str::to_owned),
                    trace_header: trace_header.map(str::to_owned),
                    first_at: self.now,
                    attempts: 0,
                };
                let at = self.now + self.dice.delivery_latency(&stream);
                self.schedule(at, Task::Redeliver(Box::new(delivery)));
            }
        }
    }

    /// Tries a delivery to its target: a throttled one is retried with backoff as the target's
    /// `RetryPolicy` allows, then kept in its `DeadLetterConfig` queue with EventBridge's
    /// attributes (or dropped without one, as EventBridge drops it).
    pub(super) fn redeliver(&mut self, mut delivery: Delivery) {
        let stream = format!("rule:{}:{}", delivery.rule, delivery.target.id);
        if self.dice.target_throttled(&stream) {
            delivery.attempts += 1;
            let name = format!("{} target {}", delivery.rule, delivery.target.id);
            self.record(What::TargetThrottled {
                target: name.clone(),
                attempts: delivery.attempts,
            });
            let policy = delivery.target.retry;
            // Exponential backoff from 1 s, at most 5 minutes apart.
            let backoff = (1_000_i64 << (delivery.attempts - 1).min(9)).min(300_000);
            let retry_at = self.now + backoff;
            let exhausted = if delivery.attempts > policy.maximum_retry_attempts {
                Some("MaximumRetryAttemptsExceeded")
            } else if retry_at - delivery.first_at > policy.maximum_event_age_ms {
                Some("MaximumEventAgeExceeded")
            } else {
                None
            };
            match exhausted {
                None => self.schedule(retry_at, Task::Redeliver(Box::new(delivery))),
                Some(condition) => self.give_up(delivery, condition, name),
            }
            return;
        }
        let input = delivery.input;
        match &delivery.target.endpoint {
            Endpoint::Queue(queue) => {
                let message = Outgoing {
                    body: input,
                    group_id: delivery.target.message_group_id.clone(),
                    deduplication_id: delivery.event_id,
                    trace_header: delivery.trace_header,
                    ..Outgoing::default()
                };
                let from = self.sender_of(&delivery.rule);
                self.deliver(queue, message, delivery.target.dead_letter.clone(), &from);
            }
            Endpoint::Topic(topic) => {
                let message = Outgoing {
                    trace_header: delivery.trace_header,
                    ..Outgoing::body(input)
                };
                self.publish(topic, message, &delivery.rule);
            }
            Endpoint::Function(function) => match serde_json::from_str(&input) {
                Ok(payload) => self.invoke_later(function, payload),
                Err(err) => self.undeliverable(function.clone(), format!("input is not JSON: {err}")),
            },
        }
    }

    /// A delivery EventBridge stops retrying: to the dead-letter queue with the attributes
    /// EventBridge sets there, or dropped.
    /// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html>
    fn give_up(&mut self, delivery: Delivery, condition: &str, name: String) {
        let Some(dlq) = delivery.target.dead_letter.clone() else {
            self.undeliverable(
                name,
                format!(
                    "throttled {} times ({condition}); dropped: the target has no dead-letter queue",
                    delivery.attempts
                ),
            );
            return;
        };
        let rule_arn = self.rule_arn(&delivery.rule);
        let mut parked = Outgoing {
            trace_header: delivery.trace_header.clone(),
            ..Outgoing::body(delivery.input)
        };
        for (attribute, value) in [
            ("ERROR_CODE", "ThrottlingException".to_owned()),
            (
                "ERROR_MESSAGE",
                "the target throttled every delivery attempt (injected)".to_owned(),
            ),
            ("EXHAUSTED_RETRY_CONDITION", condition.to_owned()),
            ("RETRY_ATTEMPTS", (delivery.attempts - 1).to_string()),
            ("RULE_ARN", rule_arn),
            ("TARGET_ARN", delivery.target.endpoint.logical_id().to_owned()),
        ] {
            parked.attributes.insert(attribute.into(), value);
        }
        self.record(What::Undeliverable {
            target: name,
            reason: format!("{condition} after {} attempts; kept in {dlq}", delivery.attempts),
        });
        let from = self.sender_of(&delivery.rule);
        self.deliver(&dlq, parked, None, &from);
    }

    /// Who sends what rule `rule` delivers, as the event graph draws it: its bus (a scheduled
    /// rule, itself).
    fn sender_of(&self, rule: &str) -> String {
        self.topology
            .rules
            .iter()
            .find(|r| r.logical_id == rule)
            .map_or_else(|| rule.to_owned(), |r| r.bus.clone())
    }

    fn rule_arn(&self, rule: &str) -> String {
        self.topology
            .template
            .resource(rule)
            .and_then(|r| r.arn.clone())
            .unwrap_or_else(|| format!("arn:aws:events:{}:{}:rule/{rule}", self.region, self.account))
    }

    /// A scheduled rule fires: EventBridge's `Scheduled Event` to its targets, then the next
    /// firing, if within the horizon.
    pub(super) fn fire(&mut self, schedule: usize) {
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
        self.deliver_to_targets(&rule.logical_id, &rule.targets, &event, None, &mut routes, &mut doubled);
        self.note_event("default", &event, &rule.logical_id, &routes, None);
        self.record(What::Event {
            trace_id: None,
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
    pub(super) fn put_raw(&mut self, bus: &str, event: Value) {
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
        self.route(&bus_id, &event, &subject, "scenario", None, Trace::default());
    }

    /// Replays archive `archive` (logical id) as EventBridge's `StartReplay` does: every event
    /// it kept with a `time` in `[from, to)`, by time, to its bus, each with `replay-name` =
    /// `name`; with `only_rule`, to that rule only. Returns how many were replayed.
    pub fn replay_archive(
        &mut self,
        archive: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        only_rule: Option<&str>,
        name: &str,
    ) -> Result<usize, String> {
        let found = self
            .topology
            .archives
            .iter()
            .find(|a| a.logical_id == archive)
            .ok_or_else(|| {
                let known: Vec<&str> = self.topology.archives.iter().map(|a| a.logical_id.as_str()).collect();
                format!("no archive {archive} in the template (there are: {})", known.join(", "))
            })?;
        let bus_id = found.bus.clone();
        if let Some(rule) = only_rule
            && !self
                .topology
                .rules
                .iter()
                .any(|r| r.logical_id == rule && r.bus == bus_id)
        {
            return Err(format!("no rule {rule} on the archive's bus {bus_id}"));
        }
        let mut events: Vec<(DateTime<Utc>, Value)> = self
            .archived
            .get(archive)
            .into_iter()
            .flatten()
            .filter(|(time, _)| *time >= from && *time < to)
            .filter_map(|(time, text)| Some((*time, serde_json::from_str(text).ok()?)))
            .collect();
        events.sort_by_key(|(time, _)| *time);
        let count = events.len();
        for (_, mut event) in events {
            if let Value::Object(fields) = &mut event {
                fields.insert("replay-name".into(), Value::String(name.to_owned()));
            }
            let subject = event
                .pointer("/detail/metadata/subject")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            // An archive keeps the event, not the entry's trace header: a replay begins no trace.
            self.route(
                &bus_id,
                &event,
                &subject,
                &format!("replay {name}"),
                only_rule,
                Trace::default(),
            );
        }
        Ok(count)
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
}

/// The X-Ray trace an event travels in: its header (handed on to targets) and its id (the
/// timeline's).
#[derive(Debug, Default)]
struct Trace {
    header: Option<String>,
    id: Option<String>,
}

impl Trace {
    fn of_entry(entry: &envelope::PutEventsEntry) -> Self {
        let id = entry
            .trace_header
            .as_deref()
            .and_then(envelope::TraceContext::from_xray)
            .and_then(|t| t.xray_trace_id());
        Self {
            header: entry.trace_header.clone(),
            id,
        }
    }
}

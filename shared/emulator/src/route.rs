//! `localcloud route`: which rules an event matches and where each sends it, and, when asked,
//! why the others do not.

use std::collections::BTreeMap;

use envelope::{Decoder, Registry};
use event_pattern::sns::MessageAttribute;
use serde_json::Value;

use crate::cloud::target_input;
use crate::topology::{Endpoint, Rule, Topology};

/// Where one event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The event's detail-type.
    pub event_type: String,
    /// `Rule -> Queue -> function`, one per target of each matching rule.
    pub routes: Vec<String>,
    /// Only with `explain`: why it goes nowhere else, one line each. Every rule of the bus that
    /// does not match: `Rule: no match: <first failing field and why>` (or `Rule: disabled`);
    /// and where a matching rule sends the event to a topic, every subscription whose filter
    /// policy refuses that notification: `Rule -> Topic -> Subscription: filtered out: <why>`.
    pub not_routed: Vec<String>,
}

/// The EventBridge events in `payload`: the payload itself if it is one, else every envelope
/// inside it (SQS, SNS, CloudEvents, bare), as the bus would see it once published.
pub fn events_in(payload: &[u8], known: Registry) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("detail-type").is_some() {
        return Ok(vec![value]);
    }
    let decoded = Decoder::with_registry(known)
        .decode_value(value)
        .map_err(|e| e.to_string())?;
    decoded
        .into_iter()
        .map(|record| {
            let envelope = record.envelope.map_err(|e| format!("record {}: {e}", record.index))?;
            let entry = envelope.to_put_events_entry().map_err(|e| e.to_string())?;
            let id = envelope.metadata.id.to_string();
            let event = entry
                .to_event(&id, "000000000000", "us-east-1")
                .map_err(|e| e.to_string())?;
            serde_json::to_value(event).map_err(|e| e.to_string())
        })
        .collect()
}

/// Routes every event of `payload` on bus `bus` (a name or logical id; the template's only
/// custom bus if `None`); with `explain`, also says why each rule or subscription that does not
/// take an event does not (computed only then: matching alone explains nothing).
pub fn route(
    topology: &Topology,
    payload: &[u8],
    bus: Option<&str>,
    known: Registry,
    explain: bool,
) -> Result<Vec<Routed>, String> {
    let bus = match bus {
        Some(name) => topology
            .bus(name)
            .ok_or_else(|| format!("no bus {name} in the template"))?,
        None => {
            let custom: Vec<_> = topology.buses.values().filter(|b| b.logical_id != "default").collect();
            match custom.as_slice() {
                [only] => *only,
                _ => topology
                    .bus("default")
                    .ok_or_else(|| "name the bus with --bus".to_owned())?,
            }
        }
    };
    Ok(events_in(payload, known)?
        .iter()
        .map(|event| Routed {
            event_type: event
                .get("detail-type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            routes: topology
                .matching_rules(&bus.logical_id, event)
                .flat_map(|rule| rule.targets.iter().map(|t| topology.route_of(rule, t)))
                .collect(),
            not_routed: if explain {
                why_not(topology, &bus.logical_id, event)
            } else {
                Vec::new()
            },
        })
        .collect())
}

/// Why `event` is not taken by each rule of bus `bus_id` that does not match it, and by each
/// filtered subscription of a topic a matching rule sends it to.
fn why_not(topology: &Topology, bus_id: &str, event: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for rule in topology.rules.iter().filter(|r| r.bus == bus_id) {
        if !rule.enabled {
            lines.push(format!("{}: disabled", rule.logical_id));
        } else if let Some(mismatch) = rule.pattern.explain(event) {
            lines.push(format!("{}: no match: {mismatch}", rule.logical_id));
        } else {
            filtered_out(topology, rule, event, &mut lines);
        }
    }
    lines
}

/// For each target of `rule` that is a topic: the subscriptions whose filter policies refuse
/// the notification the rule publishes (the target's input as the body, no attributes).
fn filtered_out(topology: &Topology, rule: &Rule, event: &Value, lines: &mut Vec<String>) {
    let no_attributes = BTreeMap::<String, MessageAttribute>::new();
    for target in &rule.targets {
        let Endpoint::Topic(topic_id) = &target.endpoint else {
            continue;
        };
        let Some(topic) = topology.topics.get(topic_id) else {
            continue;
        };
        let body = match target_input(&target.input, event) {
            Ok(body) => body,
            Err(reason) => {
                lines.push(format!("{} -> {topic_id}: undeliverable: {reason}", rule.logical_id));
                continue;
            }
        };
        for subscription in &topic.subscriptions {
            if let Some(why) = subscription
                .filter
                .as_ref()
                .and_then(|policy| policy.explain_message(&body, &no_attributes))
            {
                lines.push(format!(
                    "{} -> {topic_id} -> {}: filtered out: {why}",
                    rule.logical_id, subscription.logical_id
                ));
            }
        }
    }
}

//! The event graph of a template as a Mermaid flowchart: who publishes where, which rule sends
//! what to which queue, which function reads it, where failures go.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::functions::FunctionCatalogue;
use crate::topology::{Endpoint, Topology};

fn node(topology: &Topology, id: &str) -> String {
    if let Some(function) = topology.functions.get(id) {
        format!("{id}[\"{}\"]", function.spec.binary)
    } else if topology.queues.contains_key(id) {
        format!("{id}[[\"{id}\"]]")
    } else if topology.topics.contains_key(id) {
        format!("{id}>\"{id}\"]")
    } else {
        format!("{id}([\"{id}\"])")
    }
}

/// What a rule's pattern selects, short: its detail-types, else "pattern".
fn selects(pattern: &Value) -> String {
    match pattern.get("detail-type") {
        Some(Value::Array(types)) => types
            .iter()
            .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "pattern".to_owned(),
    }
}

/// An arrow of the event graph: from a node to another (logical ids), what travels it, and
/// whether it is a failure path (dotted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// Where it starts.
    pub from: String,
    /// Where it ends.
    pub to: String,
    /// What travels it.
    pub label: String,
    /// A failure path: dead letters, parked records.
    pub dotted: bool,
}

/// The Mermaid flowchart of `topology`, whose functions publish where their declarations in
/// `registry` say.
pub fn mermaid(topology: &Topology, registry: &FunctionCatalogue) -> String {
    let order = edges(topology, registry);
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    for edge in &order {
        nodes.insert(&edge.from);
        nodes.insert(&edge.to);
    }
    let mut out = String::from("flowchart LR\n");
    for id in nodes {
        let _ = writeln!(out, "    {}", node(topology, id));
    }
    for Edge {
        from,
        to,
        label,
        dotted,
    } in &order
    {
        let arrow = if *dotted { "-.->" } else { "-->" };
        let _ = writeln!(out, "    {from} {arrow}|\"{label}\"| {to}");
    }
    out
}

/// The event graph as JSON, for the run page: its nodes (`id`, `kind`: function, queue, dlq,
/// parking, topic, bus or other; `label`) and its edges.
pub fn json(topology: &Topology, registry: &FunctionCatalogue) -> Value {
    let order = edges(topology, registry);
    let mut kinds: BTreeMap<&str, &str> = BTreeMap::new();
    for edge in &order {
        for id in [edge.from.as_str(), edge.to.as_str()] {
            let kind = if topology.functions.contains_key(id) {
                "function"
            } else if topology.queues.contains_key(id) {
                "queue"
            } else if topology.topics.contains_key(id) {
                "topic"
            } else if topology.buses.contains_key(id) {
                "bus"
            } else {
                "other"
            };
            kinds.entry(id).or_insert(kind);
        }
    }
    // A queue only failures reach is a dead-letter queue, or the parking queue.
    for edge in order.iter().filter(|e| e.dotted) {
        if kinds.get(edge.to.as_str()) == Some(&"queue") {
            let kind = if edge.label == "park" { "parking" } else { "dlq" };
            kinds.insert(&edge.to, kind);
        }
    }
    let label = |id: &str| {
        topology
            .functions
            .get(id)
            .map_or_else(|| id.to_owned(), |f| f.spec.binary.clone())
    };
    serde_json::json!({
        "nodes": kinds
            .iter()
            .map(|(id, kind)| serde_json::json!({ "id": id, "kind": kind, "label": label(id) }))
            .collect::<Vec<_>>(),
        "edges": order
            .iter()
            .map(|e| serde_json::json!({ "from": e.from, "to": e.to, "label": e.label, "dotted": e.dotted }))
            .collect::<Vec<_>>(),
    })
}

/// The event graph's edges, in the order they are first found.
fn edges(topology: &Topology, registry: &FunctionCatalogue) -> Vec<Edge> {
    let mut edges: BTreeSet<(String, String, String, bool)> = BTreeSet::new();
    let mut order: Vec<Edge> = Vec::new();
    let mut edge = |from: &str, to: &str, label: String, dotted: bool| {
        let key = (from.to_owned(), to.to_owned(), label, dotted);
        if edges.insert(key.clone()) {
            order.push(Edge {
                from: key.0,
                to: key.1,
                label: key.2,
                dotted: key.3,
            });
        }
    };
    for function in topology.functions.values() {
        let spec = &function.spec;
        let env = |name: &str| {
            spec.environment
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let publishes_to = registry.get(&spec.binary).and_then(|r| r.publishes_to);
        if let Some(target) = publishes_to.and_then(|setting| env(setting.variable)) {
            if let Some(bus) = topology.bus(target) {
                edge(&spec.logical_id, &bus.logical_id, "PutEvents".into(), false);
            } else if let Some(topic) = topology.topics.values().find(|t| t.arn == target) {
                edge(&spec.logical_id, &topic.logical_id, "Publish".into(), false);
            }
        }
        if let Some(parking) = env("PARKING_QUEUE_URL")
            && let Some(queue) = topology.queues.values().find(|q| q.url == parking)
        {
            edge(&spec.logical_id, &queue.logical_id, "park".into(), true);
        }
    }
    for rule in &topology.rules {
        for target in &rule.targets {
            edge(
                &rule.bus,
                target.endpoint.logical_id(),
                format!("{}: {}", rule.logical_id, selects(&rule.pattern_json)),
                false,
            );
            if let Some(dead_letter) = &target.dead_letter {
                edge(&rule.bus, dead_letter, "undeliverable".into(), true);
            }
        }
    }
    for mapping in &topology.mappings {
        let window = if mapping.window_ms > 0 {
            format!(", window {} s", mapping.window_ms / 1000)
        } else {
            String::new()
        };
        edge(
            &mapping.queue,
            &mapping.function,
            format!("batch {}{window}", mapping.batch_size),
            false,
        );
    }
    for queue in topology.queues.values() {
        if let Some((count, arn)) = &queue.redrive
            && let Some(dead) = topology.queues.values().find(|q| &q.arn == arn)
        {
            edge(
                &queue.logical_id,
                &dead.logical_id,
                format!("after {count} receives"),
                true,
            );
        }
    }
    for topic in topology.topics.values() {
        for subscription in &topic.subscriptions {
            let label = match (&subscription.filter, &subscription.endpoint) {
                (Some(_), _) => "filtered",
                (None, Endpoint::Queue(_)) => "subscribed",
                (None, _) => "invokes",
            };
            edge(
                &topic.logical_id,
                subscription.endpoint.logical_id(),
                label.into(),
                false,
            );
        }
    }
    order
}

/// The line after which a Markdown file embeds the generated graph (in a mermaid block).
pub const MARKER: &str = "<!-- graph: generated by `localcloud graph`; a test keeps it current -->";

/// The graph embedded in `markdown` after [`MARKER`], if it has one.
pub fn embedded(markdown: &str) -> Option<&str> {
    let (_, rest) = markdown.split_once(MARKER)?;
    let rest = rest.trim_start_matches('\n').strip_prefix("```mermaid\n")?;
    rest.split_once("```").map(|(graph, _)| graph)
}

/// `markdown` with `graph` in the block after [`MARKER`] (a new block if there is none yet).
pub fn embed(markdown: &str, graph: &str) -> Option<String> {
    let (before, rest) = markdown.split_once(MARKER)?;
    let after = match rest.trim_start_matches('\n').strip_prefix("```mermaid\n") {
        Some(block) => block.split_once("```\n").map_or("", |(_, after)| after),
        None => rest.trim_start_matches('\n'),
    };
    let after = after.trim_start_matches('\n');
    Some(format!("{before}{MARKER}\n```mermaid\n{graph}```\n\n{after}"))
}

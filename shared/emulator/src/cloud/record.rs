//! The run record's lines (`LocalCloud::record_run`): what happened in a run, one JSON object
//! each, for the run page and its tests to replay at any virtual instant. A line's kind is its
//! `k`; `run`, `graph`, `view` and `summary` lines come from whoever runs the cloud, every
//! other one from here. The kinds and the queue-state rules are in `shared/localcloud/README.md`.

use serde_json::{Value, json};

use super::{After, Entry, LocalCloud, clock_text};
use crate::sqs::{Message, Outgoing};

/// A timeline entry's line: its fields, its kind in `what`, and the terminal's text for it.
pub(super) fn entry(entry: &Entry) -> Value {
    let mut line = serde_json::to_value(&entry.what).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut line {
        fields.insert("k".into(), "entry".into());
        fields.insert("at".into(), entry.at.into());
        let text = entry.to_string();
        let text = text.strip_prefix(&clock_text(entry.at)).unwrap_or(&text).trim();
        fields.insert("text".into(), text.into());
    }
    line
}

/// The envelope inside a message body, as each carrier holds it: an EventBridge event's
/// `detail`, an SNS notification's `Message`, or the envelope itself.
pub(crate) fn carried_envelope(body: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(body).ok()?;
    if let Some(detail) = value.get("detail") {
        return Some(detail.clone());
    }
    if let Some(message) = value.get("Message").and_then(Value::as_str) {
        return carried_envelope(message);
    }
    value.get("metadata").is_some().then_some(value)
}

/// An envelope's id, correlation and causation ids, as the record names them.
fn ids(envelope: Option<&Value>) -> (Value, Value, Value) {
    let metadata = envelope.and_then(|e| e.get("metadata"));
    let field = |name: &str| metadata.and_then(|m| m.get(name)).cloned().unwrap_or(Value::Null);
    (field("id"), field("correlationId"), field("causationId"))
}

impl LocalCloud {
    /// The line of an event put on bus `bus` by `from`, with its rules' routes.
    pub(super) fn note_event(&mut self, bus: &str, event: &Value, from: &str, routes: &[String], trace: Option<&str>) {
        self.note(|cloud| {
            let envelope = event.get("detail").filter(|d| d.get("metadata").is_some());
            let (id, correlation, causation) = ids(envelope);
            json!({
                "k": "event",
                "at": cloud.now,
                "id": if id.is_null() { event.get("id").cloned().unwrap_or(Value::Null) } else { id },
                "type": event.get("detail-type"),
                "subject": envelope.and_then(|e| e.pointer("/metadata/subject")),
                "from": from,
                "bus": bus,
                "correlation": correlation,
                "causation": causation,
                "trace": trace,
                "rules": routes.iter().filter_map(|r| r.split(" -> ").next()).collect::<Vec<_>>(),
                "routes": routes,
                "envelope": envelope,
            })
        });
    }

    /// The line of `message` published to topic `topic` by `from`.
    pub(super) fn note_notification(
        &mut self,
        topic: &str,
        message: &Outgoing,
        from: &str,
        delivered: usize,
        trace: Option<&str>,
    ) {
        self.note(|cloud| {
            let envelope = carried_envelope(&message.body);
            let (id, correlation, causation) = ids(envelope.as_ref());
            json!({
                "k": "notification",
                "at": cloud.now,
                "topic": topic,
                "id": id,
                "subject": message.attributes.get("subject"),
                "from": from,
                "delivered": delivered,
                "correlation": correlation,
                "causation": causation,
                "trace": trace,
                "envelope": envelope,
            })
        });
    }

    /// The line of message `id` arriving in queue `queue`, sent by `from`.
    pub(super) fn note_sent(&mut self, queue: &str, id: &str, message: &Outgoing, visible_at: i64, from: &str) {
        self.note_step(|cloud| {
            let envelope = carried_envelope(&message.body);
            json!({
                "k": "sent",
                "at": cloud.now,
                "queue": queue,
                "message": id,
                "visible_at": visible_at,
                "event": ids(envelope.as_ref()).0,
                "from": from,
                "parked_kind": message.attributes.get(handler_kit::publish::PARKED_KIND),
                "parked_reason": message.attributes.get(handler_kit::publish::PARKED_REASON),
            })
        });
    }

    /// The line of a batch received from queue `queue`, invisible until `until`.
    pub(super) fn note_received(&mut self, queue: &str, batch: &[Message], until: i64) {
        self.note_step(|cloud| {
            json!({
                "k": "received",
                "at": cloud.now,
                "queue": queue,
                "messages": batch.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
                "until": until,
            })
        });
    }

    /// The line of invocation `id` of function `function` starting, as `after` says it was
    /// asked for: by a poller (its batch), asynchronously, or by an HTTP client.
    pub(super) fn note_invoked(&mut self, id: u64, function: &str, request_id: &str, after: &After, trace: &str) {
        self.note_step(|cloud| {
            let (trigger, messages) = match after {
                After::Batch { mapping, batch } => (
                    cloud.topology.mappings[*mapping].queue.as_str(),
                    batch.iter().map(|m| m.id.as_str()).collect(),
                ),
                After::Async { .. } => ("async", Vec::new()),
                After::Client { .. } => ("http", Vec::new()),
            };
            json!({
                "k": "invoked",
                "at": cloud.now,
                "invocation": id,
                "function": function,
                "request_id": request_id,
                "trigger": trigger,
                "records": messages.len(),
                "messages": messages,
                "trace": envelope::TraceContext::from_xray(trace).and_then(|t| t.xray_trace_id()),
            })
        });
    }

    /// The line of message `id` leaving queue `queue`: `deleted`, `dead-lettered`, `expired`,
    /// or `removed` (by the repair tools or a move task).
    pub(super) fn note_gone(&mut self, queue: &str, id: &str, why: &str) {
        self.note_step(|cloud| json!({ "k": "gone", "at": cloud.now, "queue": queue, "message": id, "why": why }));
    }
}

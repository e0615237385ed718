//! One decoder for every way AWS hands an envelope to a function.
//!
//! | carrier | payload |
//! |---|---|
//! | `eventbridge` | an EventBridge event delivered to a Lambda target |
//! | `sqs/eventbridge` | SQS event whose bodies are EventBridge events (rule -> SQS target) |
//! | `sns` | SNS event whose messages are envelopes |
//! | `sqs/sns` | SQS event whose bodies are SNS notifications (subscription without raw delivery) |
//! | `sqs/envelope` | SQS event whose bodies are envelopes (raw SNS delivery, or SendMessage) |
//! | `sqs/cloudevent` | SQS event whose bodies are CloudEvents |
//! | `envelope`, `cloudevent` | a bare envelope or CloudEvent |
//!
//! A batch decodes record by record: a bad record is an error for that record only, carrying
//! its message id, so the other records go on and the batch response names exactly the bad one.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::{SnsEvent, SnsMessage};
use aws_lambda_events::event::sqs::SqsEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::envelope::{Envelope, TraceContext};
use crate::error::{EnvelopeError, Location};
use crate::eventbridge::MAX_ENTRY_BYTES;

/// Past this close to the limit an envelope's entry is measured exactly: a PutEvents entry adds
/// to its envelope's text its source and detail type (room for 256 four-byte characters each,
/// far more than any here) and 14 bytes of time. Below it, no entry can be over.
const ENTRY_OVERHEAD_BOUND: usize = 2 * 256 * 4 + 14;
use crate::versioning::Registry;

/// How an envelope reached the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carrier {
    /// EventBridge event delivered directly to a Lambda target.
    EventBridge,
    /// SNS notification delivered directly to Lambda.
    Sns,
    /// SQS message whose body is an EventBridge event.
    SqsEventBridge,
    /// SQS message whose body is an SNS notification (raw delivery off).
    SqsSns,
    /// SQS message whose body is the envelope (raw SNS delivery, or sent directly).
    SqsEnvelope,
    /// SQS message whose body is a CloudEvent.
    SqsCloudEvent,
    /// A bare envelope.
    Envelope,
    /// A bare CloudEvent.
    CloudEvent,
}

impl Carrier {
    /// A short name, as in the table above.
    pub fn name(self) -> &'static str {
        match self {
            Self::EventBridge => "eventbridge",
            Self::Sns => "sns",
            Self::SqsEventBridge => "sqs/eventbridge",
            Self::SqsSns => "sqs/sns",
            Self::SqsEnvelope => "sqs/envelope",
            Self::SqsCloudEvent => "sqs/cloudevent",
            Self::Envelope => "envelope",
            Self::CloudEvent => "cloudevent",
        }
    }
}

/// One record of a payload, decoded or not.
#[derive(Debug)]
pub struct Decoded {
    /// Position in the batch.
    pub index: usize,
    /// The carrier's id for the record: the SQS message id (what a batch item failure names),
    /// the SNS message id, or the EventBridge event id.
    pub message_id: Option<String>,
    /// How it arrived; for a record that could not be read, the outer carrier as far as known.
    pub carrier: Carrier,
    /// The envelope, or why there is none.
    pub envelope: Result<Envelope<Value>, EnvelopeError>,
    /// The version and data as they arrived, when an upcaster changed them (`None` when the
    /// event arrived at the current version). What a producer sent is what identifies it:
    /// a redelivery after an upcaster was deployed is still the same event.
    pub arrived_as: Option<Arrival>,
}

/// An event's version and data as they arrived, before upcasting.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The version it was sent with.
    pub version: u32,
    /// Its data at that version.
    pub data: Value,
}

impl Decoded {
    /// Takes the trace its carrier arrived in (SQS's `AWSTraceHeader`; for EventBridge and SNS
    /// invoking a function, the invocation's) for an envelope that names none: a producer
    /// outside the kit, or a message sent by hand, still joins its trace. An envelope's own
    /// trace wins: it is the event's, recorded where the flow began, and every hop after it
    /// carries the same one.
    pub fn adopt_trace(&mut self, trace: Option<TraceContext>) {
        if let (Ok(envelope), Some(trace)) = (&mut self.envelope, trace)
            && envelope.metadata.trace.is_none()
        {
            envelope.metadata.trace = Some(trace);
        }
    }

    fn new(
        index: usize,
        message_id: Option<String>,
        carrier: Carrier,
        checked: Result<Checked, EnvelopeError>,
    ) -> Self {
        let (envelope, arrived_as) = match checked {
            Ok((envelope, arrival)) => (Ok(envelope), arrival),
            Err(err) => (Err(err), None),
        };
        Self {
            index,
            message_id,
            carrier,
            envelope,
            arrived_as,
        }
    }
}

/// Reads envelopes out of AWS payloads; with a [`Registry`], also upcasts them to the current
/// version and rejects types and versions the consumer does not know.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    registry: Option<Registry>,
}

impl Decoder {
    /// A decoder that accepts any event type and version as it is.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether records of `event_type` are read (every type, without a registry).
    pub fn accepts(&self, event_type: &str) -> bool {
        self.registry.as_ref().is_none_or(|registry| registry.knows(event_type))
    }

    /// A decoder for a consumer that knows the types in `registry`.
    pub fn with_registry(registry: Registry) -> Self {
        Self {
            registry: Some(registry),
        }
    }

    /// Decodes a payload of any carrier given as JSON text, for tools handed any payload
    /// (`localcloud decode`, `route`, `event-tools`). An error here means the payload as a
    /// whole is unreadable; errors of single records are inside the returned records.
    pub fn decode_slice(&self, payload: &[u8]) -> Result<Vec<Decoded>, EnvelopeError> {
        let value = serde_json::from_slice(payload).map_err(|source| EnvelopeError::MalformedJson {
            at: Location::root(),
            source,
        })?;
        self.decode_value(value)
    }

    /// Decodes a payload of any carrier, telling carriers apart by their shape. Only tools do
    /// this: a function's payload is read into the type its trigger names
    /// (`handler_kit::trigger`) and decoded by [`Self::decode_sqs`], [`Self::decode_sns`] or
    /// [`Self::decode_eventbridge`], so no invocation depends on how a payload looks.
    pub fn decode_value(&self, payload: Value) -> Result<Vec<Decoded>, EnvelopeError> {
        let root = Location::root();
        let Some(object) = payload.as_object() else {
            return Err(unrecognized(root));
        };
        if let Some(records) = object.get("Records") {
            let first = records.get(0);
            let source = first.and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")));
            return match source.and_then(Value::as_str) {
                None if first.is_none() => Ok(Vec::new()),
                Some("aws:sqs") => Ok(self.decode_sqs(&from_value::<SqsEvent>(payload, &root)?)),
                Some("aws:sns") => Ok(self.decode_sns(&from_value::<SnsEvent>(payload, &root)?)),
                _ => Err(EnvelopeError::Unrecognized {
                    at: root.field("Records[0].eventSource"),
                    expected: "records of an SQS (aws:sqs) or SNS (aws:sns) event",
                }),
            };
        }
        if object.contains_key("detail-type") {
            let replay_name = object.get("replay-name").cloned();
            let event = from_value::<EventBridgeEvent<Value>>(payload, &root)?;
            let mut decoded = self.decode_eventbridge(event);
            let at = Location::record(0, decoded.message_id.as_deref(), "");
            decoded.envelope = decoded
                .envelope
                .and_then(|e| crate::eventbridge::with_replay_name(e, replay_name.as_ref(), &at));
            return Ok(vec![decoded]);
        }
        let (carrier, envelope) = match read_document(payload, &root) {
            Ok((Document::CloudEvent, envelope)) => (Carrier::CloudEvent, Ok(envelope)),
            Ok((_, envelope)) => (Carrier::Envelope, Ok(envelope)),
            Err(EnvelopeError::Unrecognized { .. }) => return Err(unrecognized(root)),
            Err(err) => (Carrier::Envelope, Err(err)),
        };
        let checked = envelope.and_then(|e| self.check(e, &root));
        Ok(vec![Decoded::new(0, None, carrier, checked)])
    }

    /// Decodes an EventBridge event delivered to a Lambda target.
    pub fn decode_eventbridge(&self, event: EventBridgeEvent<Value>) -> Decoded {
        let message_id = event.id.clone();
        let at = Location::record(0, message_id.as_deref(), "");
        let checked = Envelope::from_eventbridge_event(event, &at).and_then(|e| self.check(e, &at.field("detail")));
        Decoded::new(0, message_id, Carrier::EventBridge, checked)
    }

    /// Decodes an SNS event whose messages are envelopes.
    pub fn decode_sns(&self, event: &SnsEvent) -> Vec<Decoded> {
        let decode = |(index, record): (usize, &aws_lambda_events::event::sns::SnsRecord)| {
            let message = &record.sns;
            if let Some(checked) = self.decode_directly(&message.message) {
                return Decoded::new(index, Some(message.message_id.clone()), Carrier::Sns, Ok(checked));
            }
            let at = Location::record(
                index,
                Some(&message.message_id),
                format!("Records[{index}].Sns.Message"),
            );
            let checked = self
                .decode_text(&message.message, &at)
                .and_then(|(document, checked)| match document {
                    Document::SnsNotification => Err(unrecognized_inner(at.inside())),
                    _ => Ok(checked),
                });
            Decoded::new(index, Some(message.message_id.clone()), Carrier::Sns, checked)
        };
        event.records.iter().enumerate().map(decode).collect()
    }

    /// Decodes an SQS event, each body being an EventBridge event, an SNS notification, a
    /// CloudEvent or an envelope.
    pub fn decode_sqs(&self, event: &SqsEvent) -> Vec<Decoded> {
        let decode = |(index, message): (usize, &aws_lambda_events::event::sqs::SqsMessage)| {
            if let Some(checked) = message.body.as_deref().and_then(|body| self.decode_directly(body)) {
                return Decoded::new(index, message.message_id.clone(), Carrier::SqsEventBridge, Ok(checked));
            }
            let at = Location::record(index, message.message_id.as_deref(), format!("Records[{index}].body"));
            let (carrier, checked) = match &message.body {
                None => (Carrier::SqsEnvelope, Err(EnvelopeError::MissingField { at })),
                Some(body) => match self.decode_text(body, &at) {
                    Ok((document, checked)) => (document.in_sqs(), Ok(checked)),
                    Err(err) => (Carrier::SqsEnvelope, Err(err)),
                },
            };
            Decoded::new(index, message.message_id.clone(), carrier, checked)
        };
        event
            .records
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let mut decoded = decode((index, message));
                let header = message.attributes.get("AWSTraceHeader");
                decoded.adopt_trace(header.map(String::as_str).and_then(TraceContext::from_xray));
                decoded
            })
            .collect()
    }

    /// A JSON document carried as text (SQS body, SNS message): parse, read, limit, check.
    fn decode_text(&self, text: &str, at: &Location) -> Result<(Document, Checked), EnvelopeError> {
        let inner = at.inside();
        let value: Value =
            serde_json::from_str(text).map_err(|source| EnvelopeError::MalformedJson { at: at.clone(), source })?;
        let (document, envelope) = match value.get("Type").and_then(Value::as_str) {
            Some("Notification") if value.get("TopicArn").is_some() => {
                let notification = from_value::<SnsMessage>(value, &inner)?;
                let message_at = inner.field("Message");
                let (document, checked) = self.decode_text(&notification.message, &message_at)?;
                // An EventBridge rule may target the topic, so the message may be an event;
                // a notification inside a notification is never something AWS delivers.
                if document == Document::SnsNotification {
                    return Err(unrecognized_inner(message_at.inside()));
                }
                return Ok((Document::SnsNotification, checked));
            }
            _ if value.get("detail-type").is_some() => {
                let replay_name = value.get("replay-name").cloned();
                let event = from_value::<EventBridgeEvent<Value>>(value, &inner)?;
                let envelope = Envelope::from_eventbridge_event(event, &inner)?;
                let envelope = crate::eventbridge::with_replay_name(envelope, replay_name.as_ref(), &inner)?;
                (Document::EventBridge, envelope)
            }
            _ => read_document(value, &inner)?,
        };
        self.limit_and_check(text, document, envelope, at)
    }

    /// [`Self::decode_text`] for the common case, an EventBridge event with an envelope in its
    /// `detail`, building no location: `None` on any error, and the tracked path reads the text
    /// again to name it.
    fn decode_directly(&self, text: &str) -> Option<Checked> {
        if text.len() + ENTRY_OVERHEAD_BOUND > MAX_ENTRY_BYTES {
            return None;
        }
        self.check(eventbridge_directly(text)?, &Location::root()).ok()
    }

    /// Bounds an envelope read from `text` by what EventBridge accepts, then checks versions.
    fn limit_and_check(
        &self,
        text: &str,
        document: Document,
        envelope: Envelope<Value>,
        at: &Location,
    ) -> Result<(Document, Checked), EnvelopeError> {
        let inner = at.inside();
        // SQS takes bodies up to 1 MiB, as EventBridge takes entries, but an entry is the
        // envelope and its source, type and time: an envelope that fills a body could never be
        // published on. The text holds the envelope, so it bounds its size: measure only near it.
        if text.len() + ENTRY_OVERHEAD_BOUND > MAX_ENTRY_BYTES {
            let size = match envelope.to_put_events_entry() {
                Ok(entry) => entry.size(),
                Err(EnvelopeError::TooLarge { size, .. }) => size,
                Err(_) => text.len(),
            };
            if size > MAX_ENTRY_BYTES {
                return Err(EnvelopeError::TooLarge {
                    at: at.clone(),
                    size,
                    limit: MAX_ENTRY_BYTES,
                });
            }
        }
        let envelope_at = if document == Document::EventBridge {
            inner.field("detail")
        } else {
            inner
        };
        Ok((document, self.check(envelope, &envelope_at)?))
    }

    /// Versions, the same for every carrier; keeps what arrived when an upcaster changes it.
    fn check(&self, envelope: Envelope<Value>, at: &Location) -> Result<Checked, EnvelopeError> {
        let Some(registry) = &self.registry else {
            return Ok((envelope, None));
        };
        let metadata = &envelope.metadata;
        // Cloned only when an upcaster will run: the common case (current version) copies nothing.
        let arrival = registry
            .current_version(&metadata.event_type)
            .is_some_and(|current| metadata.version < current)
            .then(|| Arrival {
                version: metadata.version,
                data: envelope.data.clone(),
            });
        Ok((registry.upcast(envelope, at)?, arrival))
    }
}

/// An envelope at its current version, and what arrived if that differs.
type Checked = (Envelope<Value>, Option<Arrival>);

/// What a piece of JSON text turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Document {
    EventBridge,
    SnsNotification,
    CloudEvent,
    Envelope,
}

impl Document {
    fn in_sqs(self) -> Carrier {
        match self {
            Self::EventBridge => Carrier::SqsEventBridge,
            Self::SnsNotification => Carrier::SqsSns,
            Self::CloudEvent => Carrier::SqsCloudEvent,
            Self::Envelope => Carrier::SqsEnvelope,
        }
    }
}

/// The common case, read straight from the text: an EventBridge event whose `detail` is an
/// envelope, typed as it is parsed, with no tree in between and no path tracking. `None`
/// for anything else and for anything wrong, and then the tracked path reads the text and
/// names where it is wrong. Texts the tracked path could read otherwise go there too: a
/// `replay-name` (which `aws_lambda_events` drops), an SNS notification's `Type`, and any
/// escape, which could spell either key.
fn eventbridge_directly(text: &str) -> Option<Envelope<Value>> {
    if text.contains('\\') || text.contains("replay-name") || text.contains("\"Type\"") {
        return None;
    }
    let event: EventBridgeEvent<Envelope<Value>> = serde_json::from_str(text).ok()?;
    let envelope = event.detail;
    // Errors are not reported from here, so the locations stay empty (and cost nothing).
    let nowhere = Location::root();
    envelope.metadata.validate(&nowhere).ok()?;
    crate::eventbridge::agrees_with_carrier(&envelope, &event.detail_type, &event.source, &nowhere).ok()?;
    Some(envelope)
}

/// A bare envelope or CloudEvent.
fn read_document(value: Value, at: &Location) -> Result<(Document, Envelope<Value>), EnvelopeError> {
    if value.get("specversion").is_some() {
        return Ok((Document::CloudEvent, Envelope::from_cloudevent(value, at)?));
    }
    if value.get("metadata").is_some() || value.get("data").is_some() {
        return Ok((Document::Envelope, Envelope::from_json_value(value, at)?));
    }
    Err(unrecognized_inner(at.clone()))
}

fn from_value<T: DeserializeOwned>(value: Value, at: &Location) -> Result<T, EnvelopeError> {
    serde_path_to_error::deserialize(value).map_err(|e| EnvelopeError::from_serde(at, e))
}

fn unrecognized(at: Location) -> EnvelopeError {
    EnvelopeError::Unrecognized {
        at,
        expected: "an SQS, SNS or EventBridge event, a CloudEvent, or an envelope ({\"metadata\": ..., \"data\": ...})",
    }
}

fn unrecognized_inner(at: Location) -> EnvelopeError {
    EnvelopeError::Unrecognized {
        at,
        expected: "an envelope ({\"metadata\": ..., \"data\": ...}), a CloudEvent, an EventBridge event or an SNS notification",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use super::*;

    /// What the tracked path reads from an EventBridge event's text.
    fn tracked(text: &str) -> Result<Envelope<Value>, EnvelopeError> {
        let at = Location::root();
        let value: Value =
            serde_json::from_str(text).map_err(|source| EnvelopeError::MalformedJson { at: at.clone(), source })?;
        let replay_name = value.get("replay-name").cloned();
        let event = from_value::<EventBridgeEvent<Value>>(value, &at)?;
        let envelope = Envelope::from_eventbridge_event(event, &at)?;
        crate::eventbridge::with_replay_name(envelope, replay_name.as_ref(), &at)
    }

    fn sqs_bodies(dir: &Path, bodies: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sqs_bodies(&path, bodies);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Ok(event) = serde_json::from_str::<SqsEvent>(&text) {
                    let name = path.display().to_string();
                    bodies.extend(event.records.into_iter().filter_map(|r| Some((name.clone(), r.body?))));
                }
            }
        }
    }

    #[test]
    fn the_direct_path_reads_every_sample_as_the_tracked_path_does() {
        let mut bodies = Vec::new();
        sqs_bodies(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events"), &mut bodies);
        let mut direct = 0;
        for (file, body) in &bodies {
            match eventbridge_directly(body) {
                Some(envelope) => {
                    direct += 1;
                    assert_eq!(tracked(body).as_ref().ok(), Some(&envelope), "{file}");
                }
                None => assert!(
                    tracked(body).is_err() || body.contains("replay-name") || !body.contains("detail-type"),
                    "{file}: a plain EventBridge event missed the direct path"
                ),
            }
        }
        assert!(
            direct >= 20,
            "only {direct} of {} bodies went the direct way",
            bodies.len()
        );
    }

    #[test]
    fn the_direct_path_declines_what_it_could_read_otherwise() {
        let good = r#"{"detail-type":"T","source":"s","detail":{"metadata":{"id":"3f8e2f4e-9d1a-4c55-8a0e-2b7f3c9d1e55","type":"T","version":1,"source":"s","subject":"x","time":"2026-11-23T09:00:00Z","correlationId":"3f8e2f4e-9d1a-4c55-8a0e-2b7f3c9d1e55"},"data":{}}}"#;
        assert!(eventbridge_directly(good).is_some());
        assert_eq!(tracked(good).ok(), eventbridge_directly(good));
        for (name, text) in [
            ("replayed", good.replacen('{', r#"{"replay-name":"r","#, 1)),
            ("escaped key", good.replacen("detail-type", r"detail\u002dtype", 1)),
            (
                "an SNS notification",
                good.replacen('{', r#"{"Type":"Notification","TopicArn":"t","#, 1),
            ),
            ("duplicate detail", good.replacen('{', r#"{"detail":{},"#, 1)),
            ("no data", good.replace(r#","data":{}"#, "")),
            ("another source", good.replacen(r#""source":"s""#, r#""source":"z""#, 1)),
            (
                "nil id",
                good.replace("3f8e2f4e-9d1a-4c55-8a0e-2b7f3c9d1e55", &uuid::Uuid::nil().to_string()),
            ),
        ] {
            assert_eq!(eventbridge_directly(&text), None, "{name}");
        }
    }

    #[test]
    fn a_record_whose_envelope_names_no_trace_takes_its_carriers_xray_header() {
        let sample =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/carriers/order-placed.sqs-eventbridge.json");
        let mut event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(sample).unwrap()).unwrap();
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        event.records[0]
            .attributes
            .insert("AWSTraceHeader".into(), header.into());
        let mut outer: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        let mut with_trace = |trace: Option<Value>| {
            let metadata = outer["detail"]["metadata"].as_object_mut().unwrap();
            match trace {
                Some(trace) => metadata.insert("trace".into(), trace),
                None => metadata.remove("trace"),
            };
            event.records[0].body = Some(outer.to_string());
            let decoded = Decoder::new().decode_sqs(&event).remove(0);
            decoded.envelope.unwrap().metadata.trace.map(|t| t.traceparent)
        };
        assert_eq!(
            with_trace(None).as_deref(),
            Some("00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
        );
        // An envelope's own trace is the flow's: the carrier's does not replace it.
        let own = serde_json::json!({ "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
        assert_eq!(
            with_trace(Some(own)).as_deref(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
    }
}

//! Lossless mapping between envelopes and CloudEvents 1.0 JSON (structured content mode).
//!
//! Core attributes carry id, source, type, time and subject; the rest travel as extension
//! attributes (lowercase alphanumeric names, as the spec requires): `eventversion`,
//! `sequence` (the documented sequence extension, a string), `correlationid`, `causationid`,
//! `traceparent`/`tracestate` (the distributed tracing extension) and `replayname` (the replay
//! that sent the event again, if any).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::envelope::{Envelope, Metadata, TraceContext, rfc3339};
use crate::error::{EnvelopeError, Location};

/// The CloudEvents spec version this module reads and writes.
pub const SPEC_VERSION: &str = "1.0";

#[derive(Serialize, Deserialize)]
struct CloudEvent {
    specversion: String,
    id: Uuid,
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(with = "rfc3339")]
    time: chrono::DateTime<chrono::Utc>,
    subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    datacontenttype: Option<String>,
    eventversion: u32,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "sequence_string")]
    sequence: Option<u64>,
    correlationid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    causationid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracestate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replayname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_base64: Option<String>,
    #[serde(default)]
    data: Value,
}

impl Envelope<Value> {
    /// The envelope as a CloudEvents 1.0 structured-mode JSON object.
    pub fn to_cloudevent(&self) -> Value {
        let m = &self.metadata;
        let event = CloudEvent {
            specversion: SPEC_VERSION.to_owned(),
            id: m.id,
            source: m.source.clone(),
            event_type: m.event_type.clone(),
            time: m.time,
            subject: m.subject.clone(),
            datacontenttype: Some("application/json".to_owned()),
            eventversion: m.version,
            sequence: m.sequence,
            correlationid: m.correlation_id.clone(),
            causationid: m.causation_id,
            traceparent: m.trace.as_ref().map(|t| t.traceparent.clone()),
            tracestate: m.trace.as_ref().and_then(|t| t.tracestate.clone()),
            replayname: m.replay.clone(),
            data_base64: None,
            data: self.data.clone(),
        };
        // A struct of strings, numbers and a JSON value always serialises.
        serde_json::to_value(event).unwrap_or(Value::Null)
    }

    /// Reads a CloudEvents 1.0 structured-mode JSON object. Errors name the CloudEvents attribute.
    pub fn from_cloudevent(value: Value, at: &Location) -> Result<Self, EnvelopeError> {
        let event: CloudEvent =
            serde_path_to_error::deserialize(value).map_err(|e| EnvelopeError::from_serde(at, e))?;
        if event.specversion != SPEC_VERSION {
            return Err(EnvelopeError::invalid(
                at.field("specversion"),
                format!(
                    "CloudEvents spec version '{}' is not supported; use '{SPEC_VERSION}'",
                    event.specversion
                ),
            ));
        }
        if event.data_base64.is_some() {
            return Err(EnvelopeError::invalid(
                at.field("data_base64"),
                "binary data is not supported; events carry JSON in `data`",
            ));
        }
        if let Some(content_type) = &event.datacontenttype
            && !(content_type.starts_with("application/json") || content_type.contains("+json"))
        {
            return Err(EnvelopeError::invalid(
                at.field("datacontenttype"),
                format!("'{content_type}' is not JSON; events carry application/json"),
            ));
        }
        let trace = match (event.traceparent, event.tracestate) {
            (Some(traceparent), tracestate) => Some(TraceContext {
                traceparent,
                tracestate,
            }),
            (None, Some(_)) => {
                return Err(EnvelopeError::MissingField {
                    at: at.field("traceparent"),
                });
            }
            (None, None) => None,
        };
        let metadata = Metadata {
            id: event.id,
            event_type: event.event_type,
            version: event.eventversion,
            source: event.source,
            time: event.time,
            subject: event.subject,
            sequence: event.sequence,
            correlation_id: event.correlationid,
            causation_id: event.causationid,
            trace,
            replay: event.replayname,
        };
        metadata
            .validate(&Location::root())
            .map_err(|e| rename_to_cloudevents(e, at))?;
        Ok(Self {
            metadata,
            data: event.data,
        })
    }
}

/// Validation speaks in envelope field names; a CloudEvents reader wants the attribute names.
fn rename_to_cloudevents(error: EnvelopeError, at: &Location) -> EnvelopeError {
    let EnvelopeError::InvalidField { at: inner, reason } = error else {
        return error;
    };
    let attribute = match inner.path.as_str() {
        "version" => "eventversion",
        "correlationId" => "correlationid",
        "trace.traceparent" => "traceparent",
        "trace.tracestate" => "tracestate",
        other => other,
    };
    EnvelopeError::InvalidField {
        at: at.field(attribute),
        reason,
    }
}

/// The sequence extension is a string attribute; accept a number too, from lenient producers.
mod sequence_string {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(sequence: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
        match sequence {
            Some(n) => serializer.serialize_str(&n.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(u64),
            Text(String),
        }
        match Option::<Repr>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Repr::Number(n)) => Ok(Some(n)),
            Some(Repr::Text(text)) => text
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("sequence '{text}' is not a non-negative integer"))),
        }
    }
}

//! Envelopes on EventBridge: the PutEvents entry a publisher sends, and the event a rule delivers.
//!
//! `source` = `metadata.source`, `detail-type` = `metadata.type`, `time` = event time, and
//! `detail` = the whole envelope (`{"metadata": ..., "data": ...}`), so a rule can match on
//! `detail-type` and on data fields (`{"detail": {"data": {"total": [{"numeric": [">", 100]}]}}}`),
//! and a consumer reads the envelope back with nothing lost (EventBridge keeps only whole
//! seconds of `time`, and assigns its own `id`; the envelope keeps both exactly).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::envelope::{Envelope, TraceContext};
use crate::error::{EnvelopeError, Location};

/// The most EventBridge accepts in one PutEvents entry, and in one PutEvents call: 1 MB since
/// 29 January 2026, when event buses, SQS and asynchronous Lambda invocations went from 256 KB
/// to 1 MB ("More room to build: serverless services now support payloads up to 1 MB",
/// <https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb>;
/// the entry is sized as "Calculating PutEvents event entry size" says,
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html>, whose
/// text still read 256KB when last checked). Counted as 1,048,576 bytes, the MB of these
/// quotas (SQS states its 1 MiB as 1,048,576 bytes; the 256 KB before was 262,144).
pub const MAX_ENTRY_BYTES: usize = 1024 * 1024;

/// One entry of a PutEvents request, independent of the SDK so that the publisher, the local
/// cloud and tests share it. The kit's EventBridge publisher turns it into the SDK's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutEventsEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: the envelope as JSON text.
    pub detail: String,
    /// `Time`: the event time.
    pub time: DateTime<Utc>,
    /// `Resources`: ARNs the event concerns (none, for domain events).
    pub resources: Vec<String>,
    /// `TraceHeader`: the X-Ray header of the event's trace, which EventBridge hands on to its
    /// targets (SQS as the `AWSTraceHeader` system attribute). Not counted in the entry's size.
    pub trace_header: Option<String>,
}

impl PutEventsEntry {
    /// The entry's size as EventBridge counts it: 14 bytes for `Time`, plus the UTF-8 bytes of
    /// `Source`, `DetailType`, `Detail` and each resource.
    pub fn size(&self) -> usize {
        14 + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }

    /// The event EventBridge delivers to a target for this entry (the local cloud uses it; so do
    /// round-trip tests). `id` is the event id EventBridge would assign.
    pub fn to_event(&self, id: &str, account: &str, region: &str) -> Result<EventBridgeEvent<Value>, EnvelopeError> {
        let detail = serde_json::from_str(&self.detail).map_err(|source| EnvelopeError::MalformedJson {
            at: Location::root().field("Detail"),
            source,
        })?;
        let mut event = EventBridgeEvent::<Value>::default();
        event.version = Some("0".to_owned());
        event.id = Some(id.to_owned());
        event.detail_type.clone_from(&self.detail_type);
        event.source.clone_from(&self.source);
        event.account = Some(account.to_owned());
        // EventBridge keeps whole seconds only.
        event.time = self.time.with_nanosecond(0);
        event.region = Some(region.to_owned());
        event.resources = Some(self.resources.clone());
        event.detail = detail;
        Ok(event)
    }
}

impl<T: Serialize> Envelope<T> {
    /// The PutEvents entry for this envelope; over [`MAX_ENTRY_BYTES`] is an error, because
    /// EventBridge would reject it.
    pub fn to_put_events_entry(&self) -> Result<PutEventsEntry, EnvelopeError> {
        let detail = serde_json::to_string(self)
            .map_err(|e| EnvelopeError::invalid(Location::root().field("data"), e.to_string()))?;
        let entry = PutEventsEntry {
            source: self.metadata.source.clone(),
            detail_type: self.metadata.event_type.clone(),
            detail,
            time: self.metadata.time,
            resources: Vec::new(),
            trace_header: self.metadata.trace.as_ref().and_then(TraceContext::xray_header),
        };
        let size = entry.size();
        if size > MAX_ENTRY_BYTES {
            return Err(EnvelopeError::TooLarge {
                at: Location::root().field("Detail"),
                size,
                limit: MAX_ENTRY_BYTES,
            });
        }
        Ok(entry)
    }
}

impl Envelope<Value> {
    /// Reads the envelope in an EventBridge event's `detail`, checking it agrees with the
    /// event's `detail-type` and `source` (a disagreement means a producer bypassed the envelope).
    pub fn from_eventbridge_event(event: EventBridgeEvent<Value>, at: &Location) -> Result<Self, EnvelopeError> {
        let envelope = Self::from_json_value(event.detail, &at.field("detail"))?;
        agrees_with_carrier(&envelope, &event.detail_type, &event.source, at)?;
        Ok(envelope)
    }
}

/// Whether the event carrying `envelope` names the same `detail-type` and `source`.
pub(crate) fn agrees_with_carrier<T>(
    envelope: &Envelope<T>,
    detail_type: &str,
    source: &str,
    at: &Location,
) -> Result<(), EnvelopeError> {
    let metadata = &envelope.metadata;
    for (field, carrier, inner) in [
        ("detail-type", detail_type, &metadata.event_type),
        ("source", source, &metadata.source),
    ] {
        if carrier != inner {
            return Err(EnvelopeError::CarrierMismatch {
                at: at.field(field),
                carrier: carrier.to_owned(),
                envelope: inner.clone(),
            });
        }
    }
    Ok(())
}

/// `envelope` with the `replay-name` (if any) of the EventBridge event that carried it. An
/// event EventBridge replayed from an archive carries one at its top level: it becomes the
/// envelope's `replay` (unless the envelope names a replay already), so consumers can tell.
/// Read from the event as JSON: `aws_lambda_events` drops fields it does not name.
pub(crate) fn with_replay_name(
    mut envelope: Envelope<Value>,
    replay_name: Option<&Value>,
    at: &Location,
) -> Result<Envelope<Value>, EnvelopeError> {
    let Some(name) = replay_name else {
        return Ok(envelope);
    };
    let name = name
        .as_str()
        .ok_or_else(|| format!("must be a string, found {name}"))
        .and_then(|name| crate::envelope::check_replay_name(name).map(|()| name))
        .map_err(|reason| EnvelopeError::invalid(at.field("replay-name"), reason))?;
    if envelope.metadata.replay.is_none() {
        envelope.metadata.replay = Some(name.to_owned());
    }
    Ok(envelope)
}

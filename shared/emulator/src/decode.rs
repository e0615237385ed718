//! `localcloud decode`: the envelopes inside any AWS payload.

use envelope::{Decoded, Decoder, EnvelopeError, Location, Registry};
use serde::Serialize;
use serde_json::Value;

/// What `decode` found in one payload.
#[derive(Debug)]
pub struct Report {
    /// One line per record: JSON, or a human summary.
    pub lines: Vec<String>,
    /// One line per record that could not be read, or one for an unreadable payload.
    pub errors: Vec<String>,
}

impl Report {
    /// Whether every record decoded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line: index, message id, carrier, envelope.
    JsonLines,
    /// One readable line per record.
    Summary,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_id: Option<&'a str>,
    carrier: &'static str,
    envelope: &'a envelope::Envelope<Value>,
}

/// Decodes `payload` and reports each record. Envelopes of a type in `known` are checked and
/// upcast to its current version, as a consumer would; other types are shown as they are.
pub fn decode(known: &Registry, payload: &[u8], format: Format) -> Report {
    let records = match Decoder::new().decode_slice(payload) {
        Ok(records) => records,
        Err(err) => {
            return Report {
                lines: Vec::new(),
                errors: vec![describe(&err)],
            };
        }
    };
    let mut report = Report {
        lines: Vec::new(),
        errors: Vec::new(),
    };
    for mut record in records {
        let read_version = record.envelope.as_ref().map(|e| e.metadata.version).unwrap_or_default();
        record.envelope = record.envelope.and_then(|envelope| {
            if known.knows(&envelope.metadata.event_type) {
                let at = Location::record(record.index, record.message_id.as_deref(), "");
                known.upcast(envelope, &at)
            } else {
                Ok(envelope)
            }
        });
        let record = &record;
        match &record.envelope {
            Ok(envelope) => report.lines.push(match format {
                Format::JsonLines => serde_json::to_string(&Line {
                    index: record.index,
                    message_id: record.message_id.as_deref(),
                    carrier: record.carrier.name(),
                    envelope,
                })
                .unwrap_or_default(),
                Format::Summary => summary(record, envelope, read_version),
            }),
            Err(err) => report.errors.push(describe(err)),
        }
    }
    report
}

fn summary(record: &Decoded, envelope: &envelope::Envelope<Value>, read_version: u32) -> String {
    let m = &envelope.metadata;
    let upcast = if read_version == m.version {
        String::new()
    } else {
        format!(" (upcast from v{read_version})")
    };
    let sequence = m.sequence.map(|s| format!(" #{s}")).unwrap_or_default();
    format!(
        "record {} [{}] {} v{}{} from {} about {}{} at {} (id {}, correlation {})",
        record.index,
        record.carrier.name(),
        m.event_type,
        m.version,
        upcast,
        m.source,
        m.subject,
        sequence,
        m.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        m.id,
        m.correlation_id
    )
}

fn describe(err: &EnvelopeError) -> String {
    format!("{} [{}]", err, err.kind())
}

//! `localcloud decode`: the envelopes inside any AWS payload.

use envelope::{Decoded, Decoder, EnvelopeError};
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

/// Decodes `payload` and reports each record.
pub fn decode(decoder: &Decoder, payload: &[u8], format: Format) -> Report {
    let records = match decoder.decode_slice(payload) {
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
    for record in &records {
        match &record.envelope {
            Ok(envelope) => report.lines.push(match format {
                Format::JsonLines => serde_json::to_string(&Line {
                    index: record.index,
                    message_id: record.message_id.as_deref(),
                    carrier: record.carrier.name(),
                    envelope,
                })
                .unwrap_or_default(),
                Format::Summary => summary(record, envelope),
            }),
            Err(err) => report.errors.push(describe(err)),
        }
    }
    report
}

fn summary(record: &Decoded, envelope: &envelope::Envelope<Value>) -> String {
    let m = &envelope.metadata;
    let sequence = m.sequence.map(|s| format!(" #{s}")).unwrap_or_default();
    format!(
        "record {} [{}] {} v{} from {} about {}{} at {} (id {}, correlation {})",
        record.index,
        record.carrier.name(),
        m.event_type,
        m.version,
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

//! Errors of the envelope crate: each says what was wrong, where, and whether a retry can help.

use std::fmt;

/// Whether retrying the same input can succeed.
///
/// Consumers report transient failures back to SQS so the record is redelivered, and park
/// permanent ones at once (DLQ or quarantine) instead of burning retries on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The same input may succeed later (throttling, timeouts, a busy lock).
    Transient,
    /// The same input will fail again; retrying only delays parking it.
    Permanent,
}

/// Where in a payload an error was found.
///
/// `path` names the field inside the payload, with `>` marking a step into a JSON document
/// carried as a string (an SQS body, an SNS message): `Records[1].body > metadata.time`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Index of the record in its batch, when the payload is a batch.
    pub record: Option<usize>,
    /// The carrier's id of that record (the SQS message id, for SQS), used to report batch item failures.
    pub message_id: Option<String>,
    /// The field path inside the payload.
    pub path: String,
}

impl Location {
    /// A location at the top of a payload.
    pub fn root() -> Self {
        Self::default()
    }

    /// A location at `path` inside record `index` whose carrier id is `message_id`.
    pub fn record(index: usize, message_id: Option<&str>, path: impl Into<String>) -> Self {
        Self {
            record: Some(index),
            message_id: message_id.map(str::to_owned),
            path: path.into(),
        }
    }

    /// The field `name` inside this location.
    pub fn field(&self, name: &str) -> Self {
        let path = match (self.path.is_empty(), self.path.ends_with("> ")) {
            (true, _) | (_, true) => format!("{}{name}", self.path),
            _ => format!("{}.{name}", self.path),
        };
        Self { path, ..self.clone() }
    }

    /// A step into the JSON document carried as a string at this location.
    pub fn inside(&self) -> Self {
        Self {
            path: format!("{} > ", self.path),
            ..self.clone()
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.record, &self.message_id) {
            (Some(i), Some(id)) => write!(f, "record {i} (message id '{id}')")?,
            (Some(i), None) => write!(f, "record {i}")?,
            (None, _) => f.write_str("payload")?,
        }
        let path = self.path.trim_end_matches(" > ");
        if path.is_empty() {
            Ok(())
        } else {
            write!(f, ", at `{path}`")
        }
    }
}

/// Everything that can go wrong reading, validating or writing an envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The text is not JSON at all.
    #[error("{at}: not valid JSON ({source}); the sender must put a JSON document here")]
    MalformedJson {
        /// Where.
        at: Location,
        /// The parser's complaint, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// JSON, but not a shape this decoder knows.
    #[error("{at}: unrecognised payload: expected {expected}")]
    Unrecognized {
        /// Where.
        at: Location,
        /// What would have been accepted here.
        expected: &'static str,
    },

    /// A required field is absent.
    #[error("{at}: required field is missing")]
    MissingField {
        /// Where; the path names the missing field.
        at: Location,
    },

    /// A field is present but its value breaks a rule.
    #[error("{at}: {reason}")]
    InvalidField {
        /// Where; the path names the field.
        at: Location,
        /// What rule the value breaks.
        reason: String,
    },

    /// The carrier and the envelope inside it disagree (e.g. `detail-type` vs `metadata.type`).
    #[error("{at}: the carrier says '{carrier}' but the envelope says '{envelope}'")]
    CarrierMismatch {
        /// Where; the path names the carrier's field.
        at: Location,
        /// The carrier's value.
        carrier: String,
        /// The envelope's value.
        envelope: String,
    },

    /// No event type of this name is registered with this consumer.
    #[error("{at}: unknown event type '{event_type}'; this consumer knows: {known}")]
    UnknownType {
        /// Where.
        at: Location,
        /// The type the envelope names.
        event_type: String,
        /// The registered types, comma separated.
        known: String,
    },

    /// The envelope is a different event type than the one asked for.
    #[error("{at}: expected event type '{expected}', found '{found}'")]
    UnexpectedType {
        /// Where.
        at: Location,
        /// The type the caller asked for.
        expected: &'static str,
        /// The type the envelope names.
        found: String,
    },

    /// The envelope's version is newer than this code knows: deploy the newer consumer first.
    #[error(
        "{at}: {event_type} version {found} is newer than version {known}, the newest this code knows; deploy the consumer that knows version {found}"
    )]
    UnsupportedVersion {
        /// Where.
        at: Location,
        /// The event type.
        event_type: String,
        /// The version in the envelope.
        found: u32,
        /// The newest version this code knows.
        known: u32,
    },

    /// An upcaster could not turn an old version into the next one.
    #[error("{at}: cannot upcast {event_type} from version {from} to {to}: {reason}")]
    Upcast {
        /// Where.
        at: Location,
        /// The event type.
        event_type: String,
        /// The version being read.
        from: u32,
        /// The version being produced.
        to: u32,
        /// What the upcaster found wrong.
        reason: String,
    },

    /// Over a size limit (EventBridge: 1 MB per entry since 2026).
    #[error(
        "{at}: {size} bytes is over the {limit}-byte limit; send a reference (e.g. an S3 key) instead of the content"
    )]
    TooLarge {
        /// Where.
        at: Location,
        /// Measured size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl EnvelopeError {
    /// Whether a retry of the same input can help. Nothing in an envelope changes between
    /// deliveries, so every error here is permanent; the variant exists so callers ask, not assume.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }

    /// Where the error was found.
    pub fn location(&self) -> &Location {
        match self {
            Self::MalformedJson { at, .. }
            | Self::Unrecognized { at, .. }
            | Self::MissingField { at }
            | Self::InvalidField { at, .. }
            | Self::CarrierMismatch { at, .. }
            | Self::UnknownType { at, .. }
            | Self::UnexpectedType { at, .. }
            | Self::UnsupportedVersion { at, .. }
            | Self::Upcast { at, .. }
            | Self::TooLarge { at, .. } => at,
        }
    }

    /// A short, stable name of the kind of error, for logs, metrics and parking reasons.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MalformedJson { .. } => "malformed-json",
            Self::Unrecognized { .. } => "unrecognized-payload",
            Self::MissingField { .. } => "missing-field",
            Self::InvalidField { .. } => "invalid-field",
            Self::CarrierMismatch { .. } => "carrier-mismatch",
            Self::UnknownType { .. } => "unknown-type",
            Self::UnexpectedType { .. } => "unexpected-type",
            Self::UnsupportedVersion { .. } => "unsupported-version",
            Self::Upcast { .. } => "upcast-failed",
            Self::TooLarge { .. } => "too-large",
        }
    }

    pub(crate) fn invalid(at: Location, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            at,
            reason: reason.into(),
        }
    }

    /// Turns a serde error found at `at` into a missing or invalid field error naming the path.
    pub(crate) fn from_serde(at: &Location, err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let at = if path == "." { at.clone() } else { at.field(&path) };
        let inner = err.into_inner();
        let message = inner.to_string();
        // serde reports a missing field on the enclosing object; name the field itself.
        match message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            Some(field) => Self::MissingField { at: at.field(field) },
            None => Self::invalid(at, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_names_record_message_and_path() {
        let at = Location::record(2, Some("m-1"), "Records[2].body")
            .inside()
            .field("metadata")
            .field("time");
        assert_eq!(at.path, "Records[2].body > metadata.time");
        assert_eq!(
            at.to_string(),
            "record 2 (message id 'm-1'), at `Records[2].body > metadata.time`"
        );
        assert_eq!(Location::root().to_string(), "payload");
    }
}

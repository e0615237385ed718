//! Errors of handlers and of the kit, each knowing whether a retry can help.

use envelope::{EnvelopeError, ErrorClass};

/// A cause of any kind.
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a handler could not handle an event.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {source}")]
pub struct HandlerError {
    class: ErrorClass,
    kind: &'static str,
    #[source]
    source: Cause,
}

impl HandlerError {
    /// A failure that may pass (a dependency timed out, a lock was busy): the record is retried.
    pub fn transient(kind: &'static str, source: impl Into<Cause>) -> Self {
        Self {
            class: ErrorClass::Transient,
            kind,
            source: source.into(),
        }
    }

    /// A failure that will recur (the event breaks a rule): the record is parked.
    pub fn permanent(kind: &'static str, source: impl Into<Cause>) -> Self {
        Self {
            class: ErrorClass::Permanent,
            kind,
            source: source.into(),
        }
    }

    /// A failure whose class its source already knows (e.g. a store's).
    pub fn classified(class: ErrorClass, kind: &'static str, source: impl Into<Cause>) -> Self {
        Self {
            class,
            kind,
            source: source.into(),
        }
    }

    /// Transient or permanent.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// A short, stable name for logs, metrics and parking reasons.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// An event that cannot be typed (schema violation) will never be.
impl From<EnvelopeError> for HandlerError {
    fn from(err: EnvelopeError) -> Self {
        Self {
            class: err.class(),
            kind: err.kind(),
            source: Box::new(err),
        }
    }
}

/// A sealed field that cannot be opened: retried when the key service refused the caller or the
/// key (a grant propagating, a key disabled) or did not answer, parked (with the field named,
/// never its value) when the value can never open here (broken, or sealed for another event).
impl From<field_crypto::CryptoError> for HandlerError {
    fn from(err: field_crypto::CryptoError) -> Self {
        let class = if err.is_transient() {
            ErrorClass::Transient
        } else {
            ErrorClass::Permanent
        };
        Self::classified(class, "sealed-field", err)
    }
}

/// A whole invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// Records of a direct (non-SQS) invocation must be retried; Lambda retries the invocation.
    #[error("{} record(s) to retry: {}", reasons.len(), reasons.join("; "))]
    Retry {
        /// One reason per record.
        reasons: Vec<String>,
    },
    /// A record to retry has no message id, so it cannot be reported alone.
    #[error("record {index} failed and has no message id; failing the whole batch so it is not lost")]
    RecordWithoutId {
        /// Its index in the batch.
        index: usize,
    },
    /// The invocation panicked outside any record's work (which fails its record alone).
    #[error("the invocation panicked: {message}")]
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// An EventBridge event other than a scheduled rule's tick reached a function that takes
    /// SQS batches and ticks.
    #[error(
        "a '{detail_type}' event from '{event_source}' is not a scheduled rule's tick; only SQS batches and ticks reach this function"
    )]
    NotATick {
        /// The event's `source`.
        event_source: String,
        /// The event's `detail-type`.
        detail_type: String,
    },
    /// A scheduled rule's tick reached a function that declares no schedule.
    #[error("a scheduled rule's tick reached a function that declares no schedule (its trigger's `schedule` is none)")]
    NoSchedule,
    /// Configuration is missing or malformed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

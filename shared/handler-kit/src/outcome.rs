//! What happened to one record, and how a failure is classified: shared by the record
//! processor and the batch processor.

use envelope::{Envelope, EnvelopeError, ErrorClass};
use idempotency::Ticket;
use serde_json::Value;

/// What happened to one record.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Work done (now, or before without its outputs delivered): publish, then record.
    Produced {
        outputs: Vec<Envelope<Value>>,
        then: Bookkeeping,
    },
    Done,
    Retry {
        reason: String,
    },
    Park {
        kind: String,
        reason: String,
    },
    NotStarted,
    /// The same event as an earlier record of the batch (a duplicate delivery): it ends as
    /// that record does, without claiming the key that record holds.
    Follows(usize),
}

/// What to record once a record's outputs were published (or not).
#[derive(Debug)]
pub(crate) enum Bookkeeping {
    /// Complete the claimed key with the outputs and whether they went out.
    Complete(Ticket),
    /// A duplicate's stored outputs went out now: mark them delivered.
    MarkDelivered(String),
}

/// Why a record's outputs did not all go out.
#[derive(Debug, Clone)]
pub(crate) struct Undelivered {
    pub(crate) permanent: bool,
    pub(crate) reason: String,
}

impl Outcome {
    pub(crate) fn is_failure(&self) -> bool {
        matches!(self, Self::Retry { .. } | Self::NotStarted)
    }

    /// How a duplicate of this record in the same batch ends: done or parked alike, else retried.
    pub(crate) fn for_follower(&self, leader: usize) -> Self {
        match self {
            Self::Done => Self::Done,
            Self::Park { kind, reason } => Self::Park {
                kind: kind.clone(),
                reason: reason.clone(),
            },
            _ => Self::Retry {
                reason: format!("the same event as record {leader} of this batch, which is retried"),
            },
        }
    }
}

/// A duplicate within the batch ends as the record it duplicates did.
pub(crate) fn resolve_followers(mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    for index in 0..outcomes.len() {
        if let Outcome::Follows(leader) = outcomes[index] {
            // A leader comes before its followers and never follows another record itself.
            outcomes[index] = outcomes[leader].for_follower(leader);
        }
    }
    outcomes
}

pub(crate) fn not_in_time() -> Undelivered {
    Undelivered {
        permanent: false,
        reason: "not confirmed before the deadline".to_owned(),
    }
}

pub(crate) fn permanent_decode(err: &EnvelopeError) -> Outcome {
    tracing::error!(kind = err.kind(), error = %err, "unreadable record; parking it");
    Outcome::Park {
        kind: err.kind().to_owned(),
        reason: err.to_string(),
    }
}

/// A record that failed, as its outcome: retried when the failure can pass, parked when it
/// cannot; logged either way (the per-record path and the aggregating one alike).
pub(crate) fn failed(class: ErrorClass, kind: String, err: &dyn std::fmt::Display) -> Outcome {
    match class {
        ErrorClass::Transient => {
            tracing::warn!(kind, error = %err, "failed; reported for retry");
            Outcome::Retry {
                reason: err.to_string(),
            }
        }
        ErrorClass::Permanent => {
            tracing::error!(kind, error = %err, "cannot be processed; parking it");
            Outcome::Park {
                kind,
                reason: err.to_string(),
            }
        }
    }
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

//! A store failed: the one error every state port (stock, views, windows, alerts, the event
//! store) answers with. Whether a retry can help decides between retrying and parking.

use envelope::ErrorClass;

use crate::error::HandlerError;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreFailure {
    /// What was attempted, e.g. `save windows`.
    pub operation: &'static str,
    /// What went wrong.
    pub message: String,
    /// Transient (throttling, conflicts, network) or permanent (inconsistent or unreadable
    /// stored data, states no store can write).
    pub class: ErrorClass,
}

impl StoreFailure {
    /// A failure a retry may get past.
    pub fn transient(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
            class: ErrorClass::Transient,
        }
    }

    /// A failure no retry gets past.
    pub fn permanent(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
            class: ErrorClass::Permanent,
        }
    }
}

/// An injected fault is what a throttled table looks like: a retry can help.
impl From<ports::Injected> for StoreFailure {
    fn from(injected: ports::Injected) -> Self {
        Self::transient(injected.operation, injected.reason)
    }
}

/// A failed store call fails the handler's work as its class says: retried when transient,
/// parked when permanent.
impl From<StoreFailure> for HandlerError {
    fn from(failure: StoreFailure) -> Self {
        HandlerError::classified(failure.class, "store", failure)
    }
}

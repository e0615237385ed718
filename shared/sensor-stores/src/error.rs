//! A store failed; whether a retry can help decides between retrying and parking.

use envelope::ErrorClass;
use sensors::FieldError;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreFailure {
    /// What was attempted, e.g. `save windows`.
    pub operation: &'static str,
    /// What went wrong.
    pub message: String,
    /// Transient (throttling, network, a batch too large for one transaction) or permanent
    /// (states no store can write, unreadable stored data).
    pub class: ErrorClass,
}

/// An injected fault is what a throttled table looks like: a retry can help.
impl From<ports::Injected> for StoreFailure {
    fn from(injected: ports::Injected) -> Self {
        Self::transient(injected.operation, injected.reason)
    }
}

impl StoreFailure {
    pub(crate) fn transient(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
            class: ErrorClass::Transient,
        }
    }

    pub(crate) fn permanent(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
            class: ErrorClass::Permanent,
        }
    }

    /// Any SDK error: the service or the network may answer next time.
    #[cfg(feature = "dynamodb")]
    pub(crate) fn sdk<E, R>(operation: &'static str, err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self::transient(operation, aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
    }
}

/// A catalogue file could not be put into a catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueFileError {
    /// The file is not JSON.
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The file is JSON, but not a valid catalogue: every invalid field, by its path
    /// (`[2].metrics.temperature.low`). Nothing was put.
    #[error("{} invalid field(s), nothing was loaded:\n{}", .0.len(), lines(.0))]
    Invalid(Vec<FieldError>),
    /// The catalogue is valid, and the store failed to take it (it may have taken part of it:
    /// putting the file again is safe).
    #[error(transparent)]
    Store(#[from] StoreFailure),
}

fn lines(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

/// A failed store call fails the handler's work as its class says: retried when transient,
/// parked when permanent.
impl From<StoreFailure> for handler_kit::HandlerError {
    fn from(failure: StoreFailure) -> Self {
        handler_kit::HandlerError::classified(failure.class, "sensor-store", failure)
    }
}

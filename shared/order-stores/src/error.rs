//! A store failed; whether a retry can help decides between retrying and parking.

use envelope::ErrorClass;

/// A store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct StoreFailure {
    /// What was attempted.
    pub operation: &'static str,
    /// What went wrong.
    pub message: String,
    /// Transient (throttling, conflicts, network) or permanent (inconsistent data).
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

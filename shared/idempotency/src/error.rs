//! Errors of the idempotency layer, each knowing whether a retry can help.

use envelope::ErrorClass;

/// A boxed cause from an SDK or I/O layer.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store did not answer or refused for now (network, throttling, 5xx): retry later.
    #[error("idempotency store unavailable during {operation} of '{key}': {source}")]
    Unavailable {
        /// The store operation (`put`, `complete`, `delete`, `get`).
        operation: &'static str,
        /// The record key.
        key: String,
        /// What the SDK or transport said.
        #[source]
        source: Cause,
    },
    /// A stored record cannot be read back (hand-edited, or written by incompatible code).
    #[error("idempotency record '{key}' is unreadable: {reason}")]
    Corrupt {
        /// The record key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The record would exceed the item size limit.
    #[error("idempotency record '{key}' would be {size} bytes, over the {limit}-byte item limit")]
    TooLarge {
        /// The record key.
        key: String,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

/// A fault injected into a store (the local cloud's throttled table) is a store that did not
/// answer: a retry can help.
impl From<ports::Injected> for StoreError {
    fn from(injected: ports::Injected) -> Self {
        Self::Unavailable {
            operation: injected.operation,
            key: String::new(),
            source: injected.reason.into(),
        }
    }
}

impl StoreError {
    /// Unavailability passes; a corrupt or oversize record stays so.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unavailable { .. } => ErrorClass::Transient,
            Self::Corrupt { .. } | Self::TooLarge { .. } => ErrorClass::Permanent,
        }
    }
}

/// Why an idempotent execution did not produce a result. `E` is the work's own error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError<E> {
    /// Another invocation holds the key and may still be running: retry after it finishes or expires.
    #[error(
        "'{key}' is being processed by another invocation (until {until_ms} ms since the epoch at the latest); retry later"
    )]
    InProgress {
        /// The record key.
        key: String,
        /// When that invocation is presumed dead, in epoch milliseconds.
        until_ms: i64,
    },
    /// The key was first seen with another payload: a producer reused an id for different content.
    #[error(
        "'{key}' was first processed with a different payload (hash {stored}, now {received}); an id must never be reused for other content"
    )]
    PayloadMismatch {
        /// The record key.
        key: String,
        /// Hash stored with the key.
        stored: String,
        /// Hash of this payload.
        received: String,
    },
    /// No key could be extracted from the input.
    #[error("no idempotency key: {reason}")]
    MissingKey {
        /// Why not.
        reason: String,
    },
    /// The payload or the result cannot be written or read as JSON.
    #[error("'{key}': {reason}")]
    Serialization {
        /// The record key.
        key: String,
        /// What failed.
        reason: String,
    },
    /// The store failed; the work did not run unguarded (or, after the work, its result was not recorded).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The work itself failed; its record was deleted so a retry runs it again.
    #[error("{0}")]
    Work(#[source] E),
}

impl<E> IdempotencyError<E> {
    /// Whether a retry can help, given how to classify the work's own errors.
    pub fn class_with(&self, work: impl FnOnce(&E) -> ErrorClass) -> ErrorClass {
        match self {
            Self::InProgress { .. } => ErrorClass::Transient,
            Self::PayloadMismatch { .. } | Self::MissingKey { .. } | Self::Serialization { .. } => {
                ErrorClass::Permanent
            }
            Self::Store(err) => err.class(),
            Self::Work(err) => work(err),
        }
    }
}

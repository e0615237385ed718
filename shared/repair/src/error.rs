//! Why a repair could not be done, each saying what to do about it.

/// A repair that could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    /// No queue of the stack has that name, URL or ARN.
    #[error("no queue '{name}' in the stack (known: {known})")]
    NoQueue {
        /// The name asked for.
        name: String,
        /// The stack's queues.
        known: String,
    },
    /// The queue is not a dead-letter queue of anything.
    #[error(
        "{name} is not a dead-letter queue: no queue's RedrivePolicy, rule target's DeadLetterConfig or subscription's RedrivePolicy names it (dead-letter queues: {known})"
    )]
    NotADeadLetterQueue {
        /// The queue.
        name: String,
        /// The stack's dead-letter queues.
        known: String,
    },
    /// No parked message has that id.
    #[error("no parked message '{id}' on the parking queue (`parked list` shows their ids)")]
    NoParkedMessage {
        /// The id asked for.
        id: String,
    },
    /// A resubmit that cannot be done as asked.
    #[error("{id} not resubmitted: {why}")]
    Refused {
        /// The parked message.
        id: String,
        /// Why, and what to do instead.
        why: String,
    },
    /// An edited body that cannot be read.
    #[error("{path}: {reason}")]
    Edit {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something the command needs was not given.
    #[error("{what} is required")]
    Missing {
        /// What, and where it comes from.
        what: String,
    },
    /// The service refused or failed a call.
    #[error("{call}: {message}")]
    Service {
        /// The call (`sqs:StartMessageMoveTask on <arn>`).
        call: String,
        /// The service's message.
        message: String,
    },
}

impl RepairError {
    /// A failed service call.
    pub fn service(call: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Service {
            call: call.into(),
            message: message.to_string(),
        }
    }
}

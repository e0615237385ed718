//! The error of a filter policy SNS would refuse, worded as SNS words it.

use std::fmt;

/// A filter policy SNS would refuse, with SNS's `InvalidParameter` message
/// (`Invalid parameter: FilterPolicy: Filter policy is too complex`). Permanent: the fix is to
/// change the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterPolicyError {
    message: String,
}

impl FilterPolicyError {
    /// A whole message, as SNS gives it (for errors that are not about the policy's content).
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// `Invalid parameter: FilterPolicy: {reason}`, SNS's wording for a policy it refuses.
    pub(super) fn policy(reason: impl fmt::Display) -> Self {
        Self::new(format!("Invalid parameter: FilterPolicy: {reason}"))
    }

    /// The whole message, as SNS gives it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

//! Publishing a batch's outputs: one [`Publisher`] port for envelopes, a [`Parking`] port for
//! messages that can never be processed, and adapters for EventBridge, SNS, SQS and memory.
//!
//! Every AWS adapter sends in chunks within the service's limits, all chunks at once, and
//! retries only the entries that failed for a reason that can pass (throttling, internal
//! errors), with exponential backoff and full jitter. Entries that still fail are returned by
//! index, so the caller knows exactly which records' outputs did not go out.

#[cfg(feature = "aws")]
mod batch;
#[cfg(feature = "aws")]
mod eventbridge;
mod memory;
#[cfg(feature = "aws")]
mod sns;
#[cfg(feature = "aws")]
mod sqs;

use std::future::Future;

use envelope::{Envelope, ErrorClass};
use serde_json::Value;

/// The most SNS takes in one message, attributes included, and in one PublishBatch call:
/// 262,144 bytes. SNS was not part of 2026's move to 1 MB (only SQS, EventBridge and
/// asynchronous Lambda invocations were: <https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb>);
/// PublishBatch, <https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html>, and the SNS
/// quotas, <https://docs.aws.amazon.com/general/latest/gr/sns.html>, give the number.
pub const MAX_SNS_MESSAGE_BYTES: usize = 256 * 1024;

#[cfg(feature = "aws")]
#[cfg(feature = "aws")]
pub use eventbridge::EventBridgePublisher;
pub use memory::{InMemoryParking, InMemoryPublisher};
#[cfg(feature = "aws")]
pub use sns::SnsPublisher;
#[cfg(feature = "aws")]
pub use sqs::{SqsParking, SqsPublisher};

/// Extra message attributes of an event, for subscription filter policies (e.g. `customerId`).
pub type AttributesOf = fn(&Envelope<Value>) -> Vec<(String, String)>;

/// The message attributes an event is published with: `type`, `source`, `subject`,
/// `correlationId`, then the `extra` ones (also what the local cloud's topics filter on).
pub fn message_attributes(event: &Envelope<Value>, extra: Option<AttributesOf>) -> Vec<(String, String)> {
    let m = &event.metadata;
    let mut attributes = vec![
        ("type".to_owned(), m.event_type.clone()),
        ("source".to_owned(), m.source.clone()),
        ("subject".to_owned(), m.subject.clone()),
        ("correlationId".to_owned(), m.correlation_id.clone()),
    ];
    attributes.extend(extra.map(|extra| extra(event)).unwrap_or_default());
    attributes
}

/// Sends envelopes somewhere: a bus, a topic, a queue.
pub trait Publisher: Send + Sync {
    /// Publishes all `events`, or says which did not go out.
    fn publish(&self, events: &[Envelope<Value>]) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// The message attribute naming why a message was parked (the full reason).
pub const PARKED_REASON: &str = "parked-reason";
/// The message attribute naming the kind of error a message was parked for (`malformed-json`...).
pub const PARKED_KIND: &str = "parked-kind";
/// The message attribute naming the function that parked a message.
pub const PARKED_BY: &str = "parked-by";
/// The message attribute holding the id the parked message arrived with.
pub const ORIGINAL_MESSAGE_ID: &str = "original-message-id";
/// The message attribute holding the ARN of the SQS queue a parked message was received from.
pub const PARKED_FROM: &str = "parked-from";

/// A message set aside because it can never be processed, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    /// The function that gave up on it.
    pub function: String,
    /// The SQS message id (or other carrier id) it arrived with.
    pub message_id: Option<String>,
    /// The body exactly as it arrived, so it can be inspected, fixed and replayed.
    pub body: String,
    /// A short, stable name of the error (`malformed-json`, `payload-mismatch`, ...).
    pub kind: String,
    /// The full reason, naming what and where.
    pub reason: String,
    /// The ARN of the SQS queue it was received from (the record's `eventSourceARN`), where a
    /// resubmit sends it back once the cause is fixed; `None` for other carriers (EventBridge,
    /// SNS straight to the function), which have no queue to send it back to.
    pub parked_from: Option<String>,
}

impl ParkedMessage {
    /// The message attributes it is parked with: why, what kind, by whom, its original id,
    /// and the queue it came from.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        let mut attributes = vec![
            (PARKED_REASON, self.reason.clone()),
            (PARKED_KIND, self.kind.clone()),
            (PARKED_BY, self.function.clone()),
        ];
        attributes.extend(self.message_id.clone().map(|id| (ORIGINAL_MESSAGE_ID, id)));
        attributes.extend(self.parked_from.clone().map(|arn| (PARKED_FROM, arn)));
        attributes
    }
}

/// Where messages that can never be processed go (a quarantine queue), instead of burning retries.
pub trait Parking: Send + Sync {
    /// Parks all `messages`, or says which were not parked.
    fn park(&self, messages: &[ParkedMessage]) -> impl Future<Output = Result<(), PublishError>> + Send;
}

/// One entry that did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEntry {
    /// Its position in the slice given to `publish` or `park`.
    pub index: usize,
    /// The service's error code.
    pub code: String,
    /// The service's message.
    pub message: String,
    /// Whether the service said a retry cannot help.
    pub permanent: bool,
}

/// Some entries were not published.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} of {total} entries not sent; first: entry {} {}: {}", failed.len(), failed.first().map_or(0, |f| f.index), failed.first().map_or("", |f| f.code.as_str()), failed.first().map_or("", |f| f.message.as_str()))]
pub struct PublishError {
    /// How many entries were to be sent.
    pub total: usize,
    /// Those that were not, by index, after retries.
    pub failed: Vec<FailedEntry>,
}

impl PublishError {
    /// Transient unless every failed entry was refused for good.
    pub fn class(&self) -> ErrorClass {
        if !self.failed.is_empty() && self.failed.iter().all(|f| f.permanent) {
            ErrorClass::Permanent
        } else {
            ErrorClass::Transient
        }
    }

    /// Success if nothing of `total` entries failed, else the failed ones.
    pub fn unless_failed(total: usize, failed: Vec<FailedEntry>) -> Result<(), Self> {
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Self { total, failed })
        }
    }

    /// The same failure of every entry in `0..total`.
    pub(crate) fn all(total: usize, code: &str, message: &str, permanent: bool) -> Self {
        Self {
            total,
            failed: (0..total)
                .map(|index| FailedEntry {
                    index,
                    code: code.to_owned(),
                    message: message.to_owned(),
                    permanent,
                })
                .collect(),
        }
    }
}

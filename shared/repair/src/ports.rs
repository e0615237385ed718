//! What the repair tools need from the world: a stack's queues ([`Queues`]) and a ledger of
//! resubmits ([`Ledger`]). The SQS/DynamoDB adapters (feature `aws`), the in-memory ones
//! ([`crate::memory`]) and the local cloud's implement them.

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::error::RepairError;

/// A queue of the stack, as its attributes say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// Its name (locally, its logical id).
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its ARN.
    pub arn: String,
    /// Messages it holds, visible or in flight.
    pub depth: u64,
    /// Its `RedrivePolicy`'s `deadLetterTargetArn`: where its failed messages go.
    pub dead_letter_arn: Option<String>,
}

impl QueueInfo {
    /// Whether `name` names it: its name, URL or ARN.
    pub fn is(&self, name: &str) -> bool {
        self.name == name || self.url == name || self.arn == name
    }
}

/// Something other than a queue that keeps what it could not deliver in a queue: a rule's
/// target (`DeadLetterConfig`) or an SNS subscription (`RedrivePolicy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterSource {
    /// The dead-letter queue's ARN.
    pub dead_letter_arn: String,
    /// What it is, in a few words (`rule order-placed target reserve-inventory`).
    pub name: String,
    /// Where it delivers (the target's or the subscription's endpoint ARN).
    pub target_arn: String,
}

/// A message looked at without consuming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peeked {
    /// Its message id.
    pub id: String,
    /// Its body.
    pub body: String,
    /// Its message attributes, as text.
    pub attributes: BTreeMap<String, String>,
    /// How many times it was received (`ApproximateReceiveCount`).
    pub receive_count: u32,
    /// When it was sent (`SentTimestamp`).
    pub sent_at: Option<DateTime<Utc>>,
}

impl Peeked {
    /// The message attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

/// A message move task's progress, as `ListMessageMoveTasks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveProgress {
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Messages moved so far.
    pub moved: u64,
    /// Messages it set out to move, when known.
    pub to_move: Option<u64>,
    /// Why it failed, if it did.
    pub failure: Option<String>,
}

impl MoveProgress {
    /// A move done at once (in memory, on the local cloud): `COMPLETED`, or `FAILED` with why.
    pub fn done(moved: u64, to_move: u64, failure: Option<String>) -> Self {
        let status = if failure.is_some() { "FAILED" } else { "COMPLETED" };
        Self {
            status: status.to_owned(),
            moved,
            to_move: Some(to_move),
            failure,
        }
    }

    /// Whether the task will move nothing more.
    pub fn is_over(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "CANCELLED" | "FAILED")
    }
}

/// The stack's queues.
pub trait Queues {
    /// Every queue of the stack, with its depth and redrive policy.
    fn queues(&self) -> impl Future<Output = Result<Vec<QueueInfo>, RepairError>>;

    /// The rule targets and subscriptions that keep what they could not deliver in a queue.
    fn dead_letter_sources(&self) -> impl Future<Output = Result<Vec<DeadLetterSource>, RepairError>>;

    /// Every message of `queue`, in send order as far as the service tells, left in it (visible
    /// again, as before the look).
    fn peek(&self, queue: &QueueInfo) -> impl Future<Output = Result<Vec<Peeked>, RepairError>>;

    /// Sends `body` with `attributes` to `queue`; returns the new message's id.
    fn send(
        &self,
        queue: &QueueInfo,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, RepairError>>;

    /// Deletes message `id` from `queue`; false when it is no longer there.
    fn delete(&self, queue: &QueueInfo, id: &str) -> impl Future<Output = Result<bool, RepairError>>;

    /// Starts moving every message of dead-letter queue `dead_letter` back to the queue it
    /// came from, at most `rate` a second (SQS `StartMessageMoveTask` without a destination).
    fn start_move(&self, dead_letter: &QueueInfo, rate: Option<u32>) -> impl Future<Output = Result<(), RepairError>>;

    /// The latest move task's progress of `dead_letter`, after a pause (a second on AWS).
    fn move_progress(&self, dead_letter: &QueueInfo) -> impl Future<Output = Result<MoveProgress, RepairError>>;

    /// The failure recorded for `message`: EventBridge's `ERROR_CODE`/`ERROR_MESSAGE`, or
    /// what a platform remembers of the message's last failure.
    fn failure_of(&self, message: &Peeked) -> Option<String> {
        failure_from_attributes(message)
    }

    /// Now, by the stack's clock.
    fn now(&self) -> DateTime<Utc>;
}

/// The failure EventBridge records on a message it could not deliver: its `ERROR_CODE` and
/// `ERROR_MESSAGE` attributes, with the rule.
pub fn failure_from_attributes(message: &Peeked) -> Option<String> {
    let code = message.attribute("ERROR_CODE")?;
    let text = message.attribute("ERROR_MESSAGE").unwrap_or_default();
    let rule = message
        .attribute("RULE_ARN")
        .map(|rule| format!(" (rule {rule})"))
        .unwrap_or_default();
    Some(format!("{code}: {text}{rule}"))
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The claim is ours: go on.
    Claimed,
    /// Someone claimed it before, at this time.
    Already(DateTime<Utc>),
}

/// Where resubmits are claimed, once each, whoever resubmits at the same time.
pub trait Ledger {
    /// Claims `key` at `at` unless it is claimed already (a conditional write).
    fn claim(&self, key: &str, at: DateTime<Utc>) -> impl Future<Output = Result<Claim, RepairError>>;

    /// Gives `key` up: what it claimed did not happen (the send failed).
    fn release(&self, key: &str) -> impl Future<Output = Result<(), RepairError>>;
}

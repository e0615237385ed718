//! What the event graph is made of: buses, rules and their targets, archives, schedules,
//! topics and their subscriptions, functions and how their asynchronous invocations retry.

use std::collections::BTreeMap;

use event_pattern::Pattern;
use event_pattern::sns::FilterPolicy;
use serde_json::Value;

use crate::functions::FunctionSpec;

/// What a rule target or subscription delivers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A queue, by logical id.
    Queue(String),
    /// A topic, by logical id.
    Topic(String),
    /// A function, by logical id.
    Function(String),
}

impl Endpoint {
    /// The logical id.
    pub fn logical_id(&self) -> &str {
        match self {
            Self::Queue(id) | Self::Topic(id) | Self::Function(id) => id,
        }
    }
}

/// What a target sends: the event, a part of it, a constant, or a template filled from it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The whole event.
    Event,
    /// `InputPath`: the part at a JSON path (`$.detail`).
    Path(String),
    /// `Input`: constant JSON text.
    Constant(String),
    /// `InputTransformer`: `<name>` placeholders filled from JSON paths.
    Transformer {
        /// name -> JSON path.
        paths: BTreeMap<String, String>,
        /// The template text.
        template: String,
    },
}

/// One target of a rule.
#[derive(Debug, Clone)]
pub struct Target {
    /// `Id`.
    pub id: String,
    /// Where it goes.
    pub endpoint: Endpoint,
    /// What is sent.
    pub input: Input,
    /// `DeadLetterConfig.Arn`: the queue that keeps events the target could not take.
    pub dead_letter: Option<String>,
    /// `SqsParameters.MessageGroupId`, for a FIFO queue.
    pub message_group_id: Option<String>,
    /// `RetryPolicy`: how long EventBridge keeps trying a delivery the target refuses for now.
    pub retry: RetryPolicy,
}

/// A rule target's `RetryPolicy`. EventBridge retries a delivery that failed for a reason
/// that can pass (throttling, an unavailable target), with backoff, until either bound is
/// reached; then the event goes to the target's dead-letter queue, or is dropped without one.
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html>
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// `MaximumRetryAttempts`: 0 to 185, default 185.
    pub maximum_retry_attempts: u32,
    /// `MaximumEventAgeInSeconds` in ms: 60 s to 24 h, default 24 h.
    pub maximum_event_age_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: 185,
            maximum_event_age_ms: 86_400_000,
        }
    }
}

/// How Lambda treats a function's asynchronous invocations (`AWS::Lambda::EventInvokeConfig`,
/// or a SAM function's `EventInvokeConfig`): a failed one is retried, a minute and then two
/// minutes later, at most `maximum_retry_attempts` times while younger than the maximum age;
/// what still fails goes to the on-failure destination, or is dropped without one.
/// <https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// `MaximumRetryAttempts`: 0 to 2, default 2.
    pub maximum_retry_attempts: u32,
    /// `MaximumEventAgeInSeconds` in ms: 60 s to 6 h, default 6 h.
    pub maximum_event_age_ms: i64,
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure: Option<Endpoint>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: 2,
            maximum_event_age_ms: 21_600_000,
            on_failure: None,
        }
    }
}

/// A rule on a bus.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Logical id.
    pub logical_id: String,
    /// The bus's logical id (`default` for the default bus).
    pub bus: String,
    /// The compiled pattern.
    pub pattern: Pattern,
    /// The pattern as written.
    pub pattern_json: Value,
    /// `State` is not `DISABLED`.
    pub enabled: bool,
    /// Its targets.
    pub targets: Vec<Target>,
}

/// An archive of a bus (`AWS::Events::Archive`): the events matching its pattern (all, without
/// one) are kept, and can be replayed to the bus.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Logical id.
    pub logical_id: String,
    /// The bus's logical id.
    pub bus: String,
    /// Which events it keeps (every event without a pattern).
    pub pattern: Option<Pattern>,
}

/// A rule that fires on a schedule (`ScheduleExpression`), on the default bus.
#[derive(Debug, Clone)]
pub struct ScheduledRule {
    /// Logical id.
    pub logical_id: String,
    /// Its ARN (the `resources` of the events it sends).
    pub arn: String,
    /// How often it fires, in ms (`rate(...)`).
    pub every_ms: i64,
    /// `State` is not `DISABLED`.
    pub enabled: bool,
    /// Its targets.
    pub targets: Vec<Target>,
}

/// A subscription to a topic.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Logical id (or `<Topic>.Subscription[i]`).
    pub logical_id: String,
    /// Where it delivers.
    pub endpoint: Endpoint,
    /// `FilterPolicy`, for its `FilterPolicyScope` (message attributes or body).
    pub filter: Option<FilterPolicy>,
    /// `RawMessageDelivery`.
    pub raw: bool,
}

/// A topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Logical id.
    pub logical_id: String,
    /// ARN.
    pub arn: String,
    /// Its subscriptions.
    pub subscriptions: Vec<Subscription>,
}

/// A bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bus {
    /// Logical id (`default` for the default bus).
    pub logical_id: String,
    /// Name.
    pub name: String,
}

/// A function and how it is reached.
#[derive(Debug, Clone)]
pub struct Function {
    /// What the registry needs.
    pub spec: FunctionSpec,
    /// It has a Function URL.
    pub url: bool,
    /// How its asynchronous invocations are retried and where the failed ones go.
    pub async_config: AsyncConfig,
}

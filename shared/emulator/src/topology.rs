//! The event graph of a template: buses and their rules (patterns compiled), queues, topics
//! and subscriptions, event source mappings and functions. Everything the template wires is
//! read; anything the local cloud cannot run is an error naming the resource and property.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use event_pattern::Pattern;
use event_pattern::sns::{FilterPolicy, FilterPolicyError, FilterPolicyScope};
use sam_template::{Resource, Template};
use serde_json::Value;

use crate::esm::MappingConfig;
use crate::functions::FunctionSpec;
use crate::sqs::{
    DEFAULT_RETENTION_SECONDS, MAX_MESSAGE_BYTES, MESSAGE_BYTES_RANGE, QueueConfig, RETENTION_SECONDS_RANGE,
};

/// The template cannot be run locally.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The template itself (syntax, intrinsics, references).
    #[error(transparent)]
    Template(#[from] sam_template::TemplateError),
    /// A resource the local cloud cannot run as written.
    #[error("{resource}: {property}: {reason}")]
    Resource {
        /// Logical id.
        resource: String,
        /// Property path.
        property: String,
        /// What is wrong.
        reason: String,
    },
}

fn invalid(resource: &str, property: &str, reason: impl Into<String>) -> LoadError {
    LoadError::Resource {
        resource: resource.to_owned(),
        property: property.to_owned(),
        reason: reason.into(),
    }
}

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

/// The event graph of a template.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The loaded template.
    pub template: Template,
    /// Buses by logical id.
    pub buses: BTreeMap<String, Bus>,
    /// Rules with event patterns, in template order.
    pub rules: Vec<Rule>,
    /// Archives of buses.
    pub archives: Vec<Archive>,
    /// Rules that fire on a schedule, in template order.
    pub schedules: Vec<ScheduledRule>,
    /// Queues by logical id.
    pub queues: BTreeMap<String, QueueConfig>,
    /// Topics by logical id.
    pub topics: BTreeMap<String, Topic>,
    /// Event source mappings.
    pub mappings: Vec<MappingConfig>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, Function>,
}

/// Resource types that change nothing in how events flow locally (permissions, alarms, storage
/// created on first use, log groups).
const INERT: &[&str] = &[
    "AWS::CloudWatch::Alarm",
    "AWS::DynamoDB::Table",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Url",
    "AWS::Logs::LogGroup",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
];

fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The period of a `rate(value unit)` schedule in ms, as EventBridge reads it: a positive whole
/// value, and `minute`, `hour` or `day` for 1, their plurals otherwise.
/// <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>
fn rate_ms(expression: &str) -> Result<i64, String> {
    let Some(inner) = expression
        .trim()
        .strip_prefix("rate(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Err(if expression.trim().starts_with("cron(") {
            format!("{expression}: cron schedules are not run locally; use rate(...)")
        } else {
            format!("{expression}: expected rate(value unit) or cron(...)")
        });
    };
    let (value, unit) = inner
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("{expression}: expected rate(value unit), e.g. rate(1 minute)"))?;
    let value: i64 = value
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{expression}: the value must be a whole number above 0"))?;
    let (singular, per) = match unit.trim() {
        "minute" => (true, 60_000),
        "minutes" => (false, 60_000),
        "hour" => (true, 3_600_000),
        "hours" => (false, 3_600_000),
        "day" => (true, 86_400_000),
        "days" => (false, 86_400_000),
        other => {
            return Err(format!(
                "{expression}: unit {other} is not minute(s), hour(s) or day(s)"
            ));
        }
    };
    if singular != (value == 1) {
        return Err(format!(
            "{expression}: EventBridge wants the singular unit for 1 and the plural otherwise"
        ));
    }
    Ok(value * per)
}

/// A JSON object given inline or as JSON text (EventPattern and RedrivePolicy take both).
fn json_object(resource: &str, property: &str, value: &Value) -> Result<Value, LoadError> {
    match value {
        Value::String(text) => {
            serde_json::from_str(text).map_err(|e| invalid(resource, property, format!("not JSON: {e}")))
        }
        other => Ok(other.clone()),
    }
}

impl Topology {
    /// Loads `path` with `options`.
    pub fn load(path: &Path, options: &sam_template::Options) -> Result<Self, LoadError> {
        Self::from_template(Template::load(path, options)?)
    }

    /// The event graph of `template`.
    pub fn from_template(template: Template) -> Result<Self, LoadError> {
        let mut topology = Self {
            buses: BTreeMap::from([(
                "default".to_owned(),
                Bus {
                    logical_id: "default".into(),
                    name: "default".into(),
                },
            )]),
            rules: Vec::new(),
            schedules: Vec::new(),
            archives: Vec::new(),
            queues: BTreeMap::new(),
            topics: BTreeMap::new(),
            mappings: Vec::new(),
            functions: BTreeMap::new(),
            template,
        };
        let resources: Vec<Resource> = topology.template.resources.values().cloned().collect();
        // Endpoints first, then what points at them.
        for resource in &resources {
            match resource.kind.as_str() {
                "AWS::SQS::Queue" => topology.add_queue(resource)?,
                "AWS::Events::EventBus" => {
                    topology.buses.insert(
                        resource.logical_id.clone(),
                        Bus {
                            logical_id: resource.logical_id.clone(),
                            name: resource.physical_name.clone(),
                        },
                    );
                }
                "AWS::SNS::Topic" => {
                    topology.topics.insert(
                        resource.logical_id.clone(),
                        Topic {
                            logical_id: resource.logical_id.clone(),
                            arn: resource.arn.clone().unwrap_or_default(),
                            subscriptions: Vec::new(),
                        },
                    );
                }
                "AWS::Serverless::Function" => topology.add_function(resource)?,
                "AWS::Events::Rule"
                | "AWS::Events::Archive"
                | "AWS::Lambda::EventSourceMapping"
                | "AWS::Lambda::EventInvokeConfig"
                | "AWS::SNS::Subscription" => {}
                kind if INERT.contains(&kind) => {}
                kind => {
                    return Err(invalid(
                        &resource.logical_id,
                        "Type",
                        format!("{kind} is not supported by the local cloud"),
                    ));
                }
            }
        }
        for resource in &resources {
            match resource.kind.as_str() {
                "AWS::Events::Rule" => topology.add_rule(resource)?,
                "AWS::Events::Archive" => topology.add_archive(resource)?,
                "AWS::Lambda::EventSourceMapping" => topology.add_mapping(resource)?,
                "AWS::SNS::Subscription" => topology.add_subscription(resource)?,
                "AWS::SNS::Topic" => topology.add_inline_subscriptions(resource)?,
                "AWS::Serverless::Function" => {
                    topology.add_function_events(resource)?;
                    if let Some(config) = resource.property("EventInvokeConfig") {
                        let config =
                            topology.async_config(&resource.logical_id, "Properties.EventInvokeConfig", config)?;
                        if let Some(function) = topology.functions.get_mut(&resource.logical_id) {
                            function.async_config = config;
                        }
                    }
                }
                "AWS::Lambda::EventInvokeConfig" => topology.add_invoke_config(resource)?,
                _ => {}
            }
        }
        Ok(topology)
    }

    /// The endpoint a reference (ARN, URL, name) points at.
    fn endpoint(&self, resource: &str, property: &str, reference: &str) -> Result<Endpoint, LoadError> {
        let found = self.template.find(reference).ok_or_else(|| {
            invalid(
                resource,
                property,
                format!("{reference} is not a resource of this template"),
            )
        })?;
        match found.kind.as_str() {
            "AWS::SQS::Queue" => Ok(Endpoint::Queue(found.logical_id.clone())),
            "AWS::SNS::Topic" => Ok(Endpoint::Topic(found.logical_id.clone())),
            "AWS::Serverless::Function" => Ok(Endpoint::Function(found.logical_id.clone())),
            kind => Err(invalid(
                resource,
                property,
                format!(
                    "{} ({kind}) is not a target the local cloud delivers to",
                    found.logical_id
                ),
            )),
        }
    }

    fn queue_of(&self, resource: &str, property: &str, reference: &str) -> Result<String, LoadError> {
        match self.endpoint(resource, property, reference)? {
            Endpoint::Queue(id) => Ok(id),
            other => Err(invalid(
                resource,
                property,
                format!("{} is not an SQS queue", other.logical_id()),
            )),
        }
    }

    fn add_queue(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let property = |name: &str| resource.property(name);
        let redrive = match property("RedrivePolicy") {
            None => None,
            Some(policy) => {
                let policy = json_object(id, "Properties.RedrivePolicy", policy)?;
                let arn = text(policy.get("deadLetterTargetArn"))
                    .ok_or_else(|| invalid(id, "Properties.RedrivePolicy.deadLetterTargetArn", "missing"))?;
                // Checked now: at run time a message leaving for a DLQ that is not there is lost.
                if self.template.find(&arn).is_none_or(|r| r.kind != "AWS::SQS::Queue") {
                    return Err(invalid(
                        id,
                        "Properties.RedrivePolicy.deadLetterTargetArn",
                        format!("{arn} is not a queue of this template"),
                    ));
                }
                let count = number(policy.get("maxReceiveCount"))
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            id,
                            "Properties.RedrivePolicy.maxReceiveCount",
                            "must be a number from 1 to 1000",
                        )
                    })?;
                Some((count, arn))
            }
        };
        // Ranges and defaults as SQS documents them:
        // <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>
        let max_message_bytes = match property("MaximumMessageSize") {
            None => MAX_MESSAGE_BYTES,
            Some(value) => number(Some(value))
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| MESSAGE_BYTES_RANGE.contains(n))
                .ok_or_else(|| {
                    invalid(
                        id,
                        "Properties.MaximumMessageSize",
                        "must be a number of bytes from 1024 to 1048576",
                    )
                })?,
        };
        let retention_seconds = match property("MessageRetentionPeriod") {
            None => DEFAULT_RETENTION_SECONDS,
            Some(value) => number(Some(value))
                .filter(|n| RETENTION_SECONDS_RANGE.contains(n))
                .ok_or_else(|| {
                    invalid(
                        id,
                        "Properties.MessageRetentionPeriod",
                        "must be a number of seconds from 60 to 1209600",
                    )
                })?,
        };
        self.queues.insert(
            id.clone(),
            QueueConfig {
                logical_id: id.clone(),
                arn: resource.arn.clone().unwrap_or_default(),
                url: resource.ref_value.clone().unwrap_or_default(),
                visibility_timeout_ms: number(property("VisibilityTimeout")).unwrap_or(30) * 1000,
                redrive,
                fifo: flag(property("FifoQueue")).unwrap_or(false),
                content_based_deduplication: flag(property("ContentBasedDeduplication")).unwrap_or(false),
                max_message_bytes,
                retention_ms: retention_seconds * 1000,
            },
        );
        Ok(())
    }

    fn add_function(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let binary = text(resource.metadata.pointer("/BuildProperties/Binary")).ok_or_else(|| {
            invalid(
                id,
                "Metadata.BuildProperties.Binary",
                "missing: it names the crate the function is built from",
            )
        })?;
        let environment = match resource.property("Environment.Variables") {
            None => Vec::new(),
            Some(Value::Object(variables)) => variables
                .iter()
                .map(|(name, value)| {
                    text(Some(value)).map(|v| (name.clone(), v)).ok_or_else(|| {
                        invalid(
                            id,
                            &format!("Properties.Environment.Variables.{name}"),
                            "must be a string",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(id, "Properties.Environment.Variables", "must be a map")),
        };
        let timeout = number(resource.property("Timeout")).unwrap_or(3);
        self.functions.insert(
            id.clone(),
            Function {
                spec: FunctionSpec {
                    logical_id: id.clone(),
                    name: resource.physical_name.clone(),
                    binary,
                    environment,
                    timeout: Duration::from_secs(u64::try_from(timeout).unwrap_or(3)),
                },
                url: resource.property("FunctionUrlConfig").is_some(),
                async_config: AsyncConfig::default(),
            },
        );
        Ok(())
    }

    /// The bus a rule or event is on: by name or ARN; absent is the default bus.
    fn bus_of(&self, resource: &str, property: &str, reference: Option<&Value>) -> Result<String, LoadError> {
        let Some(reference) = text(reference) else {
            return Ok("default".to_owned());
        };
        let name = reference.rsplit('/').next().unwrap_or(&reference);
        self.buses
            .values()
            .find(|bus| bus.name == name)
            .map(|bus| bus.logical_id.clone())
            .ok_or_else(|| {
                invalid(
                    resource,
                    property,
                    format!("no event bus named {reference} in this template"),
                )
            })
    }

    fn pattern(resource: &str, property: &str, value: &Value) -> Result<(Pattern, Value), LoadError> {
        let json = json_object(resource, property, value)?;
        let pattern = Pattern::from_value(&json).map_err(|e| invalid(resource, property, e.to_string()))?;
        Ok((pattern, json))
    }

    fn add_archive(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let source = resource
            .property("SourceArn")
            .ok_or_else(|| invalid(id, "Properties.SourceArn", "missing: an archive needs its bus's ARN"))?;
        let bus = self.bus_of(id, "Properties.SourceArn", Some(source))?;
        let pattern = match resource.property("EventPattern") {
            Some(pattern) => Some(Self::pattern(id, "Properties.EventPattern", pattern)?.0),
            None => None,
        };
        self.archives.push(Archive {
            logical_id: id.clone(),
            bus,
            pattern,
        });
        Ok(())
    }

    fn add_rule(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let enabled = text(resource.property("State")).is_none_or(|state| state != "DISABLED");
        let targets = self.targets(resource)?;
        if let Some(expression) = text(resource.property("ScheduleExpression")) {
            if resource.property("EventPattern").is_some() {
                return Err(invalid(
                    id,
                    "Properties.ScheduleExpression",
                    "a rule with both a schedule and an event pattern is not run locally: split it in two",
                ));
            }
            // Scheduled rules run on the default bus only.
            // <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-rule-schedule.html>
            if self.bus_of(id, "Properties.EventBusName", resource.property("EventBusName"))? != "default" {
                return Err(invalid(
                    id,
                    "Properties.EventBusName",
                    "a scheduled rule must be on the default event bus",
                ));
            }
            let every_ms =
                rate_ms(&expression).map_err(|reason| invalid(id, "Properties.ScheduleExpression", reason))?;
            self.schedules.push(ScheduledRule {
                logical_id: id.clone(),
                arn: resource.arn.clone().unwrap_or_default(),
                every_ms,
                enabled,
                targets,
            });
            return Ok(());
        }
        let bus = self.bus_of(id, "Properties.EventBusName", resource.property("EventBusName"))?;
        let pattern = resource.property("EventPattern").ok_or_else(|| {
            invalid(
                id,
                "Properties.EventPattern",
                "missing: a rule needs an EventPattern or a ScheduleExpression",
            )
        })?;
        let (pattern, pattern_json) = Self::pattern(id, "Properties.EventPattern", pattern)?;
        self.rules.push(Rule {
            logical_id: id.clone(),
            bus,
            pattern,
            pattern_json,
            enabled,
            targets,
        });
        Ok(())
    }

    /// A rule's `Targets`.
    fn targets(&self, resource: &Resource) -> Result<Vec<Target>, LoadError> {
        let id = &resource.logical_id;
        let mut targets = Vec::new();
        let listed = match resource.property("Targets") {
            Some(Value::Array(listed)) => listed.clone(),
            None => Vec::new(),
            Some(_) => return Err(invalid(id, "Properties.Targets", "must be a list")),
        };
        for (index, target) in listed.iter().enumerate() {
            let at = |field: &str| format!("Properties.Targets[{index}].{field}");
            let arn = text(target.get("Arn")).ok_or_else(|| invalid(id, &at("Arn"), "missing"))?;
            let endpoint = self.endpoint(id, &at("Arn"), &arn)?;
            let input = match (
                text(target.get("Input")),
                text(target.get("InputPath")),
                target.get("InputTransformer"),
            ) {
                (None, None, None) => Input::Event,
                (Some(constant), None, None) => Input::Constant(constant),
                (None, Some(path), None) => Input::Path(path),
                (None, None, Some(transformer)) => {
                    let paths = match transformer.get("InputPathsMap") {
                        None => BTreeMap::new(),
                        Some(Value::Object(map)) => map
                            .iter()
                            .map(|(k, v)| (k.clone(), text(Some(v)).unwrap_or_default()))
                            .collect(),
                        Some(_) => return Err(invalid(id, &at("InputTransformer.InputPathsMap"), "must be a map")),
                    };
                    let template = text(transformer.get("InputTemplate"))
                        .ok_or_else(|| invalid(id, &at("InputTransformer.InputTemplate"), "missing"))?;
                    Input::Transformer { paths, template }
                }
                _ => {
                    return Err(invalid(
                        id,
                        &at("Input"),
                        "Input, InputPath and InputTransformer exclude each other",
                    ));
                }
            };
            let dead_letter = match text(target.pointer("/DeadLetterConfig/Arn")) {
                Some(arn) => Some(self.queue_of(id, &at("DeadLetterConfig.Arn"), &arn)?),
                None => None,
            };
            let retry = RetryPolicy {
                maximum_retry_attempts: match number(target.pointer("/RetryPolicy/MaximumRetryAttempts")) {
                    None => 185,
                    Some(attempts @ 0..=185) => u32::try_from(attempts).unwrap_or(185),
                    Some(_) => return Err(invalid(id, &at("RetryPolicy.MaximumRetryAttempts"), "must be 0..=185")),
                },
                maximum_event_age_ms: match number(target.pointer("/RetryPolicy/MaximumEventAgeInSeconds")) {
                    None => 86_400_000,
                    Some(seconds @ 60..=86_400) => seconds * 1000,
                    Some(_) => {
                        return Err(invalid(
                            id,
                            &at("RetryPolicy.MaximumEventAgeInSeconds"),
                            "must be 60..=86400",
                        ));
                    }
                },
            };
            targets.push(Target {
                id: text(target.get("Id")).unwrap_or_else(|| format!("target-{index}")),
                endpoint,
                input,
                dead_letter,
                message_group_id: text(target.pointer("/SqsParameters/MessageGroupId")),
                retry,
            });
        }
        Ok(targets)
    }

    fn add_mapping(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let source = text(resource.property("EventSourceArn"))
            .ok_or_else(|| invalid(id, "Properties.EventSourceArn", "missing"))?;
        let queue = self.queue_of(id, "Properties.EventSourceArn", &source)?;
        let function = self.function_named(resource)?;
        self.push_mapping(id, queue, function, resource.properties.clone())
    }

    /// The function a resource's `FunctionName` names (a name, an ARN, a reference).
    fn function_named(&self, resource: &Resource) -> Result<String, LoadError> {
        let id = &resource.logical_id;
        let name =
            text(resource.property("FunctionName")).ok_or_else(|| invalid(id, "Properties.FunctionName", "missing"))?;
        match self.endpoint(id, "Properties.FunctionName", &name)? {
            Endpoint::Function(function) => Ok(function),
            other => Err(invalid(
                id,
                "Properties.FunctionName",
                format!("{} is not a function", other.logical_id()),
            )),
        }
    }

    fn push_mapping(&mut self, id: &str, queue: String, function: String, properties: Value) -> Result<(), LoadError> {
        let batch_size = number(properties.get("BatchSize")).unwrap_or(10);
        let window = number(properties.get("MaximumBatchingWindowInSeconds")).unwrap_or(0);
        if !(1..=10_000).contains(&batch_size) || !(0..=300).contains(&window) || (batch_size > 10 && window == 0) {
            return Err(invalid(
                id,
                "Properties.BatchSize",
                "BatchSize must be 1..=10000 (over 10 needs MaximumBatchingWindowInSeconds > 0) and the window 0..=300 s",
            ));
        }
        // Lambda refuses these mappings when they are created.
        let queue_config = self.queues.get(&queue);
        let timeout_ms = self
            .functions
            .get(&function)
            .map_or(0, |f| i64::try_from(f.spec.timeout.as_millis()).unwrap_or(i64::MAX));
        if let Some(config) = queue_config {
            if config.visibility_timeout_ms < timeout_ms {
                return Err(invalid(
                    id,
                    "Properties.EventSourceArn",
                    format!(
                        "{queue}'s visibility timeout ({} s) is shorter than {function}'s timeout ({} s)",
                        config.visibility_timeout_ms / 1000,
                        timeout_ms / 1000
                    ),
                ));
            }
            if config.fifo && batch_size > 10 {
                return Err(invalid(
                    id,
                    "Properties.BatchSize",
                    "a FIFO queue's batches are at most 10",
                ));
            }
        }
        let maximum_concurrency = match number(properties.pointer("/ScalingConfig/MaximumConcurrency")) {
            None => None,
            Some(limit @ 2..=1000) => usize::try_from(limit).ok(),
            Some(_) => {
                return Err(invalid(
                    id,
                    "Properties.ScalingConfig.MaximumConcurrency",
                    "must be 2..=1000",
                ));
            }
        };
        let report = match properties.get("FunctionResponseTypes") {
            None => false,
            Some(Value::Array(types)) => types.iter().any(|t| t == "ReportBatchItemFailures"),
            Some(_) => return Err(invalid(id, "Properties.FunctionResponseTypes", "must be a list")),
        };
        self.mappings.push(MappingConfig {
            logical_id: id.to_owned(),
            queue,
            function,
            batch_size: usize::try_from(batch_size).unwrap_or(10),
            window_ms: window * 1000,
            report_batch_item_failures: report,
            enabled: flag(properties.get("Enabled")).unwrap_or(true),
            maximum_concurrency,
        });
        Ok(())
    }

    fn add_invoke_config(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let function = self.function_named(resource)?;
        let config = self.async_config(&resource.logical_id, "Properties", &resource.properties)?;
        if let Some(found) = self.functions.get_mut(&function) {
            found.async_config = config;
        }
        Ok(())
    }

    /// An `EventInvokeConfig`'s properties at `property`.
    fn async_config(&self, id: &str, property: &str, properties: &Value) -> Result<AsyncConfig, LoadError> {
        let at = |field: &str| format!("{property}.{field}");
        let maximum_retry_attempts = match number(properties.get("MaximumRetryAttempts")) {
            None => 2,
            Some(attempts @ 0..=2) => u32::try_from(attempts).unwrap_or(2),
            Some(_) => return Err(invalid(id, &at("MaximumRetryAttempts"), "must be 0..=2")),
        };
        let maximum_event_age_ms = match number(properties.get("MaximumEventAgeInSeconds")) {
            None => 21_600_000,
            Some(seconds @ 60..=21_600) => seconds * 1000,
            Some(_) => return Err(invalid(id, &at("MaximumEventAgeInSeconds"), "must be 60..=21600")),
        };
        let on_failure = match text(properties.pointer("/DestinationConfig/OnFailure/Destination")) {
            Some(destination) => {
                Some(self.endpoint(id, &at("DestinationConfig.OnFailure.Destination"), &destination)?)
            }
            None => None,
        };
        Ok(AsyncConfig {
            maximum_retry_attempts,
            maximum_event_age_ms,
            on_failure,
        })
    }

    fn subscription(
        &self,
        id: &str,
        property: &str,
        protocol: Option<String>,
        endpoint: Option<String>,
        attributes: &Value,
    ) -> Result<Subscription, LoadError> {
        let protocol = protocol.ok_or_else(|| invalid(id, &format!("{property}.Protocol"), "missing"))?;
        let endpoint_ref = endpoint.ok_or_else(|| invalid(id, &format!("{property}.Endpoint"), "missing"))?;
        let endpoint = self.endpoint(id, &format!("{property}.Endpoint"), &endpoint_ref)?;
        match (protocol.as_str(), &endpoint) {
            ("sqs", Endpoint::Queue(_)) | ("lambda", Endpoint::Function(_)) => {}
            _ => {
                return Err(invalid(
                    id,
                    &format!("{property}.Protocol"),
                    format!(
                        "protocol {protocol} to {} is not delivered locally (sqs and lambda are)",
                        endpoint_ref
                    ),
                ));
            }
        }
        // Refused as SNS refuses them, with its `InvalidParameter` messages.
        let scope = match text(attributes.get("FilterPolicyScope")) {
            None => FilterPolicyScope::default(),
            Some(scope) => scope
                .parse()
                .map_err(|e: FilterPolicyError| invalid(id, &format!("{property}.FilterPolicyScope"), e.to_string()))?,
        };
        let filter = match attributes.get("FilterPolicy") {
            None => None,
            Some(policy) => Some(
                FilterPolicy::from_value(policy, scope)
                    .map_err(|e| invalid(id, &format!("{property}.FilterPolicy"), e.to_string()))?,
            ),
        };
        Ok(Subscription {
            logical_id: id.to_owned(),
            endpoint,
            filter,
            raw: flag(attributes.get("RawMessageDelivery")).unwrap_or(false),
        })
    }

    fn topic_of(&self, id: &str, property: &str, reference: &str) -> Result<String, LoadError> {
        match self.endpoint(id, property, reference)? {
            Endpoint::Topic(topic) => Ok(topic),
            other => Err(invalid(id, property, format!("{} is not a topic", other.logical_id()))),
        }
    }

    fn add_subscription(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let p = &resource.properties;
        let topic_ref = text(p.get("TopicArn")).ok_or_else(|| invalid(id, "Properties.TopicArn", "missing"))?;
        let topic = self.topic_of(id, "Properties.TopicArn", &topic_ref)?;
        let subscription = self.subscription(id, "Properties", text(p.get("Protocol")), text(p.get("Endpoint")), p)?;
        if let Some(topic) = self.topics.get_mut(&topic) {
            topic.subscriptions.push(subscription);
        }
        Ok(())
    }

    fn add_inline_subscriptions(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let Some(Value::Array(listed)) = resource.property("Subscription") else {
            return Ok(());
        };
        for (index, entry) in listed.iter().enumerate() {
            let subscription = self.subscription(
                &format!("{id}.Subscription[{index}]"),
                "Properties",
                text(entry.get("Protocol")),
                text(entry.get("Endpoint")),
                &Value::Null,
            )?;
            if let Some(topic) = self.topics.get_mut(id) {
                topic.subscriptions.push(subscription);
            }
        }
        Ok(())
    }

    /// SAM's `Events` on a function: SQS, EventBridgeRule and SNS sources.
    fn add_function_events(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let id = &resource.logical_id;
        let Some(Value::Object(events)) = resource.property("Events") else {
            return Ok(());
        };
        for (name, event) in events {
            let at = format!("Properties.Events.{name}");
            let properties = event.get("Properties").cloned().unwrap_or(Value::Null);
            match text(event.get("Type")).as_deref() {
                Some("SQS") => {
                    let queue_ref = text(properties.get("Queue"))
                        .ok_or_else(|| invalid(id, &format!("{at}.Properties.Queue"), "missing"))?;
                    let queue = self.queue_of(id, &format!("{at}.Properties.Queue"), &queue_ref)?;
                    self.push_mapping(&format!("{id}{name}"), queue, id.clone(), properties)?;
                }
                Some("EventBridgeRule" | "CloudWatchEvent") => {
                    let bus = self.bus_of(
                        id,
                        &format!("{at}.Properties.EventBusName"),
                        properties.get("EventBusName"),
                    )?;
                    let pattern = properties
                        .get("Pattern")
                        .ok_or_else(|| invalid(id, &format!("{at}.Properties.Pattern"), "missing"))?;
                    let (pattern, pattern_json) = Self::pattern(id, &format!("{at}.Properties.Pattern"), pattern)?;
                    self.rules.push(Rule {
                        logical_id: format!("{id}{name}"),
                        bus,
                        pattern,
                        pattern_json,
                        enabled: true,
                        targets: vec![Target {
                            id: name.clone(),
                            endpoint: Endpoint::Function(id.clone()),
                            input: Input::Event,
                            dead_letter: None,
                            message_group_id: None,
                            retry: RetryPolicy::default(),
                        }],
                    });
                }
                Some("SNS") => {
                    let topic_ref = text(properties.get("Topic"))
                        .ok_or_else(|| invalid(id, &format!("{at}.Properties.Topic"), "missing"))?;
                    let topic = self.topic_of(id, &format!("{at}.Properties.Topic"), &topic_ref)?;
                    let mut subscription = self.subscription(
                        &format!("{id}{name}"),
                        &format!("{at}.Properties"),
                        Some("lambda".into()),
                        Some(resource.physical_name.clone()),
                        &properties,
                    )?;
                    subscription.logical_id = format!("{id}{name}");
                    if let Some(topic) = self.topics.get_mut(&topic) {
                        topic.subscriptions.push(subscription);
                    }
                }
                other => {
                    return Err(invalid(
                        id,
                        &format!("{at}.Type"),
                        format!("{} events are not run by the local cloud", other.unwrap_or("untyped")),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The function consuming `queue`, if a mapping reads it.
    pub fn consumer_of(&self, queue: &str) -> Option<&str> {
        self.mappings
            .iter()
            .find(|m| m.queue == queue)
            .map(|m| m.function.as_str())
    }

    /// The crate name of function `logical_id` (its own name in the timeline).
    pub fn crate_of<'a>(&'a self, logical_id: &'a str) -> &'a str {
        self.functions
            .get(logical_id)
            .map_or(logical_id, |f| f.spec.binary.as_str())
    }
}

impl Topology {
    /// The bus named `name` (or with that logical id), if any.
    pub fn bus(&self, name: &str) -> Option<&Bus> {
        self.buses.values().find(|b| b.name == name || b.logical_id == name)
    }

    /// The enabled rules of bus `bus_id` whose pattern matches `event`.
    pub fn matching_rules<'a>(&'a self, bus_id: &'a str, event: &'a Value) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.enabled && r.bus == bus_id && r.pattern.matches(event))
    }

    /// Where `target` of `rule` leads, for people: `Rule -> Queue -> function`.
    pub fn route_of(&self, rule: &Rule, target: &Target) -> String {
        self.route_from(&rule.logical_id, target)
    }

    /// `rule -> target [-> its consumer]` for any rule, scheduled or not.
    pub fn route_from(&self, rule: &str, target: &Target) -> String {
        match &target.endpoint {
            Endpoint::Queue(queue) => {
                let consumer = self.consumer_of(queue).map_or("(no consumer)", |f| self.crate_of(f));
                format!("{rule} -> {queue} -> {consumer}")
            }
            Endpoint::Topic(topic) => format!("{rule} -> {topic}"),
            Endpoint::Function(function) => format!("{rule} -> {}", self.crate_of(function)),
        }
    }
}

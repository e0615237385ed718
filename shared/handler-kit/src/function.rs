//! A function declared once: how it is triggered, where its outputs go, and the settings it
//! reads. `main.rs` hands the declaration and the function's builder AWS adapters; the local
//! cloud hands the same builder local ones; the template test checks the declaration against
//! the function's resources.

use crate::publish::AttributesOf;

/// How events reach a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An SQS event source mapping with `ReportBatchItemFailures`.
    Sqs,
    /// An EventBridge rule targeting the function directly.
    EventBridge,
    /// An SNS subscription with protocol `lambda`.
    Sns,
    /// A Lambda Function URL (HTTP).
    FunctionUrl,
}

/// What a setting names, so the template and the local cloud can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A DynamoDB table, by name.
    Table,
    /// An SQS queue, by URL.
    Queue,
    /// An EventBridge bus, by name.
    Bus,
    /// An SNS topic, by ARN.
    Topic,
    /// A plain value.
    Value,
}

/// One environment variable a function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable.
    pub variable: &'static str,
    /// What it is for, said in the error when it is missing.
    pub purpose: &'static str,
    /// What it names.
    pub resource: Resource,
    /// Whether the function starts without it.
    pub optional: bool,
}

impl Setting {
    const fn of(variable: &'static str, purpose: &'static str, resource: Resource) -> Self {
        Self {
            variable,
            purpose,
            resource,
            optional: false,
        }
    }

    /// A table name.
    pub const fn table(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Table)
    }

    /// A queue URL.
    pub const fn queue(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Queue)
    }

    /// A bus name.
    pub const fn bus(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Bus)
    }

    /// A topic ARN.
    pub const fn topic(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Topic)
    }

    /// A plain value.
    pub const fn value(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Value)
    }

    /// The same setting, not required.
    #[must_use]
    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// The idempotency table every function with idempotent work reads.
pub const IDEMPOTENCY_TABLE: Setting = Setting::table("IDEMPOTENCY_TABLE", "idempotency records");
/// The queue where records that can never be processed are parked.
pub const PARKING_QUEUE_URL: Setting = Setting::queue("PARKING_QUEUE_URL", "where unprocessable records are parked");
/// The bus outputs go to, for functions declared with [`Bus`] outputs.
pub const EVENT_BUS_NAME: Setting = Setting::bus("EVENT_BUS_NAME", "the event bus outputs are published to");
/// The kit's tuning, all optional.
pub const TUNING: [Setting; 3] = [
    Setting::value("MAX_CONCURRENCY", "records processed at once").optional(),
    Setting::value("DEADLINE_MARGIN_MS", "time kept for publishing and answering").optional(),
    Setting::value("IDEMPOTENCY_TTL_SECONDS", "how long results answer duplicates").optional(),
];

/// Where a function's outputs go, as a type: a function links only the client it publishes with.
pub trait Outputs: Send + Sync + 'static {
    /// The setting naming the destination, if there is one.
    fn destination(&self) -> Option<Setting>;
}

/// Outputs go to the bus named by `EVENT_BUS_NAME`.
#[derive(Debug, Clone, Copy)]
pub struct Bus;

impl Outputs for Bus {
    fn destination(&self) -> Option<Setting> {
        Some(EVENT_BUS_NAME)
    }
}

/// Outputs go to the SNS topic whose ARN is in `variable`, each message with `attributes` for
/// subscription filter policies.
#[derive(Debug, Clone, Copy)]
pub struct Topic {
    /// The variable holding the topic ARN.
    pub variable: &'static str,
    /// Extra attributes of each message.
    pub attributes: AttributesOf,
}

impl Outputs for Topic {
    fn destination(&self) -> Option<Setting> {
        Some(Setting::topic(self.variable, "the SNS topic outputs are published to"))
    }
}

/// The function publishes nothing (a projection): an output it returned would be refused.
#[derive(Debug, Clone, Copy)]
pub struct Nowhere;

impl Outputs for Nowhere {
    fn destination(&self) -> Option<Setting> {
        None
    }
}

/// A function, declared once.
#[derive(Debug)]
pub struct Function<O> {
    /// Its crate's (and binary's) name.
    pub name: &'static str,
    /// How events reach it.
    pub trigger: Trigger,
    /// A scheduled rule's expression (`rate(1 minute)`) that also invokes it, for what time
    /// alone decides (an aggregating function's tick).
    pub schedule: Option<&'static str>,
    /// Where its outputs go.
    pub outputs: O,
    /// The settings of its own (tables, third parties); the kit's come on top.
    pub settings: &'static [Setting],
}

impl<O: Outputs> Function<O> {
    /// Every variable the function reads: the kit's, its outputs' destination, its own.
    pub fn variables(&self) -> Vec<Setting> {
        // An HTTP function reads what it declares; a record-driven one also the kit's.
        let kit: &[Setting] = match self.trigger {
            Trigger::FunctionUrl => &[],
            _ => &[IDEMPOTENCY_TABLE, PARKING_QUEUE_URL],
        };
        let tuning: &[Setting] = match self.trigger {
            Trigger::FunctionUrl => &[],
            _ => &TUNING,
        };
        kit.iter()
            .chain(tuning)
            .copied()
            .chain(self.outputs.destination())
            .chain(self.settings.iter().copied())
            .collect()
    }
}

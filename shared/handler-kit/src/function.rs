//! A function declared once: how it is triggered, where its outputs go, and the settings it
//! reads. `main.rs` hands the declaration and the function's builder AWS adapters; the local
//! cloud hands the same builder local ones; the template test checks the declaration against
//! the function's resources.

use crate::publish::AttributesOf;
use crate::trigger::{Trigger, TriggerKind};

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
    /// A KMS key, by id: the master key of sealed fields.
    Key,
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
    /// The IAM actions the function calls on what it names (`dynamodb:GetItem`): its role
    /// must allow exactly these there, which `tests/tests/template.rs` checks.
    pub actions: &'static [&'static str],
    /// For a [`Resource::Table`]: an index the function queries and the actions it calls on
    /// it (an index has its own ARN, `<table ARN>/index/<name>`, which IAM authorises apart).
    pub index: Option<(&'static str, &'static [&'static str])>,
    /// For a [`Resource::Key`]: the fields (encryption contexts) the actions hold for. The
    /// role's statement on the key must carry the condition `kms:EncryptionContext:field` with
    /// exactly these.
    pub fields: &'static [&'static str],
    /// For a [`Resource::Bus`]: the event sources the function puts (`shop.orders`). The role's
    /// `events:PutEvents` must carry the condition `events:source` with exactly these, and the
    /// bus's policy refuses each of them to every role not declaring it.
    pub sources: &'static [&'static str],
}

impl Setting {
    const fn of(variable: &'static str, purpose: &'static str, resource: Resource) -> Self {
        Self {
            variable,
            purpose,
            resource,
            optional: false,
            actions: &[],
            index: None,
            fields: &[],
            sources: &[],
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

    /// A KMS key id.
    pub const fn key(variable: &'static str, purpose: &'static str) -> Self {
        Self::of(variable, purpose, Resource::Key)
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

    /// The same setting, with the IAM actions the function calls on what it names.
    #[must_use]
    pub const fn calls(mut self, actions: &'static [&'static str]) -> Self {
        self.actions = actions;
        self
    }

    /// The same table setting, with an index `name` the function calls `actions` on.
    #[must_use]
    pub const fn index(mut self, name: &'static str, actions: &'static [&'static str]) -> Self {
        self.index = Some((name, actions));
        self
    }

    /// The same key setting, its actions allowed only for `fields`.
    #[must_use]
    pub const fn fields(mut self, fields: &'static [&'static str]) -> Self {
        self.fields = fields;
        self
    }

    /// The same bus setting, its `events:PutEvents` allowed only for events of `sources`.
    #[must_use]
    pub const fn sources(mut self, sources: &'static [&'static str]) -> Self {
        self.sources = sources;
        self
    }
}

/// The idempotency table every function with idempotent work reads: a record is put, read,
/// completed (updated) and, when the work fails, deleted.
pub const IDEMPOTENCY_TABLE: Setting = Setting::table("IDEMPOTENCY_TABLE", "idempotency records").calls(&[
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]);
/// The queue where records that can never be processed are parked.
pub const PARKING_QUEUE_URL: Setting =
    Setting::queue("PARKING_QUEUE_URL", "where unprocessable records are parked").calls(&["sqs:SendMessage"]);
/// The bus outputs go to, for functions declared with [`Bus`] outputs (with the sources they
/// put).
pub const EVENT_BUS_NAME: Setting =
    Setting::bus("EVENT_BUS_NAME", "the event bus outputs are published to").calls(&["events:PutEvents"]);
/// What an SQS-triggered function does on its own queue (the event source mapping calls them
/// with the function's role).
pub const OWN_QUEUE_ACTIONS: &[&str] = &["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"];
/// What a role may do with the stack's customer managed key, when the template is given one
/// (`EncryptionKeyArn`), for a function reading `variables`: decrypt what it reads (its
/// environment, its queue), and make data keys where it sends to a queue or topic (SSE-KMS
/// needs both to send). DynamoDB decrypts a table's key as the principal reading the table
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html>),
/// which the `kms:Decrypt` every role gets covers.
pub fn customer_key_actions(variables: &[Setting]) -> &'static [&'static str] {
    let sends = variables.iter().any(|s| {
        s.actions
            .iter()
            .any(|a| matches!(*a, "sqs:SendMessage" | "sns:Publish"))
    });
    if sends {
        &["kms:Decrypt", "kms:GenerateDataKey"]
    } else {
        &["kms:Decrypt"]
    }
}

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

    /// Whether the kit may keep the outputs in idempotency records, to hand them to a
    /// duplicate. Not when they name people: then records keep a digest only.
    fn may_be_kept(&self) -> bool {
        true
    }
}

/// Outputs go to the bus named by `EVENT_BUS_NAME`, each event of one of `sources`.
#[derive(Debug, Clone, Copy)]
pub struct Bus {
    /// The event sources the function puts, its domain's (`orders::events::SOURCE`). Only
    /// these may it put: its role's `events:PutEvents` is conditioned on `events:source`, and
    /// the bus's policy refuses each source to every principal but its declared producers
    /// (checked by `tests/tests/template.rs`). EventBridge authorises each entry of a call
    /// apart: an entry of another source fails alone (`NotAuthorizedForSourceException`).
    pub sources: &'static [&'static str],
}

impl Outputs for Bus {
    fn destination(&self) -> Option<Setting> {
        Some(EVENT_BUS_NAME.sources(self.sources))
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
    /// Whether messages carry personal data in clear (they leave for a person): then no copy
    /// of them is kept.
    pub personal: bool,
}

impl Outputs for Topic {
    fn destination(&self) -> Option<Setting> {
        Some(Setting::topic(self.variable, "the SNS topic outputs are published to").calls(&["sns:Publish"]))
    }

    fn may_be_kept(&self) -> bool {
        !self.personal
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
pub struct Function<T, O> {
    /// Its crate's (and binary's) name.
    pub name: &'static str,
    /// How events reach it (and a scheduled rule's ticks, for [`crate::trigger::SqsBatches`]).
    pub trigger: T,
    /// Where its outputs go.
    pub outputs: O,
    /// The settings of its own (tables, third parties); the kit's come on top.
    pub settings: &'static [Setting],
    /// Whether the kit keeps idempotency records for it (`IDEMPOTENCY_TABLE`). A function
    /// whose own state keeps its work once (an aggregate, the archive) has none.
    pub idempotent: bool,
}

impl<T: Trigger, O: Outputs> Function<T, O> {
    /// The expression of a scheduled rule that also invokes it (`rate(1 minute)`), if any.
    pub fn schedule(&self) -> Option<&'static str> {
        self.trigger.schedule()
    }

    /// Every variable the function reads: the kit's, its outputs' destination, its own.
    pub fn variables(&self) -> Vec<Setting> {
        // A record-driven function parks what it cannot process and reads the kit's tuning;
        // an HTTP one reads what it declares.
        let record_driven = T::KIND != TriggerKind::FunctionUrl;
        let idempotency: &[Setting] = if self.idempotent && record_driven {
            &[IDEMPOTENCY_TABLE]
        } else {
            &[]
        };
        let kit: &[Setting] = if record_driven { &[PARKING_QUEUE_URL] } else { &[] };
        let tuning: &[Setting] = if record_driven { &TUNING } else { &[] };
        idempotency
            .iter()
            .chain(kit)
            .chain(tuning)
            .copied()
            .chain(self.outputs.destination())
            .chain(self.settings.iter().copied())
            .collect()
    }
}

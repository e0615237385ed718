//! The event graph of a template: buses and their rules (patterns compiled), queues, topics
//! and subscriptions, event source mappings and functions. Everything the template wires is
//! read; anything the local cloud cannot run is an error naming the resource and property.
//!
//! Loading reads endpoints first (queues, buses, topics, functions), then what points at them:
//! `rules` (rules, targets, archives, schedules), `mappings` (event source mappings),
//! `topics` (subscriptions), `functions` (SAM's `Events`, asynchronous invocation), each
//! resolving references through `references` and reading values through `values`.
//! `lookup` answers what the running cloud asks of the graph.

mod functions;
mod lookup;
mod mappings;
mod parts;
mod queues;
mod references;
mod rules;
mod topics;
mod values;

use std::collections::BTreeMap;
use std::path::Path;

use sam_template::{Resource, Template};

use crate::esm::MappingConfig;
use crate::sqs::QueueConfig;

pub use parts::{
    Archive, AsyncConfig, Bus, Endpoint, Function, Input, RetryPolicy, Rule, ScheduledRule, Subscription, Target, Topic,
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
/// created on first use, log groups). A bus's policy is permissions too: locally no principal
/// puts an event, so who may put which source is checked on the template instead
/// (`tests/tests/template.rs`).
const INERT: &[&str] = &[
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBusPolicy",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Key",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Url",
    "AWS::Logs::LogGroup",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
];

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
}

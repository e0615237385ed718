//! Functions: their crate, environment and timeout, how their asynchronous invocations retry,
//! and SAM's `Events` on them (SQS, EventBridge rules, SNS subscriptions).

use std::time::Duration;

use sam_template::Resource;
use serde_json::Value;

use super::values::{number, text};
use super::{AsyncConfig, Endpoint, Function, Input, LoadError, RetryPolicy, Rule, Target, Topology, invalid};
use crate::functions::FunctionSpec;

impl Topology {
    pub(super) fn add_function(&mut self, resource: &Resource) -> Result<(), LoadError> {
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

    pub(super) fn add_invoke_config(&mut self, resource: &Resource) -> Result<(), LoadError> {
        let function = self.function_named(resource)?;
        let config = self.async_config(&resource.logical_id, "Properties", &resource.properties)?;
        if let Some(found) = self.functions.get_mut(&function) {
            found.async_config = config;
        }
        Ok(())
    }

    /// An `EventInvokeConfig`'s properties at `property`.
    pub(super) fn async_config(&self, id: &str, property: &str, properties: &Value) -> Result<AsyncConfig, LoadError> {
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

    /// SAM's `Events` on a function: SQS, EventBridgeRule and SNS sources.
    pub(super) fn add_function_events(&mut self, resource: &Resource) -> Result<(), LoadError> {
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
}

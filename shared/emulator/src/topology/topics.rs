//! SNS subscriptions, as resources or inline on their topic: the protocols delivered locally
//! and filter policies refused as SNS refuses them.

use event_pattern::sns::{FilterPolicy, FilterPolicyError, FilterPolicyScope};
use sam_template::Resource;
use serde_json::Value;

use super::values::{flag, text};
use super::{Endpoint, LoadError, Subscription, Topology, invalid};

impl Topology {
    pub(super) fn subscription(
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

    pub(super) fn add_subscription(&mut self, resource: &Resource) -> Result<(), LoadError> {
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

    pub(super) fn add_inline_subscriptions(&mut self, resource: &Resource) -> Result<(), LoadError> {
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
}

//! What a reference (an ARN, a URL, a name) in a property points at, refused with the resource
//! and property when it is not a resource of the template or not of the kind expected.

use sam_template::Resource;
use serde_json::Value;

use super::values::text;
use super::{Endpoint, LoadError, Topology, invalid};

impl Topology {
    /// The endpoint a reference (ARN, URL, name) points at.
    pub(super) fn endpoint(&self, resource: &str, property: &str, reference: &str) -> Result<Endpoint, LoadError> {
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

    pub(super) fn queue_of(&self, resource: &str, property: &str, reference: &str) -> Result<String, LoadError> {
        match self.endpoint(resource, property, reference)? {
            Endpoint::Queue(id) => Ok(id),
            other => Err(invalid(
                resource,
                property,
                format!("{} is not an SQS queue", other.logical_id()),
            )),
        }
    }

    /// The bus a rule or event is on: by name or ARN; absent is the default bus.
    pub(super) fn bus_of(
        &self,
        resource: &str,
        property: &str,
        reference: Option<&Value>,
    ) -> Result<String, LoadError> {
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

    /// The function a resource's `FunctionName` names (a name, an ARN, a reference).
    pub(super) fn function_named(&self, resource: &Resource) -> Result<String, LoadError> {
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

    pub(super) fn topic_of(&self, id: &str, property: &str, reference: &str) -> Result<String, LoadError> {
        match self.endpoint(id, property, reference)? {
            Endpoint::Topic(topic) => Ok(topic),
            other => Err(invalid(id, property, format!("{} is not a topic", other.logical_id()))),
        }
    }
}

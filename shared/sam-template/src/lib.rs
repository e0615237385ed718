//! Loads an AWS SAM / CloudFormation YAML template into resolved resources, the way
//! CloudFormation and SAM would see them after deployment: for the local cloud and for tests.
//!
//! - Intrinsics, short (`!Sub`) and long (`Fn::Sub:`), nested: `Ref`, `Fn::GetAtt`, `Fn::Sub`,
//!   `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::Base64`, `Fn::FindInMap`; pseudo parameters,
//!   `AWS::NoValue`; `Parameters` with defaults and overrides; `Mappings`; `Conditions` with
//!   `Fn::If`, and a resource's or output's `Condition` (false leaves it out).
//! - SAM: `Globals.Function` merged into every `AWS::Serverless::Function` as the SAM translator
//!   does; the implicit `<Function>Role` and `<Function>Url` resources.
//! - Every resource gets a physical name, an ARN where its type has one, and what `Ref` and
//!   `Fn::GetAtt` return for it; [`Template::find`] goes back from an ARN, URL or name.
//! - Anything the loader does not implement (imports, other transforms, unknown tags,
//!   references to nothing, unknown attributes) is a [`TemplateError`] naming the resource and
//!   the property path: nothing is silently ignored.
//!
//! ```
//! use sam_template::{Options, Template};
//!
//! let template = Template::from_yaml(
//!     r#"
//! Resources:
//!   Jobs:
//!     Type: AWS::SQS::Queue
//!     Properties:
//!       QueueName: !Sub "${AWS::StackName}-jobs"
//!   JobsAlarm:
//!     Type: AWS::CloudWatch::Alarm
//!     Properties:
//!       Dimensions: [{Name: QueueName, Value: !GetAtt Jobs.QueueName}]
//! "#,
//!     &Options::default(),
//! )?;
//! let jobs = template.resource("Jobs").ok_or("no Jobs")?;
//! assert_eq!(jobs.arn.as_deref(), Some("arn:aws:sqs:us-east-1:000000000000:local-jobs"));
//! assert_eq!(jobs.ref_value.as_deref(), Some("https://sqs.us-east-1.amazonaws.com/000000000000/local-jobs"));
//! let alarm = template.resource("JobsAlarm").ok_or("no alarm")?;
//! assert_eq!(alarm.property("Dimensions.0.Value"), Some(&"local-jobs".into()));
//! assert_eq!(template.find("arn:aws:sqs:us-east-1:000000000000:local-jobs").map(|r| r.logical_id.as_str()), Some("Jobs"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod globals;
mod kinds;
mod load;
mod node;
mod params;
mod resolve;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::TemplateError;

/// The stack the template is loaded as, and parameter overrides.
#[derive(Debug, Clone)]
pub struct Options {
    /// `AWS::StackName`.
    pub stack_name: String,
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// Parameter values; they win over each parameter's `Default`.
    pub parameters: BTreeMap<String, String>,
}

impl Default for Options {
    /// Stack `local` in `us-east-1`, account `000000000000`, no overrides.
    fn default() -> Self {
        Self {
            stack_name: "local".to_owned(),
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            parameters: BTreeMap::new(),
        }
    }
}

impl Options {
    /// These options with one more parameter value.
    #[must_use]
    pub fn with_parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.insert(name.into(), value.into());
        self
    }
}

/// A loaded template: every value resolved.
#[derive(Debug, Clone)]
pub struct Template {
    /// The template's `Description`.
    pub description: Option<String>,
    /// Each parameter's effective value (list parameters as their comma-separated text).
    pub parameters: BTreeMap<String, String>,
    /// By logical id, SAM's implicit resources included.
    pub resources: BTreeMap<String, Resource>,
    /// Each output's resolved `Value`, by output name.
    pub outputs: BTreeMap<String, serde_json::Value>,
}

/// One resource as deployed.
#[derive(Debug, Clone)]
pub struct Resource {
    /// The logical id.
    pub logical_id: String,
    /// The resource type (`AWS::SQS::Queue`).
    pub kind: String,
    /// The resolved `Properties` (an object; `Globals` merged for SAM functions).
    pub properties: serde_json::Value,
    /// The resolved `Metadata`; `Null` when the resource declares none.
    pub metadata: serde_json::Value,
    /// The name the resource is created with: the type's name property (`QueueName`,
    /// `FunctionName`, ...) or `{stack}-{LogicalId}`. For a function URL, the URL; for an
    /// event source mapping, its id; for a subscription, its ARN.
    pub physical_name: String,
    /// The resource's ARN, where its type has one.
    pub arn: Option<String>,
    /// What `Ref` returns (a queue's URL, a topic's ARN, a table's name, ...); `None` for types
    /// the loader does not know.
    pub ref_value: Option<String>,
    /// What `Fn::GetAtt` returns, by attribute name (`Arn`, `QueueUrl`, `FunctionUrl`, ...).
    pub attributes: BTreeMap<String, String>,
    /// For a SAM implicit resource (`<Function>Role`, `<Function>Url`), the function's logical id.
    pub generated_by: Option<String>,
}

impl Resource {
    /// The property at a dotted path (`Environment.Variables`); numbers index lists
    /// (`Targets.0.Arn`).
    pub fn property(&self, path: &str) -> Option<&serde_json::Value> {
        path.split('.')
            .try_fold(&self.properties, |value, segment| match value {
                serde_json::Value::Object(map) => map.get(segment),
                serde_json::Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// A string property at a dotted path.
    pub fn property_str(&self, path: &str) -> Option<&str> {
        self.property(path).and_then(serde_json::Value::as_str)
    }

    /// What `Fn::GetAtt` returns for `attribute`.
    pub fn attribute(&self, attribute: &str) -> Option<&str> {
        self.attributes.get(attribute).map(String::as_str)
    }

    /// Whether the resource is of this type (`AWS::SQS::Queue`).
    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }

    /// Whether `reference` is this resource's ARN or what `Ref` or `Fn::GetAtt` returns for it.
    fn answers_to(&self, reference: &str) -> bool {
        self.ref_value.as_deref() == Some(reference) || self.attributes.values().any(|v| v == reference)
    }

    /// Whether `reference` is a queue URL of this queue at any endpoint
    /// (`http://localhost:4566/000000000000/name` as well as the AWS form).
    fn is_queue_url(&self, reference: &str) -> bool {
        let (Some(arn), true) = (&self.arn, self.is("AWS::SQS::Queue")) else {
            return false;
        };
        let Some(rest) = reference
            .strip_prefix("https://")
            .or_else(|| reference.strip_prefix("http://"))
        else {
            return false;
        };
        // arn:aws:sqs:{region}:{account}:{name}
        let mut parts = arn.rsplitn(3, ':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return false;
        };
        rest.split_once('/')
            .is_some_and(|(_, path)| path.trim_end_matches('/') == format!("{account}/{name}"))
    }
}

impl Template {
    /// Loads template text.
    pub fn from_yaml(text: &str, options: &Options) -> Result<Self, TemplateError> {
        load::load(text, options, "template")
    }

    /// Loads a template file.
    pub fn load(path: &Path, options: &Options) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        load::load(&text, options, &path.display().to_string())
    }

    /// The resource with this logical id.
    pub fn resource(&self, logical_id: &str) -> Option<&Resource> {
        self.resources.get(logical_id)
    }

    /// The resources of one type, in logical id order.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.is(kind))
    }

    /// The resource a reference points at, trying in turn: ARN; what `Ref` or `Fn::GetAtt`
    /// returns (queue URL, function URL, `bus|rule`, ...); physical name; logical id; a queue
    /// URL at another endpoint (`http://localhost:4566/{account}/{queue}`).
    pub fn find(&self, reference: &str) -> Option<&Resource> {
        let resources = || self.resources.values();
        resources()
            .find(|r| r.arn.as_deref() == Some(reference))
            .or_else(|| resources().find(|r| r.answers_to(reference)))
            .or_else(|| resources().find(|r| r.physical_name == reference))
            .or_else(|| self.resources.get(reference))
            .or_else(|| resources().find(|r| r.is_queue_url(reference)))
    }
}

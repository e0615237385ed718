//! Per resource type: the physical name, the ARN, and what `Ref` and `Fn::GetAtt` return, as
//! the CloudFormation resource reference documents them ("Return values" of each type).
//!
//! A name comes from the type's name property when set, else it is generated as
//! `{stack}-{LogicalId}` (CloudFormation adds a random suffix; the loader stays deterministic).
//! Ids CloudFormation or the service make up (event source mapping UUIDs, subscription ids,
//! function URL ids) are derived from a hash of account, region, stack and logical id.

use std::collections::BTreeMap;

use crate::Options;
use crate::error::{Site, TemplateError};
use crate::resolve::{RawResource, Resolver};

/// `AWS::Partition` (the loader models the commercial partition only).
pub(crate) const PARTITION: &str = "aws";
/// `AWS::URLSuffix`.
pub(crate) const URL_SUFFIX: &str = "amazonaws.com";

/// What the rest of the template sees of a resource.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) physical_name: String,
    pub(crate) arn: Option<String>,
    /// What `Ref` returns; `None` when the loader does not know the type.
    pub(crate) ref_value: Option<String>,
    /// What `Fn::GetAtt` returns, by attribute.
    pub(crate) attributes: BTreeMap<String, String>,
    /// Whether the loader knows the type.
    pub(crate) known: bool,
}

impl Identity {
    fn new(physical_name: String, arn: Option<String>, ref_value: String, attributes: &[(&str, &str)]) -> Self {
        Self {
            physical_name,
            arn,
            ref_value: Some(ref_value),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            known: true,
        }
    }
}

impl Resolver<'_> {
    pub(crate) fn compute_identity(&self, id: &str, raw: &RawResource) -> Result<Identity, TemplateError> {
        let o = &self.doc.options;
        let site = Site::Resource(id.to_owned());
        // A name-like property, resolved; absent or AWS::NoValue gives None.
        let prop = |name: &str| -> Result<Option<String>, TemplateError> {
            let Some(node) = raw.properties.get(name) else {
                return Ok(None);
            };
            let path = format!("Properties.{name}");
            match self.resolve(node, &site, &path)? {
                None => Ok(None),
                Some(value) => crate::resolve::scalar(&value)
                    .map(Some)
                    .ok_or_else(|| site.error(&path, format!("{name} must be a string"))),
            }
        };
        let flag = |name: &str| -> Result<bool, TemplateError> { Ok(prop(name)?.is_some_and(|v| v == "true")) };
        let generated = format!("{}-{id}", o.stack_name);
        let arn = |service: &str, resource: &str| {
            format!("arn:{PARTITION}:{service}:{}:{}:{resource}", o.region, o.account_id)
        };

        Ok(match raw.kind.as_str() {
            "AWS::SQS::Queue" => {
                let fifo = flag("FifoQueue")?;
                let name = match prop("QueueName")? {
                    Some(name) if fifo && !name.ends_with(".fifo") => {
                        return Err(site.error("Properties.QueueName", "the name of a FIFO queue must end in .fifo"));
                    }
                    Some(name) => name,
                    None if fifo => format!("{generated}.fifo"),
                    None => generated,
                };
                let arn = arn("sqs", &name);
                let url = queue_url(o, &name);
                Identity::new(
                    name.clone(),
                    Some(arn.clone()),
                    url.clone(),
                    &[("Arn", &arn), ("QueueName", &name), ("QueueUrl", &url)],
                )
            }
            "AWS::SQS::QueuePolicy" => Identity::new(generated.clone(), None, generated.clone(), &[("Id", &generated)]),
            "AWS::SNS::Topic" => {
                let fifo = flag("FifoTopic")?;
                let name = match prop("TopicName")? {
                    Some(name) => name,
                    None if fifo => format!("{generated}.fifo"),
                    None => generated,
                };
                let arn = arn("sns", &name);
                Identity::new(
                    name.clone(),
                    Some(arn.clone()),
                    arn.clone(),
                    &[("TopicArn", &arn), ("TopicName", &name)],
                )
            }
            "AWS::SNS::Subscription" => {
                let topic = prop("TopicArn")?
                    .ok_or_else(|| site.error("Properties", "an SNS subscription needs a TopicArn"))?;
                let arn = format!("{topic}:{}", uuid(o, id));
                Identity::new(arn.clone(), Some(arn.clone()), arn.clone(), &[("Arn", &arn)])
            }
            "AWS::Events::EventBus" => {
                let name = prop("Name")?.unwrap_or(generated);
                let arn = arn("events", &format!("event-bus/{name}"));
                Identity::new(
                    name.clone(),
                    Some(arn.clone()),
                    name.clone(),
                    &[("Arn", &arn), ("Name", &name)],
                )
            }
            "AWS::Events::Rule" => {
                let name = prop("Name")?.unwrap_or(generated);
                // EventBusName is a name or an ARN; absent means the default bus.
                let bus = prop("EventBusName")?
                    .map(|bus| {
                        bus.rsplit_once("event-bus/")
                            .map_or(bus.clone(), |(_, name)| name.to_owned())
                    })
                    .unwrap_or_else(|| "default".to_owned());
                // Ref: the rule name, or `bus|name` for a rule on a custom bus (observed behaviour,
                // aws-cloudformation/cloudformation-coverage-roadmap#1131).
                let (resource, ref_value) = if bus == "default" {
                    (format!("rule/{name}"), name.clone())
                } else {
                    (format!("rule/{bus}/{name}"), format!("{bus}|{name}"))
                };
                let arn = arn("events", &resource);
                Identity::new(name, Some(arn.clone()), ref_value, &[("Arn", &arn)])
            }
            "AWS::Events::Archive" => {
                let name = prop("ArchiveName")?.unwrap_or(generated);
                let arn = arn("events", &format!("archive/{name}"));
                Identity::new(name.clone(), Some(arn.clone()), name, &[("Arn", &arn)])
            }
            "AWS::KMS::Key" => {
                // Ref is the key id, a UUID KMS assigns; derived here so a run is repeatable.
                let key_id = uuid(o, id);
                let arn = arn("kms", &format!("key/{key_id}"));
                Identity::new(
                    key_id.clone(),
                    Some(arn.clone()),
                    key_id.clone(),
                    &[("Arn", &arn), ("KeyId", &key_id)],
                )
            }
            "AWS::DynamoDB::Table" => {
                let name = prop("TableName")?.unwrap_or(generated);
                let arn = arn("dynamodb", &format!("table/{name}"));
                let mut identity = Identity::new(name.clone(), Some(arn.clone()), name, &[("Arn", &arn)]);
                if raw.properties.get("StreamSpecification").is_some() {
                    let stream = format!("{arn}/stream/1970-01-01T00:00:00.000");
                    identity.attributes.insert("StreamArn".to_owned(), stream);
                }
                identity
            }
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => {
                let name = prop("FunctionName")?.unwrap_or(generated);
                let arn = arn("lambda", &format!("function:{name}"));
                Identity::new(name.clone(), Some(arn.clone()), name, &[("Arn", &arn)])
            }
            "AWS::Lambda::EventSourceMapping" => {
                let uuid = uuid(o, id);
                let arn = arn("lambda", &format!("event-source-mapping:{uuid}"));
                Identity::new(
                    uuid.clone(),
                    Some(arn.clone()),
                    uuid.clone(),
                    &[("Id", &uuid), ("EventSourceMappingArn", &arn)],
                )
            }
            "AWS::Lambda::Url" => {
                let target = prop("TargetFunctionArn")?
                    .ok_or_else(|| site.error("Properties", "a function URL needs a TargetFunctionArn"))?;
                let mut function_arn = if target.starts_with("arn:") {
                    target
                } else if target.contains(":function:") {
                    format!("arn:{PARTITION}:lambda:{}:{target}", o.region)
                } else {
                    arn("lambda", &format!("function:{target}"))
                };
                if let Some(qualifier) = prop("Qualifier")? {
                    function_arn = format!("{function_arn}:{qualifier}");
                }
                let url = format!("https://{}.lambda-url.{}.on.aws/", url_id(&function_arn), o.region);
                // Ref: the schema's primary identifier, the function ARN.
                Identity::new(
                    url.clone(),
                    None,
                    function_arn.clone(),
                    &[("FunctionArn", &function_arn), ("FunctionUrl", &url)],
                )
            }
            "AWS::Lambda::CapacityProvider" => {
                // Ref: the schema's primary identifier, the name.
                let name = prop("CapacityProviderName")?.unwrap_or(generated);
                let arn = arn("lambda", &format!("capacity-provider:{name}"));
                Identity::new(name.clone(), Some(arn.clone()), name, &[("Arn", &arn)])
            }
            "AWS::Logs::LogGroup" => {
                let name = prop("LogGroupName")?.unwrap_or(generated);
                // GetAtt Arn ends in `:*` (it covers the group's streams); the group's own ARN does not.
                let arn = arn("logs", &format!("log-group:{name}"));
                let attribute = format!("{arn}:*");
                Identity::new(name.clone(), Some(arn), name, &[("Arn", &attribute)])
            }
            "AWS::IAM::Role" => {
                let name = prop("RoleName")?.unwrap_or(generated);
                let role_path = prop("Path")?.unwrap_or_else(|| "/".to_owned());
                let arn = format!("arn:{PARTITION}:iam::{}:role{role_path}{name}", o.account_id);
                let role_id =
                    format!("AROA{}{}", base36(fnv(&arn), 13), base36(fnv(&format!("{arn}#2")), 4)).to_uppercase();
                Identity::new(
                    name.clone(),
                    Some(arn.clone()),
                    name,
                    &[("Arn", &arn), ("RoleId", &role_id)],
                )
            }
            "AWS::CloudWatch::Alarm" => {
                let name = prop("AlarmName")?.unwrap_or(generated);
                let arn = arn("cloudwatch", &format!("alarm:{name}"));
                Identity::new(name.clone(), Some(arn.clone()), name, &[("Arn", &arn)])
            }
            _ => Identity {
                physical_name: generated,
                arn: None,
                ref_value: None,
                attributes: BTreeMap::new(),
                known: false,
            },
        })
    }
}

/// The queue URL of a queue name.
pub(crate) fn queue_url(o: &Options, name: &str) -> String {
    format!("https://sqs.{}.{URL_SUFFIX}/{}/{name}", o.region, o.account_id)
}

/// `AWS::StackId`.
pub(crate) fn stack_id(o: &Options) -> String {
    format!(
        "arn:{PARTITION}:cloudformation:{}:{}:stack/{}/{}",
        o.region,
        o.account_id,
        o.stack_name,
        uuid(o, "AWS::StackId")
    )
}

/// A UUID-shaped id, stable for an account, region, stack and logical id.
fn uuid(o: &Options, id: &str) -> String {
    let seed = format!("{}:{}:{}:{id}", o.account_id, o.region, o.stack_name);
    let hex = format!("{:016x}{:016x}", fnv(&seed), fnv(&format!("{seed}#2")));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A 32-character function URL id, stable for a function ARN.
fn url_id(function_arn: &str) -> String {
    let mut id = base36(fnv(function_arn), 13);
    id.push_str(&base36(fnv(&format!("{function_arn}#2")), 13));
    id.push_str(&base36(fnv(&format!("{function_arn}#3")), 6));
    id
}

/// FNV-1a, 64 bits.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn base36(mut n: u64, len: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(DIGITS[(n % 36) as usize]));
        n /= 36;
    }
    out
}

/// Standard base64 with padding (`Fn::Base64`).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

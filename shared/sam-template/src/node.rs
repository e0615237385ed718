//! The template as the loader sees it before resolution: YAML with every intrinsic, short
//! (`!Ref`) or long (`Ref:`), turned into one [`Node::Func`] form. Unsupported and unknown
//! intrinsics are refused here, at the path where they appear.

use serde_yaml_ng::Value as Yaml;

use crate::error::{Site, TemplateError};

/// A template value with intrinsics recognised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Node>),
    /// Keys in template order.
    Map(Vec<(String, Node)>),
    /// An intrinsic function and its argument.
    Func(Func, Box<Node>),
}

/// The intrinsic functions the loader resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Ref,
    GetAtt,
    Sub,
    Join,
    Select,
    Split,
    Base64,
    FindInMap,
    If,
    Equals,
    Not,
    And,
    Or,
    /// A reference to a named condition (`!Condition Name`).
    Condition,
}

impl Func {
    /// The long-form name (`Fn::Sub`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ref => "Ref",
            Self::GetAtt => "Fn::GetAtt",
            Self::Sub => "Fn::Sub",
            Self::Join => "Fn::Join",
            Self::Select => "Fn::Select",
            Self::Split => "Fn::Split",
            Self::Base64 => "Fn::Base64",
            Self::FindInMap => "Fn::FindInMap",
            Self::If => "Fn::If",
            Self::Equals => "Fn::Equals",
            Self::Not => "Fn::Not",
            Self::And => "Fn::And",
            Self::Or => "Fn::Or",
            Self::Condition => "Condition",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Ref" => Self::Ref,
            "Fn::GetAtt" => Self::GetAtt,
            "Fn::Sub" => Self::Sub,
            "Fn::Join" => Self::Join,
            "Fn::Select" => Self::Select,
            "Fn::Split" => Self::Split,
            "Fn::Base64" => Self::Base64,
            "Fn::FindInMap" => Self::FindInMap,
            "Fn::If" => Self::If,
            "Fn::Equals" => Self::Equals,
            "Fn::Not" => Self::Not,
            "Fn::And" => Self::And,
            "Fn::Or" => Self::Or,
            "Condition" => Self::Condition,
            _ => return None,
        })
    }
}

/// CloudFormation intrinsics (and condition functions) the loader knows but does not resolve.
const UNSUPPORTED: &[&str] = &[
    "Fn::ImportValue",
    "Fn::GetAZs",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::Length",
    "Fn::ToJsonString",
    "Fn::ForEach",
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
    "Fn::GetStackOutput",
];

fn unsupported_reason(name: &str) -> String {
    let hint = match name {
        "Fn::ImportValue" | "Fn::GetStackOutput" => " (other stacks' outputs are not known locally: pass a parameter)",
        "Fn::GetAZs" | "Fn::Cidr" => " (no VPC model locally: pass a parameter)",
        _ => "",
    };
    format!("{name} is not supported by the local loader{hint}")
}

impl Node {
    /// The value under `key` when this is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts YAML at `path` of `site`, refusing unknown tags and unsupported intrinsics.
    pub(crate) fn from_yaml(value: &Yaml, site: &Site, path: &str) -> Result<Self, TemplateError> {
        Ok(match value {
            Yaml::Null => Self::Null,
            Yaml::Bool(b) => Self::Bool(*b),
            Yaml::Number(n) => {
                Self::Number(number(n).ok_or_else(|| site.error(path, format!("{n} is not a finite number")))?)
            }
            Yaml::String(s) => Self::String(s.clone()),
            Yaml::Sequence(items) => Self::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Self::from_yaml(item, site, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let bare = tag.trim_start_matches('!');
                let name = if bare == "Ref" || bare == "Condition" {
                    bare.to_owned()
                } else {
                    format!("Fn::{bare}")
                };
                if Func::from_name(&name).is_none() && !UNSUPPORTED.contains(&name.as_str()) {
                    return Err(site.error(
                        path,
                        format!("unknown YAML tag {tag}: not a CloudFormation intrinsic function"),
                    ));
                }
                function(&name, &tagged.value, site, path)?
            }
            Yaml::Mapping(mapping) => {
                if mapping.len() == 1
                    && let Some((Yaml::String(key), arg)) = mapping.iter().next()
                    && (key == "Ref" || key.starts_with("Fn::"))
                {
                    return function(key, arg, site, path);
                }
                let mut entries = Vec::with_capacity(mapping.len());
                for (key, item) in mapping {
                    let key = scalar_text(key).ok_or_else(|| {
                        site.error(
                            path,
                            format!("mapping keys must be text, found {key:?} (quote keys such as ~ or null)"),
                        )
                    })?;
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    let node = Self::from_yaml(item, site, &child)?;
                    entries.push((key, node));
                }
                Self::Map(entries)
            }
        })
    }

    /// The value as JSON when it holds no intrinsic.
    pub(crate) fn to_json(&self) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.clone()),
            Self::List(items) => Value::Array(items.iter().map(Self::to_json).collect::<Option<_>>()?),
            Self::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.to_json()?)))
                    .collect::<Option<_>>()?,
            ),
            Self::Func(..) => return None,
        })
    }
}

fn function(name: &str, arg: &Yaml, site: &Site, path: &str) -> Result<Node, TemplateError> {
    let Some(func) = Func::from_name(name) else {
        let known = UNSUPPORTED.contains(&name) || name.starts_with("Fn::ForEach::");
        return Err(site.error(
            path,
            if known {
                unsupported_reason(name)
            } else {
                format!("{name} is not a CloudFormation intrinsic function")
            },
        ));
    };
    let arg = Node::from_yaml(arg, site, &format!("{path}.{}", func.name()))?;
    Ok(Node::Func(func, Box::new(arg)))
}

fn number(n: &serde_yaml_ng::Number) -> Option<serde_json::Number> {
    if let Some(i) = n.as_i64() {
        Some(i.into())
    } else if let Some(u) = n.as_u64() {
        Some(u.into())
    } else {
        n.as_f64().and_then(serde_json::Number::from_f64)
    }
}

/// Text of a YAML scalar: a mapping key, or a section-level field such as `Type` or `Default`.
pub(crate) fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

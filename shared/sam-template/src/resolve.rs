//! Intrinsic resolution: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
//! `Fn::Base64`, `Fn::FindInMap`, pseudo parameters and `AWS::NoValue`.
//!
//! A resource's identity (physical name, ARN, what `Ref` and `Fn::GetAtt` return) is computed on
//! first use, so a name built from another resource (`!Sub "${Bus}-rule"`) works in any order;
//! a name that depends on itself is reported as circular.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::Options;
use crate::error::{Site, TemplateError};
use crate::kinds::Identity;
use crate::node::{Func, Node};
use crate::params::Param;

/// A resource as declared, with Globals merged and SAM's implicit resources added.
#[derive(Debug, Clone)]
pub(crate) struct RawResource {
    pub(crate) kind: String,
    /// Always a [`Node::Map`].
    pub(crate) properties: Node,
    pub(crate) metadata: Option<Node>,
    pub(crate) depends_on: Vec<String>,
    /// The `Condition` it is created under (a SAM implicit resource: its function's).
    pub(crate) condition: Option<String>,
    /// For a SAM implicit resource, the function it was generated from.
    pub(crate) generated_by: Option<String>,
}

/// Everything resolution reads.
#[derive(Debug)]
pub(crate) struct Doc {
    pub(crate) options: Options,
    pub(crate) params: BTreeMap<String, Param>,
    pub(crate) mappings: serde_json::Map<String, Value>,
    pub(crate) resources: BTreeMap<String, RawResource>,
    /// The `Conditions` section: each name's condition function, evaluated when first used.
    pub(crate) conditions: BTreeMap<String, Node>,
    /// Declared resources left out because their `Condition` is false, with that condition.
    pub(crate) not_created: BTreeMap<String, String>,
}

/// Resolves values against a [`Doc`], computing resource identities on demand.
pub(crate) struct Resolver<'d> {
    pub(crate) doc: &'d Doc,
    identities: RefCell<BTreeMap<String, Rc<Identity>>>,
    visiting: RefCell<Vec<String>>,
    conditions: RefCell<BTreeMap<String, bool>>,
    deciding: RefCell<Vec<String>>,
}

impl<'d> Resolver<'d> {
    pub(crate) fn new(doc: &'d Doc) -> Self {
        Self {
            doc,
            identities: RefCell::new(BTreeMap::new()),
            visiting: RefCell::new(Vec::new()),
            conditions: RefCell::new(BTreeMap::new()),
            deciding: RefCell::new(Vec::new()),
        }
    }

    /// The value of the template's condition `name`, evaluated once.
    pub(crate) fn condition(&self, name: &str, site: &Site, path: &str) -> Result<bool, TemplateError> {
        if let Some(known) = self.conditions.borrow().get(name) {
            return Ok(*known);
        }
        let Some(node) = self.doc.conditions.get(name) else {
            return Err(site.error(path, format!("'{name}' is not a condition of this template")));
        };
        if self.deciding.borrow().iter().any(|d| d == name) {
            let mut chain = self.deciding.borrow().clone();
            chain.push(name.to_owned());
            return Err(site.error(path, format!("circular conditions: {}", chain.join(" -> "))));
        }
        self.deciding.borrow_mut().push(name.to_owned());
        let value = self.truth(node, &Site::Section(format!("Conditions.{name}")), "");
        self.deciding.borrow_mut().pop();
        let value = value?;
        self.conditions.borrow_mut().insert(name.to_owned(), value);
        Ok(value)
    }

    /// A condition function's value: `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, or a
    /// named condition (`!Condition Name`, or `{Condition: Name}` inside another).
    fn truth(&self, node: &Node, site: &Site, path: &str) -> Result<bool, TemplateError> {
        let named = match node {
            Node::Func(Func::Condition, name) => Some(name.as_ref()),
            Node::Map(entries) if entries.len() == 1 && entries[0].0 == "Condition" => Some(&entries[0].1),
            _ => None,
        };
        if let Some(name) = named {
            let Node::String(name) = name else {
                return Err(site.error(path, "Condition takes the name of a condition"));
            };
            return self.condition(name, site, path);
        }
        let Node::Func(func @ (Func::Equals | Func::Not | Func::And | Func::Or), arg) = node else {
            return Err(site.error(
                path,
                "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or a Condition reference",
            ));
        };
        let inner = format!("{path}.{}", func.name());
        let Node::List(items) = arg.as_ref() else {
            return Err(site.error(path, format!("{} takes a list", func.name())));
        };
        let each = |range: std::ops::RangeInclusive<usize>| -> Result<Vec<bool>, TemplateError> {
            if !range.contains(&items.len()) {
                return Err(site.error(
                    path,
                    format!(
                        "{} takes {} to {} conditions, found {}",
                        func.name(),
                        range.start(),
                        range.end(),
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| self.truth(item, site, &format!("{inner}[{i}]")))
                .collect()
        };
        match func {
            Func::Equals => {
                let [a, b] = items.as_slice() else {
                    return Err(site.error(path, "Fn::Equals takes [value, value]"));
                };
                let a = self.value(a, site, &format!("{inner}[0]"))?;
                let b = self.value(b, site, &format!("{inner}[1]"))?;
                // CloudFormation compares scalars as text (`"1"` equals `1`).
                Ok(match (scalar(&a), scalar(&b)) {
                    (Some(a), Some(b)) => a == b,
                    _ => a == b,
                })
            }
            Func::Not => Ok(!each(1..=1)?[0]),
            Func::And => Ok(each(2..=10)?.into_iter().all(|b| b)),
            // Func::Or: the only one left.
            _ => Ok(each(2..=10)?.into_iter().any(|b| b)),
        }
    }

    /// The identity of a resource of the template (which must exist).
    pub(crate) fn identity(&self, id: &str, site: &Site, path: &str) -> Result<Rc<Identity>, TemplateError> {
        if let Some(known) = self.identities.borrow().get(id) {
            return Ok(Rc::clone(known));
        }
        let Some(raw) = self.doc.resources.get(id) else {
            return Err(site.error(path, format!("'{id}' is not a resource of this template")));
        };
        if self.visiting.borrow().iter().any(|v| v == id) {
            let mut chain = self.visiting.borrow().clone();
            chain.push(id.to_owned());
            return Err(site.error(
                path,
                format!("circular reference between resource names: {}", chain.join(" -> ")),
            ));
        }
        self.visiting.borrow_mut().push(id.to_owned());
        let computed = self.compute_identity(id, raw);
        self.visiting.borrow_mut().pop();
        let identity = Rc::new(computed?);
        self.identities.borrow_mut().insert(id.to_owned(), Rc::clone(&identity));
        Ok(identity)
    }

    /// Resolves a value; `None` means `AWS::NoValue` (the key or item is removed).
    pub(crate) fn resolve(&self, node: &Node, site: &Site, path: &str) -> Result<Option<Value>, TemplateError> {
        Ok(Some(match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(value) = self.resolve(item, site, &format!("{path}[{i}]"))? {
                        out.push(value);
                    }
                }
                Value::Array(out)
            }
            Node::Map(entries) => {
                let mut out = serde_json::Map::new();
                for (key, item) in entries {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    if let Some(value) = self.resolve(item, site, &child)? {
                        out.insert(key.clone(), value);
                    }
                }
                Value::Object(out)
            }
            Node::Func(func, arg) => return self.call(*func, arg, site, path),
        }))
    }

    /// Resolves a value that must be present (`AWS::NoValue` is refused).
    pub(crate) fn value(&self, node: &Node, site: &Site, path: &str) -> Result<Value, TemplateError> {
        self.resolve(node, site, path)?.ok_or_else(|| {
            site.error(
                path,
                "AWS::NoValue can only remove a property or a list item, not stand here",
            )
        })
    }

    /// Resolves a value that must be a scalar, as text.
    pub(crate) fn text(&self, node: &Node, site: &Site, path: &str, what: &str) -> Result<String, TemplateError> {
        let value = self.value(node, site, path)?;
        scalar(&value).ok_or_else(|| site.error(path, format!("{what} must be a string, not {}", describe(&value))))
    }

    fn call(&self, func: Func, arg: &Node, site: &Site, path: &str) -> Result<Option<Value>, TemplateError> {
        let inner = format!("{path}.{}", func.name());
        let name = func.name();
        let value = match func {
            Func::Ref => {
                let Node::String(target) = arg else {
                    return Err(site.error(path, "Ref takes the name of a parameter, pseudo parameter or resource"));
                };
                return self.reference(target, site, path);
            }
            Func::GetAtt => self.get_att(arg, site, path, &inner)?,
            Func::Sub => Value::String(self.sub(arg, site, path, &inner)?),
            Func::Join => {
                let [delimiter, list] =
                    pair(arg).ok_or_else(|| site.error(path, "Fn::Join takes [delimiter, [values]]"))?;
                let Node::String(delimiter) = delimiter else {
                    return Err(site.error(path, "Fn::Join: the delimiter must be a literal string"));
                };
                let items = self.list(list, site, &format!("{inner}[1]"), name)?;
                let texts = items
                    .iter()
                    .map(|item| {
                        scalar(item).ok_or_else(|| {
                            site.error(
                                path,
                                format!("Fn::Join: list items must be strings, not {}", describe(item)),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Value::String(texts.join(delimiter))
            }
            Func::Select => {
                let [index, list] = pair(arg).ok_or_else(|| site.error(path, "Fn::Select takes [index, [values]]"))?;
                let index_text = self.text(index, site, &format!("{inner}[0]"), "Fn::Select: the index")?;
                let index: usize = index_text
                    .parse()
                    .map_err(|_| site.error(path, format!("Fn::Select: index '{index_text}' is not a whole number")))?;
                let items = self.list(list, site, &format!("{inner}[1]"), name)?;
                let count = items.len();
                items.into_iter().nth(index).ok_or_else(|| {
                    site.error(
                        path,
                        format!("Fn::Select: index {index} is out of range for a list of {count}"),
                    )
                })?
            }
            Func::Split => {
                let [delimiter, source] =
                    pair(arg).ok_or_else(|| site.error(path, "Fn::Split takes [delimiter, string]"))?;
                let Node::String(delimiter) = delimiter else {
                    return Err(site.error(path, "Fn::Split: the delimiter must be a literal string"));
                };
                if delimiter.is_empty() {
                    return Err(site.error(path, "Fn::Split: the delimiter must not be empty"));
                }
                let source = self.text(source, site, &format!("{inner}[1]"), "Fn::Split: the source")?;
                Value::Array(
                    source
                        .split(delimiter.as_str())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                )
            }
            Func::Base64 => {
                let text = self.text(arg, site, &inner, "Fn::Base64: the value")?;
                Value::String(crate::kinds::base64(text.as_bytes()))
            }
            Func::FindInMap => self.find_in_map(arg, site, path, &inner)?,
            Func::If => {
                let Node::List(items) = arg else {
                    return Err(site.error(path, "Fn::If takes [condition, value if true, value if false]"));
                };
                let [Node::String(condition), when_true, when_false] = items.as_slice() else {
                    return Err(site.error(path, "Fn::If takes [condition name, value if true, value if false]"));
                };
                return if self.condition(condition, site, &format!("{inner}[0]"))? {
                    self.resolve(when_true, site, &format!("{inner}[1]"))
                } else {
                    self.resolve(when_false, site, &format!("{inner}[2]"))
                };
            }
            // As CloudFormation: condition functions decide an Fn::If, they are no values.
            Func::Equals | Func::Not | Func::And | Func::Or | Func::Condition => {
                return Err(site.error(
                    path,
                    format!("{name} belongs in the Conditions section; choose a value with Fn::If"),
                ));
            }
        };
        Ok(Some(value))
    }

    fn list(&self, node: &Node, site: &Site, path: &str, func: &str) -> Result<Vec<Value>, TemplateError> {
        match self.value(node, site, path)? {
            Value::Array(items) => Ok(items),
            other => Err(site.error(path, format!("{func}: expected a list, found {}", describe(&other)))),
        }
    }

    /// What `Ref` returns for a pseudo parameter, parameter or resource.
    fn reference(&self, target: &str, site: &Site, path: &str) -> Result<Option<Value>, TemplateError> {
        let o = &self.doc.options;
        let text = |s: String| Ok(Some(Value::String(s)));
        match target {
            "AWS::NoValue" => return Ok(None),
            "AWS::StackName" => return text(o.stack_name.clone()),
            "AWS::Region" => return text(o.region.clone()),
            "AWS::AccountId" => return text(o.account_id.clone()),
            "AWS::Partition" => return text(crate::kinds::PARTITION.to_owned()),
            "AWS::URLSuffix" => return text(crate::kinds::URL_SUFFIX.to_owned()),
            "AWS::StackId" => return text(crate::kinds::stack_id(o)),
            "AWS::NotificationARNs" => return Ok(Some(Value::Array(Vec::new()))),
            _ => {}
        }
        if target.starts_with("AWS::") {
            return Err(site.error(path, format!("Ref: {target} is not a pseudo parameter")));
        }
        if let Some(param) = self.doc.params.get(target) {
            return Ok(Some(param.value.clone()));
        }
        if let Some(raw) = self.doc.resources.get(target) {
            let identity = self.identity(target, site, path)?;
            return match &identity.ref_value {
                Some(value) => text(value.clone()),
                None => Err(site.error(
                    path,
                    format!(
                        "Ref: the local loader does not know what Ref returns for {} ({target})",
                        raw.kind
                    ),
                )),
            };
        }
        if let Some(reason) = self.not_created(target) {
            return Err(site.error(path, format!("Ref: {reason}")));
        }
        Err(site.error(
            path,
            format!(
                "Ref: '{target}' is not a parameter, pseudo parameter or resource of this template{}",
                implicit_hint(target)
            ),
        ))
    }

    /// Why a declared resource is not there to refer to: its condition is false. CloudFormation
    /// refuses such a reference too, unless an Fn::If under the same condition guards it.
    fn not_created(&self, id: &str) -> Option<String> {
        self.doc.not_created.get(id).map(|condition| {
            format!("'{id}' is not created: its Condition {condition} is false (guard the reference with Fn::If [{condition}, ...])")
        })
    }

    fn get_att(&self, arg: &Node, site: &Site, path: &str, inner: &str) -> Result<Value, TemplateError> {
        let (resource, attribute) = match arg {
            Node::String(dotted) => {
                let (resource, attribute) = dotted
                    .split_once('.')
                    .ok_or_else(|| site.error(path, format!("Fn::GetAtt: '{dotted}' is not Resource.Attribute")))?;
                (resource.to_owned(), attribute.to_owned())
            }
            Node::List(items) if items.len() == 2 => {
                let Node::String(resource) = &items[0] else {
                    return Err(site.error(path, "Fn::GetAtt: the resource must be a literal logical id"));
                };
                let attribute = self.text(&items[1], site, &format!("{inner}[1]"), "Fn::GetAtt: the attribute")?;
                (resource.clone(), attribute)
            }
            _ => return Err(site.error(path, "Fn::GetAtt takes Resource.Attribute or [Resource, Attribute]")),
        };
        self.attribute(&resource, &attribute, site, path)
    }

    /// What `Fn::GetAtt resource.attribute` returns.
    fn attribute(&self, resource: &str, attribute: &str, site: &Site, path: &str) -> Result<Value, TemplateError> {
        if self.doc.params.contains_key(resource) {
            return Err(site.error(path, format!("Fn::GetAtt: '{resource}' is a parameter, not a resource")));
        }
        let Some(raw) = self.doc.resources.get(resource) else {
            if let Some(reason) = self.not_created(resource) {
                return Err(site.error(path, format!("Fn::GetAtt: {reason}")));
            }
            return Err(site.error(
                path,
                format!(
                    "Fn::GetAtt: '{resource}' is not a resource of this template{}",
                    implicit_hint(resource)
                ),
            ));
        };
        let identity = self.identity(resource, site, path)?;
        if let Some(value) = identity.attributes.get(attribute) {
            return Ok(Value::String(value.clone()));
        }
        let reason = if !identity.known {
            format!(
                "Fn::GetAtt: the local loader does not know the attributes of {} ({resource})",
                raw.kind
            )
        } else if raw.kind == "AWS::DynamoDB::Table" && attribute == "StreamArn" {
            format!("Fn::GetAtt: {resource} has no StreamArn: it declares no StreamSpecification")
        } else {
            let known: Vec<&str> = identity.attributes.keys().map(String::as_str).collect();
            format!(
                "Fn::GetAtt: {} has no attribute '{attribute}' known to the local loader (known: {})",
                raw.kind,
                known.join(", ")
            )
        };
        Err(site.error(path, reason))
    }

    fn sub(&self, arg: &Node, site: &Site, path: &str, inner: &str) -> Result<String, TemplateError> {
        let (template, vars_node) = match arg {
            Node::String(template) => (template, None),
            Node::List(items) if items.len() == 2 => match (&items[0], &items[1]) {
                (Node::String(template), vars @ Node::Map(_)) => (template, Some(vars)),
                _ => return Err(site.error(path, "Fn::Sub takes a string or [string, {variables}]")),
            },
            _ => return Err(site.error(path, "Fn::Sub takes a string or [string, {variables}]")),
        };
        let mut vars = BTreeMap::new();
        if let Some(Node::Map(entries)) = vars_node {
            for (name, node) in entries {
                let text = self.text(
                    node,
                    site,
                    &format!("{inner}[1].{name}"),
                    &format!("Fn::Sub variable {name}"),
                )?;
                vars.insert(name.as_str(), text);
            }
        }
        let mut out = String::with_capacity(template.len());
        for piece in sub_pieces(template).map_err(|reason| site.error(path, format!("Fn::Sub: {reason}")))? {
            match piece {
                Piece::Text(text) => out.push_str(&text),
                Piece::Var(name) => {
                    if let Some(value) = vars.get(name.as_str()) {
                        out.push_str(value);
                        continue;
                    }
                    let value = match name.split_once('.') {
                        Some((resource, attribute)) if !name.starts_with("AWS::") => {
                            self.attribute(resource, attribute, site, path)?
                        }
                        _ => self.reference(&name, site, path)?.ok_or_else(|| {
                            site.error(path, format!("Fn::Sub: ${{{name}}} is AWS::NoValue, which has no text"))
                        })?,
                    };
                    let text = scalar(&value).ok_or_else(|| {
                        site.error(
                            path,
                            format!("Fn::Sub: ${{{name}}} is {}, not a string", describe(&value)),
                        )
                    })?;
                    out.push_str(&text);
                }
            }
        }
        Ok(out)
    }

    fn find_in_map(&self, arg: &Node, site: &Site, path: &str, inner: &str) -> Result<Value, TemplateError> {
        let Node::List(items) = arg else {
            return Err(site.error(path, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]"));
        };
        if items.len() == 4 {
            return Err(site.error(
                path,
                "Fn::FindInMap: a DefaultValue needs the AWS::LanguageExtensions transform, which the local loader does not support",
            ));
        }
        if items.len() != 3 {
            return Err(site.error(path, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]"));
        }
        let mut keys = Vec::with_capacity(3);
        for (i, item) in items.iter().enumerate() {
            keys.push(self.text(item, site, &format!("{inner}[{i}]"), "Fn::FindInMap: a key")?);
        }
        let [map_name, top_key, second_key] = [&keys[0], &keys[1], &keys[2]];
        // Every message names the whole lookup and what the map does have, so a typo in the
        // template or in the Mappings section is found from the message alone.
        let lookup = format!("Fn::FindInMap [{map_name}, {top_key}, {second_key}]");
        let missing = |what: String, known: &serde_json::Map<String, Value>| {
            let known: Vec<&str> = known.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            site.error(path, format!("{lookup}: {what} (there are: {known})"))
        };
        let map = self
            .doc
            .mappings
            .get(map_name)
            .and_then(Value::as_object)
            .ok_or_else(|| missing(format!("Mappings has no map '{map_name}'"), &self.doc.mappings))?;
        // The loader checked the shape of Mappings: every top-level key holds an object.
        let top = map
            .get(top_key)
            .and_then(Value::as_object)
            .ok_or_else(|| missing(format!("Mappings.{map_name} has no key '{top_key}'"), map))?;
        top.get(second_key)
            .cloned()
            .ok_or_else(|| missing(format!("Mappings.{map_name}.{top_key} has no key '{second_key}'"), top))
    }
}

fn implicit_hint(target: &str) -> &'static str {
    if target.ends_with("Url") {
        " (SAM creates <Function>Url only for a function with FunctionUrlConfig)"
    } else if target.ends_with("Role") {
        " (SAM creates <Function>Role only for a function without a Role property)"
    } else {
        ""
    }
}

fn pair(node: &Node) -> Option<[&Node; 2]> {
    match node {
        Node::List(items) if items.len() == 2 => Some([&items[0], &items[1]]),
        _ => None,
    }
}

/// A scalar as text (numbers and booleans as CloudFormation prints them).
pub(crate) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A piece of an `Fn::Sub` template.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Var(String),
}

/// Splits an `Fn::Sub` template into literal text and `${Name}` variables; `${!Literal}` is the
/// literal text `${Literal}`.
pub(crate) fn sub_pieces(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        text.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("'${{' without a closing '}}' in \"{template}\""))?;
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            text.push_str("${");
            text.push_str(literal);
            text.push('}');
        } else {
            let name = name.trim();
            if name.is_empty() {
                return Err(format!("empty '${{}}' in \"{template}\""));
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var(name.to_owned()));
        }
        rest = &after[end + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

//! Amazon SNS subscription filter policies: parse and validate a `FilterPolicy` for a
//! `FilterPolicyScope`, then match a message's typed attributes or its JSON body.
//!
//! SNS speaks a dialect of the EventBridge pattern language. Where the two agree this module
//! compiles a policy to the same conditions and pattern tree as [`Pattern`](crate::Pattern);
//! where SNS differs, it differs here, each difference with its source in the crate README's
//! parity table:
//!
//! - Message attributes are typed. `String` attributes are strings, `Number` attributes are
//!   numbers (so `numeric` never matches a `String` attribute, and an exact string never
//!   matches a `Number`), a `String.Array` matches a condition when one of its elements does,
//!   except `anything-but`, which needs every element to be outside the list, and `Binary`
//!   attributes are ignored, as if absent. A custom type suffix (`String.color`,
//!   `Number.float`) keeps the base type.
//! - Plain numbers in a policy, and `anything-but` numbers, compare by value (`100` = `100.0`),
//!   and `numeric` compares from -1e9 to 1e9 with five decimals (EventBridge: ±5e9, six).
//! - Operators: exact values, `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (a value,
//!   a list, `prefix`, `suffix`), `numeric`, `cidr`, `exists` and `$or`. No `wildcard`, no
//!   `prefix`/`suffix` with `equals-ignore-case`, no `anything-but` with `wildcard` or
//!   `equals-ignore-case`.
//! - `$or` is an operator only in its documented form (an array of at least two objects whose
//!   keys are not operator names); otherwise it is an attribute called `$or`.
//! - Limits: 256 KB of policy text, five keys, 150 combinations of values, and no nesting
//!   for `MessageAttributes`. Errors read as SNS's `InvalidParameter` messages:
//!   `Invalid parameter: FilterPolicy: ...`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use event_pattern::sns::{FilterPolicy, FilterPolicyScope, MessageAttribute};
//!
//! let policy = FilterPolicy::parse(
//!     r#"{"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}]}"#,
//!     FilterPolicyScope::MessageAttributes,
//! )?;
//! let mut attributes = BTreeMap::new();
//! attributes.insert("store".to_owned(), MessageAttribute::string("example_corp"));
//! attributes.insert("price_usd".to_owned(), MessageAttribute::number("210.75"));
//! assert!(policy.matches_attributes(&attributes));
//!
//! attributes.remove("store");
//! let why = policy.explain_attributes(&attributes).unwrap();
//! assert_eq!(why.to_string(), "attribute 'store': missing");
//! # Ok::<(), event_pattern::sns::FilterPolicyError>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::cidr::Cidr;
use crate::condition::{Bound, Condition, Excluded, Num, Precision, Range, Scalar, fold_case};
use crate::event::{Json, LeafRef, View};
use crate::explain::{self, Mismatch, MismatchKind};
use crate::tree::{Field, Leaf, Node, Rule};

/// The largest filter policy SNS accepts, in bytes of JSON text.
// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// The most keys a filter policy may have (for a nested policy, only the top-level keys count).
// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
pub const MAX_KEYS: usize = 5;

/// The most combinations of values a filter policy may have.
// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
pub const MAX_COMBINATIONS: u64 = 150;

/// The operator names, which cannot be keys of a `$or` alternative.
const RESERVED: [&str; 7] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
];

/// What a filter policy is applied to: the subscription's `FilterPolicyScope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FilterPolicyScope {
    /// The message attributes (the default when a subscription names no scope).
    #[default]
    MessageAttributes,
    /// The message body, which must be a JSON object.
    MessageBody,
}

impl FromStr for FilterPolicyScope {
    type Err = FilterPolicyError;

    /// `MessageAttributes` or `MessageBody`, as CloudFormation's `FilterPolicyScope` holds it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "MessageAttributes" => Ok(Self::MessageAttributes),
            "MessageBody" => Ok(Self::MessageBody),
            other => Err(FilterPolicyError {
                message: format!(
                    "Invalid parameter: FilterPolicyScope: Invalid value [{other}]. Please use either MessageBody or MessageAttributes"
                ),
            }),
        }
    }
}

/// A filter policy SNS would refuse, with SNS's `InvalidParameter` message
/// (`Invalid parameter: FilterPolicy: Filter policy is too complex`). Permanent: the fix is to
/// change the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterPolicyError {
    message: String,
}

impl FilterPolicyError {
    fn policy(reason: impl fmt::Display) -> Self {
        Self {
            message: format!("Invalid parameter: FilterPolicy: {reason}"),
        }
    }

    /// The whole message, as SNS gives it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The base data type of a message attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `String`, or `String.<custom>`.
    String,
    /// `Number`, or `Number.<custom>`.
    Number,
    /// `String.Array`: a JSON array of strings, numbers, booleans and nulls.
    StringArray,
    /// `Binary`, or `Binary.<custom>`: ignored by filter policies.
    Binary,
}

/// One message attribute as SNS receives it: a data type (`String`, `Number`, `String.Array`,
/// `Binary`, with an optional custom suffix such as `String.color`) and its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    data_type: String,
    value: String,
}

impl MessageAttribute {
    /// An attribute of any data type, its value as text (`"210.75"` for a `Number`,
    /// `"[\"a\", 1]"` for a `String.Array`; a `Binary` value's text is not looked at).
    pub fn new(data_type: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            data_type: data_type.into(),
            value: value.into(),
        }
    }

    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> Self {
        Self::new("String", value)
    }

    /// A `Number` attribute, its value as text.
    pub fn number(value: impl Into<String>) -> Self {
        Self::new("Number", value)
    }

    /// A `String.Array` attribute, its value as JSON array text.
    pub fn string_array(json: impl Into<String>) -> Self {
        Self::new("String.Array", json)
    }

    /// A `Binary` attribute (filter policies ignore it).
    pub fn binary() -> Self {
        Self::new("Binary", "")
    }

    /// The data type as given.
    pub fn data_type(&self) -> &str {
        &self.data_type
    }

    /// The value as given.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The base type, custom suffix dropped; `None` for a type SNS does not have.
    // source: https://docs.aws.amazon.com/sns/latest/dg/sns-message-attributes.html
    pub fn base_type(&self) -> Option<DataType> {
        if self.data_type == "String.Array" {
            return Some(DataType::StringArray);
        }
        match self.data_type.split('.').next() {
            Some("String") => Some(DataType::String),
            Some("Number") => Some(DataType::Number),
            Some("Binary") => Some(DataType::Binary),
            _ => None,
        }
    }

    /// What a policy compares: one value, several (a `String.Array`), or nothing (`Binary`,
    /// an unknown type, or a `String.Array` that is not a JSON array).
    fn values(&self) -> AttributeValues {
        match self.base_type() {
            Some(DataType::String) => AttributeValues::One(Value::String(self.value.clone())),
            // A Number whose text is not a JSON number (SNS refuses it at Publish) is compared
            // as the text it is.
            Some(DataType::Number) => AttributeValues::One(
                serde_json::from_str::<serde_json::Number>(self.value.trim())
                    .map_or_else(|_| Value::String(self.value.clone()), Value::Number),
            ),
            Some(DataType::StringArray) => match serde_json::from_str::<Vec<Value>>(&self.value) {
                Ok(items) => {
                    AttributeValues::Many(items.into_iter().filter(|v| !v.is_object() && !v.is_array()).collect())
                }
                Err(_) => AttributeValues::Ignored,
            },
            Some(DataType::Binary) | None => AttributeValues::Ignored,
        }
    }
}

enum AttributeValues {
    One(Value),
    Many(Vec<Value>),
    Ignored,
}

/// Message attributes by name, as a filter policy reads them.
pub trait Attributes {
    /// The attribute called `name`, if the message has one.
    fn attribute(&self, name: &str) -> Option<&MessageAttribute>;
}

impl<S: BuildHasher> Attributes for HashMap<String, MessageAttribute, S> {
    fn attribute(&self, name: &str) -> Option<&MessageAttribute> {
        self.get(name)
    }
}

impl Attributes for BTreeMap<String, MessageAttribute> {
    fn attribute(&self, name: &str) -> Option<&MessageAttribute> {
        self.get(name)
    }
}

impl Attributes for [(String, MessageAttribute)] {
    fn attribute(&self, name: &str) -> Option<&MessageAttribute> {
        self.iter().find(|(key, _)| key == name).map(|(_, attribute)| attribute)
    }
}

/// A validated SNS subscription filter policy and the scope it applies to.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterPolicyScope,
    root: Node,
}

impl FilterPolicy {
    /// Parses and validates a policy from its JSON text, as `Subscribe` or
    /// `SetSubscriptionAttributes` would.
    ///
    /// # Errors
    ///
    /// What SNS refuses, with its message: text that is not JSON or over 256 KB, more than five
    /// keys, more than 150 combinations, nesting under `MessageAttributes`, an unknown operator
    /// or a malformed operand.
    pub fn parse(text: &str, scope: FilterPolicyScope) -> Result<Self, FilterPolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(FilterPolicyError::policy("Filter policy is too long"));
        }
        let value: Value =
            serde_json::from_str(text).map_err(|_| FilterPolicyError::policy("failed to parse JSON."))?;
        Self::compile(&value, scope)
    }

    /// Validates a policy given as a JSON object, as CloudFormation's
    /// `AWS::SNS::Subscription` `FilterPolicy` holds it (a JSON string is parsed first).
    ///
    /// # Errors
    ///
    /// As [`FilterPolicy::parse`]; the size is that of the compact JSON text.
    pub fn from_value(policy: &Value, scope: FilterPolicyScope) -> Result<Self, FilterPolicyError> {
        match policy {
            Value::String(text) => Self::parse(text, scope),
            other => {
                if other.to_string().len() > MAX_POLICY_BYTES {
                    return Err(FilterPolicyError::policy("Filter policy is too long"));
                }
                Self::compile(other, scope)
            }
        }
    }

    fn compile(value: &Value, scope: FilterPolicyScope) -> Result<Self, FilterPolicyError> {
        let Value::Object(object) = value else {
            return Err(FilterPolicyError::policy("Filter is not an object"));
        };
        let keys = top_level_keys(object);
        if keys > MAX_KEYS {
            return Err(FilterPolicyError::policy("Filter policy can not have more than 5 keys"));
        }
        let (root, combinations) = node(object, 1, scope, &mut Vec::new())?;
        if combinations > MAX_COMBINATIONS {
            return Err(FilterPolicyError::policy("Filter policy is too complex"));
        }
        Ok(Self { scope, root })
    }

    /// The scope the policy applies to.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Whether a message passes the policy: its attributes or its body, by the policy's scope.
    pub fn matches_message(&self, body: &str, attributes: &(impl Attributes + ?Sized)) -> bool {
        match self.scope {
            FilterPolicyScope::MessageAttributes => self.matches_attributes(attributes),
            FilterPolicyScope::MessageBody => self.matches_body(body),
        }
    }

    /// Whether the message attributes pass the policy (whatever its scope).
    pub fn matches_attributes(&self, attributes: &(impl Attributes + ?Sized)) -> bool {
        attributes_match(&self.root, attributes)
    }

    /// Whether the message body passes the policy (whatever its scope). A body that is not a
    /// JSON object never does.
    // source: https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
    pub fn matches_body(&self, body: &str) -> bool {
        serde_json::from_str::<Value>(body).is_ok_and(|value| self.matches_body_value(&value))
    }

    /// [`FilterPolicy::matches_body`] for a body already parsed.
    pub fn matches_body_value(&self, body: &Value) -> bool {
        body.as_object()
            .is_some_and(|object| self.root.matches(Some(object), body))
    }

    /// `None` when the message passes; otherwise the first attribute or body field that
    /// fails, and why (`attribute 'customerId': missing`, `body.order.total: 12 is not in
    /// [>100]`).
    pub fn explain_message(&self, body: &str, attributes: &(impl Attributes + ?Sized)) -> Option<Mismatch> {
        match self.scope {
            FilterPolicyScope::MessageAttributes => self.explain_attributes(attributes),
            FilterPolicyScope::MessageBody => self.explain_body(body),
        }
    }

    /// Why the attributes do not pass, or `None` when they do.
    pub fn explain_attributes(&self, attributes: &(impl Attributes + ?Sized)) -> Option<Mismatch> {
        explain_attributes(&self.root, attributes)
    }

    /// Why the body does not pass, or `None` when it does.
    pub fn explain_body(&self, body: &str) -> Option<Mismatch> {
        match serde_json::from_str::<Value>(body) {
            Ok(value) => self.explain_body_value(&value),
            Err(_) => Some(Mismatch::new(
                "body".to_owned(),
                MismatchKind::WrongType,
                "is not JSON; a MessageBody policy needs a JSON object".to_owned(),
            )),
        }
    }

    /// [`FilterPolicy::explain_body`] for a body already parsed.
    pub fn explain_body_value(&self, body: &Value) -> Option<Mismatch> {
        match body.as_object() {
            Some(object) => explain::node(&self.root, Some(object), body, &mut Vec::new()).map(|m| m.under("body")),
            None => Some(Mismatch::new(
                "body".to_owned(),
                MismatchKind::WrongType,
                format!(
                    "{} is not a JSON object; a MessageBody policy needs one",
                    explain::short(body)
                ),
            )),
        }
    }
}

/// Whether `value` is a `$or` as SNS recognises it: an array of at least two objects, none of
/// them with an operator name for a key. Otherwise `$or` is an ordinary attribute name.
// source: https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html#or-operator
fn is_or(value: &Value) -> bool {
    match value {
        Value::Array(items) => {
            items.len() >= 2
                && items.iter().all(|item| {
                    item.as_object()
                        .is_some_and(|object| object.keys().all(|key| !RESERVED.contains(&key.as_str())))
                })
        }
        _ => false,
    }
}

/// The top-level keys, counting those of top-level `$or` alternatives and not `$or` itself.
fn top_level_keys(object: &Map<String, Value>) -> usize {
    let mut keys: Vec<&str> = Vec::new();
    collect_keys(object, &mut keys);
    keys.len()
}

fn collect_keys<'a>(object: &'a Map<String, Value>, keys: &mut Vec<&'a str>) {
    for (key, value) in object {
        if key == "$or" && is_or(value) {
            for alternative in value.as_array().into_iter().flatten().filter_map(Value::as_object) {
                collect_keys(alternative, keys);
            }
        } else if !keys.contains(&key.as_str()) {
            keys.push(key);
        }
    }
}

/// Compiles one policy object at nesting `depth` (1 at the top): the pattern node and its
/// number of combinations. A match list of `n` values at depth `d` counts `n × d`; the counts
/// of fields multiply, and those of `$or` alternatives add up.
// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
fn node(
    object: &Map<String, Value>,
    depth: u64,
    scope: FilterPolicyScope,
    path: &mut Vec<Box<str>>,
) -> Result<(Node, u64), FilterPolicyError> {
    if object.is_empty() {
        return Err(FilterPolicyError::policy("Empty objects are not allowed"));
    }
    let mut fields = Vec::new();
    let mut any_of = Vec::new();
    let mut combinations: u64 = 1;
    for (key, value) in object {
        if key == "$or" && is_or(value) {
            let mut alternatives = Vec::new();
            let mut sum: u64 = 0;
            for alternative in value.as_array().into_iter().flatten().filter_map(Value::as_object) {
                let (compiled, count) = node(alternative, depth, scope, path)?;
                alternatives.push(compiled);
                sum = sum.saturating_add(count);
            }
            combinations = combinations.saturating_mul(sum);
            any_of.push(alternatives);
            continue;
        }
        let (rule, count) = match value {
            Value::Array(list) => {
                if list.is_empty() {
                    return Err(FilterPolicyError::policy("Empty arrays are not allowed"));
                }
                {
                    path.push(key.as_str().into());
                    let compiled = leaf(list, path);
                    path.pop();
                    (Rule::Leaf(compiled?), (list.len() as u64).saturating_mul(depth))
                }
            }
            Value::Object(inner) => {
                if scope == FilterPolicyScope::MessageAttributes {
                    return Err(FilterPolicyError {
                        message: "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
                            .to_owned(),
                    });
                }
                path.push(key.as_str().into());
                let compiled = node(inner, depth + 1, scope, path);
                path.pop();
                let (compiled, count) = compiled?;
                (Rule::Object(compiled), count)
            }
            _ => {
                return Err(FilterPolicyError::policy(format!(
                    "\"{key}\" must be an object or an array"
                )));
            }
        };
        combinations = combinations.saturating_mul(count);
        fields.push(Field {
            key: key.as_str().into(),
            rule,
        });
    }
    Ok((Node { fields, any_of }, combinations))
}

fn leaf(list: &[Value], path: &[Box<str>]) -> Result<Leaf, FilterPolicyError> {
    let mut conditions = Vec::with_capacity(list.len());
    let mut absent = false;
    for item in list {
        match item {
            Value::String(s) => conditions.push(Condition::Exact(Scalar::Str(s.as_str().into()))),
            Value::Bool(b) => conditions.push(Condition::Exact(Scalar::Bool(*b))),
            Value::Null => conditions.push(Condition::Exact(Scalar::Null)),
            Value::Number(n) => conditions.push(number_equals(n)),
            Value::Array(_) => {
                return Err(FilterPolicyError::policy(
                    "Match value must be String, number, true, false, or null",
                ));
            }
            Value::Object(operator) => match condition(operator)? {
                Some(c) => conditions.push(c),
                None => absent = true,
            },
        }
    }
    // The keys from the body's root to the field (for attributes, only whether it is set counts).
    Ok(Leaf {
        conditions,
        absent_at: absent.then(|| path.to_vec().into_boxed_slice()),
    })
}

/// A plain number: equal by value, at SNS's precision when within its span.
// source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html
fn number_equals(n: &serde_json::Number) -> Condition {
    let value = n.as_f64().unwrap_or(f64::NAN);
    if Precision::SNS.admits(value) {
        let bound = Some(Bound::new(value, true, Precision::SNS));
        Condition::Numeric(Range {
            lower: bound,
            upper: bound,
            precision: Precision::SNS,
        })
    } else {
        Condition::Exact(Scalar::Num(Num::of(n)))
    }
}

/// One operator object; `None` for `{"exists": false}`.
fn condition(operator: &Map<String, Value>) -> Result<Option<Condition>, FilterPolicyError> {
    let mut entries = operator.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(FilterPolicyError::policy("Only one key allowed in match expression"));
    };
    let string = |what: &str| {
        operand
            .as_str()
            .ok_or_else(|| FilterPolicyError::policy(format!("{what} match pattern must be a string")))
    };
    Ok(Some(match name.as_str() {
        // source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html
        "prefix" => Condition::Prefix(string("prefix")?.into()),
        "suffix" => Condition::Suffix(string("suffix")?.into()),
        "equals-ignore-case" => Condition::EqualsIgnoringCase(fold_case(string("equals-ignore-case")?)),
        "anything-but" => Condition::AnythingBut(anything_but(operand)?),
        // source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html
        "numeric" => Condition::Numeric(numeric(operand)?),
        // source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#ip-address-matching
        "cidr" => Condition::Cidr(cidr(operand)?),
        // source: https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html
        "exists" => match operand {
            Value::Bool(true) => Condition::Exists,
            Value::Bool(false) => return Ok(None),
            _ => {
                return Err(FilterPolicyError::policy(
                    "exists match pattern must be either true or false.",
                ));
            }
        },
        other => return Err(FilterPolicyError::policy(format!("Unrecognized match type {other}"))),
    }))
}

fn anything_but(operand: &Value) -> Result<Excluded, FilterPolicyError> {
    let numbers = |list: &[Value]| {
        list.iter()
            .map(|v| v.as_number().map(Num::of))
            .collect::<Option<Vec<_>>>()
    };
    let strings = |list: &[Value]| {
        list.iter()
            .map(|v| v.as_str().map(Box::from))
            .collect::<Option<Vec<Box<str>>>>()
    };
    match operand {
        Value::String(s) => Ok(Excluded::Strings(vec![s.as_str().into()])),
        Value::Number(n) => Ok(Excluded::NumberValues(vec![Num::of(n)])),
        Value::Array(list) if !list.is_empty() => {
            if let Some(list) = strings(list) {
                Ok(Excluded::Strings(list))
            } else if let Some(list) = numbers(list) {
                Ok(Excluded::NumberValues(list))
            } else {
                Err(FilterPolicyError::policy(
                    "Inside anything but list, start|null|boolean is not supported.",
                ))
            }
        }
        Value::Object(inner) => {
            let mut entries = inner.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(FilterPolicyError::policy("Only one key allowed in match expression"));
            };
            let text = value
                .as_str()
                .ok_or_else(|| FilterPolicyError::policy(format!("{name} match pattern must be a string")))?;
            match name.as_str() {
                // source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching-prefix
                "prefix" => Ok(Excluded::Prefixes(vec![text.into()])),
                "suffix" => Ok(Excluded::Suffixes(vec![text.into()])),
                other => Err(FilterPolicyError::policy(format!(
                    "Unsupported anything-but pattern: {other}"
                ))),
            }
        }
        _ => Err(FilterPolicyError::policy(
            "Value of anything-but must be an array or single string/number value.",
        )),
    }
}

/// `["=", 5]`, `[">", 0]`, `[">", 0, "<=", 5]`: the lower bound first, as SNS requires.
fn numeric(operand: &Value) -> Result<Range, FilterPolicyError> {
    let invalid = |what: &Value| FilterPolicyError::policy(format!("Invalid member in numeric match: {what}"));
    let Value::Array(list) = operand else {
        return Err(invalid(operand));
    };
    let mut items = list.iter();
    let Some(first) = items.next() else {
        return Err(FilterPolicyError::policy("Invalid member in numeric match: ]"));
    };
    let Value::String(op) = first else {
        return Err(invalid(first));
    };
    if !["<", "<=", "=", ">", ">="].contains(&op.as_str()) {
        return Err(FilterPolicyError::policy(format!(
            "Unrecognized numeric range operator: {op}"
        )));
    }
    let value = bound_value(op, items.next())?;
    let precision = Precision::SNS;
    let mut range = Range {
        lower: None,
        upper: None,
        precision,
    };
    match op.as_str() {
        "=" => {
            let bound = Some(Bound::new(value, true, precision));
            range.lower = bound;
            range.upper = bound;
        }
        ">" | ">=" => range.lower = Some(Bound::new(value, op == ">=", precision)),
        _ => range.upper = Some(Bound::new(value, op == "<=", precision)),
    }
    let Some(second) = items.next() else {
        return Ok(range);
    };
    if !matches!(op.as_str(), ">" | ">=") {
        return Err(FilterPolicyError::policy("Too many elements in numeric expression"));
    }
    let Value::String(second_op) = second else {
        return Err(FilterPolicyError::policy(format!(
            "Bad value in numeric range: {second}"
        )));
    };
    if !matches!(second_op.as_str(), "<" | "<=") {
        return Err(FilterPolicyError::policy(format!(
            "Bad numeric range operator: {second_op}"
        )));
    }
    let top = bound_value(second_op, items.next())?;
    if top <= value {
        return Err(FilterPolicyError::policy("Bottom must be less than top"));
    }
    if items.next().is_some() {
        return Err(FilterPolicyError::policy("Too many terms in numeric range expression"));
    }
    range.upper = Some(Bound::new(top, second_op == "<=", precision));
    Ok(range)
}

fn bound_value(op: &str, value: Option<&Value>) -> Result<f64, FilterPolicyError> {
    let name = if op == "=" { "equals" } else { op };
    let Some(value) = value.and_then(Value::as_f64) else {
        return Err(FilterPolicyError::policy(format!("Value of {name} must be numeric")));
    };
    // source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    if !Precision::SNS.admits(value) {
        return Err(FilterPolicyError::policy(format!(
            "Value of {name} must be from {}",
            Precision::SNS.limit_text
        )));
    }
    Ok(value)
}

fn cidr(operand: &Value) -> Result<Cidr, FilterPolicyError> {
    // SNS names `prefix` here: its `cidr` shares the prefix parser's check.
    let Value::String(text) = operand else {
        return Err(FilterPolicyError::policy("prefix match pattern must be a string"));
    };
    let Some((address, bits)) = text.split_once('/').filter(|(_, bits)| !bits.contains('/')) else {
        return Err(FilterPolicyError::policy("Malformed CIDR, one '/' required"));
    };
    if bits.parse::<u8>().is_err() {
        return Err(FilterPolicyError::policy(
            "Malformed CIDR, mask bits must be an integer",
        ));
    }
    Cidr::parse(text).map_err(|_| FilterPolicyError::policy(format!("Nonstandard IP address: {address}")))
}

/// Whether the attributes pass `node` (a flat policy: leaves and `$or`s of leaves).
fn attributes_match(node: &Node, attributes: &(impl Attributes + ?Sized)) -> bool {
    node.fields.iter().all(|field| match &field.rule {
        Rule::Leaf(leaf) => attribute_matches(leaf, attributes.attribute(&field.key)),
        Rule::Object(_) => false,
    }) && node.any_of.iter().all(|alternatives| {
        alternatives
            .iter()
            .any(|alternative| attributes_match(alternative, attributes))
    })
}

fn attribute_matches(leaf: &Leaf, attribute: Option<&MessageAttribute>) -> bool {
    match attribute.map(MessageAttribute::values) {
        None | Some(AttributeValues::Ignored) => leaf.absent_at.is_some(),
        Some(AttributeValues::One(value)) => {
            leaf_ref(&value).is_some_and(|v| leaf.conditions.iter().any(|c| c.accepts(v)))
        }
        Some(AttributeValues::Many(items)) => {
            let refs: Vec<LeafRef<'_>> = items.iter().filter_map(leaf_ref).collect();
            leaf.conditions
                .iter()
                .any(|condition| element_matches(condition, &refs))
        }
    }
}

/// A condition against a `String.Array`: one element must match, but `anything-but` needs
/// every element outside its list (and `exists` only the attribute).
// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching
fn element_matches(condition: &Condition, elements: &[LeafRef<'_>]) -> bool {
    match condition {
        Condition::Exists => true,
        Condition::AnythingBut(excluded) => !elements.is_empty() && elements.iter().all(|v| !excluded.excludes(*v)),
        other => elements.iter().any(|v| other.accepts(*v)),
    }
}

fn leaf_ref(value: &Value) -> Option<LeafRef<'_>> {
    match value.view() {
        View::Leaf(leaf) => Some(leaf),
        _ => None,
    }
}

fn explain_attributes(node: &Node, attributes: &(impl Attributes + ?Sized)) -> Option<Mismatch> {
    if attributes_match(node, attributes) {
        return None;
    }
    for field in &node.fields {
        let Rule::Leaf(leaf) = &field.rule else {
            continue;
        };
        let attribute = attributes.attribute(&field.key);
        if attribute_matches(leaf, attribute) {
            continue;
        }
        let path = format!("attribute '{}'", field.key);
        let (kind, detail) = match (attribute, attribute.map(MessageAttribute::values)) {
            (None, _) => (MismatchKind::Missing, "missing".to_owned()),
            (Some(a), Some(AttributeValues::Ignored)) => (
                MismatchKind::Missing,
                format!("is of type {}, which filter policies ignore", a.data_type),
            ),
            (_, Some(AttributeValues::One(value))) if leaf.conditions.is_empty() => (
                MismatchKind::Present,
                format!("is present ({}); the policy wants it absent", explain::short(&value)),
            ),
            (_, Some(AttributeValues::One(value))) => {
                let refs: Vec<LeafRef<'_>> = leaf_ref(&value).into_iter().collect();
                explain::describe(
                    &leaf.conditions,
                    &refs,
                    &explain::short(&value),
                    leaf.absent_at.is_some(),
                )
            }
            (_, Some(AttributeValues::Many(items))) => {
                let shown = explain::short(&Value::Array(items.clone()));
                let refs: Vec<LeafRef<'_>> = items.iter().filter_map(leaf_ref).collect();
                match leaf.conditions.as_slice() {
                    [] => (
                        MismatchKind::Present,
                        format!("is present ({shown}); the policy wants it absent"),
                    ),
                    [Condition::AnythingBut(excluded)] if !refs.is_empty() => (
                        MismatchKind::Excluded,
                        format!("{shown} has an element excluded by anything-but {excluded}"),
                    ),
                    conditions => explain::describe(conditions, &refs, &shown, leaf.absent_at.is_some()),
                }
            }
            (Some(_), None) => (MismatchKind::Missing, "missing".to_owned()),
        };
        return Some(Mismatch::new(path, kind, detail));
    }
    for alternatives in &node.any_of {
        if alternatives
            .iter()
            .any(|alternative| attributes_match(alternative, attributes))
        {
            continue;
        }
        let reasons: Vec<String> = alternatives
            .iter()
            .filter_map(|alternative| explain_attributes(alternative, attributes))
            .map(|mismatch| mismatch.to_string())
            .collect();
        return Some(Mismatch::new(
            "$or".to_owned(),
            MismatchKind::NoAlternative,
            format!("no alternative matched ({})", reasons.join("; ")),
        ));
    }
    Some(Mismatch::new(
        String::new(),
        MismatchKind::NoPatternMatch,
        "does not match".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_type_suffixes_keep_the_base_type() {
        assert_eq!(
            MessageAttribute::new("String.color", "x").base_type(),
            Some(DataType::String)
        );
        assert_eq!(
            MessageAttribute::new("Number.float", "1").base_type(),
            Some(DataType::Number)
        );
        assert_eq!(
            MessageAttribute::new("Binary.png", "").base_type(),
            Some(DataType::Binary)
        );
        assert_eq!(
            MessageAttribute::string_array("[]").base_type(),
            Some(DataType::StringArray)
        );
        assert_eq!(MessageAttribute::new("Text", "x").base_type(), None);
    }

    #[test]
    fn combinations_multiply_fields_by_depth_and_add_alternatives() {
        let count = |policy: Value| {
            let Value::Object(object) = policy else { unreachable!() };
            node(&object, 1, FilterPolicyScope::MessageBody, &mut Vec::new())
                .map(|(_, n)| n)
                .unwrap_or(0)
        };
        // The documented example: 3 x 1 x 2 = 6.
        assert_eq!(
            count(serde_json::json!({"a": ["1", "2", "3"], "b": ["1"], "c": ["1", "2"]})),
            6
        );
        // The documented nested example: 3 x 4 x 2 x 3 = 72.
        assert_eq!(
            count(
                serde_json::json!({"key_a": {"key_b": {"key_c": ["1", "2", "3", "4"]}}, "key_d": {"key_e": ["1", "2", "3"]}})
            ),
            72
        );
        assert_eq!(
            count(
                serde_json::json!({"source": ["x"], "$or": [{"m": ["1", "2"]}, {"t": ["1"], "n": ["1", "2"]}, {"s": ["1"]}]})
            ),
            5
        );
    }
}

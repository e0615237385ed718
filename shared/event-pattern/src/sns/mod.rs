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
//!   a list, `prefix`), `numeric`, `cidr`, `exists` and `$or`. No `wildcard`, no
//!   `prefix`/`suffix` with `equals-ignore-case`, no `anything-but` with `suffix`, `wildcard` or
//!   `equals-ignore-case` (refused as SNS does: "Unsupported anything-but pattern: suffix").
//! - On a `MessageBody`, a dotted key is the nested path it spells, in the policy and in the
//!   body alike (`{"object.nested": [..]}` is `{"object": {"nested": [..]}}`).
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

// One job each: `compile` reads a policy's structure and limits, `operators` what is inside a
// match list; `attribute` is a message attribute as SNS types it; `attribute_scope` and
// `body_scope` match and explain a policy against attributes or a JSON body; `error` words
// refusals as SNS does. This file is the API.
mod attribute;
mod attribute_scope;
mod body_scope;
mod compile;
mod error;
mod operators;

use std::str::FromStr;

use serde_json::Value;

use crate::explain::Mismatch;
use crate::scan::Wanted;
use crate::tree::Node;

pub use attribute::{Attributes, DataType, MessageAttribute};
pub use compile::{MAX_COMBINATIONS, MAX_KEYS, MAX_POLICY_BYTES};
pub use error::FilterPolicyError;

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
            other => Err(FilterPolicyError::new(format!(
                "Invalid parameter: FilterPolicyScope: Invalid value [{other}]. Please use either MessageBody or MessageAttributes"
            ))),
        }
    }
}

/// A validated SNS subscription filter policy and the scope it applies to.
#[derive(Debug, Clone)]
pub struct FilterPolicy {
    scope: FilterPolicyScope,
    root: Node,
    /// The body paths the policy looks at, to tell whether a body's dotted keys matter to it.
    wanted: Wanted,
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
        let root = compile::policy(value, scope)?;
        let mut wanted = Wanted::default();
        wanted.add(&root);
        Ok(Self { scope, root, wanted })
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
        attribute_scope::matches(&self.root, attributes)
    }

    /// Whether the message body passes the policy (whatever its scope). A body that is not a
    /// JSON object never does.
    // source: https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
    pub fn matches_body(&self, body: &str) -> bool {
        serde_json::from_str::<Value>(body).is_ok_and(|value| self.matches_body_value(&value))
    }

    /// [`FilterPolicy::matches_body`] for a body already parsed.
    pub fn matches_body_value(&self, body: &Value) -> bool {
        body_scope::matches(&self.root, &self.wanted, body)
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
        attribute_scope::explain(&self.root, attributes)
    }

    /// Why the body does not pass, or `None` when it does.
    pub fn explain_body(&self, body: &str) -> Option<Mismatch> {
        body_scope::explain_text(&self.root, &self.wanted, body)
    }

    /// [`FilterPolicy::explain_body`] for a body already parsed.
    pub fn explain_body_value(&self, body: &Value) -> Option<Mismatch> {
        body_scope::explain(&self.root, &self.wanted, body)
    }
}

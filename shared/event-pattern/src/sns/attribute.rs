//! Message attributes as SNS receives them (a data type and a value as text) and what a filter
//! policy compares of each.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde_json::Value;

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
    pub(super) fn values(&self) -> AttributeValues {
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

/// An attribute's values as a policy compares them.
pub(super) enum AttributeValues {
    /// A `String` or `Number`.
    One(Value),
    /// A `String.Array`'s scalar elements.
    Many(Vec<Value>),
    /// A `Binary`, an unknown type, or a `String.Array` that is not a JSON array: as if absent.
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
}

//! Property values as a template writes them: numbers and flags may be strings, and a JSON
//! object may be given inline or as JSON text.

use serde_json::Value;

use super::{LoadError, invalid};

pub(super) fn number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A JSON object given inline or as JSON text (EventPattern and RedrivePolicy take both).
pub(super) fn json_object(resource: &str, property: &str, value: &Value) -> Result<Value, LoadError> {
    match value {
        Value::String(text) => {
            serde_json::from_str(text).map_err(|e| invalid(resource, property, format!("not JSON: {e}")))
        }
        other => Ok(other.clone()),
    }
}

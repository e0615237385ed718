//! A policy's structure compiled to the shared pattern tree: its keys, nesting and `$or`, with
//! SNS's limits on size, keys and combinations. What is inside a match list (values and
//! operators) is compiled by [`operators`].

use serde_json::{Map, Value};

use super::FilterPolicyScope;
use super::error::FilterPolicyError;
use super::operators;
use crate::condition::{Condition, Scalar};
use crate::parse;
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

/// The pattern tree of a policy given as JSON, within SNS's limits on keys and combinations.
pub(super) fn policy(value: &Value, scope: FilterPolicyScope) -> Result<Node, FilterPolicyError> {
    // On a body, a dotted key is the nested path it spells (`{"a.b": [..]}` is
    // `{"a": {"b": [..]}}`), as SNS reads it; limits count the nested form. Attribute names are
    // flat: there a dot is part of the name.
    let expanded;
    let value = if scope == FilterPolicyScope::MessageBody && parse::has_dotted_key(value) {
        expanded = parse::expand_dots(value);
        &expanded
    } else {
        value
    };
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
    Ok(root)
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
                    return Err(FilterPolicyError::new(
                        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
                    ));
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
            Value::Number(n) => conditions.push(operators::number_equals(n)),
            Value::Array(_) => {
                return Err(FilterPolicyError::policy(
                    "Match value must be String, number, true, false, or null",
                ));
            }
            Value::Object(operator) => match operators::condition(operator)? {
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

#[cfg(test)]
mod tests {
    use super::*;

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

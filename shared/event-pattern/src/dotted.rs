//! Event keys that contain a dot, read as the nested path they spell.
//!
//! EventBridge flattens an event into dotted paths before matching (`{"a": {"b": 1}}` is
//! `a.b = 1`), so a key that contains a dot is the same path as the keys nested:
//! `{"detail": {"a.b": 1}}` matches both `{"detail": {"a": {"b": [1]}}}` and
//! `{"detail": {"a.b": [1]}}` (a pattern's dotted key is already nested when it is parsed).
//! AWS documents this for patterns only; it is observed for events (crate README, parity table).
//!
//! Matching walks the pattern and the event side by side, one key per level, so an event with
//! such keys is first rewritten with them nested, and matched as that. When a dotted key and
//! nested keys reach the same path, both values are there, as the values of an array are: the
//! field matches if either does. A value that meets an array on the way goes with every
//! element of it (in EventBridge's flattened reading it belongs to no element, so it agrees
//! with all of them). Rewriting is rare: only an event with a dotted key in an object some
//! pattern looks into, whose first segment a pattern names there, is rewritten.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::scan::Wanted;

/// Arrays nested deeper than this are not looked into (matching has the same limit).
const MAX_ARRAY_NESTING: usize = 64;

/// The event as the patterns that look at `wanted` read it: borrowed as it is, unless it has
/// dotted keys that matter, then rewritten with them nested.
pub(crate) fn nested<'a>(event: &'a Value, wanted: &Wanted) -> Cow<'a, Value> {
    if has_dotted_keys(event, wanted, 0) {
        Cow::Owned(expand(event))
    } else {
        Cow::Borrowed(event)
    }
}

/// Whether an object on the wanted paths has a key with a dot whose first segment is wanted
/// there.
fn has_dotted_keys(value: &Value, wanted: &Wanted, depth: usize) -> bool {
    match value {
        Value::Object(object) => {
            // On every event, so kept to a byte scan per key; the lookup only for dotted keys.
            object.keys().any(|key| {
                key.bytes()
                    .position(|b| b == b'.')
                    .is_some_and(|at| wanted.child(&key[..at]).is_some())
            }) || wanted.children().any(|(key, child)| {
                child.looks_deeper() && object.get(key).is_some_and(|v| has_dotted_keys(v, child, 0))
            })
        }
        Value::Array(items) if depth < MAX_ARRAY_NESTING => {
            items.iter().any(|item| has_dotted_keys(item, wanted, depth + 1))
        }
        _ => false,
    }
}

/// The event with every dotted key written as nested keys, merged with what is there.
pub(crate) fn expand(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                let segments: Vec<&str> = key.split('.').collect();
                insert_path(&mut out, &segments, expand(value));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(expand).collect()),
        other => other.clone(),
    }
}

/// Puts `value` at `segments` (at least one) below `object`.
fn insert_path(object: &mut Map<String, Value>, segments: &[&str], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        let merged = match object.remove(*first) {
            Some(old) => combine(old, value),
            None => value,
        };
        object.insert((*first).to_owned(), merged);
        return;
    }
    match object.get_mut(*first) {
        Some(slot) => insert_into(slot, rest, value, 0),
        None => {
            object.insert((*first).to_owned(), nest(rest, value));
        }
    }
}

/// Puts `value` at `segments` (at least one) below `target`, whatever `target` is.
fn insert_into(target: &mut Value, segments: &[&str], value: Value, depth: usize) {
    match target {
        Value::Object(object) => insert_path(object, segments, value),
        Value::Array(items) => {
            // A value outside the array agrees with every element: each object element gets it.
            let mut placed = false;
            if depth < MAX_ARRAY_NESTING {
                for item in items.iter_mut().filter(|item| item.is_object() || item.is_array()) {
                    insert_into(item, segments, value.clone(), depth + 1);
                    placed = true;
                }
            }
            if !placed {
                items.push(nest(segments, value));
            }
        }
        leaf => {
            // A leaf and an object at one path: both are there, as two values.
            let old = std::mem::take(leaf);
            *leaf = Value::Array(vec![old, nest(segments, value)]);
        }
    }
}

/// Two values found at one path: both are there.
fn combine(old: Value, new: Value) -> Value {
    match (old, new) {
        (mut target, Value::Object(fields)) | (Value::Object(fields), mut target) => {
            for (key, value) in fields {
                insert_into(&mut target, &[key.as_str()], value, 0);
            }
            target
        }
        (old, new) => {
            let mut items = into_items(old);
            items.extend(into_items(new));
            Value::Array(items)
        }
    }
}

fn into_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// `{"s1": {"s2": value}}` for segments `s1.s2`.
fn nest(segments: &[&str], value: Value) -> Value {
    segments.iter().rev().fold(value, |inner, key| {
        let mut object = Map::new();
        object.insert((*key).to_owned(), inner);
        Value::Object(object)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dotted_keys_are_written_nested_and_merged() {
        for (event, expanded) in [
            (json!({"a.b": 1}), json!({"a": {"b": 1}})),
            (
                json!({"a.b.c": 1, "a": {"b": {"d": 2}}}),
                json!({"a": {"b": {"c": 1, "d": 2}}}),
            ),
            (json!({"a": {"b.c": 1}}), json!({"a": {"b": {"c": 1}}})),
            // Both values at one path: both are kept.
            (json!({"a.b": 1, "a": {"b": 2}}), json!({"a": {"b": [2, 1]}})),
            (json!({"a.b": [1, 2], "a": {"b": 3}}), json!({"a": {"b": [3, 1, 2]}})),
            // A value meeting an array goes with every object element.
            (
                json!({"a": [{"c": 1}, {"c": 2}], "a.b": 3}),
                json!({"a": [{"c": 1, "b": 3}, {"c": 2, "b": 3}]}),
            ),
            (json!({"a": [5], "a.b": 3}), json!({"a": [5, {"b": 3}]})),
            (json!({"a": 5, "a.b": 3}), json!({"a": [5, {"b": 3}]})),
            (
                json!({"a.b": {"c": 1}, "a": {"b": [{"d": 2}]}}),
                json!({"a": {"b": [{"d": 2, "c": 1}]}}),
            ),
            (json!({"x": [{"a.b": 1}]}), json!({"x": [{"a": {"b": 1}}]})),
            (json!({"a..b": 1, ".": 2}), json!({"a": {"": {"b": 1}}, "": {"": 2}})),
        ] {
            assert_eq!(expand(&event), expanded, "{event}");
        }
    }

    #[test]
    fn only_events_with_dotted_keys_on_wanted_paths_are_rewritten() {
        let pattern = crate::Pattern::parse(r#"{"detail": {"a": {"b": [1]}}, "source": ["s"]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let wanted = &pattern.wanted;
        for (event, rewritten) in [
            (json!({"source": "s", "detail": {"a": {"b": 1}}}), false),
            (json!({"source": "s", "x.y": 1, "detail": {"c.d": 1}}), false),
            (json!({"source": "s", "detail.a": {"b": 1}}), true),
            (json!({"source": "s", "detail": {"a.b": 1}}), true),
            (json!({"source": "s", "detail": [{"a": {"b.c": 1}}]}), true),
        ] {
            assert_eq!(matches!(nested(&event, wanted), Cow::Owned(_)), rewritten, "{event}");
        }
    }
}

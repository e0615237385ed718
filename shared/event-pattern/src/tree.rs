//! A compiled pattern as a tree that mirrors the event, and how it matches an event.
//!
//! Matching walks the pattern and the event side by side, so a field is always found by its key
//! at its level: a key containing a dot is one key, never two levels.
//!
//! Arrays in the event: a leaf matches if any value of the array matches; a nested pattern
//! object matches if one element of the array matches all of it (the same element, as AWS's
//! array-consistent matching requires), arrays inside arrays being spread.

use crate::condition::Condition;
use crate::event::{Json, JsonObject, LeafRef, View};

/// One object level of a pattern: all fields must match, and one alternative of each `$or`.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) fields: Vec<Field>,
    pub(crate) any_of: Vec<Vec<Node>>,
}

/// A field of a pattern object.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) key: Box<str>,
    pub(crate) rule: Rule,
}

/// What a field must hold.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// A match list: the field is a leaf of the event.
    Leaf(Leaf),
    /// A nested pattern object.
    Object(Node),
}

/// A match list. It matches when one condition accepts one of the field's leaf values, or, when
/// it holds `{"exists": false}`, when the field has no leaf value anywhere in the event.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) conditions: Vec<Condition>,
    /// The event keys from the root to this field, when the list holds `{"exists": false}`.
    pub(crate) absent_at: Option<Box<[Box<str>]>>,
}

/// Arrays nested deeper than this inside one another are not looked into (serde_json refuses
/// to parse documents nested 128 deep, so only a hand-built event can reach it).
const MAX_ARRAY_NESTING: usize = 64;

impl Node {
    /// Whether the object `here` (or nothing, when the event has no object at this level)
    /// matches this node. `root` is the whole event, for `{"exists": false}`.
    pub(crate) fn matches<E: Json>(&self, here: Option<&E::Object>, root: &E) -> bool {
        self.fields
            .iter()
            .all(|field| field.rule.matches(here.and_then(|object| object.get(&field.key)), root))
            && self
                .any_of
                .iter()
                .all(|alternatives| alternatives.iter().any(|node| node.matches(here, root)))
    }
}

impl Rule {
    pub(crate) fn matches<E: Json>(&self, value: Option<&E>, root: &E) -> bool {
        match self {
            Self::Leaf(leaf) => leaf.matches(value, root),
            Self::Object(node) => match value.map(Json::view) {
                Some(View::Object(object)) => node.matches(Some(object), root),
                Some(View::Array(items)) => {
                    let mut any_element = false;
                    let found = any_element_of(items, 0, &mut |element: &E| {
                        any_element = true;
                        node.matches(element.object(), root)
                    });
                    // An empty array holds no field at all: the same as no value.
                    found || (!any_element && node.matches(None, root))
                }
                _ => node.matches(None, root),
            },
        }
    }
}

impl Leaf {
    pub(crate) fn matches<E: Json>(&self, value: Option<&E>, root: &E) -> bool {
        let accepted = |v: LeafRef<'_>| self.conditions.iter().any(|c| c.accepts(v));
        let present = match value.map(Json::view) {
            None | Some(View::Object(_)) => false,
            Some(View::Array(items)) => any_element_of(items, 0, &mut |v: &E| match v.view() {
                View::Leaf(leaf) => accepted(leaf),
                _ => false,
            }),
            Some(View::Leaf(leaf)) => accepted(leaf),
        };
        present || self.absent_at.as_deref().is_some_and(|path| !has_leaf(root, path, 0))
    }
}

/// Calls `f` on each element of `items`, spreading nested arrays, until it returns true.
fn any_element_of<E: Json>(items: &[E], depth: usize, f: &mut dyn FnMut(&E) -> bool) -> bool {
    if depth > MAX_ARRAY_NESTING {
        return false;
    }
    items.iter().any(|item| match item.view() {
        View::Array(inner) => any_element_of(inner, depth + 1, f),
        _ => f(item),
    })
}

/// Whether the event has a leaf value (not an object, not an empty array) at `path`, looking
/// into every element of every array on the way.
pub(crate) fn has_leaf<E: Json>(value: &E, path: &[Box<str>], depth: usize) -> bool {
    match (value.view(), path.split_first()) {
        (View::Array(items), _) if depth <= MAX_ARRAY_NESTING => {
            items.iter().any(|item| has_leaf(item, path, depth + 1))
        }
        (View::Array(_), _) => false,
        (View::Object(_), None) => false,
        (_, None) => true,
        (View::Object(object), Some((key, rest))) => object.get(key).is_some_and(|v| has_leaf(v, rest, 0)),
        (_, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::pattern::Pattern;

    #[test]
    fn presence_and_absence_agree_on_deeply_nested_arrays() {
        let present = Pattern::from_value(&json!({"a": ["x"]})).unwrap_or_else(|e| panic!("{e}"));
        let absent = Pattern::from_value(&json!({"a": [{"exists": false}]})).unwrap_or_else(|e| panic!("{e}"));
        for depth in 1..80 {
            let mut value = json!("x");
            for _ in 0..depth {
                value = Value::Array(vec![value]);
            }
            let event = json!({ "a": value });
            assert_ne!(present.matches(&event), absent.matches(&event), "depth {depth}");
        }
    }
}

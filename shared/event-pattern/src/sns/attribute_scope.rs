//! A policy against typed message attributes (`FilterPolicyScope: MessageAttributes`): a flat
//! policy whose leaves each read one attribute, a `String.Array` element by element.

use serde_json::Value;

use super::attribute::{AttributeValues, Attributes, MessageAttribute};
use crate::condition::Condition;
use crate::event::{Json, LeafRef, View};
use crate::explain::{self, Mismatch, MismatchKind};
use crate::tree::{Leaf, Node, Rule};

/// Whether the attributes pass `node` (a flat policy: leaves and `$or`s of leaves).
pub(super) fn matches(node: &Node, attributes: &(impl Attributes + ?Sized)) -> bool {
    node.fields.iter().all(|field| match &field.rule {
        Rule::Leaf(leaf) => attribute_matches(leaf, attributes.attribute(&field.key)),
        Rule::Object(_) => false,
    }) && node
        .any_of
        .iter()
        .all(|alternatives| alternatives.iter().any(|alternative| matches(alternative, attributes)))
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

pub(super) fn explain(node: &Node, attributes: &(impl Attributes + ?Sized)) -> Option<Mismatch> {
    if matches(node, attributes) {
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
                format!("is of type {}, which filter policies ignore", a.data_type()),
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
        if alternatives.iter().any(|alternative| matches(alternative, attributes)) {
            continue;
        }
        let reasons: Vec<String> = alternatives
            .iter()
            .filter_map(|alternative| explain(alternative, attributes))
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

//! Why an event does not match a pattern: the first field that fails, and a one-line reason.
//!
//! A separate walk from matching, used only on demand: it first asks the matcher whether a
//! part matches (so an explanation is given exactly when the match fails), then describes the
//! first part that does not. Nothing here runs when [`Pattern::matches`](crate::Pattern::matches)
//! or the [`Matcher`](crate::Matcher) route events.

use std::fmt;

use serde_json::{Map, Value};

use crate::condition::{Condition, Excluded};
use crate::error::is_plain;
use crate::event::{Json, LeafRef, View};
use crate::tree::{Leaf, Node, Rule};

/// What kind of failure a [`Mismatch`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MismatchKind {
    /// The field is not in the event (or has no value where the pattern wants one).
    Missing,
    /// The value is not one of the exact values listed.
    NotOneOf,
    /// The number is outside the `numeric` range (or beyond the span the service compares).
    OutOfRange,
    /// The value is of a type the condition never matches (a number for `prefix`, a string
    /// for `numeric`, an object where a value is wanted, a value where an object is wanted).
    WrongType,
    /// `anything-but` excludes the value.
    Excluded,
    /// A string condition (`prefix`, `suffix`, `wildcard`, `equals-ignore-case`, `cidr`)
    /// does not hold, or none of several mixed conditions does.
    NoPatternMatch,
    /// `{"exists": false}`: the field is there.
    Present,
    /// No alternative of a `$or` matches.
    NoAlternative,
}

/// The first field of an event (or message) that does not match, and why, for a person
/// reading a routing decision. `Display` gives one line: `detail.state: "stopped" is not one
/// of ["running", "pending"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    path: String,
    kind: MismatchKind,
    detail: String,
}

impl Mismatch {
    pub(crate) fn new(path: String, kind: MismatchKind, detail: String) -> Self {
        Self { path, kind, detail }
    }

    /// Where: the field's path in the event (`detail.state`, `detail["a b"]`,
    /// `detail.items[0].sku`), `body.order.total` or `attribute 'customerId'` for SNS.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> MismatchKind {
        self.kind
    }

    /// Why, without the path: `"stopped" is not one of ["running", "pending"]`.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The same mismatch with `prefix` put before its path (`body` + `order.total`).
    pub(crate) fn under(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_owned()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.detail)
        } else {
            write!(f, "{}: {}", self.path, self.detail)
        }
    }
}

/// The path as a person reads it: `detail.items[0]["a.b"]`.
pub(crate) fn render(path: &[String]) -> String {
    let mut out = String::new();
    for step in path {
        if step.starts_with('[') && step.ends_with(']') && step[1..step.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(step);
        } else if is_plain(step) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(step);
        } else {
            out.push_str(&format!("[{}]", Value::from(step.as_str())));
        }
    }
    out
}

/// Why `node` does not match the object `here` (`root` is the whole event), or `None` when
/// it matches.
pub(crate) fn node(
    node: &Node,
    here: Option<&Map<String, Value>>,
    root: &Value,
    path: &mut Vec<String>,
) -> Option<Mismatch> {
    if node.matches(here, root) {
        return None;
    }
    for field in &node.fields {
        let value = here.and_then(|object| object.get(&*field.key));
        if field.rule.matches(value, root) {
            continue;
        }
        path.push(field.key.to_string());
        let mismatch = rule(&field.rule, value, root, path);
        path.pop();
        return Some(mismatch);
    }
    for alternatives in &node.any_of {
        if alternatives.iter().any(|alternative| alternative.matches(here, root)) {
            continue;
        }
        let reasons: Vec<String> = alternatives
            .iter()
            .filter_map(|alternative| self::node(alternative, here, root, path))
            .map(|mismatch| mismatch.to_string())
            .collect();
        let mut at = path.clone();
        at.push("$or".to_owned());
        return Some(Mismatch::new(
            render(&at),
            MismatchKind::NoAlternative,
            format!("no alternative matched ({})", reasons.join("; ")),
        ));
    }
    // Unreachable while `matches` is the conjunction above; kept as an honest answer.
    Some(Mismatch::new(
        render(path),
        MismatchKind::NoPatternMatch,
        "does not match".to_owned(),
    ))
}

fn rule(rule: &Rule, value: Option<&Value>, root: &Value, path: &mut Vec<String>) -> Mismatch {
    match rule {
        Rule::Leaf(leaf) => self::leaf(leaf, value, path),
        Rule::Object(inner) => match value.map(Json::view) {
            Some(View::Object(object)) => fallback(node(inner, Some(object), root, path), path),
            Some(View::Array(items)) => {
                let elements = spread(items);
                match elements.first() {
                    None => fallback(node(inner, None, root, path), path),
                    Some(_) => {
                        // No element matches all of the nested pattern: tell why the first does not.
                        let (index, element) = elements
                            .iter()
                            .enumerate()
                            .find(|(_, element)| element.is_object())
                            .unwrap_or((0, &elements[0]));
                        path.push(format!("[{index}]"));
                        let mismatch = match element.as_object() {
                            Some(object) => fallback(node(inner, Some(object), root, path), path),
                            None => not_an_object(element, path),
                        };
                        path.pop();
                        mismatch
                    }
                }
            }
            Some(View::Leaf(_)) => not_an_object(value.unwrap_or(&Value::Null), path),
            None => fallback(node(inner, None, root, path), path),
        },
    }
}

fn not_an_object(value: &Value, path: &[String]) -> Mismatch {
    Mismatch::new(
        render(path),
        MismatchKind::WrongType,
        format!("{} is not an object; the pattern has nested fields here", short(value)),
    )
}

fn fallback(mismatch: Option<Mismatch>, path: &[String]) -> Mismatch {
    mismatch.unwrap_or_else(|| Mismatch::new(render(path), MismatchKind::NoPatternMatch, "does not match".to_owned()))
}

/// The elements of an array, nested arrays spread.
fn spread(items: &[Value]) -> Vec<&Value> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::Array(inner) => out.extend(spread(inner)),
            other => out.push(other),
        }
    }
    out
}

fn leaf(leaf: &Leaf, value: Option<&Value>, path: &[String]) -> Mismatch {
    let at = render(path);
    let values: Vec<&Value> = match value {
        None => Vec::new(),
        Some(Value::Array(items)) => spread(items).into_iter().filter(|v| !v.is_object()).collect(),
        Some(Value::Object(_)) => {
            return Mismatch::new(
                at,
                MismatchKind::WrongType,
                "is an object; the pattern wants a value here".to_owned(),
            );
        }
        Some(other) => vec![other],
    };
    if values.is_empty() {
        let detail = if leaf.absent_at.is_some() {
            // Absent here, but present in another element of an enclosing array.
            "has a value in another element of the array, and the pattern wants it absent".to_owned()
        } else {
            "missing".to_owned()
        };
        let kind = if leaf.absent_at.is_some() {
            MismatchKind::Present
        } else {
            MismatchKind::Missing
        };
        return Mismatch::new(at, kind, detail);
    }
    let shown = if values.len() == 1 {
        short(values[0])
    } else {
        format!("[{}]", values.iter().map(|v| short(v)).collect::<Vec<_>>().join(", "))
    };
    if leaf.conditions.is_empty() {
        return Mismatch::new(
            at,
            MismatchKind::Present,
            format!("is present ({shown}); the pattern wants it absent"),
        );
    }
    let leaves: Vec<LeafRef<'_>> = values
        .iter()
        .filter_map(|v| match v.view() {
            View::Leaf(leaf) => Some(leaf),
            _ => None,
        })
        .collect();
    let (kind, detail) = describe(&leaf.conditions, &leaves, &shown, leaf.absent_at.is_some());
    Mismatch::new(at, kind, detail)
}

/// Why none of `conditions` accepts any of `values` (shown as `shown`).
pub(crate) fn describe(
    conditions: &[Condition],
    values: &[LeafRef<'_>],
    shown: &str,
    also_absent: bool,
) -> (MismatchKind, String) {
    let all_exact = conditions.iter().all(|c| matches!(c, Condition::Exact(_)));
    if all_exact && !also_absent {
        let listed: Vec<String> = conditions.iter().map(ToString::to_string).collect();
        return if listed.len() == 1 {
            (MismatchKind::NotOneOf, format!("{shown} is not {}", listed[0]))
        } else {
            (
                MismatchKind::NotOneOf,
                format!("{shown} is not one of [{}]", listed.join(", ")),
            )
        };
    }
    if let ([condition], false) = (conditions, also_absent) {
        let strings = values.iter().all(|v| matches!(v, LeafRef::Str(_)));
        let numbers = values.iter().all(|v| matches!(v, LeafRef::Num(_)));
        let json = |s: &str| Value::from(s).to_string();
        return match condition {
            Condition::Numeric(range) if numbers => (MismatchKind::OutOfRange, format!("{shown} is not in {range}")),
            Condition::Numeric(range) => (
                MismatchKind::WrongType,
                format!("{shown} is not a number; numeric {range} compares numbers only"),
            ),
            Condition::AnythingBut(excluded) => (
                if excluded_type_mismatch(excluded, values) {
                    MismatchKind::WrongType
                } else {
                    MismatchKind::Excluded
                },
                format!("{shown} is excluded by anything-but {excluded}"),
            ),
            other if !strings => (
                MismatchKind::WrongType,
                format!("{shown} is not a string; {other} matches strings only"),
            ),
            Condition::Prefix(p) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not start with {}", json(p)),
            ),
            Condition::PrefixIgnoringCase(p) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not start with {} ignoring case", json(p)),
            ),
            Condition::Suffix(p) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not end with {}", json(p)),
            ),
            Condition::SuffixIgnoringCase(p) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not end with {} ignoring case", json(p)),
            ),
            Condition::EqualsIgnoringCase(p) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not equal {} ignoring case", json(p)),
            ),
            Condition::Wildcard(w) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} does not match wildcard {}", json(&w.source())),
            ),
            Condition::Cidr(net) => (
                MismatchKind::NoPatternMatch,
                format!("{shown} is not an address in {net}"),
            ),
            other => (MismatchKind::NoPatternMatch, format!("{shown} does not match {other}")),
        };
    }
    let mut listed: Vec<String> = conditions.iter().map(ToString::to_string).collect();
    if also_absent {
        listed.push("exists false".to_owned());
    }
    (
        MismatchKind::NoPatternMatch,
        format!("{shown} matches none of [{}]", listed.join(", ")),
    )
}

/// `anything-but` "fails" on a value of the other type only when nothing else was there.
fn excluded_type_mismatch(excluded: &Excluded, values: &[LeafRef<'_>]) -> bool {
    !values.iter().any(|v| excluded.excludes(*v))
}

/// A value as JSON, long texts shortened.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}

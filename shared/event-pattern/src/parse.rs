//! Validation and compilation of a pattern from JSON, refusing what EventBridge refuses.
//!
//! Where the AWS documentation is silent, the rules follow AWS's own matcher (event-ruler) and
//! then quamina; each such choice says so where it is made.

use serde_json::{Map, Value};

use crate::cidr::Cidr;
use crate::complexity;
use crate::condition::{Bound, Condition, Excluded, Num, Precision, Range, Scalar, fold_case};
use crate::error::{FieldPath, PatternError, Step};
use crate::tree::{Field, Leaf, Node, Rule};
use crate::wildcard::Wildcard;

/// Patterns nested deeper than this are refused: no real event is that deep, and the limit keeps
/// matching free of stack exhaustion.
const MAX_DEPTH: usize = 64;

/// The operator names. Inside `$or` they cannot be field names (AWS event-ruler reserves them
/// there, so that `{"$or": [{"prefix": "a"}, ...]}` is not taken for a field called `prefix`).
const OPERATORS: [&str; 8] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "cidr",
    "exists",
];

/// AWS's reason for a rule whose wildcards are too costly to match.
// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching
pub(crate) const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// Compiles a whole pattern.
pub(crate) fn pattern(value: &Value) -> Result<Node, PatternError> {
    let mut path = FieldPath::default();
    // EventBridge joins the keys of a path with dots when it compiles a pattern, so a key that
    // contains a dot and the same keys nested are one pattern.
    // source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
    let expanded;
    let value = if has_dotted_key(value) {
        expanded = expand_dots(value);
        &expanded
    } else {
        value
    };
    match value {
        Value::Object(object) => node(object, &mut path, false),
        other => Err(PatternError::new(
            &path,
            format!("a pattern must be a JSON object of fields, found {}", kind(other)),
        )),
    }
}

/// Whether some key of a pattern object (at any level, `$or` alternatives included) has a dot.
pub(crate) fn has_dotted_key(value: &Value) -> bool {
    match value {
        Value::Object(object) => object.iter().any(|(key, value)| {
            key.contains('.')
                || match value {
                    Value::Array(items) if key == "$or" => items.iter().any(has_dotted_key),
                    Value::Object(_) => has_dotted_key(value),
                    _ => false,
                }
        }),
        _ => false,
    }
}

/// The pattern with each dotted key `a.b` written as nested keys `a` > `b`, objects that meet
/// at one path merged, and for anything else the one that comes last kept (as EventBridge keeps
/// the last pattern given for a field).
pub(crate) fn expand_dots(value: &Value) -> Value {
    let Value::Object(object) = value else {
        return value.clone();
    };
    let mut out = Map::new();
    for (key, value) in object {
        let value = match value {
            Value::Object(_) => expand_dots(value),
            Value::Array(items) if key == "$or" => Value::Array(items.iter().map(expand_dots).collect()),
            other => other.clone(),
        };
        if key == "$or" {
            out.insert(key.clone(), value);
        } else {
            let segments: Vec<&str> = key.split('.').collect();
            insert_at(&mut out, &segments, value);
        }
    }
    Value::Object(out)
}

fn insert_at(map: &mut Map<String, Value>, segments: &[&str], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        match (map.get_mut(*first), value) {
            (Some(Value::Object(existing)), Value::Object(new)) => {
                for (key, value) in new {
                    insert_at(existing, &[key.as_str()], value);
                }
            }
            (_, value) => {
                map.insert((*first).to_owned(), value);
            }
        }
        return;
    }
    let slot = map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        insert_at(inner, rest, value);
    }
}

fn node<'a>(object: &'a Map<String, Value>, path: &mut FieldPath<'a>, in_or: bool) -> Result<Node, PatternError> {
    if path.depth() > MAX_DEPTH {
        return Err(PatternError::new(
            path,
            format!("the pattern is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    // AWS event-ruler: "Empty objects are not allowed"; an empty object would match everything.
    if object.is_empty() {
        return Err(PatternError::new(
            path,
            "an empty object is not allowed; name at least one field to match",
        ));
    }
    let mut fields = Vec::with_capacity(object.len());
    let mut any_of = Vec::new();
    for (key, value) in object {
        if key == "$or" {
            any_of.push(alternatives(value, path)?);
            continue;
        }
        path.push(Step::Key(key));
        if in_or && OPERATORS.contains(&key.as_str()) {
            return Err(PatternError::new(
                path,
                format!("`{key}` is an operator name and cannot be a field name inside `$or`"),
            ));
        }
        let rule = match value {
            Value::Array(list) => Rule::Leaf(leaf(list, path)?),
            Value::Object(inner) => Rule::Object(node(inner, path, in_or)?),
            other => {
                return Err(PatternError::new(
                    path,
                    format!(
                        "a field must hold a match list (e.g. [{other}]) or an object of nested fields, found {}",
                        kind(other)
                    ),
                ));
            }
        };
        path.pop();
        fields.push(Field {
            key: key.as_str().into(),
            rule,
        });
    }
    Ok(Node { fields, any_of })
}

/// The alternatives of a `$or`: an array of at least two non-empty pattern objects (AWS).
fn alternatives<'a>(value: &'a Value, path: &mut FieldPath<'a>) -> Result<Vec<Node>, PatternError> {
    const SHAPE: &str = "`$or` must be an array of at least two pattern objects";
    let shape_error = |path: &mut FieldPath<'a>, found: String| {
        path.push(Step::Key("$or"));
        PatternError::new(path, format!("{SHAPE}, found {found}"))
    };
    let list = match value {
        Value::Array(list) if list.len() >= 2 => list,
        Value::Array(list) => return Err(shape_error(path, format!("{} of them", list.len()))),
        other => return Err(shape_error(path, kind(other).to_owned())),
    };
    let mut nodes = Vec::with_capacity(list.len());
    for (n, alternative) in list.iter().enumerate() {
        path.push(Step::Or(n));
        let Value::Object(object) = alternative else {
            return Err(PatternError::new(path, format!("{SHAPE}, found {}", kind(alternative))));
        };
        nodes.push(node(object, path, true)?);
        path.pop();
    }
    Ok(nodes)
}

fn leaf(list: &[Value], path: &FieldPath<'_>) -> Result<Leaf, PatternError> {
    // AWS event-ruler: "Empty arrays are not allowed" (quamina accepts them, matching nothing).
    if list.is_empty() {
        return Err(PatternError::new(
            path,
            "an empty match list matches nothing and is not allowed; list at least one value or operator",
        ));
    }
    let mut conditions = Vec::with_capacity(list.len());
    let mut absent = false;
    for (n, item) in list.iter().enumerate() {
        let at = |reason: String| PatternError::new(path, format!("match list item {n}: {reason}"));
        match item {
            Value::String(s) => conditions.push(Condition::Exact(Scalar::Str(s.as_str().into()))),
            Value::Number(x) => conditions.push(Condition::Exact(Scalar::Num(Num::of(x)))),
            Value::Bool(b) => conditions.push(Condition::Exact(Scalar::Bool(*b))),
            Value::Null => conditions.push(Condition::Exact(Scalar::Null)),
            Value::Array(_) => {
                return Err(at("a match list cannot hold an array; list the values directly".into()));
            }
            Value::Object(operator) => match condition(operator).map_err(at)? {
                Some(c) => conditions.push(c),
                None => absent = true,
            },
        }
    }
    // The wildcards of one match list are one automaton to EventBridge, scored together.
    // source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching-complexity
    let mut wildcards = Vec::new();
    for (n, condition) in conditions.iter().enumerate() {
        match condition {
            Condition::Wildcard(wildcard) => wildcards.push(complexity::Entry { wildcard, list: None }),
            Condition::AnythingBut(Excluded::Wildcards(list)) => {
                wildcards.extend(list.iter().map(|wildcard| complexity::Entry {
                    wildcard,
                    list: Some(n),
                }));
            }
            _ => {}
        }
    }
    if complexity::complexity(&wildcards) > complexity::MAX_COMPLEXITY {
        return Err(PatternError::new(path, TOO_COMPLEX));
    }
    Ok(Leaf {
        conditions,
        absent_at: absent.then(|| path.event_keys().into_boxed_slice()),
    })
}

/// One operator object; `None` stands for `{"exists": false}`.
fn condition(operator: &Map<String, Value>) -> Result<Option<Condition>, String> {
    let mut entries = operator.iter();
    let (Some((name, operand)), None) = (entries.next(), entries.next()) else {
        return Err(format!(
            "an operator object must have exactly one key (one of {}), found {}",
            OPERATORS.join(", "),
            operator.len()
        ));
    };
    let string = |what: &str| -> Result<&str, String> {
        operand
            .as_str()
            .ok_or_else(|| format!("`{name}` takes {what}, found {}", kind(operand)))
    };
    Ok(Some(match name.as_str() {
        "prefix" => match ignoring_case(name, operand)? {
            Some(folded) => Condition::PrefixIgnoringCase(folded),
            None => Condition::Prefix(string("a string or {\"equals-ignore-case\": string}")?.into()),
        },
        "suffix" => match ignoring_case(name, operand)? {
            Some(folded) => Condition::SuffixIgnoringCase(folded),
            None => Condition::Suffix(string("a string or {\"equals-ignore-case\": string}")?.into()),
        },
        "equals-ignore-case" => Condition::EqualsIgnoringCase(fold_case(string("a string")?)),
        "wildcard" => Condition::Wildcard(Wildcard::parse(string("a string")?)?),
        "anything-but" => Condition::AnythingBut(anything_but(operand)?),
        "numeric" => Condition::Numeric(numeric(operand, Precision::EVENTBRIDGE)?),
        "cidr" => Condition::Cidr(Cidr::parse(string("a string such as \"10.0.0.0/24\"")?)?),
        "exists" => match operand {
            Value::Bool(true) => Condition::Exists,
            Value::Bool(false) => return Ok(None),
            other => return Err(format!("`exists` takes true or false, found {}", kind(other))),
        },
        other => {
            return Err(format!(
                "unknown operator `{other}`; the operators are {}",
                OPERATORS.join(", ")
            ));
        }
    }))
}

/// `{"equals-ignore-case": "x"}` as the operand of `prefix` or `suffix`: the folded text.
fn ignoring_case(name: &str, operand: &Value) -> Result<Option<Box<str>>, String> {
    let Value::Object(inner) = operand else {
        return Ok(None);
    };
    match (inner.len(), inner.get("equals-ignore-case")) {
        (1, Some(Value::String(s))) => Ok(Some(fold_case(s))),
        (1, Some(other)) => Err(format!(
            "`{name}`: `equals-ignore-case` takes a string, found {}",
            kind(other)
        )),
        _ => Err(format!("`{name}` takes a string or {{\"equals-ignore-case\": string}}")),
    }
}

fn anything_but(operand: &Value) -> Result<Excluded, String> {
    match operand {
        Value::String(s) => Ok(Excluded::Strings(vec![s.as_str().into()])),
        Value::Number(x) => Ok(Excluded::Numbers(vec![Num::of(x)])),
        Value::Array(list) => {
            if let Some(strings) = list.iter().map(Value::as_str).collect::<Option<Vec<_>>>()
                && !strings.is_empty()
            {
                return Ok(Excluded::Strings(strings.into_iter().map(Box::from).collect()));
            }
            if let Some(numbers) = list
                .iter()
                .map(|v| v.as_number().map(Num::of))
                .collect::<Option<Vec<_>>>()
                && !numbers.is_empty()
            {
                return Ok(Excluded::Numbers(numbers));
            }
            // AWS: lists "that contain only strings, or only numbers".
            Err("`anything-but` takes a non-empty list of only strings or only numbers".into())
        }
        Value::Object(inner) => {
            let mut entries = inner.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(
                    "`anything-but` takes an object with exactly one of prefix, suffix, wildcard, equals-ignore-case"
                        .into(),
                );
            };
            if !["prefix", "suffix", "wildcard", "equals-ignore-case"].contains(&name.as_str()) {
                return Err(format!(
                    "`anything-but` cannot hold `{name}`; it takes a value, a list, or one of prefix, suffix, \
                     wildcard, equals-ignore-case"
                ));
            }
            let texts = strings(name, value)?;
            match name.as_str() {
                // AWS event-ruler: "Null prefix/suffix not allowed" (it would exclude every string).
                "prefix" | "suffix" if texts.iter().any(|t| t.is_empty()) => {
                    Err(format!("`anything-but`: an empty `{name}` would exclude every string"))
                }
                "prefix" => Ok(Excluded::Prefixes(texts.into_iter().map(Box::from).collect())),
                "suffix" => Ok(Excluded::Suffixes(texts.into_iter().map(Box::from).collect())),
                "wildcard" => Ok(Excluded::Wildcards(
                    texts.into_iter().map(Wildcard::parse).collect::<Result<_, _>>()?,
                )),
                _ => Ok(Excluded::IgnoringCase(texts.into_iter().map(fold_case).collect())),
            }
        }
        other => Err(format!(
            "`anything-but` takes a string, a number, a list of them, or an operator object, found {}",
            kind(other)
        )),
    }
}

/// A string or a non-empty list of strings, as the operand of an `anything-but` operator.
fn strings<'a>(name: &str, value: &'a Value) -> Result<Vec<&'a str>, String> {
    let wrong = || format!("`anything-but`: `{name}` takes a string or a non-empty list of strings");
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) if !list.is_empty() => list.iter().map(|v| v.as_str().ok_or_else(wrong)).collect(),
        _ => Err(wrong()),
    }
}

/// `["=", 5]`, `[">", 0]`, `["<=", 5]`, or a lower and an upper bound: `[">", 0, "<=", 5]`.
///
/// AWS documents the lower bound first; quamina also takes the upper bound first, and so do we.
pub(crate) fn numeric(operand: &Value, precision: Precision) -> Result<Range, String> {
    const SHAPE: &str = "`numeric` takes one or two operator/number pairs, e.g. [\">\", 0, \"<=\", 5]";
    let Value::Array(list) = operand else {
        return Err(format!("{SHAPE}, found {}", kind(operand)));
    };
    if list.is_empty() || list.len() % 2 != 0 || list.len() > 4 {
        return Err(format!("{SHAPE}, found {} items", list.len()));
    }
    let mut range = Range {
        lower: None,
        upper: None,
        precision,
    };
    for pair in list.chunks_exact(2) {
        let Value::String(op) = &pair[0] else {
            return Err(format!(
                "`numeric`: expected an operator (=, <, <=, >, >=), found {}",
                pair[0]
            ));
        };
        let Some(value) = pair[1].as_f64() else {
            return Err(format!(
                "`numeric`: `{op}` must be followed by a number, found {}",
                pair[1]
            ));
        };
        if !precision.admits(value) {
            return Err(format!(
                "`numeric`: {} is out of range; numbers are compared from {}",
                pair[1], precision.limit_text
            ));
        }
        let (slot, inclusive) = match op.as_str() {
            "=" if list.len() == 2 => {
                let bound = Some(Bound::new(value, true, precision));
                return Ok(Range {
                    lower: bound,
                    upper: bound,
                    precision,
                });
            }
            "=" => return Err("`numeric`: `=` cannot be combined with another comparison".into()),
            ">" => (&mut range.lower, false),
            ">=" => (&mut range.lower, true),
            "<" => (&mut range.upper, false),
            "<=" => (&mut range.upper, true),
            other => return Err(format!("`numeric`: unknown operator {other:?}; use =, <, <=, > or >=")),
        };
        if slot.is_some() {
            let side = if op.starts_with('>') { "lower" } else { "upper" };
            return Err(format!(
                "`numeric` has two {side} bounds; give at most one `>`/`>=` and one `<`/`<=`"
            ));
        }
        *slot = Some(Bound::new(value, inclusive, precision));
    }
    if let (Some(lower), Some(upper)) = (range.lower, range.upper) {
        let empty = lower.value > upper.value || (lower.value == upper.value && !(lower.inclusive && upper.inclusive));
        if empty {
            return Err(format!(
                "`numeric` range is empty: no number is {} and {}",
                show(lower, ">"),
                show(upper, "<")
            ));
        }
    }
    Ok(range)
}

fn show(bound: Bound, op: &str) -> String {
    format!("{op}{} {}", if bound.inclusive { "=" } else { "" }, bound.value)
}

/// What kind of JSON value this is, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refused(pattern_json: Value) -> PatternError {
        match pattern(&pattern_json) {
            Ok(node) => panic!("{pattern_json} was accepted as {node:?}"),
            Err(error) => error,
        }
    }

    fn assert_refused(pattern_json: Value, path: &str, reason_contains: &str) {
        let error = refused(pattern_json.clone());
        assert_eq!(error.path(), path, "{pattern_json}: {error}");
        assert!(error.reason().contains(reason_contains), "{pattern_json}: {error}");
    }

    #[test]
    fn valid_patterns_compile() {
        let valid = [
            json!({"source": ["aws.ec2"], "detail": {"state": ["running", "stopped"]}}),
            json!({"a": ["", 0, -1.5e3, true, false, null]}),
            json!({"a": [{"prefix": ""}, {"prefix": {"equals-ignore-case": "Ab"}}]}),
            json!({"a": [{"suffix": ".png"}, {"suffix": {"equals-ignore-case": ".PNG"}}]}),
            json!({"a": [{"equals-ignore-case": "x"}, {"wildcard": "a*b\\*c"}]}),
            json!({"a": [{"anything-but": "x"}, {"anything-but": 1}, {"anything-but": ["x", "y"]}]}),
            json!({"a": [{"anything-but": [1, 2.5]}, {"anything-but": {"prefix": "x"}}]}),
            json!({"a": [{"anything-but": {"suffix": ["x", "y"]}}, {"anything-but": {"wildcard": ["*/lib/*"]}}]}),
            json!({"a": [{"anything-but": {"equals-ignore-case": ["X", "y"]}}]}),
            json!({"a": [{"numeric": ["=", 5]}, {"numeric": [">", 0, "<=", 5]}, {"numeric": ["<", 6, ">=", 5]}]}),
            json!({"a": [{"numeric": [">=", 5, "<=", 5]}, {"cidr": "10.0.0.0/8"}, {"cidr": "2001:db8::/32"}]}),
            json!({"a": [{"exists": true}], "b": [{"exists": false}]}),
            json!({"$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]}),
            json!({"detail": {"$or": [{"a": ["x"]}, {"$or": [{"b": ["y"]}, {"c": ["z"]}]}]}}),
            json!({"prefix": ["a field may be called prefix outside $or"]}),
        ];
        for p in valid {
            if let Err(error) = pattern(&p) {
                panic!("{p} refused: {error}");
            }
        }
    }

    #[test]
    fn shapes_that_are_not_patterns_are_refused() {
        assert_refused(json!(["x"]), "", "must be a JSON object");
        assert_refused(json!("x"), "", "must be a JSON object");
        assert_refused(json!({}), "", "empty object");
        assert_refused(json!({"detail": {}}), "detail", "empty object");
        assert_refused(json!({"source": "aws.ec2"}), "source", "match list");
        assert_refused(json!({"detail": {"n": 5}}), "detail.n", "match list");
        assert_refused(json!({"detail": {"n": []}}), "detail.n", "empty match list");
        assert_refused(json!({"a": [["x"]]}), "a", "cannot hold an array");
        assert_refused(json!({"a.b": {"c": "x"}}), "a.b.c", "match list");
    }

    #[test]
    fn operators_are_checked() {
        assert_refused(json!({"a": [{}]}), "a", "exactly one key");
        assert_refused(json!({"a": [{"prefix": "x", "suffix": "y"}]}), "a", "exactly one key");
        assert_refused(json!({"a": [{"contains": "x"}]}), "a", "unknown operator `contains`");
        assert_refused(
            json!({"a": ["ok", {"prefix": 5}]}),
            "a",
            "match list item 1: `prefix` takes",
        );
        assert_refused(
            json!({"a": [{"prefix": {"equals-ignore-case": 5}}]}),
            "a",
            "takes a string",
        );
        assert_refused(json!({"a": [{"prefix": {"ignore-case": "x"}}]}), "a", "`prefix` takes");
        assert_refused(json!({"a": [{"suffix": null}]}), "a", "`suffix` takes");
        assert_refused(
            json!({"a": [{"equals-ignore-case": ["x"]}]}),
            "a",
            "`equals-ignore-case` takes",
        );
        assert_refused(json!({"a": [{"exists": "true"}]}), "a", "`exists` takes true or false");
        assert_refused(json!({"a": [{"cidr": "10.0.0.0"}]}), "a", "prefix length");
        assert_refused(json!({"a": [{"cidr": "10.0.0.0/40"}]}), "a", "0 to 32");
        assert_refused(json!({"a": [{"cidr": "10.0.0/8"}]}), "a", "not an IPv4 or IPv6");
        assert_refused(json!({"a": [{"wildcard": "a**"}]}), "a", "consecutive");
        assert_refused(json!({"a": [{"wildcard": "a\\b"}]}), "a", "not an escape");
    }

    #[test]
    fn anything_but_operands_are_checked() {
        for bad in [
            json!([]),
            json!(["x", 1]),
            json!([true]),
            json!(null),
            json!(true),
            json!({}),
            json!({"prefix": ""}),
            json!({"suffix": ["x", ""]}),
            json!({"prefix": []}),
            json!({"prefix": 5}),
            json!({"numeric": [">", 1]}),
            json!({"wildcard": "a**"}),
            json!({"equals-ignore-case": [1]}),
            json!({"prefix": "a", "suffix": "b"}),
        ] {
            let error = refused(json!({"detail": {"s": [{"anything-but": bad}]}}));
            assert_eq!(error.path(), "detail.s", "{bad}: {error}");
        }
    }

    #[test]
    fn numeric_shapes_are_checked() {
        for (bad, says) in [
            (json!(5), "one or two"),
            (json!([]), "one or two"),
            (json!([">"]), "one or two"),
            (json!([">", 0, "<"]), "one or two"),
            (json!([">", 0, "<", 5, "=", 1]), "one or two"),
            (json!([">", "0"]), "must be followed by a number"),
            (json!([0, ">"]), "expected an operator"),
            (json!(["!=", 0]), "unknown operator"),
            (json!([">", 0, ">=", 1]), "two lower bounds"),
            (json!(["<", 0, "<=", 1]), "two upper bounds"),
            (json!(["=", 0, "<", 1]), "cannot be combined"),
            (json!([">", 5, "<", 0]), "empty"),
            (json!([">", 5, "<=", 5]), "empty"),
        ] {
            let error = refused(json!({"detail": {"amount": [{"numeric": bad.clone()}]}}));
            assert_eq!(error.path(), "detail.amount", "{bad}: {error}");
            assert!(error.reason().contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn or_is_checked() {
        assert_refused(json!({"$or": [{"a": ["x"]}]}), "$or", "at least two");
        assert_refused(json!({"$or": []}), "$or", "at least two");
        assert_refused(json!({"d": {"$or": {"a": ["x"]}}}), "d.$or", "found an object");
        assert_refused(json!({"d": {"$or": [{"a": ["x"]}, "b"]}}), "d.$or[1]", "found a string");
        assert_refused(json!({"$or": [{"a": ["x"]}, {}]}), "$or[1]", "empty object");
        assert_refused(json!({"$or": [{"a": ["x"]}, {"b": "y"}]}), "$or[1].b", "match list");
        assert_refused(
            json!({"$or": [{"a": ["x"]}, {"prefix": ["y"]}]}),
            "$or[1].prefix",
            "operator name",
        );
        assert_refused(
            json!({"$or": [{"a": ["x"]}, {"b": {"numeric": ["y"]}}]}),
            "$or[1].b.numeric",
            "operator name",
        );
    }

    #[test]
    fn exists_false_remembers_where_the_field_is() {
        let node = pattern(&json!({"a": {"$or": [{"c": [{"exists": false}]}, {"d": ["x"]}]}}))
            .unwrap_or_else(|e| panic!("{e}"));
        let Rule::Object(inner) = &node.fields[0].rule else {
            panic!("object expected")
        };
        let Rule::Leaf(leaf) = &inner.any_of[0][0].fields[0].rule else {
            panic!("leaf expected")
        };
        assert_eq!(leaf.absent_at.as_deref(), Some(&[Box::from("a"), Box::from("c")][..]));
    }

    #[test]
    fn dotted_keys_are_the_same_pattern_as_nested_keys() {
        let dotted = pattern(&json!({"a.b": ["x"], "a": {"c": ["y"]}, "$or": [{"d.e": [1]}, {"f": [2]}]}))
            .unwrap_or_else(|e| panic!("{e}"));
        let nested = pattern(&json!({"a": {"b": ["x"], "c": ["y"]}, "$or": [{"d": {"e": [1]}}, {"f": [2]}]}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{dotted:?}"), format!("{nested:?}"));
        // A leaf and an object at one path: the one that comes last wins.
        let last = pattern(&json!({"a": {"b": ["x"]}, "a.b": ["y"]})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            format!("{last:?}"),
            format!(
                "{:?}",
                pattern(&json!({"a": {"b": ["y"]}})).unwrap_or_else(|e| panic!("{e}"))
            )
        );
    }

    #[test]
    fn deep_patterns_are_refused() {
        let mut deep = json!(["x"]);
        for _ in 0..100 {
            deep = json!({ "k": deep });
        }
        assert!(refused(deep).reason().contains("nested deeper"));
    }
}

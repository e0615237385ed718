//! The operators of a match list (`prefix`, `anything-but`, `numeric`, `cidr`, `exists`, ...)
//! and plain numbers, compiled to the shared conditions with SNS's operands, precision and
//! messages.

use serde_json::{Map, Value};

use super::error::FilterPolicyError;
use crate::cidr::Cidr;
use crate::condition::{Bound, Condition, Excluded, Num, Precision, Range, Scalar, fold_case};

/// A plain number: equal by value, at SNS's precision when within its span.
// source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html
pub(super) fn number_equals(n: &serde_json::Number) -> Condition {
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
pub(super) fn condition(operator: &Map<String, Value>) -> Result<Option<Condition>, FilterPolicyError> {
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
        Value::Number(n) => Ok(Excluded::Numbers(vec![Num::of(n)])),
        Value::Array(list) if !list.is_empty() => {
            if let Some(list) = strings(list) {
                Ok(Excluded::Strings(list))
            } else if let Some(list) = numbers(list) {
                Ok(Excluded::Numbers(list))
            } else {
                Err(FilterPolicyError::policy(
                    "Inside anything but list, start|null|boolean is not supported.",
                ))
            }
        }
        // SNS checks these in the order of the event-ruler version its messages come from (the
        // one before `anything-but` took `suffix`): the operator's name, its string, then that
        // nothing follows. Only `prefix` is supported: `suffix` is refused ("Unsupported
        // anything-but pattern: suffix"), though EventBridge takes it (observed, crate README).
        // source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching-prefix
        Value::Object(inner) => {
            let mut entries = inner.iter();
            let Some((name, value)) = entries.next() else {
                return Err(FilterPolicyError::policy("Anything-But expression name not found"));
            };
            if name != "prefix" {
                return Err(FilterPolicyError::policy(format!(
                    "Unsupported anything-but pattern: {name}"
                )));
            }
            let Some(text) = value.as_str() else {
                return Err(FilterPolicyError::policy("prefix match pattern must be a string"));
            };
            if text.is_empty() {
                return Err(FilterPolicyError::policy("Null prefix not allowed"));
            }
            if entries.next().is_some() {
                return Err(FilterPolicyError::policy("Only one key allowed in match expression"));
            }
            Ok(Excluded::Prefixes(vec![text.into()]))
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

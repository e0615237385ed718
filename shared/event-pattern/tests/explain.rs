//! Explaining why an EventBridge event does not match: the first field that fails and a
//! one-line reason, for each kind of failure; and the same through a `Matcher`, per rule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use event_pattern::{Matcher, MismatchKind, Pattern};
use serde_json::{Value, json};

/// GIVEN the pattern and the event, THEN the explanation reads `line` and is of `kind`.
fn explains(pattern: Value, event: Value, line: &str, kind: MismatchKind) {
    let compiled = Pattern::from_value(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
    assert!(!compiled.matches(&event), "{pattern} matches {event}");
    let why = compiled
        .explain(&event)
        .unwrap_or_else(|| panic!("{pattern}: no explanation for {event}"));
    assert_eq!(why.to_string(), line, "{pattern} / {event}");
    assert_eq!(why.kind(), kind, "{pattern} / {event}");
}

#[test]
fn a_missing_key() {
    explains(
        json!({"detail": {"state": ["running"]}}),
        json!({"detail": {}}),
        "detail.state: missing",
        MismatchKind::Missing,
    );
    explains(
        json!({"detail": {"state": ["running"]}}),
        json!({}),
        "detail.state: missing",
        MismatchKind::Missing,
    );
}

#[test]
fn a_value_not_in_the_list() {
    explains(
        json!({"detail": {"state": ["running", "pending"]}}),
        json!({"detail": {"state": "stopped"}}),
        r#"detail.state: "stopped" is not one of ["running", "pending"]"#,
        MismatchKind::NotOneOf,
    );
    explains(
        json!({"source": ["a"]}),
        json!({"source": "b"}),
        r#"source: "b" is not "a""#,
        MismatchKind::NotOneOf,
    );
}

#[test]
fn a_numeric_range_not_satisfied_or_the_wrong_type() {
    explains(
        json!({"detail": {"total": [{"numeric": [">", 0, "<=", 5]}]}}),
        json!({"detail": {"total": 12}}),
        "detail.total: 12 is not in [>0, <=5]",
        MismatchKind::OutOfRange,
    );
    explains(
        json!({"detail": {"total": [{"numeric": [">", 0]}]}}),
        json!({"detail": {"total": "12"}}),
        r#"detail.total: "12" is not a number; numeric [>0] compares numbers only"#,
        MismatchKind::WrongType,
    );
    explains(
        json!({"detail": ["x"]}),
        json!({"detail": {"a": 1}}),
        "detail: is an object; the pattern wants a value here",
        MismatchKind::WrongType,
    );
    explains(
        json!({"detail": {"a": ["x"]}}),
        json!({"detail": "flat"}),
        r#"detail: "flat" is not an object; the pattern has nested fields here"#,
        MismatchKind::WrongType,
    );
}

#[test]
fn an_anything_but_hit() {
    explains(
        json!({"state": [{"anything-but": ["initializing", "stopping"]}]}),
        json!({"state": "initializing"}),
        r#"state: "initializing" is excluded by anything-but ["initializing", "stopping"]"#,
        MismatchKind::Excluded,
    );
    explains(
        json!({"region": [{"anything-but": {"prefix": "us-"}}]}),
        json!({"region": "us-east-1"}),
        r#"region: "us-east-1" is excluded by anything-but prefix ["us-"]"#,
        MismatchKind::Excluded,
    );
}

#[test]
fn string_operator_mismatches() {
    let cases = [
        (
            json!({"f": [{"prefix": "2017-10-02"}]}),
            json!({"f": "2018-01-01"}),
            r#"f: "2018-01-01" does not start with "2017-10-02""#,
        ),
        (
            json!({"f": [{"suffix": ".png"}]}),
            json!({"f": "a.jpg"}),
            r#"f: "a.jpg" does not end with ".png""#,
        ),
        (
            json!({"f": [{"wildcard": "dir/*.png"}]}),
            json!({"f": "dir/a.jpg"}),
            r#"f: "dir/a.jpg" does not match wildcard "dir/*.png""#,
        ),
        (
            json!({"f": [{"equals-ignore-case": "alice"}]}),
            json!({"f": "bob"}),
            r#"f: "bob" does not equal "alice" ignoring case"#,
        ),
        (
            json!({"f": [{"prefix": {"equals-ignore-case": "EventB"}}]}),
            json!({"f": "Lambda"}),
            r#"f: "Lambda" does not start with "eventb" ignoring case"#,
        ),
        (
            json!({"f": [{"cidr": "10.0.0.0/24"}]}),
            json!({"f": "10.0.1.1"}),
            r#"f: "10.0.1.1" is not an address in 10.0.0.0/24"#,
        ),
    ];
    for (pattern, event, line) in cases {
        explains(pattern, event, line, MismatchKind::NoPatternMatch);
    }
    explains(
        json!({"f": [{"prefix": "12"}]}),
        json!({"f": 123}),
        r#"f: 123 is not a string; prefix "12" matches strings only"#,
        MismatchKind::WrongType,
    );
    explains(
        json!({"f": [{"prefix": "us-"}, "eu-west-1"]}),
        json!({"f": "ap-south-1"}),
        r#"f: "ap-south-1" matches none of [prefix "us-", "eu-west-1"]"#,
        MismatchKind::NoPatternMatch,
    );
}

#[test]
fn exists_false_on_a_present_field() {
    explains(
        json!({"detail": {"c-count": [{"exists": false}]}}),
        json!({"detail": {"c-count": 5}}),
        "detail.c-count: is present (5); the pattern wants it absent",
        MismatchKind::Present,
    );
}

#[test]
fn or_with_every_alternative_summarised() {
    explains(
        json!({"detail": {"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 5]}]}]}}),
        json!({"detail": {"b": 1}}),
        "detail.$or: no alternative matched (detail.a: missing; detail.b: 1 is not in [>5])",
        MismatchKind::NoAlternative,
    );
}

#[test]
fn arrays_of_objects_name_the_element() {
    explains(
        json!({"detail": {"items": {"sku": ["A"], "qty": [5]}}}),
        json!({"detail": {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}}),
        "detail.items[0].qty: 1 is not 5",
        MismatchKind::NotOneOf,
    );
    explains(
        json!({"resources": ["arn:a"]}),
        json!({"resources": ["arn:b", "arn:c"]}),
        r#"resources: ["arn:b", "arn:c"] is not "arn:a""#,
        MismatchKind::NotOneOf,
    );
}

#[test]
fn keys_that_need_quoting_are_quoted() {
    explains(
        json!({"detail": {"a b": ["x"]}}),
        json!({"detail": {}}),
        r#"detail["a b"]: missing"#,
        MismatchKind::Missing,
    );
}

#[test]
fn the_first_failing_field_is_reported_and_matches_explain_nothing() {
    let pattern = Pattern::parse(r#"{"source": ["shop"], "detail-type": ["OrderPlaced"]}"#).unwrap();
    let why = pattern
        .explain(&json!({"source": "shop", "detail-type": "Other"}))
        .unwrap();
    assert_eq!(why.path(), "detail-type");
    assert_eq!(why.detail(), r#""Other" is not "OrderPlaced""#);
    assert!(
        pattern
            .explain(&json!({"source": "shop", "detail-type": "OrderPlaced"}))
            .is_none()
    );
}

#[test]
fn a_matcher_explains_each_rule() {
    let mut rules = Matcher::new();
    rules.add("placed", Pattern::parse(r#"{"detail-type": ["OrderPlaced"]}"#).unwrap());
    rules.add(
        "shipped",
        Pattern::parse(r#"{"detail-type": ["OrderShipped"]}"#).unwrap(),
    );
    let event = json!({"detail-type": "OrderPlaced"});
    let explained: Vec<(&str, Option<String>)> = rules
        .explain(&event)
        .into_iter()
        .map(|(key, why)| (*key, why.map(|m| m.to_string())))
        .collect();
    assert_eq!(
        explained,
        vec![
            ("placed", None),
            (
                "shipped",
                Some(r#"detail-type: "OrderPlaced" is not "OrderShipped""#.to_owned())
            )
        ]
    );
    assert_eq!(rules.matches(&event), vec!["placed"]);
    assert_eq!(rules.patterns().count(), 2);
}

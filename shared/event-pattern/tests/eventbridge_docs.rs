//! The rules the EventBridge documentation states beyond the operators themselves (those are in
//! `operators.rs`): limits, validation and the way values compare. Each test is named after the
//! rule and cites the page it comes from.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use event_pattern::{Matcher, Pattern};
use serde_json::{Value, json};

fn pattern(value: Value) -> Pattern {
    Pattern::from_value(&value).unwrap_or_else(|e| panic!("{value} refused: {e}"))
}

/// GIVEN a pattern, THEN it matches `yes` and not `no`, alone and through a Matcher.
fn check(p: Value, yes: &[Value], no: &[Value]) {
    let compiled = pattern(p.clone());
    let mut matcher = Matcher::new();
    matcher.add((), compiled.clone());
    for event in yes {
        assert!(compiled.matches(event), "{p} should match {event}");
        assert_eq!(matcher.matches(event).len(), 1, "matcher: {p} should match {event}");
    }
    for event in no {
        assert!(!compiled.matches(event), "{p} should not match {event}");
        assert!(
            matcher.matches(event).is_empty(),
            "matcher: {p} should not match {event}"
        );
    }
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-numeric-matching
/// ("limited to values between -5.0e9 and +5.0e9 inclusive").
#[test]
fn numeric_matching_is_limited_to_5e9_either_side() {
    let error = Pattern::parse(r#"{"n": [{"numeric": [">", 6e9]}]}"#).unwrap_err();
    assert!(error.reason().contains("out of range"), "{error}");
    assert!(Pattern::parse(r#"{"n": [{"numeric": [">=", -5e9, "<=", 5e9]}]}"#).is_ok());
    // Events beyond the span never match a range, even an open-ended one.
    check(
        json!({"n": [{"numeric": [">", 0]}]}),
        &[json!({"n": 5e9}), json!({"n": 1})],
        &[json!({"n": 5.000_000_1e9}), json!({"n": 1e300})],
    );
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-numeric-matching
/// ("six digits to the right of the decimal point").
#[test]
fn numeric_matching_has_six_decimal_digits() {
    check(
        json!({"n": [{"numeric": ["=", 5]}]}),
        &[json!({"n": 5}), json!({"n": 5.000_000_4}), json!({"n": 4.999_999_6})],
        &[json!({"n": 5.000_001}), json!({"n": 4.999_999})],
    );
    check(
        json!({"n": [{"numeric": [">", 0]}]}),
        &[json!({"n": 0.000_001})],
        &[json!({"n": 0.000_000_4})],
    );
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
/// ("If the same field is specified multiple times, EventBridge only uses the last one").
#[test]
fn the_last_pattern_given_for_a_field_is_used() {
    let compiled = Pattern::parse(r#"{"source": ["a"], "source": ["b"]}"#).unwrap();
    assert!(compiled.matches(&json!({"source": "b"})));
    assert!(!compiled.matches(&json!({"source": "a"})));
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
/// (strings match character by character, "without case-folding or any other string
/// normalization").
#[test]
fn strings_match_without_case_folding_or_normalization() {
    check(
        json!({"name": ["é"]}),
        &[json!({"name": "é"})],
        // e + combining acute accent: the same letter to a reader, other characters.
        &[json!({"name": "e\u{301}"}), json!({"name": "É"})],
    );
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
/// ("Event pattern size: 2048", adjustable up to 4096 characters).
#[test]
fn event_pattern_size_is_at_most_2048_characters_by_default() {
    let padded = |chars: usize| {
        let head = r#"{"source": [""#;
        let tail = r#""]}"#;
        format!("{head}{}{tail}", "x".repeat(chars - head.len() - tail.len()))
    };
    assert!(Pattern::parse(&padded(2048)).is_ok());
    let error = Pattern::parse(&padded(2049)).unwrap_err();
    assert_eq!(error.path(), "");
    assert!(error.reason().contains("too long"), "{error}");
    assert!(Pattern::parse_with_max_size(&padded(4096), 4096).is_ok());
    // From a value, the size is that of the compact text (here one space shorter).
    let value: Value = serde_json::from_str(&padded(2050)).unwrap();
    assert!(Pattern::from_value(&value).is_err());
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching-complexity
/// (a rule whose wildcards are too complex is refused with `InvalidEventPatternException`).
/// Observed in AWS (crate README, parity table): `*:*:*:*:*:event-bus/*` is refused with
/// PutRule's "Rule is too complex" message; four `*:stack/<name>/*` wildcards on one field are
/// refused where three are taken; four `*/datasync/*.<ext>` are refused where two are taken.
#[test]
fn wildcard_patterns_that_are_too_complex_are_refused() {
    let refused = |wildcards: &[&str]| {
        let list: Vec<Value> = wildcards.iter().map(|w| json!({"wildcard": w})).collect();
        Pattern::from_value(&json!({"detail": {"f": list}})).err()
    };
    let error = refused(&["*:*:*:*:*:event-bus/*"]).expect("refused");
    assert_eq!(error.path(), "detail.f");
    assert_eq!(
        error.aws_message(),
        "Event pattern is not valid. Reason: Rule is too complex - try using fewer wildcard characters or \
         fewer repeating character sequences after a wildcard character at `detail.f`"
    );
    let stacks = ["CoreStack", "SharedStack", "ServiceStack", "MonitoringStack"].map(|s| format!("*:stack/{s}/*"));
    let stacks: Vec<&str> = stacks.iter().map(String::as_str).collect();
    assert!(refused(&stacks[..3]).is_none());
    assert!(refused(&stacks).is_some());
    assert!(refused(&["*/datasync/*.bif", "*/datasync/*.tif"]).is_none());
    assert!(
        refused(&[
            "*/datasync/*.bif",
            "*/datasync/*.tif",
            "*/datasync/*.tiff",
            "*/datasync/*.svs"
        ])
        .is_some()
    );
    // Patterns AWS takes: the documented examples, and the suggested rewrite of the refused one.
    for taken in [
        &["*.png"][..],
        &["arn:aws:*:event-bus/*"],
        &["arn:aws:events:*:*:event-bus/*"],
        &["dir/*/*/file-*.png"],
        &["*.bif", "*.tiff", "*.tif", "*.svs"],
        &["Example*", "*.png", "*/lib/*"],
        &["arn:aws:states:us-east-1:111122223333:execution:xxx:yyy*"],
    ] {
        assert!(refused(taken).is_none(), "{taken:?}");
    }
    // Consecutive colons after stars: each `*:` adds states one input keeps alive at once.
    assert!(refused(&["*:*:*:*:*"]).is_none());
    assert!(refused(&["*:*:*:*:*:*"]).is_some());
    // `anything-but` wildcards count with the others on the field.
    let mixed = json!({"f": [{"wildcard": "*c*c*c"}, {"anything-but": {"wildcard": ["*a*a*a", "*b*b*b"]}}]});
    assert!(Pattern::from_value(&mixed).is_err());
    assert!(Pattern::from_value(&json!({"f": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]})).is_ok());
    // A piece repeated after a star is costly: `*aaaaaaaaaa` keeps eleven states alive.
    assert!(refused(&["*aaaaaaaaa"]).is_none());
    assert!(refused(&["*aaaaaaaaaa"]).is_some());
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
/// (`InvalidEventPatternException`: "Event pattern is not valid. Reason: ...").
#[test]
fn invalid_patterns_read_as_put_rule_errors() {
    let error = Pattern::parse(r#"{"detail": {"state": "running"}}"#).unwrap_err();
    assert!(
        error.aws_message().starts_with("Event pattern is not valid. Reason: "),
        "{}",
        error.aws_message()
    );
    assert!(
        error.aws_message().ends_with("at `detail.state`"),
        "{}",
        error.aws_message()
    );
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-exists-matching
/// ("Exists matching only works on leaf nodes. It does not work on intermediate nodes.").
#[test]
fn exists_works_on_leaf_nodes_only() {
    check(
        json!({"detail": [{"exists": true}]}),
        &[json!({"detail": "leaf"})],
        &[json!({"detail": {"state": "running"}})],
    );
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-anything-but
/// (anything-but lists hold "only strings, or only numbers").
#[test]
fn anything_but_lists_hold_only_strings_or_only_numbers() {
    assert!(Pattern::parse(r#"{"s": [{"anything-but": ["a", 1]}]}"#).is_err());
    assert!(Pattern::parse(r#"{"s": [{"anything-but": ["a", "b"]}]}"#).is_ok());
    assert!(Pattern::parse(r#"{"s": [{"anything-but": [1, 2.5]}]}"#).is_ok());
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-complex-example
/// (several operators combined on one event).
#[test]
fn complex_example_combining_operators() {
    check(
        json!({
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}]
            }
        }),
        &[json!({
            "time": "2017-10-02T18:43:48Z",
            "detail": {"state": "running", "c-count": 5, "d-count": 9, "x-limit": 150}
        })],
        &[json!({
            "time": "2017-10-02T18:43:48Z",
            "detail": {"state": "initializing", "c-count": 5, "d-count": 9, "x-limit": 150}
        })],
    );
}

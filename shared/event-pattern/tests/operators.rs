//! Each operator of the EventBridge pattern language, what it matches and what it does not,
//! with the examples of the AWS documentation and the edge cases decided in the README.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use event_pattern::{Matcher, Pattern, PatternError};
use serde_json::{Value, json};

/// GIVEN the pattern, WHEN each event arrives, THEN it matches exactly the `matching` ones; the
/// same answer comes from the pattern alone, through a `Matcher`, and from the event's JSON text.
fn check(pattern: Value, matching: &[Value], not_matching: &[Value]) {
    let text = |events: &[Value]| -> Vec<String> { events.iter().map(Value::to_string).collect() };
    check_texts(pattern, &text(matching), &text(not_matching));
}

/// [`check`] with the events as JSON text, so that numbers keep how they are written (`3e2`).
fn check_texts<T: AsRef<str>>(pattern: Value, matching: &[T], not_matching: &[T]) {
    let compiled = Pattern::from_value(&pattern).unwrap_or_else(|e| panic!("{pattern} refused: {e}"));
    let mut matcher = Matcher::new();
    matcher.add((), compiled.clone());
    for (events, expected) in [(matching, true), (not_matching, false)] {
        for text in events.iter().map(AsRef::as_ref) {
            let event: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let verb = if expected { "should" } else { "should not" };
            assert_eq!(compiled.matches(&event), expected, "{pattern} {verb} match {text}");
            assert_eq!(
                matcher.matches(&event).len(),
                usize::from(expected),
                "matcher: {pattern} {verb} match {text}"
            );
            let from_text = matcher
                .matches_json(text.as_bytes())
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                from_text.len(),
                usize::from(expected),
                "matches_json: {pattern} {verb} match {text}"
            );
        }
    }
}

/// GIVEN an invalid pattern, THEN it is refused, naming `path` and a reason containing `says`.
fn refused(pattern: Value, path: &str, says: &str) -> PatternError {
    let error = Pattern::from_value(&pattern).expect_err(&format!("{pattern} should be refused"));
    assert_eq!(error.path(), path, "{pattern}: {error}");
    assert!(error.reason().contains(says), "{pattern}: {error} should say {says:?}");
    assert!(error.to_string().contains(path), "{error}");
    error
}

mod exact {
    use super::*;

    #[test]
    fn strings_match_only_the_same_string() {
        check(
            json!({"source": ["aws.ec2"]}),
            &[json!({"source": "aws.ec2"}), json!({"source": "aws.ec2", "other": 1})],
            &[
                json!({"source": "aws.ec2 "}),
                json!({"source": "AWS.EC2"}),
                json!({"src": "aws.ec2"}),
                json!({}),
            ],
        );
    }

    #[test]
    fn a_list_of_values_is_an_or() {
        check(
            json!({"detail": {"state": ["running", "stopped"]}}),
            &[
                json!({"detail": {"state": "running"}}),
                json!({"detail": {"state": "stopped"}}),
            ],
            &[
                json!({"detail": {"state": "pending"}}),
                json!({"detail": {}}),
                json!({"state": "running"}),
            ],
        );
    }

    #[test]
    fn empty_string_matches_only_empty_string() {
        check(
            json!({"detail": {"LastName": [""]}}),
            &[json!({"detail": {"LastName": ""}})],
            &[
                json!({"detail": {"LastName": " "}}),
                json!({"detail": {"LastName": null}}),
                json!({"detail": {}}),
            ],
        );
    }

    /// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
    /// says "300, 300.0, and 3.0e2 are not considered equal"; observed in AWS, they are: an
    /// event's number matches a pattern's number of equal value whatever its written form (crate
    /// README, parity table). Changed back: this crate compared as written after the docs.
    #[test]
    fn numbers_match_by_value_never_as_strings() {
        check_texts(
            json!({"n": [300]}),
            &[
                r#"{"n": 300}"#,
                r#"{"n": 300.0}"#,
                r#"{"n": 3e2}"#,
                r#"{"n": 300.00}"#,
                r#"{"n": 3.0E+2}"#,
            ],
            &[r#"{"n": "300"}"#, r#"{"n": 300.5}"#, r#"{"n": 301}"#, r#"{"n": "3e2"}"#],
        );
        check_texts(
            json!({"n": [300.0]}),
            &[r#"{"n": 300}"#, r#"{"n": 300.0}"#, r#"{"n": [1, 3e2]}"#],
            &[r#"{"n": "300.0"}"#, r#"{"n": "300"}"#],
        );
        check(
            json!({"detail": {"x-limit": [301.8, 5]}}),
            &[
                json!({"detail": {"x-limit": 301.8}}),
                json!({"detail": {"x-limit": 3.018e2}}),
                json!({"detail": {"x-limit": 5}}),
                json!({"detail": {"x-limit": 5.0}}),
            ],
            &[
                json!({"detail": {"x-limit": "5"}}),
                json!({"detail": {"x-limit": 5.000_001}}),
            ],
        );
        // Strings are strings: "300" is not 300, nor 300 "300".
        check(
            json!({"n": ["300"]}),
            &[json!({"n": "300"})],
            &[json!({"n": 300}), json!({"n": 300.0})],
        );
        // Through the index too, among rules on other numbers.
        let mut matcher = Matcher::new();
        for n in [299, 300, 301] {
            matcher.add(n, Pattern::from_value(&json!({"n": [n]})).unwrap());
        }
        matcher.add(3000, Pattern::from_value(&json!({"n": [300.0]})).unwrap());
        assert_eq!(matcher.matches_json(br#"{"n": 3e2}"#).unwrap(), vec![300, 3000]);
        assert_eq!(matcher.matches(&json!({"n": 300.0})), vec![300, 3000]);
    }

    #[test]
    fn whole_numbers_beyond_float_precision_match_exactly() {
        check(
            json!({"account": [123_456_789_012_345_678_u64]}),
            &[json!({"account": 123_456_789_012_345_678_u64})],
            &[json!({"account": 123_456_789_012_345_679_u64})],
        );
    }

    #[test]
    fn null_and_booleans_match_only_themselves() {
        check(
            json!({"UserID": [null]}),
            &[json!({"UserID": null})],
            &[json!({}), json!({"UserID": "null"}), json!({"UserID": false})],
        );
        check(
            json!({"enabled": [true]}),
            &[json!({"enabled": true})],
            &[
                json!({"enabled": "true"}),
                json!({"enabled": false}),
                json!({"enabled": 1}),
            ],
        );
    }

    #[test]
    fn a_leaf_does_not_match_an_object() {
        check(
            json!({"detail": ["x"]}),
            &[],
            &[json!({"detail": {"x": "x"}}), json!({"detail": [{"a": "x"}]})],
        );
    }
}

mod prefix_and_suffix {
    use super::*;

    #[test]
    fn prefix_matches_strings_that_start_with_it() {
        check(
            json!({"time": [{"prefix": "2017-10-02"}]}),
            &[json!({"time": "2017-10-02T18:43:48Z"}), json!({"time": "2017-10-02"})],
            &[
                json!({"time": "2017-10-03T18:43:48Z"}),
                json!({"time": "2017-10-0"}),
                json!({}),
            ],
        );
    }

    #[test]
    fn prefix_never_matches_numbers() {
        check(
            json!({"n": [{"prefix": "12"}]}),
            &[json!({"n": "123"})],
            &[json!({"n": 123})],
        );
        check(
            json!({"s": [{"prefix": ""}]}),
            &[json!({"s": ""}), json!({"s": "x"})],
            &[json!({"s": 1}), json!({})],
        );
    }

    #[test]
    fn prefix_ignoring_case() {
        check(
            json!({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}),
            &[
                json!({"detail": {"service": "EventBridge"}}),
                json!({"detail": {"service": "eventbridge"}}),
                json!({"detail": {"service": "EVENTB"}}),
            ],
            &[
                json!({"detail": {"service": "Event"}}),
                json!({"detail": {"service": "xEventB"}}),
            ],
        );
        check(
            json!({"s": [{"prefix": {"equals-ignore-case": "ab"}}]}),
            &[json!({"s": "aBc"})],
            &[json!({"s": "ac"})],
        );
    }

    #[test]
    fn suffix_matches_strings_that_end_with_it() {
        check(
            json!({"FileName": [{"suffix": ".png"}]}),
            &[json!({"FileName": "image.png"}), json!({"FileName": ".png"})],
            &[
                json!({"FileName": "image.PNG"}),
                json!({"FileName": "image.png.gz"}),
                json!({"FileName": 5}),
            ],
        );
    }

    #[test]
    fn suffix_ignoring_case() {
        check(
            json!({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}),
            &[
                json!({"detail": {"FileName": "a.PNG"}}),
                json!({"detail": {"FileName": "a.pNg"}}),
            ],
            &[
                json!({"detail": {"FileName": "a.jpg"}}),
                json!({"detail": {"FileName": "png"}}),
            ],
        );
    }

    #[test]
    fn malformed_prefix_and_suffix_are_refused() {
        refused(json!({"a": [{"prefix": 5}]}), "a", "`prefix` takes");
        refused(json!({"a": [{"prefix": ["x"]}]}), "a", "`prefix` takes");
        refused(
            json!({"a": [{"suffix": {"equals-ignore-case": true}}]}),
            "a",
            "takes a string",
        );
        refused(json!({"a": [{"suffix": {"wildcard": "x"}}]}), "a", "`suffix` takes");
    }
}

mod equals_ignore_case {
    use super::*;

    #[test]
    fn matches_whatever_the_case() {
        check(
            json!({"Name": [{"equals-ignore-case": "alice"}]}),
            &[
                json!({"Name": "Alice"}),
                json!({"Name": "ALICE"}),
                json!({"Name": "alice"}),
            ],
            &[json!({"Name": "Alicia"}), json!({"Name": "alice "}), json!({})],
        );
    }

    #[test]
    fn folds_non_ascii_letters_and_never_matches_numbers() {
        check(
            json!({"city": [{"equals-ignore-case": "ÉVORA"}]}),
            &[json!({"city": "évora"}), json!({"city": "Évora"})],
            &[json!({"city": "evora"})],
        );
        check(
            json!({"n": [{"equals-ignore-case": "5"}]}),
            &[json!({"n": "5"})],
            &[json!({"n": 5})],
        );
    }

    #[test]
    fn only_a_string_is_accepted() {
        refused(json!({"a": [{"equals-ignore-case": 5}]}), "a", "takes a string");
        refused(json!({"a": [{"equals-ignore-case": ["x"]}]}), "a", "takes a string");
    }
}

mod wildcard {
    use super::*;

    #[test]
    fn stars_match_any_run_of_characters() {
        check(
            json!({"EventSource": [{"wildcard": "*.amazonaws.com"}]}),
            &[
                json!({"EventSource": "s3.amazonaws.com"}),
                json!({"EventSource": ".amazonaws.com"}),
            ],
            &[json!({"EventSource": "s3.amazonaws.org"}), json!({"EventSource": 5})],
        );
        check(
            json!({"FilePath": [{"wildcard": "dir/*/*.png"}]}),
            &[json!({"FilePath": "dir/a/b.png"}), json!({"FilePath": "dir/a/b/c.png"})],
            &[json!({"FilePath": "dir/b.png"}), json!({"FilePath": "dir/a/b.jpg"})],
        );
    }

    #[test]
    fn a_backslash_escapes_a_star_or_a_backslash() {
        check(
            json!({"s": [{"wildcard": "a\\*b"}]}),
            &[json!({"s": "a*b"})],
            &[json!({"s": "axb"}), json!({"s": "ab"})],
        );
        check(
            json!({"s": [{"wildcard": "a\\\\*"}]}),
            &[json!({"s": "a\\"}), json!({"s": "a\\b"})],
            &[json!({"s": "ab"})],
        );
    }

    #[test]
    fn consecutive_stars_and_bad_escapes_are_refused() {
        refused(json!({"s": [{"wildcard": "a**b"}]}), "s", "consecutive");
        refused(json!({"s": [{"wildcard": "a\\b"}]}), "s", "not an escape");
        refused(json!({"s": [{"wildcard": "ab\\"}]}), "s", "lone backslash");
        refused(json!({"s": [{"wildcard": 5}]}), "s", "takes a string");
    }
}

mod anything_but {
    use super::*;

    #[test]
    fn a_single_string_or_number() {
        check(
            json!({"detail": {"state": [{"anything-but": "initializing"}]}}),
            &[
                json!({"detail": {"state": "running"}}),
                json!({"detail": {"state": 5}}),
                json!({"detail": {"state": null}}),
            ],
            &[json!({"detail": {"state": "initializing"}}), json!({"detail": {}})],
        );
        check(
            json!({"detail": {"x-limit": [{"anything-but": 123}]}}),
            &[
                json!({"detail": {"x-limit": 124}}),
                json!({"detail": {"x-limit": "123"}}),
            ],
            // By value, as exact numbers (see numbers_match_by_value_never_as_strings).
            &[
                json!({"detail": {"x-limit": 123}}),
                json!({"detail": {"x-limit": 123.0}}),
            ],
        );
    }

    #[test]
    fn a_list_of_strings_or_numbers() {
        check(
            json!({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}),
            &[json!({"detail": {"state": "running"}})],
            &[
                json!({"detail": {"state": "stopped"}}),
                json!({"detail": {"state": "overloaded"}}),
            ],
        );
        check(
            json!({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}),
            &[
                json!({"detail": {"x-limit": 150}}),
                json!({"detail": {"x-limit": 300.5}}),
            ],
            // Numbers by value, as event-ruler compares anything-but numbers: 3e2 is 300.
            &[
                json!({"detail": {"x-limit": 200}}),
                json!({"detail": {"x-limit": 300}}),
                json!({"detail": {"x-limit": 3e2}}),
            ],
        );
    }

    #[test]
    fn never_matches_a_missing_field_or_an_object() {
        check(
            json!({"state": [{"anything-but": "x"}]}),
            &[],
            &[
                json!({}),
                json!({"state": {"a": "y"}}),
                json!({"state": []}),
                json!({"other": "y"}),
            ],
        );
    }

    #[test]
    fn an_array_matches_when_any_element_is_not_excluded() {
        check(
            json!({"tags": [{"anything-but": "x"}]}),
            &[json!({"tags": ["x", "y"]})],
            &[json!({"tags": ["x"]}), json!({"tags": ["x", "x"]})],
        );
    }

    #[test]
    fn prefix_and_suffix() {
        check(
            json!({"Region": [{"anything-but": {"prefix": "us-"}}]}),
            &[json!({"Region": "eu-west-1"}), json!({"Region": 5})],
            &[json!({"Region": "us-east-1"}), json!({})],
        );
        check(
            json!({"FileName": [{"anything-but": {"suffix": [".png", ".jpg"]}}]}),
            &[json!({"FileName": "a.gif"})],
            &[json!({"FileName": "a.png"}), json!({"FileName": "a.jpg"})],
        );
    }

    #[test]
    fn wildcard_as_a_string_or_a_list() {
        check(
            json!({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}),
            &[json!({"FilePath": "/usr/bin/x"})],
            &[json!({"FilePath": "/usr/lib/x"})],
        );
        check(
            json!({"FilePath": [{"anything-but": {"wildcard": ["*/lib/*", "*.tmp"]}}]}),
            &[json!({"FilePath": "/usr/bin/x"})],
            &[json!({"FilePath": "/usr/lib/x"}), json!({"FilePath": "a.tmp"})],
        );
    }

    #[test]
    fn equals_ignore_case_as_a_string_or_a_list() {
        check(
            json!({"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}),
            &[json!({"state": "running"})],
            &[json!({"state": "INITIALIZING"}), json!({"state": "Initializing"})],
        );
        check(
            json!({"state": [{"anything-but": {"equals-ignore-case": ["A", "b"]}}]}),
            &[json!({"state": "c"})],
            &[json!({"state": "a"}), json!({"state": "B"})],
        );
    }

    #[test]
    fn malformed_operands_are_refused() {
        refused(
            json!({"s": [{"anything-but": ["x", 1]}]}),
            "s",
            "only strings or only numbers",
        );
        refused(json!({"s": [{"anything-but": []}]}), "s", "non-empty list");
        refused(
            json!({"s": [{"anything-but": [null]}]}),
            "s",
            "only strings or only numbers",
        );
        refused(json!({"s": [{"anything-but": true}]}), "s", "found a boolean");
        refused(json!({"s": [{"anything-but": {"prefix": ""}}]}), "s", "empty `prefix`");
        refused(
            json!({"s": [{"anything-but": {"numeric": [">", 1]}}]}),
            "s",
            "cannot hold `numeric`",
        );
        refused(json!({"s": [{"anything-but": {"wildcard": "**"}}]}), "s", "consecutive");
        refused(
            json!({"s": [{"anything-but": {"equals-ignore-case": 5}}]}),
            "s",
            "takes a string",
        );
    }
}

mod numeric {
    use super::*;

    #[test]
    fn ranges_with_open_and_closed_ends() {
        check(
            json!({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}),
            &[
                json!({"detail": {"c-count": 5}}),
                json!({"detail": {"c-count": 0.000_001}}),
                json!({"detail": {"c-count": 3}}),
            ],
            &[
                json!({"detail": {"c-count": 0}}),
                json!({"detail": {"c-count": 5.000_001}}),
                json!({"detail": {"c-count": -1}}),
            ],
        );
        check(
            json!({"d": [{"numeric": ["<", 10]}]}),
            &[json!({"d": 9.99}), json!({"d": -1e9})],
            &[json!({"d": 10}), json!({"d": 11})],
        );
        check(
            json!({"d": [{"numeric": [">=", -5]}]}),
            &[json!({"d": -5}), json!({"d": 0})],
            &[json!({"d": -5.1})],
        );
    }

    #[test]
    fn equals_compares_values() {
        check(
            json!({"x-limit": [{"numeric": ["=", 3.018e2]}]}),
            &[json!({"x-limit": 301.8})],
            &[json!({"x-limit": 301.9}), json!({"x-limit": "301.8"})],
        );
    }

    #[test]
    fn only_numbers_are_compared() {
        check(
            json!({"n": [{"numeric": [">", 0]}]}),
            &[json!({"n": [0, 1]})],
            &[
                json!({"n": "5"}),
                json!({"n": true}),
                json!({"n": null}),
                json!({}),
                json!({"n": [0, -1]}),
            ],
        );
    }

    #[test]
    fn malformed_ranges_are_refused() {
        let at = "detail.amount";
        let numeric = |operand: Value| json!({"detail": {"amount": [{"numeric": operand}]}});
        refused(numeric(json!([">", 0, "<="])), at, "found 3 items");
        refused(numeric(json!([])), at, "found 0 items");
        refused(numeric(json!(">")), at, "found a string");
        refused(numeric(json!(["~", 0])), at, "unknown operator");
        refused(numeric(json!([">", "0"])), at, "must be followed by a number");
        refused(numeric(json!([">", 0, ">=", 5])), at, "two lower bounds");
        refused(numeric(json!(["<", 0, "<", 5])), at, "two upper bounds");
        refused(numeric(json!(["=", 1, "<", 5])), at, "cannot be combined");
        refused(numeric(json!([">", 5, "<", 5])), at, "range is empty");
    }
}

mod cidr {
    use super::*;

    #[test]
    fn ipv4_blocks() {
        check(
            json!({"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}),
            &[
                json!({"detail": {"sourceIPAddress": "10.0.0.0"}}),
                json!({"detail": {"sourceIPAddress": "10.0.0.255"}}),
            ],
            &[
                json!({"detail": {"sourceIPAddress": "10.0.1.0"}}),
                json!({"detail": {"sourceIPAddress": "2001:db8::1"}}),
                json!({"detail": {"sourceIPAddress": "not an ip"}}),
                json!({"detail": {"sourceIPAddress": 167_772_160}}),
            ],
        );
    }

    #[test]
    fn ipv6_blocks() {
        check(
            json!({"ip": [{"cidr": "2001:db8::/32"}]}),
            &[json!({"ip": "2001:db8::1"}), json!({"ip": "2001:DB8:0:0:0:0:0:ffff"})],
            &[
                json!({"ip": "2001:db9::1"}),
                json!({"ip": "10.0.0.1"}),
                json!({"ip": "2001:db8::g"}),
            ],
        );
    }

    #[test]
    fn malformed_blocks_are_refused() {
        refused(json!({"ip": [{"cidr": "10.0.0.0/33"}]}), "ip", "0 to 32");
        refused(json!({"ip": [{"cidr": "2001:db8::/129"}]}), "ip", "0 to 128");
        refused(json!({"ip": [{"cidr": "10.0.0.256/8"}]}), "ip", "not an IPv4 or IPv6");
        refused(json!({"ip": [{"cidr": "10.0.0.1"}]}), "ip", "no prefix length");
        refused(json!({"ip": [{"cidr": 10}]}), "ip", "takes a string");
    }
}

mod exists {
    use super::*;

    #[test]
    fn exists_true_needs_a_leaf_value() {
        check(
            json!({"detail": {"c-count": [{"exists": true}]}}),
            &[
                json!({"detail": {"c-count": 5}}),
                json!({"detail": {"c-count": null}}),
                json!({"detail": {"c-count": ""}}),
                json!({"detail": {"c-count": [1]}}),
            ],
            &[
                json!({"detail": {}}),
                json!({"detail": {"c-count": {"c1": 100}}}),
                json!({"detail": {"c-count": []}}),
            ],
        );
    }

    #[test]
    fn exists_false_matches_an_absent_field_or_an_intermediate_node() {
        // AWS: it also matches when c-count is an object, because c-count is then not a leaf.
        check(
            json!({"detail": {"c-count": [{"exists": false}]}}),
            &[
                json!({"detail": {"state": "running"}}),
                json!({"detail": {"c-count": {"c1": 100}}}),
                json!({"detail": {"c-count": []}}),
                json!({"detail": "flat"}),
                json!({}),
            ],
            &[json!({"detail": {"c-count": 5}}), json!({"detail": {"c-count": null}})],
        );
    }

    #[test]
    fn exists_false_in_a_list_is_one_more_alternative() {
        check(
            json!({"a": ["x", {"exists": false}]}),
            &[json!({"a": "x"}), json!({})],
            &[json!({"a": "y"})],
        );
    }

    #[test]
    fn exists_false_inside_an_array_of_objects_means_no_element_has_the_field() {
        check(
            json!({"items": {"gift": [{"exists": false}]}}),
            &[json!({"items": [{"sku": "A"}, {"sku": "B"}]}), json!({"items": []})],
            &[json!({"items": [{"sku": "A"}, {"sku": "B", "gift": true}]})],
        );
    }

    #[test]
    fn only_booleans_are_accepted() {
        refused(json!({"a": [{"exists": "true"}]}), "a", "true or false");
        refused(json!({"a": [{"exists": 1}]}), "a", "true or false");
    }
}

mod or {
    use super::*;

    #[test]
    fn top_level_alternatives() {
        check(
            json!({"source": ["aws.cloudwatch"], "$or": [
                {"metricName": ["CPUUtilization", "ReadLatency"]},
                {"namespace": ["AWS/EC2", "AWS/ES"]}
            ]}),
            &[
                json!({"source": "aws.cloudwatch", "metricName": "ReadLatency"}),
                json!({"source": "aws.cloudwatch", "namespace": "AWS/ES"}),
            ],
            &[
                json!({"source": "aws.cloudwatch", "metricName": "Other"}),
                json!({"source": "aws.ec2", "namespace": "AWS/ES"}),
            ],
        );
    }

    #[test]
    fn alternatives_at_a_nested_level_and_inside_alternatives() {
        check(
            json!({"detail": {"$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}], "$or": [{"x": ["a"]}, {"y": ["b"]}]}
            ]}}),
            &[
                json!({"detail": {"c-count": 3}}),
                json!({"detail": {"d-count": 1, "y": "b"}}),
                json!({"detail": {"c-count": 9, "d-count": 1, "x": "a"}}),
            ],
            &[
                json!({"detail": {"d-count": 1}}),
                json!({"detail": {"c-count": 9}}),
                json!({"c-count": 3}),
            ],
        );
    }

    #[test]
    fn two_ors_at_different_levels_must_both_hold() {
        check(
            json!({
                "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}],
                "detail": {"$or": [{"source": ["aws.cloudwatch"]}, {"detail-type": ["Alarm"]}]}
            }),
            &[json!({"metricName": "CPU", "detail": {"detail-type": "Alarm"}})],
            &[
                json!({"metricName": "CPU"}),
                json!({"detail": {"source": "aws.cloudwatch"}}),
            ],
        );
    }

    #[test]
    fn misuse_is_refused() {
        refused(json!({"$or": [{"a": ["x"]}]}), "$or", "at least two");
        refused(
            json!({"detail": {"$or": {"a": ["x"]}}}),
            "detail.$or",
            "found an object",
        );
        refused(json!({"$or": ["a", "b"]}), "$or[0]", "found a string");
        refused(json!({"$or": [{"a": ["x"]}, {"b": "y"}]}), "$or[1].b", "match list");
        refused(
            json!({"$or": [{"a": ["x"]}, {"numeric": [">", 1]}]}),
            "$or[1].numeric",
            "operator name",
        );
    }
}

mod arrays {
    use super::*;

    #[test]
    fn an_event_array_matches_when_any_element_matches() {
        check(
            json!({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:other"]}),
            &[
                json!({"resources": ["arn:aws:autoscaling:x", "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}),
            ],
            &[
                json!({"resources": ["arn:aws:autoscaling:x"]}),
                json!({"resources": []}),
            ],
        );
        check(
            json!({"a": ["x"]}),
            &[json!({"a": [["y"], ["x"]]})],
            &[json!({"a": [["y"]]})],
        );
    }

    #[test]
    fn fields_of_one_pattern_object_must_match_in_the_same_element() {
        check(
            json!({"items": {"sku": ["A"], "qty": [5]}}),
            &[
                json!({"items": [{"sku": "A", "qty": 5}]}),
                json!({"items": [{"sku": "B", "qty": 1}, {"sku": "A", "qty": 5}]}),
            ],
            &[json!({"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]})],
        );
    }

    #[test]
    fn nested_arrays_of_objects_keep_elements_apart_at_every_level() {
        let pattern =
            json!({"detail": {"orders": {"id": ["o-1"], "lines": {"sku": ["A"], "qty": [{"numeric": [">", 1]}]}}}});
        check(
            pattern,
            &[json!({"detail": {"orders": [
                {"id": "o-0", "lines": [{"sku": "A", "qty": 9}]},
                {"id": "o-1", "lines": [{"sku": "B", "qty": 9}, {"sku": "A", "qty": 2}]}
            ]}})],
            &[
                // o-1 has A and a qty > 1, but not on the same line.
                json!({"detail": {"orders": [{"id": "o-1", "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 9}]}]}}),
                // the matching line belongs to another order.
                json!({"detail": {"orders": [
                    {"id": "o-1", "lines": [{"sku": "B", "qty": 1}]},
                    {"id": "o-2", "lines": [{"sku": "A", "qty": 2}]}
                ]}}),
            ],
        );
    }

    #[test]
    fn sibling_objects_under_one_array_element_stay_together() {
        check(
            json!({"a": {"b": {"c": ["1"]}, "d": ["2"]}}),
            &[
                json!({"a": [{"b": {"c": "1"}, "d": "2"}]}),
                json!({"a": [{"b": [{"c": "1"}], "d": "2"}]}),
            ],
            &[json!({"a": [{"b": {"c": "1"}}, {"d": "2"}]})],
        );
    }

    #[test]
    fn arrays_of_arrays_of_objects_are_spread() {
        check(
            json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}),
            &[
                json!({"employees": [[{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]]}),
            ],
            &[
                json!({"employees": [[{"firstName": "Anna", "lastName": "Doe"}], [{"firstName": "Peter", "lastName": "Smith"}]]}),
            ],
        );
    }
}

/// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html
/// ("when EventBridge compiles event patterns for use, it uses dot (.) as the joining
/// character", so a dotted key and the same keys nested are one pattern). Changed: this crate
/// used to read `a.b` as one key.
mod dotted_keys {
    use super::*;

    #[test]
    fn a_dotted_key_is_the_same_pattern_as_nested_keys() {
        for pattern in [json!({"detail.state": ["x"]}), json!({"detail": {"state": ["x"]}})] {
            check(
                pattern,
                &[json!({"detail": {"state": "x"}}), json!({"detail": [{"state": "x"}]})],
                &[json!({"detail": {"state": "y"}}), json!({"detail": {}})],
            );
        }
    }

    #[test]
    fn dotted_and_nested_keys_merge_into_one_object() {
        check(
            json!({"detail.a": ["1"], "detail": {"b": ["2"]}}),
            &[json!({"detail": {"a": "1", "b": "2"}})],
            // Merged into one object: both must hold in the same array element.
            &[
                json!({"detail": [{"a": "1"}, {"b": "2"}]}),
                json!({"detail": {"a": "1"}}),
            ],
        );
        let mut matcher = Matcher::new();
        matcher.add("dotted", Pattern::from_value(&json!({"a.b": ["x"]})).unwrap());
        matcher.add("nested", Pattern::from_value(&json!({"a": {"b": ["x"]}})).unwrap());
        assert_eq!(matcher.matches(&json!({"a": {"b": "x"}})), vec!["dotted", "nested"]);
    }

    /// Observed in AWS (crate README, parity table): an event key that contains a dot matches a
    /// pattern's nested path as if the event were nested, as EventBridge flattens events with
    /// dots too. AWS documents only the pattern side. Changed: this crate read it as one key.
    #[test]
    fn a_dotted_key_in_an_event_is_the_nested_path() {
        for pattern in [json!({"detail": {"a": {"b": [1]}}}), json!({"detail": {"a.b": [1]}})] {
            check(
                pattern,
                &[
                    json!({"detail": {"a.b": 1}}),
                    json!({"detail": {"a": {"b": 1}}}),
                    json!({"detail.a.b": 1}),
                    json!({"detail.a": {"b": 1}}),
                    json!({"detail": [{"a.b": 1}]}),
                ],
                &[
                    json!({"detail": {"a.b": 2}}),
                    json!({"detail": {"a.c": 1}}),
                    json!({"detail": {"ab": 1}}),
                    json!({"detailx": {"a.b": 1}}),
                ],
            );
        }
    }

    /// Decided (and as event-ruler, AWS's matcher, does): when a dotted key and nested keys
    /// reach one path, both values are there, as the values of an array are, and the field
    /// matches if either does; a value outside an array goes with every element of it.
    #[test]
    fn a_dotted_key_and_nested_keys_at_one_path_are_both_candidates() {
        check(
            json!({"detail": {"a": {"b": [1]}}}),
            &[
                json!({"detail": {"a.b": 2, "a": {"b": 1}}}),
                json!({"detail": {"a.b": 1, "a": {"b": 2}}}),
                json!({"detail": {"a.b": [3, 1], "a": {"b": 2}}}),
            ],
            &[json!({"detail": {"a.b": 2, "a": {"b": 3}}})],
        );
        // Fields of one pattern object: a value outside the array agrees with every element.
        check(
            json!({"a": {"b": ["x"], "c": ["y"]}}),
            &[
                json!({"a": [{"b": "z", "c": "y"}], "a.b": "x"}),
                json!({"a.b": "x", "a": {"c": "y"}}),
            ],
            &[json!({"a": [{"b": "x"}, {"c": "y"}]})],
        );
        check(
            json!({"a": {"b": {"c": [1], "d": [2]}}}),
            &[json!({"a.b": {"c": 1}, "a": {"b": {"d": 2}}})],
            &[json!({"a.b": {"c": 1}, "a": {"b": {"d": 3}}})],
        );
        // exists: an object is not a leaf, however it is spelled.
        check(
            json!({"a": [{"exists": false}]}),
            &[json!({"a.b": 1})],
            &[json!({"a": 1})],
        );
        check(
            json!({"a": {"b": [{"exists": true}]}}),
            &[json!({"a.b": 1})],
            &[json!({"a.c": 1})],
        );
        check(
            json!({"a": {"b": [{"exists": false}]}}),
            &[json!({"a.c": 1})],
            &[json!({"a.b": 1})],
        );
    }

    #[test]
    fn explanations_read_the_nested_path() {
        let pattern = Pattern::from_value(&json!({"detail": {"a": {"b": [1]}}})).unwrap();
        let why = pattern.explain(&json!({"detail": {"a.b": 2}})).expect("no match");
        assert_eq!(why.to_string(), "detail.a.b: 2 is not 1");
        assert!(pattern.explain(&json!({"detail": {"a.b": 1}})).is_none());
    }

    #[test]
    fn errors_name_the_dotted_path() {
        refused(json!({"detail": {"a.b": "x"}}), "detail.a.b", "match list");
        refused(json!({"detail": {"a b": "x"}}), r#"detail["a b"]"#, "match list");
    }
}

mod invalid_patterns {
    use super::*;

    #[test]
    fn not_an_object_or_not_json() {
        refused(json!(["source"]), "", "must be a JSON object");
        let error = Pattern::parse("{\"source\": [").unwrap_err();
        assert!(error.reason().starts_with("not valid JSON"), "{error}");
        assert!("{".parse::<Pattern>().is_err());
    }

    #[test]
    fn a_leaf_that_is_not_a_list() {
        refused(json!({"source": "aws.ec2"}), "source", "match list");
        refused(json!({"detail": {"amount": 5}}), "detail.amount", "match list");
        refused(json!({"detail": {"ok": true}}), "detail.ok", "match list");
    }

    #[test]
    fn empty_lists_and_objects() {
        refused(json!({"source": []}), "source", "empty match list");
        refused(json!({}), "", "empty object");
        refused(json!({"detail": {}}), "detail", "empty object");
    }

    #[test]
    fn unknown_operators_and_wrong_operand_types() {
        refused(json!({"a": [{"contains": "x"}]}), "a", "unknown operator `contains`");
        refused(json!({"a": [{"prefix": "x", "suffix": "y"}]}), "a", "exactly one key");
        refused(json!({"a": [{}]}), "a", "exactly one key");
        refused(json!({"a": [["x"]]}), "a", "cannot hold an array");
        refused(json!({"a": ["x", {"exists": null}]}), "a", "match list item 1");
    }

    #[test]
    fn display_reads_well() {
        let error = refused(
            json!({"detail": {"amount": [{"numeric": [">", "5"]}]}}),
            "detail.amount",
            "number",
        );
        assert_eq!(
            error.to_string(),
            "invalid event pattern at `detail.amount`: match list item 0: `numeric`: `>` must be followed by a number, found \"5\""
        );
    }
}

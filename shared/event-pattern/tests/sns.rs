//! SNS subscription filter policies: each documented rule, on typed message attributes and on
//! JSON message bodies, with the page it comes from; and the policies SNS refuses, with its
//! messages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::collections::BTreeMap;

use event_pattern::MismatchKind;
use event_pattern::sns::{FilterPolicy, FilterPolicyScope, MessageAttribute};
use serde_json::{Value, json};

type Attributes = BTreeMap<String, MessageAttribute>;

fn attributes(list: &[(&str, MessageAttribute)]) -> Attributes {
    list.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn on_attributes(policy: Value) -> FilterPolicy {
    FilterPolicy::from_value(&policy, FilterPolicyScope::MessageAttributes).unwrap_or_else(|e| panic!("{policy}: {e}"))
}

fn on_body(policy: Value) -> FilterPolicy {
    FilterPolicy::from_value(&policy, FilterPolicyScope::MessageBody).unwrap_or_else(|e| panic!("{policy}: {e}"))
}

/// GIVEN a policy on attributes, THEN each attribute set in `yes` passes and each in `no` does
/// not, and an explanation is given exactly for those that do not.
fn check_attributes(policy: Value, yes: &[Attributes], no: &[Attributes]) {
    let compiled = on_attributes(policy.clone());
    for a in yes {
        assert!(compiled.matches_attributes(a), "{policy} should pass {a:?}");
        assert!(compiled.explain_attributes(a).is_none(), "{policy}: {a:?}");
        assert!(compiled.matches_message("not json", a));
    }
    for a in no {
        assert!(!compiled.matches_attributes(a), "{policy} should not pass {a:?}");
        assert!(compiled.explain_attributes(a).is_some(), "{policy}: {a:?}");
    }
}

fn check_body(policy: Value, yes: &[Value], no: &[Value]) {
    let compiled = on_body(policy.clone());
    for body in yes {
        assert!(compiled.matches_body(&body.to_string()), "{policy} should pass {body}");
        assert!(compiled.explain_body_value(body).is_none(), "{policy}: {body}");
        assert!(compiled.matches_message(&body.to_string(), &Attributes::new()));
    }
    for body in no {
        assert!(
            !compiled.matches_body(&body.to_string()),
            "{policy} should not pass {body}"
        );
        assert!(compiled.explain_body_value(body).is_some(), "{policy}: {body}");
    }
}

fn s(v: &str) -> MessageAttribute {
    MessageAttribute::string(v)
}

fn n(v: &str) -> MessageAttribute {
    MessageAttribute::number(v)
}

fn array(v: &str) -> MessageAttribute {
    MessageAttribute::string_array(v)
}

/// GIVEN an invalid policy, THEN SNS's message is the error.
fn refused(policy: &str, scope: FilterPolicyScope, message: &str) {
    let error = FilterPolicy::parse(policy, scope).expect_err(policy);
    assert_eq!(error.to_string(), message, "{policy}");
}

mod matching {
    use super::*;

    /// source: https://docs.aws.amazon.com/sns/latest/dg/example-filter-policies.html
    #[test]
    fn example_policies_accept_and_reject_the_example_message() {
        let message = attributes(&[
            ("customer_interests", array(r#"["soccer", "rugby", "hockey"]"#)),
            ("store", s("example_corp")),
            ("event", s("order_placed")),
            ("price_usd", n("210.75")),
        ]);
        check_attributes(
            json!({
                "store": ["example_corp"],
                "event": [{"anything-but": "order_cancelled"}],
                "customer_interests": ["rugby", "football", "baseball"],
                "price_usd": [{"numeric": [">=", 100]}]
            }),
            std::slice::from_ref(&message),
            &[],
        );
        check_attributes(
            json!({
                "store": ["example_corp"],
                "event": ["order_cancelled"],
                "encrypted": [false],
                "customer_interests": ["basketball", "baseball"]
            }),
            &[],
            &[message],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/example-filter-policies.html (the same
    /// policy on the message body).
    #[test]
    fn example_policy_on_the_message_body() {
        check_body(
            json!({
                "store": ["example_corp"],
                "event": [{"anything-but": "order_cancelled"}],
                "customer_interests": ["rugby", "football", "baseball"],
                "price_usd": [{"numeric": [">=", 100]}]
            }),
            &[json!({
                "customer_interests": ["soccer", "rugby", "hockey"],
                "store": "example_corp",
                "event": "order_placed",
                "price_usd": 210.75
            })],
            &[
                json!({"customer_interests": ["soccer"], "store": "example_corp", "event": "order_placed", "price_usd": 210.75}),
            ],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-exact-matching
    /// ("For String.Array type attributes, each element in the array is treated as a separate
    /// string").
    #[test]
    fn exact_string_matching_and_string_arrays() {
        check_attributes(
            json!({"customer_interests": ["rugby", "tennis"]}),
            &[
                attributes(&[("customer_interests", s("rugby"))]),
                attributes(&[("customer_interests", array(r#"["rugby", "tennis"]"#))]),
                attributes(&[("customer_interests", array(r#"["baseball", "tennis"]"#))]),
            ],
            &[
                attributes(&[("customer_interests", s("baseball"))]),
                attributes(&[("customer_interests", array(r#"["baseball"]"#))]),
                attributes(&[("customer_interests", s("Rugby"))]),
                attributes(&[]),
            ],
        );
        check_body(
            json!({"customer_interests": ["rugby", "tennis"]}),
            &[json!({"customer_interests": "rugby"})],
            &[json!({"customer_interests": "baseball"}), json!({})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching
    /// (for a String.Array, anything-but "matches if none of the array elements are listed";
    /// on a body array, as in EventBridge, one element outside the list is enough).
    #[test]
    fn anything_but_on_strings_string_arrays_and_bodies() {
        let policy = json!({"customer_interests": [{"anything-but": ["rugby", "tennis"]}]});
        check_attributes(
            policy.clone(),
            &[
                attributes(&[("customer_interests", s("baseball"))]),
                attributes(&[("customer_interests", array(r#"["baseball", "football"]"#))]),
            ],
            &[
                attributes(&[("customer_interests", s("rugby"))]),
                attributes(&[("customer_interests", array(r#"["rugby", "baseball"]"#))]),
                attributes(&[]),
            ],
        );
        check_body(
            policy,
            &[
                json!({"customer_interests": "baseball"}),
                json!({"customer_interests": ["rugby", "baseball"]}),
            ],
            &[json!({"customer_interests": ["rugby"]}), json!({})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching
    /// ("anything-but can be combined with \"exists\": false").
    #[test]
    fn anything_but_combined_with_exists_false() {
        check_attributes(
            json!({"event": [{"anything-but": "order_cancelled"}, {"exists": false}]}),
            &[attributes(&[("event", s("order_placed"))]), attributes(&[])],
            &[attributes(&[("event", s("order_cancelled"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-anything-but-matching-prefix
    /// `anything-but` takes `prefix` only: `suffix` is refused, observed in AWS (crate README,
    /// parity table; see `refused::anything_but_takes_prefix_only`).
    #[test]
    fn anything_but_prefix() {
        check_attributes(
            json!({"event": [{"anything-but": {"prefix": "order-"}}]}),
            &[
                attributes(&[("event", s("data-entry"))]),
                attributes(&[("event", s("order_number"))]),
            ],
            &[attributes(&[("event", s("order-cancelled"))])],
        );
        check_body(
            json!({"event": [{"anything-but": {"prefix": "order-"}}]}),
            &[json!({"event": "data-entry"})],
            &[json!({"event": "order-cancelled"})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-prefix-matching
    #[test]
    fn prefix_matching() {
        check_attributes(
            json!({"customer_interests": [{"prefix": "bas"}]}),
            &[
                attributes(&[("customer_interests", s("baseball"))]),
                attributes(&[("customer_interests", array(r#"["rugby", "basketball"]"#))]),
            ],
            &[attributes(&[("customer_interests", s("rugby"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-suffix-matching
    #[test]
    fn suffix_matching() {
        check_body(
            json!({"customer_interests": [{"suffix": "ball"}]}),
            &[json!({"customer_interests": "baseball"})],
            &[json!({"customer_interests": "rugby"}), json!({"customer_interests": 5})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#string-equals-ignore-case
    #[test]
    fn equals_ignore_case_matching() {
        check_attributes(
            json!({"customer_interests": [{"equals-ignore-case": "tennis"}]}),
            &[
                attributes(&[("customer_interests", s("TENNIS"))]),
                attributes(&[("customer_interests", s("Tennis"))]),
            ],
            &[attributes(&[("customer_interests", s("tenni"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html#ip-address-matching
    #[test]
    fn ip_address_matching_with_cidr() {
        check_attributes(
            json!({"source_ip": [{"cidr": "10.0.0.0/24"}]}),
            &[
                attributes(&[("source_ip", s("10.0.0.0"))]),
                attributes(&[("source_ip", s("10.0.0.255"))]),
            ],
            &[attributes(&[("source_ip", s("10.1.1.0"))])],
        );
        check_body(
            json!({"source_ip": [{"cidr": "10.0.0.0/24"}]}),
            &[json!({"source_ip": "10.0.0.255"})],
            &[json!({"source_ip": "10.1.1.0"})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html#numeric-exact-matching
    #[test]
    fn numeric_exact_matching_compares_values() {
        let policy = json!({"price_usd": [{"numeric": ["=", 301.5]}]});
        check_attributes(
            policy.clone(),
            &[
                attributes(&[("price_usd", n("301.5"))]),
                attributes(&[("price_usd", n("3.015e2"))]),
            ],
            &[attributes(&[("price_usd", n("301.6"))])],
        );
        check_body(
            policy,
            &[json!({"price_usd": 301.5}), json!({"price_usd": 3.015e2})],
            &[json!({"price_usd": 300})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html#numeric-anything-but-matching
    #[test]
    fn numeric_anything_but_compares_values() {
        check_attributes(
            json!({"price": [{"anything-but": [100, 500]}]}),
            &[attributes(&[("price", n("101"))]), attributes(&[("price", n("100.1"))])],
            &[attributes(&[("price", n("100"))]), attributes(&[("price", n("100.0"))])],
        );
        check_body(
            json!({"price": [{"anything-but": [100, 500]}]}),
            &[json!({"price": 101}), json!({"price": [100, 50]})],
            &[json!({"price": 100}), json!({"price": 100.0})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/numeric-value-matching.html#numeric-value-range-matching
    #[test]
    fn numeric_range_matching() {
        check_attributes(
            json!({"price_usd": [{"numeric": [">", 0, "<=", 150]}]}),
            &[
                attributes(&[("price_usd", n("150"))]),
                attributes(&[("price_usd", n("0.1"))]),
            ],
            &[
                attributes(&[("price_usd", n("0"))]),
                attributes(&[("price_usd", n("150.1"))]),
            ],
        );
        check_attributes(
            json!({"price_usd": [{"numeric": ["<", 0]}]}),
            &[attributes(&[("price_usd", n("-1"))])],
            &[attributes(&[("price_usd", n("0"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// (String and Number attributes are compared as their types: numeric conditions need a
    /// Number, exact strings a String; Binary attributes are ignored).
    #[test]
    fn attribute_types_decide_what_compares() {
        check_attributes(
            json!({"price": [{"numeric": [">", 10]}]}),
            &[
                attributes(&[("price", n("11"))]),
                attributes(&[("price", MessageAttribute::new("Number.float", "11"))]),
            ],
            &[attributes(&[("price", s("11"))])],
        );
        check_attributes(
            json!({"code": ["42"]}),
            &[
                attributes(&[("code", s("42"))]),
                attributes(&[("code", MessageAttribute::new("String.code", "42"))]),
            ],
            &[attributes(&[("code", n("42"))])],
        );
        check_attributes(
            json!({"code": [42]}),
            &[attributes(&[("code", n("42"))]), attributes(&[("code", n("42.0"))])],
            &[attributes(&[("code", s("42"))])],
        );
        // A Binary attribute is as if absent.
        check_attributes(
            json!({"blob": [{"exists": false}]}),
            &[attributes(&[("blob", MessageAttribute::binary())]), attributes(&[])],
            &[attributes(&[("blob", s("x"))])],
        );
        check_attributes(
            json!({"blob": [{"exists": true}]}),
            &[],
            &[attributes(&[("blob", MessageAttribute::binary())])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("For numeric matching, the value can range from -10^9 to 10^9 ... with five digits of
    /// accuracy after the decimal point").
    #[test]
    fn numeric_matching_spans_1e9_with_five_decimals() {
        check_attributes(
            json!({"n": [{"numeric": ["=", 1]}]}),
            &[attributes(&[("n", n("1.000004"))])],
            &[attributes(&[("n", n("1.00001"))])],
        );
        check_attributes(
            json!({"n": [{"numeric": [">", 0]}]}),
            &[attributes(&[("n", n("1e9"))])],
            &[attributes(&[("n", n("1.1e9"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html
    #[test]
    fn key_matching_with_exists() {
        let present = attributes(&[("store", s("fans")), ("customer_interests", array(r#"["baseball"]"#))]);
        let absent = attributes(&[("customer_interests", array(r#"["baseball"]"#))]);
        check_attributes(
            json!({"store": [{"exists": true}]}),
            std::slice::from_ref(&present),
            std::slice::from_ref(&absent),
        );
        check_attributes(json!({"store": [{"exists": false}]}), &[absent], &[present]);
        check_body(
            json!({"store": [{"exists": false}]}),
            &[json!({"customer_interests": ["baseball"]})],
            &[json!({"store": "fans"})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html
    #[test]
    fn and_logic_across_keys_and_or_logic_within_a_key() {
        check_attributes(
            json!({"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}),
            &[attributes(&[
                ("customer_interests", s("rugby")),
                ("price_usd", n("101")),
            ])],
            &[
                attributes(&[("customer_interests", s("rugby")), ("price_usd", n("100"))]),
                attributes(&[("customer_interests", s("tennis")), ("price_usd", n("101"))]),
            ],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html#or-operator
    #[test]
    fn or_operator_across_keys() {
        let policy = json!({"source": ["aws.cloudwatch"], "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]}
        ]});
        check_attributes(
            policy.clone(),
            &[
                attributes(&[("source", s("aws.cloudwatch")), ("metricName", s("ReadLatency"))]),
                attributes(&[("source", s("aws.cloudwatch")), ("namespace", s("AWS/ES"))]),
            ],
            &[
                attributes(&[("source", s("aws.cloudwatch")), ("metricName", s("Other"))]),
                attributes(&[("source", s("aws.ec2")), ("namespace", s("AWS/ES"))]),
            ],
        );
        check_body(
            policy,
            &[json!({"source": "aws.cloudwatch", "namespace": "AWS/EC2"})],
            &[json!({"source": "aws.cloudwatch"})],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html#or-operator
    /// (when its conditions are not met, "$or" is "treated as a regular attribute name").
    #[test]
    fn or_not_in_its_documented_form_is_an_attribute_name() {
        check_attributes(
            json!({"$or": ["a", "b"]}),
            &[attributes(&[("$or", s("a"))])],
            &[attributes(&[("a", s("a"))])],
        );
        // One alternative only: `$or` is an attribute, and `{"a": ...}` in its match list is an
        // operator object with an unknown operator.
        refused(
            r#"{"$or": [{"a": ["x"]}]}"#,
            FilterPolicyScope::MessageAttributes,
            "Invalid parameter: FilterPolicy: Unrecognized match type a",
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("Amazon SNS accepts a nested filter policy for payload-based filtering").
    #[test]
    fn nested_keys_on_the_message_body() {
        check_body(
            json!({"order": {"total": [{"numeric": [">", 100]}], "lines": {"sku": [{"prefix": "A-"}]}}}),
            &[
                json!({"order": {"total": 120, "lines": [{"sku": "B-1"}, {"sku": "A-7"}]}}),
                json!({"order": {"total": 101, "lines": {"sku": "A-1"}}, "other": 1}),
            ],
            &[
                json!({"order": {"total": 12, "lines": [{"sku": "A-7"}]}}),
                json!({"order": {"total": 120}}),
                json!({"total": 120, "lines": {"sku": "A-1"}}),
            ],
        );
    }

    /// Observed in AWS (crate README, parity table): on the message body, a dotted key is the
    /// nested path it spells on both sides, the policy's and the message's.
    #[test]
    fn dotted_keys_are_nested_paths_in_policies_and_bodies() {
        for policy in [json!({"object.nested": ["x"]}), json!({"object": {"nested": ["x"]}})] {
            check_body(
                policy,
                &[
                    json!({"object": {"nested": "x"}}),
                    json!({"object.nested": "x"}),
                    json!({"object": [{"nested": "x"}]}),
                    json!({"object.nested": "y", "object": {"nested": "x"}}),
                ],
                &[
                    json!({"object": {"nested": "y"}}),
                    json!({"object.nested": "y"}),
                    json!({"object.nestedx": "x"}),
                    json!({"object": "x"}),
                ],
            );
        }
        // Deeper, and mixed with nested keys in one policy.
        check_body(
            json!({"a.b.c": [1], "a": {"d": [{"exists": true}]}}),
            &[json!({"a": {"b.c": 1, "d": 0}}), json!({"a.b": {"c": 1}, "a.d": true})],
            &[json!({"a": {"b": {"c": 1}}}), json!({"a.b.c": 2, "a.d": 0})],
        );
        let why = on_body(json!({"object.nested": ["x"]}))
            .explain_body_value(&json!({"object.nested": "y"}))
            .unwrap();
        assert_eq!(why.to_string(), r#"body.object.nested: "y" is not "x""#);
        // On attributes, names are flat: a dot is part of the name.
        check_attributes(
            json!({"object.nested": ["x"]}),
            &[attributes(&[("object.nested", s("x"))])],
            &[attributes(&[("object", s("x"))])],
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
    /// ("Filter policies for the message body assume that the message payload is a well-formed
    /// JSON object").
    #[test]
    fn a_body_that_is_not_a_json_object_never_passes() {
        let policy = on_body(json!({"a": [{"exists": false}]}));
        assert!(policy.matches_body("{}"));
        for body in ["not json", "[1]", "\"text\"", "5"] {
            assert!(!policy.matches_body(body), "{body}");
            let why = policy.explain_body(body).unwrap();
            assert_eq!(why.path(), "body");
            assert_eq!(why.kind(), MismatchKind::WrongType);
        }
    }
}

mod refused {
    use super::*;

    const A: FilterPolicyScope = FilterPolicyScope::MessageAttributes;
    const B: FilterPolicyScope = FilterPolicyScope::MessageBody;

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("A filter policy can have a maximum of five keys"; for a nested policy only parent keys).
    #[test]
    fn more_than_five_keys() {
        let six = r#"{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}"#;
        refused(
            six,
            A,
            "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys",
        );
        let five_nested =
            r#"{"a": {"x": ["1"], "y": ["1"], "z": ["1"]}, "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"]}"#;
        assert!(FilterPolicy::parse(five_nested, B).is_ok());
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("The total combination of values in a filter policy must not exceed 150").
    #[test]
    fn more_than_150_combinations() {
        let values = |n: usize| (0..n).map(|i| format!("\"v{i}\"")).collect::<Vec<_>>().join(",");
        let ok = format!(r#"{{"a": [{}], "b": [{}]}}"#, values(15), values(10));
        assert!(FilterPolicy::parse(&ok, A).is_ok());
        let too_many = format!(r#"{{"a": [{}], "b": [{}]}}"#, values(16), values(10));
        refused(
            &too_many,
            A,
            "Invalid parameter: FilterPolicy: Filter policy is too complex",
        );
        // Nested keys count their depth: 76 values two levels down are 152 combinations.
        let nested = format!(r#"{{"a": {{"b": [{}]}}}}"#, values(76));
        refused(
            &nested,
            B,
            "Invalid parameter: FilterPolicy: Filter policy is too complex",
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("Amazon SNS doesn't accept a nested filter policy for attribute-based filtering").
    #[test]
    fn nesting_on_message_attributes() {
        refused(
            r#"{"a": {"b": ["x"]}}"#,
            A,
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    /// ("The maximum size of a filter policy is 256 KB"; the JSON must be valid).
    #[test]
    fn too_long_or_not_json() {
        let long = format!(r#"{{"a": ["{}"]}}"#, "x".repeat(256 * 1024));
        refused(&long, A, "Invalid parameter: FilterPolicy: Filter policy is too long");
        refused("{", A, "Invalid parameter: FilterPolicy: failed to parse JSON.");
        refused("[]", A, "Invalid parameter: FilterPolicy: Filter is not an object");
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
    /// (the operators SNS supports: anything else is refused).
    #[test]
    fn malformed_match_lists_and_operators() {
        let cases = [
            (r#"{"a": []}"#, "Empty arrays are not allowed"),
            (r#"{"a": "x"}"#, "\"a\" must be an object or an array"),
            (
                r#"{"a": [["x"]]}"#,
                "Match value must be String, number, true, false, or null",
            ),
            (
                r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
                "Only one key allowed in match expression",
            ),
            (r#"{"a": [{"wildcard": "x*"}]}"#, "Unrecognized match type wildcard"),
            (r#"{"a": [{"prefix": 5}]}"#, "prefix match pattern must be a string"),
            (
                r#"{"a": [{"prefix": {"equals-ignore-case": "x"}}]}"#,
                "prefix match pattern must be a string",
            ),
            (r#"{"a": [{"suffix": 5}]}"#, "suffix match pattern must be a string"),
            (
                r#"{"a": [{"equals-ignore-case": 5}]}"#,
                "equals-ignore-case match pattern must be a string",
            ),
            (
                r#"{"a": [{"exists": "yes"}]}"#,
                "exists match pattern must be either true or false.",
            ),
            (
                r#"{"a": [{"anything-but": {"wildcard": "x*"}}]}"#,
                "Unsupported anything-but pattern: wildcard",
            ),
            (
                r#"{"a": [{"anything-but": {"equals-ignore-case": "x"}}]}"#,
                "Unsupported anything-but pattern: equals-ignore-case",
            ),
            (
                r#"{"a": [{"anything-but": [true]}]}"#,
                "Inside anything but list, start|null|boolean is not supported.",
            ),
            (r#"{"a": [{"numeric": []}]}"#, "Invalid member in numeric match: ]"),
            (r#"{"a": [{"numeric": [1]}]}"#, "Invalid member in numeric match: 1"),
            (
                r#"{"a": [{"numeric": ["!=", 1]}]}"#,
                "Unrecognized numeric range operator: !=",
            ),
            (r#"{"a": [{"numeric": ["=", "1"]}]}"#, "Value of equals must be numeric"),
            (r#"{"a": [{"numeric": [">", "1"]}]}"#, "Value of > must be numeric"),
            (
                r#"{"a": [{"numeric": ["<", 1, ">", 0]}]}"#,
                "Too many elements in numeric expression",
            ),
            (
                r#"{"a": [{"numeric": [">", 0, 5, 1]}]}"#,
                "Bad value in numeric range: 5",
            ),
            (
                r#"{"a": [{"numeric": [">", 0, ">", 1]}]}"#,
                "Bad numeric range operator: >",
            ),
            (
                r#"{"a": [{"numeric": [">", 5, "<", 1]}]}"#,
                "Bottom must be less than top",
            ),
            (
                r#"{"a": [{"numeric": [">", 0, "<", 1, "=", 2]}]}"#,
                "Too many terms in numeric range expression",
            ),
            (
                r#"{"a": [{"numeric": [">", 2e9]}]}"#,
                "Value of > must be from -1.0e9 to 1.0e9",
            ),
            (r#"{"a": [{"cidr": 10}]}"#, "prefix match pattern must be a string"),
            (r#"{"a": [{"cidr": "10.0.0.0"}]}"#, "Malformed CIDR, one '/' required"),
            (
                r#"{"a": [{"cidr": "10.0.0.0/x"}]}"#,
                "Malformed CIDR, mask bits must be an integer",
            ),
            (
                r#"{"a": [{"cidr": "10.0.0.300/24"}]}"#,
                "Nonstandard IP address: 10.0.0.300",
            ),
        ];
        for (policy, reason) in cases {
            refused(policy, A, &format!("Invalid parameter: FilterPolicy: {reason}"));
        }
    }

    /// Observed in AWS (crate README, parity table): `anything-but` takes `prefix` only, with the
    /// messages of the event-ruler version SNS's messages come from; EventBridge takes `suffix`.
    #[test]
    fn anything_but_takes_prefix_only() {
        for scope in [A, B] {
            for (policy, reason) in [
                (
                    r#"{"a": [{"anything-but": {"suffix": "-cancelled"}}]}"#,
                    "Unsupported anything-but pattern: suffix",
                ),
                (
                    r#"{"a": [{"anything-but": {"suffix": 5}}]}"#,
                    "Unsupported anything-but pattern: suffix",
                ),
                (
                    r#"{"a": [{"anything-but": {"prefix": 5}}]}"#,
                    "prefix match pattern must be a string",
                ),
                (
                    r#"{"a": [{"anything-but": {"prefix": ["x"]}}]}"#,
                    "prefix match pattern must be a string",
                ),
                (
                    r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
                    "Null prefix not allowed",
                ),
                (
                    r#"{"a": [{"anything-but": {}}]}"#,
                    "Anything-But expression name not found",
                ),
                (
                    r#"{"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}"#,
                    "Only one key allowed in match expression",
                ),
            ] {
                refused(policy, scope, &format!("Invalid parameter: FilterPolicy: {reason}"));
            }
        }
    }

    /// A dotted key on the body is the nested path: the limits count the nested policy, so
    /// `a.b` and `a.c` are one top-level key, and each dotted key's depth counts.
    #[test]
    fn dotted_keys_count_as_nested_keys() {
        let six_dotted = r#"{"k.a": ["1"], "k.b": ["1"], "k.c": ["1"], "k.d": ["1"], "k.e": ["1"], "k.f": ["1"]}"#;
        assert!(FilterPolicy::parse(six_dotted, B).is_ok());
        let six_top = r#"{"a.x": ["1"], "b.x": ["1"], "c.x": ["1"], "d.x": ["1"], "e.x": ["1"], "f.x": ["1"]}"#;
        refused(
            six_top,
            B,
            "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys",
        );
        // On attributes a dotted name is one flat name: six of them are six keys.
        refused(
            six_dotted,
            A,
            "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys",
        );
    }

    /// source: https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering-scope.html
    #[test]
    fn filter_policy_scope_values() {
        assert_eq!(
            "MessageBody".parse::<FilterPolicyScope>().ok(),
            Some(FilterPolicyScope::MessageBody)
        );
        assert_eq!(
            "MessageAttributes".parse::<FilterPolicyScope>().ok(),
            Some(FilterPolicyScope::MessageAttributes)
        );
        assert_eq!(FilterPolicyScope::default(), FilterPolicyScope::MessageAttributes);
        let error = "Body".parse::<FilterPolicyScope>().unwrap_err();
        assert!(
            error
                .message()
                .starts_with("Invalid parameter: FilterPolicyScope: Invalid value [Body]")
        );
    }

    /// CloudFormation may give `FilterPolicy` as a JSON string or as an object: the same policy.
    #[test]
    fn a_policy_given_as_a_json_string_is_parsed() {
        let text = json!(r#"{"store": ["example_corp"]}"#);
        let policy = FilterPolicy::from_value(&text, A).unwrap();
        assert!(policy.matches_attributes(&attributes(&[("store", s("example_corp"))])));
        assert_eq!(policy.scope(), A);
    }
}

mod explain {
    use super::*;

    #[test]
    fn attributes_say_which_attribute_failed_and_why() {
        let policy = on_attributes(json!({
            "customerId": [{"exists": true}],
            "store": ["example_corp", "other"],
            "price": [{"numeric": [">", 100]}],
            "tags": [{"anything-but": ["internal"]}]
        }));
        let ok = attributes(&[
            ("customerId", s("c-1")),
            ("store", s("example_corp")),
            ("price", n("120")),
            ("tags", array(r#"["a"]"#)),
        ]);
        assert!(policy.explain_attributes(&ok).is_none());
        let why = |change: &dyn Fn(&mut Attributes)| {
            let mut a = ok.clone();
            change(&mut a);
            policy.explain_attributes(&a).map(|m| m.to_string()).unwrap_or_default()
        };
        assert_eq!(
            why(&|a| {
                a.remove("customerId");
            }),
            "attribute 'customerId': missing"
        );
        assert_eq!(
            why(&|a| {
                a.insert("store".into(), s("x"));
            }),
            r#"attribute 'store': "x" is not one of ["example_corp", "other"]"#
        );
        assert_eq!(
            why(&|a| {
                a.insert("price".into(), n("12"));
            }),
            "attribute 'price': 12 is not in [>100]"
        );
        assert_eq!(
            why(&|a| {
                a.insert("price".into(), s("120"));
            }),
            r#"attribute 'price': "120" is not a number; numeric [>100] compares numbers only"#
        );
        assert_eq!(
            why(&|a| {
                a.insert("tags".into(), array(r#"["a", "internal"]"#));
            }),
            r#"attribute 'tags': ["a","internal"] has an element excluded by anything-but ["internal"]"#
        );
        assert_eq!(
            why(&|a| {
                a.insert("customerId".into(), MessageAttribute::binary());
            }),
            "attribute 'customerId': is of type Binary, which filter policies ignore"
        );
    }

    #[test]
    fn bodies_say_which_field_failed_and_why() {
        let policy = on_body(json!({"order": {"total": [{"numeric": [">", 100]}]}}));
        let why = policy.explain_body(r#"{"order": {"total": 12}}"#).unwrap();
        assert_eq!(why.to_string(), "body.order.total: 12 is not in [>100]");
        assert_eq!(why.kind(), MismatchKind::OutOfRange);
        assert_eq!(
            policy.explain_body(r#"{"order": {}}"#).unwrap().to_string(),
            "body.order.total: missing"
        );
    }

    #[test]
    fn or_summarises_every_alternative() {
        let policy = on_attributes(json!({"$or": [{"a": ["x"]}, {"b": [{"prefix": "y"}]}]}));
        let why = policy.explain_attributes(&attributes(&[("b", s("zz"))])).unwrap();
        assert_eq!(why.kind(), MismatchKind::NoAlternative);
        assert_eq!(
            why.to_string(),
            r#"$or: no alternative matched (attribute 'a': missing; attribute 'b': "zz" does not start with "y")"#
        );
    }
}

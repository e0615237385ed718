//! Properties: the index of a `Matcher` only narrows, never decides, and reading an event from
//! JSON text keeps all that matters. For any patterns and any event, `Matcher::matches` returns
//! exactly the patterns that match one by one, in order, and `Matcher::matches_json` returns
//! the same for the event's text, or fails exactly when serde_json fails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use event_pattern::{Matcher, Pattern};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Few keys and values, so that patterns and events meet often; `a.b` next to `a` and `b`
/// checks that a dotted key is never read as a path.
const KEYS: [&str; 4] = ["a", "b", "a.b", "c"];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(vec!["", "x", "y", "xy", "X", "10.0.0.7", "2001:db8::1", "a*b"]).prop_map(Value::from),
        2 => prop::sample::select(vec![0.0, 1.0, 1.5]).prop_map(Value::from),
        1 => prop::sample::select(vec![0_i64, 1]).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
        1 => Just(Value::Null),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 4, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            2 => prop::collection::btree_map(key(), inner, 1..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), event_value(), 1..5).prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn text() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["x", "y", "X", "xy", "1"])
}

fn condition() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => scalar(),
        1 => text().prop_map(|t| json!({"prefix": t})),
        1 => text().prop_map(|t| json!({"prefix": {"equals-ignore-case": t}})),
        1 => text().prop_map(|t| json!({"suffix": t})),
        1 => text().prop_map(|t| json!({"suffix": {"equals-ignore-case": t}})),
        1 => text().prop_map(|t| json!({"equals-ignore-case": t})),
        1 => prop::sample::select(vec!["*", "x*", "*y", "a\\*b", "x*y"]).prop_map(|t| json!({"wildcard": t})),
        1 => text().prop_map(|t| json!({"anything-but": t})),
        1 => prop::sample::select(vec![0, 1, 5]).prop_map(|n| json!({"anything-but": [n]})),
        1 => text().prop_map(|t| json!({"anything-but": {"prefix": t}})),
        1 => text().prop_map(|t| json!({"anything-but": {"equals-ignore-case": [t]}})),
        1 => prop::sample::select(vec!["x*", "*"]).prop_map(|t| json!({"anything-but": {"wildcard": t}})),
        1 => (-2.0..6.0f64, 0.0..4.0f64).prop_map(|(low, width)| json!({"numeric": [">=", low, "<", low + width + 0.5]})),
        1 => prop::sample::select(vec![0.0, 1.0, 1.5]).prop_map(|n| json!({"numeric": ["=", n]})),
        1 => prop::sample::select(vec!["10.0.0.0/8", "2001:db8::/32"]).prop_map(|c| json!({"cidr": c})),
        1 => any::<bool>().prop_map(|b| json!({"exists": b})),
    ]
    .boxed()
}

fn pattern_object() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec(condition(), 1..3).prop_map(Value::Array).boxed();
    let fields = |value: BoxedStrategy<Value>| {
        prop::collection::btree_map(key(), value, 1..3).prop_map(|m| m.into_iter().collect::<Map<String, Value>>())
    };
    let flat = fields(leaf.clone()).prop_map(Value::Object);
    flat.prop_recursive(3, 24, 3, move |inner| {
        let value = prop_oneof![3 => leaf.clone(), 1 => inner.clone()].boxed();
        (
            fields(value),
            prop::option::weighted(0.3, prop::collection::vec(inner, 2..4)),
        )
            .prop_map(|(mut object, or)| {
                if let Some(alternatives) = or {
                    object.insert("$or".to_owned(), Value::Array(alternatives));
                }
                Value::Object(object)
            })
    })
}

fn pattern() -> impl Strategy<Value = (Value, Pattern)> {
    pattern_object().prop_filter_map("valid patterns only", |value| {
        let compiled = Pattern::from_value(&value).ok()?;
        Some((value, compiled))
    })
}

/// An event built to satisfy `pattern` (mostly: the first entry of each match list is taken),
/// with some values wrapped in arrays next to a decoy, as real events have them. `seed` picks
/// the wrapping.
fn witness(pattern: &Value, seed: &mut u32) -> Value {
    match pattern {
        Value::Object(fields) => {
            let mut event = Map::new();
            for (key, value) in fields {
                if key == "$or" {
                    if let Some(first @ Value::Object(_)) = value.as_array().and_then(|a| a.first())
                        && let Value::Object(more) = witness(first, seed)
                    {
                        event.extend(more);
                    }
                    continue;
                }
                let Some(value) = witness_value(value, seed) else {
                    continue;
                };
                let value = if flip(seed) {
                    json!([value, "decoy", {"decoy": 1}])
                } else {
                    value
                };
                insert_path(&mut event, key, value);
            }
            Value::Object(event)
        }
        other => other.clone(),
    }
}

/// Puts `value` at the dotted `key` (`a.b` is `a` > `b`, as EventBridge reads a pattern),
/// merging with objects already there.
fn insert_path(event: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => match (event.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => {
                for (k, v) in more {
                    insert_path(existing, &k, v);
                }
            }
            (_, value) => {
                event.insert(key.to_owned(), value);
            }
        },
        Some((first, rest)) => {
            let slot = event
                .entry(first.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(inner) = slot {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// One time in four, from a linear congruential sequence.
fn flip(seed: &mut u32) -> bool {
    *seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    (*seed >> 16).is_multiple_of(4)
}

fn witness_value(pattern: &Value, seed: &mut u32) -> Option<Value> {
    let Value::Array(list) = pattern else {
        return Some(witness(pattern, seed));
    };
    let first = list.first()?;
    let Value::Object(operator) = first else {
        return Some(first.clone());
    };
    let (name, operand) = operator.iter().next()?;
    let text = |v: &Value| match v {
        Value::Object(inner) => inner.values().next().and_then(Value::as_str).unwrap_or("").to_owned(),
        other => other.as_str().unwrap_or("").to_owned(),
    };
    Some(match name.as_str() {
        "prefix" => json!(format!("{}zz", text(operand))),
        "suffix" => json!(format!("zz{}", text(operand))),
        "equals-ignore-case" => json!(text(operand).to_uppercase()),
        "wildcard" => json!(
            text(operand)
                .replace("\\*", "\u{1}")
                .replace('*', "q")
                .replace('\u{1}', "*")
        ),
        "anything-but" => json!("zz"),
        "numeric" => operand.get(1).cloned().unwrap_or(Value::Null),
        "cidr" => json!(if text(operand).contains(':') {
            "2001:db8::5"
        } else {
            "10.1.2.3"
        }),
        "exists" if operand == &json!(false) => return None,
        _ => json!("x"),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matcher_agrees_with_each_pattern(
        patterns in prop::collection::vec(pattern(), 1..16),
        random_events in prop::collection::vec(event(), 1..6),
        mut seed in any::<u32>(),
    ) {
        let mut matcher = Matcher::new();
        for (n, (_, compiled)) in patterns.iter().enumerate() {
            matcher.add(n, compiled.clone());
        }
        let witnesses: Vec<Value> = patterns.iter().map(|(value, _)| witness(value, &mut seed)).collect();
        for event in random_events.iter().chain(&witnesses) {
            let one_by_one: Vec<usize> = patterns
                .iter()
                .enumerate()
                .filter(|(_, (_, compiled))| compiled.matches(event))
                .map(|(n, _)| n)
                .collect();
            let matched = matcher.matches(event);
            prop_assert_eq!(&matched, &one_by_one, "event {}, patterns {:?}", event,
                patterns.iter().map(|(v, _)| v.to_string()).collect::<Vec<_>>());
            // An explanation is given exactly for the patterns that do not match.
            let explained: Vec<usize> = matcher
                .explain(event)
                .into_iter()
                .filter(|(_, why)| why.is_none())
                .map(|(n, _)| *n)
                .collect();
            prop_assert_eq!(&explained, &one_by_one, "explain disagrees on {}", event);
        }
    }
}

/// Ways to write the same event as text: compact, pretty, with escaped keys, with noise fields
/// no pattern asks for.
fn texts(event: &Value) -> Vec<String> {
    let compact = serde_json::to_string(event).unwrap();
    let mut noisy = event.clone();
    if let Value::Object(object) = &mut noisy {
        object.insert(
            "noise".to_owned(),
            json!({"s": "\"\u{e9}\u{1F600}\n", "n": [1e300, -0.0, 12_345_678_901_234_567_890_u64], "o": {"a": [{}]}}),
        );
    }
    vec![
        compact
            .replace(r#""a":"#, r#""\u0061":"#)
            .replace(r#""c":"#, r#""\u0063" :"#),
        serde_json::to_string_pretty(event).unwrap(),
        serde_json::to_string(&noisy).unwrap(),
        compact,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn matches_json_agrees_with_parsing_first(
        patterns in prop::collection::vec(pattern(), 1..12),
        random_events in prop::collection::vec(event(), 1..4),
        mut seed in any::<u32>(),
    ) {
        let mut matcher = Matcher::new();
        for (n, (_, compiled)) in patterns.iter().enumerate() {
            matcher.add(n, compiled.clone());
        }
        let witnesses: Vec<Value> = patterns.iter().map(|(value, _)| witness(value, &mut seed)).collect();
        for event in random_events.iter().chain(&witnesses) {
            for text in texts(event) {
                let parsed: Value = serde_json::from_str(&text).unwrap();
                prop_assert_eq!(matcher.matches_json(text.as_bytes()).unwrap(), matcher.matches(&parsed), "{}", text);
            }
        }
    }

    #[test]
    fn matches_json_fails_exactly_when_serde_json_fails(
        patterns in prop::collection::vec(pattern(), 1..6),
        event in event(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, prop::sample::select(
            b"{}[],:\"\\/ 0-1.eEtrufalsn\x01\xc3\xa9u".to_vec())), 1..3),
    ) {
        let mut matcher = Matcher::new();
        for (n, (_, compiled)) in patterns.iter().enumerate() {
            matcher.add(n, compiled.clone());
        }
        let mut text = serde_json::to_vec(&event).unwrap();
        for (at, kind, byte) in edits {
            let at = at.index(text.len() + 1);
            match kind {
                0 => text.insert(at, byte),
                1 if at < text.len() => { text.remove(at); }
                _ if at < text.len() => text[at] = byte,
                _ => text.push(byte),
            }
        }
        match (serde_json::from_slice::<Value>(&text), matcher.matches_json(&text)) {
            (Ok(parsed), Ok(matched)) => prop_assert_eq!(matched, matcher.matches(&parsed)),
            (Err(_), Err(_)) => {}
            (expected, got) => prop_assert!(false, "{}: serde_json {:?}, matches_json {:?}",
                String::from_utf8_lossy(&text), expected.map(|_| ()), got.map(|_| ())),
        }
    }
}

/// The events must actually match some patterns, or the property above proves little.
#[test]
fn witnesses_mostly_match_their_pattern() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut seed = 7;
    let (mut tried, mut matched) = (0, 0);
    for _ in 0..2000 {
        let (value, compiled) = pattern().new_tree(&mut runner).unwrap().current();
        tried += 1;
        matched += usize::from(compiled.matches(&witness(&value, &mut seed)));
    }
    assert!(matched * 2 > tried, "only {matched} of {tried} witnesses matched");
}

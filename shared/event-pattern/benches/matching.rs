//! Matching EventBridge events against 100 rules.
//!
//! - `matcher/*`: one pre-parsed event (`serde_json::Value`) at a time against 100 exact-match
//!   rules, on `detail-type` and on a `detail` field: the events per second a consumer gets once
//!   its runtime has decoded the event.
//! - `vs_quamina/*`: the same rules and events through the `quamina` crate and through this one,
//!   all from the JSON text, side by side in one group, for exact rules and for a mix of prefix,
//!   anything-but, numeric and wildcard. Ours twice: `serde_json::from_slice` + `Matcher::matches`
//!   (`from_slice`), and `Matcher::matches_json` (`matches_json`, reads only wanted fields).
//!   Before timing, the engines must agree on what every event matches.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use event_pattern::{Matcher, Pattern};
use quamina::Quamina;
use serde_json::{Value, json};

const RULES: usize = 100;

/// A realistic EventBridge event: the envelope fields, resources, and a detail with an array.
fn event(n: usize) -> Value {
    json!({
        "version": "0",
        "id": format!("6a7e8feb-b491-4cf7-a9f1-{n:012}"),
        "detail-type": format!("Type{n}"),
        "source": "shop.orders",
        "account": "123456789012",
        "time": "2026-11-23T09:00:00Z",
        "region": "eu-west-1",
        "resources": [format!("arn:aws:dynamodb:eu-west-1:123456789012:table/orders/o-{n}")],
        "detail": {
            "orderId": format!("o-{n}"),
            "status": format!("S{n}"),
            "customer": format!("cust-{n}-gold"),
            "sku": format!("SKU-{n}-blue"),
            "region": format!("eu-{}", n % 5),
            "total": n * 100 + 50,
            "currency": "EUR",
            "lines": [{"sku": "A-1", "qty": 1}, {"sku": "B-2", "qty": 2}]
        }
    })
}

/// 150 events: one for each rule, and 50 that no exact rule wants.
fn events() -> Vec<Value> {
    (0..RULES + RULES / 2)
        .map(|n| event(n * 7 % (RULES + RULES / 2)))
        .collect()
}

fn exact_on_type() -> Vec<String> {
    (0..RULES)
        .map(|n| format!(r#"{{"source": ["shop.orders"], "detail-type": ["Type{n}"]}}"#))
        .collect()
}

fn exact_on_detail() -> Vec<String> {
    (0..RULES)
        .map(|n| format!(r#"{{"source": ["shop.orders"], "detail": {{"status": ["S{n}"]}}}}"#))
        .collect()
}

/// 25 rules each of prefix, anything-but, numeric and wildcard, all operators quamina has too.
fn mixed() -> Vec<String> {
    (0..RULES)
        .map(|n| match n % 4 {
            0 => format!(r#"{{"source": ["shop.orders"], "detail": {{"sku": [{{"prefix": "SKU-{n}-"}}]}}}}"#),
            1 => format!(
                r#"{{"detail": {{"region": ["eu-{}"]}}, "detail-type": [{{"anything-but": ["Type{n}", "Type{}"]}}]}}"#,
                n % 5,
                n + 1
            ),
            2 => format!(
                r#"{{"detail": {{"total": [{{"numeric": [">=", {}, "<", {}]}}]}}}}"#,
                n * 100,
                n * 100 + 100
            ),
            _ => format!(r#"{{"detail": {{"customer": [{{"wildcard": "cust-{n}-*"}}]}}}}"#),
        })
        .collect()
}

fn ours(rules: &[String]) -> Matcher<usize> {
    let mut matcher = Matcher::new();
    for (n, rule) in rules.iter().enumerate() {
        matcher.add(n, Pattern::parse(rule).unwrap());
    }
    matcher
}

fn theirs(rules: &[String]) -> Quamina<usize> {
    let mut quamina = Quamina::new();
    for (n, rule) in rules.iter().enumerate() {
        quamina.add_pattern(n, rule).unwrap();
    }
    quamina
}

/// Both engines must find the same rules for every event, and some event must match.
fn assert_agree(matcher: &Matcher<usize>, quamina: &Quamina<usize>, texts: &[Vec<u8>]) {
    let mut total = 0;
    for text in texts {
        let ours = matcher.matches(&serde_json::from_slice(text).unwrap());
        let mut theirs = quamina.matches_for_event(text).unwrap();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "engines disagree on {}", String::from_utf8_lossy(text));
        assert_eq!(ours, matcher.matches_json(text).unwrap());
        total += ours.len();
    }
    assert!(total > 0, "no event matched: the comparison would measure nothing");
}

fn matcher(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("matcher");
    group.throughput(Throughput::Elements(events.len() as u64));
    for (name, rules) in [
        ("100_exact_on_detail_type", exact_on_type()),
        ("100_exact_on_detail_field", exact_on_detail()),
    ] {
        let matcher = ours(&rules);
        assert_eq!(events.iter().filter(|e| !matcher.matches(e).is_empty()).count(), RULES);
        group.bench_function(name, |b| {
            b.iter(|| {
                for event in &events {
                    black_box(matcher.matches(black_box(event)));
                }
            });
        });
    }
    group.finish();
}

fn vs_quamina(c: &mut Criterion) {
    let texts: Vec<Vec<u8>> = events().iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let mut group = c.benchmark_group("vs_quamina");
    group.throughput(Throughput::Elements(texts.len() as u64));
    for (name, rules) in [("exact", exact_on_type()), ("mixed", mixed())] {
        let matcher = ours(&rules);
        let quamina = theirs(&rules);
        assert_agree(&matcher, &quamina, &texts);
        group.bench_function(format!("{name}/event-pattern/from_slice"), |b| {
            b.iter(|| {
                for text in &texts {
                    let event: Value = serde_json::from_slice(black_box(text)).unwrap();
                    black_box(matcher.matches(&event));
                }
            });
        });
        group.bench_function(format!("{name}/event-pattern/matches_json"), |b| {
            b.iter(|| {
                for text in &texts {
                    black_box(matcher.matches_json(black_box(text)).unwrap());
                }
            });
        });
        group.bench_function(format!("{name}/quamina"), |b| {
            b.iter(|| {
                for text in &texts {
                    black_box(quamina.matches_for_event(black_box(text)).unwrap());
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, matcher, vs_quamina);
criterion_main!(benches);

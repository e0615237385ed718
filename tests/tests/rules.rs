//! Contract between the template's rules and the code: every rule matches exactly the sample
//! events its function consumes (by the function's own event registry), and no other.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::topology::{Endpoint, Topology};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every EventBridge event in a JSON value: the value itself, and any inside string fields
/// that hold JSON (SQS bodies, SNS messages).
fn events_in(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            // A scheduled rule's tick is AWS's own event, sent to a function, never on a bus.
            let tick = map.get("source").and_then(Value::as_str) == Some("aws.events");
            if map.contains_key("detail-type") && map.contains_key("source") && !tick {
                found.push(value.clone());
            }
            map.values().for_each(|v| events_in(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| events_in(v, found)),
        Value::String(text) if text.starts_with('{') => {
            if let Ok(inner) = serde_json::from_str::<Value>(text) {
                events_in(&inner, found);
            }
        }
        _ => {}
    }
}

/// Sample file (relative path) -> the EventBridge events in it.
fn samples() -> BTreeMap<String, Vec<Value>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<Value>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let Ok(value) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
                    continue; // bad-json samples carry no event
                };
                let mut found = Vec::new();
                events_in(&value, &mut found);
                if !found.is_empty() {
                    let name = path.strip_prefix(root).unwrap().display().to_string();
                    out.insert(name, found);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&root().join("events"), &root(), &mut out);
    out
}

#[test]
fn every_rule_matches_the_sample_events_its_function_consumes_and_no_other() {
    let topology = Topology::load(&root().join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    let cloud = LocalCloud::new(topology.clone(), CloudOptions::default(), &localcloud::catalogue()).unwrap();
    let domains = localcloud::domains();
    let sources: Vec<&str> = domains.iter().flat_map(|d| d.sources().iter().copied()).collect();
    let samples = samples();
    assert!(samples.len() >= 10, "too few samples found: {:?}", samples.keys());
    let mut matched_per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (file, events) in &samples {
        for event in events {
            let event_type = event["detail-type"].as_str().unwrap_or_default();
            let source = event["source"].as_str().unwrap_or_default();
            let from_a_domain = sources.contains(&source);
            for rule in &topology.rules {
                for target in &rule.targets {
                    let Endpoint::Queue(queue) = &target.endpoint else {
                        continue;
                    };
                    let function = topology.consumer_of(queue).unwrap();
                    let meant = from_a_domain && cloud.consumes(function, event_type);
                    let matches = rule.pattern.matches(event);
                    if matches != meant {
                        mismatches.push(format!(
                            "{file}: {event_type} {} {} (its function {} {})",
                            if matches { "matches" } else { "does not match" },
                            rule.logical_id,
                            topology.crate_of(function),
                            if meant { "consumes it" } else { "does not consume it" },
                        ));
                    }
                    if matches {
                        *matched_per_rule.entry(&rule.logical_id).or_default() += 1;
                    }
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    for rule in &topology.rules {
        assert!(
            matched_per_rule.contains_key(rule.logical_id.as_str()),
            "no sample event exercises {}",
            rule.logical_id
        );
    }
}

#[test]
fn every_function_sample_is_routed_to_its_own_function() {
    let topology = Topology::load(&root().join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    for (file, events) in samples() {
        // A function's samples are in events/<domain's folder>/<function>/.
        let Some(function) = localcloud::domains().iter().find_map(|d| {
            file.strip_prefix(&format!("events/{}/", d.samples()))
                .and_then(|f| f.split('/').next())
                .map(str::to_owned)
        }) else {
            continue;
        };
        for event in events {
            let reached: Vec<String> = emulator::route::route(
                &topology,
                event.to_string().as_bytes(),
                None,
                emulator::domain::event_types(&localcloud::domains()),
                false,
            )
            .unwrap()
            .into_iter()
            .flat_map(|r| r.routes)
            .collect();
            assert!(
                reached.iter().any(|r| r.ends_with(&format!("-> {function}"))),
                "{file}: {} reaches {reached:?}, not {function}",
                event["detail-type"]
            );
        }
    }
}

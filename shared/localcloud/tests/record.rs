//! The run record holds what the run page replays: at every instant of a run with faults, the
//! state the record's lines give each queue (visible, in flight) and each function (invocations
//! in flight) is the state the local cloud was in. The page, and its browser tests, compute
//! states from these lines by the same rules (`shared/localcloud/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::faults::Faults;
use emulator::scenario::Scenario;
use emulator::topology::Topology;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One message's life as the record tells it.
#[derive(Debug, Default)]
struct Life {
    sent: i64,
    visible_at: i64,
    /// Each receive: when, and until when it hides the message.
    receives: Vec<(i64, i64)>,
    gone: Option<i64>,
}

/// Per queue: messages visible, in flight and delayed at `at`, by the record's `lines`.
fn queue_states(lines: &[Value], at: i64) -> BTreeMap<String, (usize, usize, usize)> {
    let mut lives: HashMap<(String, String), Life> = HashMap::new();
    let key = |line: &Value, id: &Value| {
        (
            line["queue"].as_str().unwrap().to_owned(),
            id.as_str().unwrap().to_owned(),
        )
    };
    for line in lines.iter().filter(|l| l["at"].as_i64().unwrap() <= at) {
        match line["k"].as_str().unwrap() {
            "sent" => {
                let life = lives.entry(key(line, &line["message"])).or_default();
                *life = Life {
                    sent: line["at"].as_i64().unwrap(),
                    visible_at: line["visible_at"].as_i64().unwrap(),
                    ..Life::default()
                };
            }
            "received" => {
                for id in line["messages"].as_array().unwrap() {
                    let life = lives
                        .get_mut(&key(line, id))
                        .expect("a message received was sent first");
                    life.receives
                        .push((line["at"].as_i64().unwrap(), line["until"].as_i64().unwrap()));
                }
            }
            "gone" => {
                let life = lives
                    .get_mut(&key(line, &line["message"]))
                    .expect("a message gone was sent first");
                life.gone = Some(line["at"].as_i64().unwrap());
            }
            _ => {}
        }
    }
    let mut states: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for ((queue, _), life) in &lives {
        let state = states.entry(queue.clone()).or_default();
        if life.gone.is_some() || life.sent > at {
            continue;
        }
        match life.receives.last() {
            Some((_, until)) if at < *until => state.1 += 1,
            None if at < life.visible_at => state.2 += 1,
            _ => state.0 += 1,
        }
    }
    states
}

/// Per function: invocations in flight at `at`, by the record's `lines`.
fn functions_in_flight(lines: &[Value], at: i64) -> BTreeMap<String, usize> {
    let mut started: HashMap<u64, String> = HashMap::new();
    for line in lines.iter().filter(|l| l["at"].as_i64().unwrap() <= at) {
        let invocation = line["invocation"].as_u64();
        match line["k"].as_str().unwrap() {
            "invoked" => {
                started.insert(invocation.unwrap(), line["function"].as_str().unwrap().to_owned());
            }
            "ended" => {
                started.remove(&invocation.unwrap());
            }
            _ => {}
        }
    }
    let mut in_flight = BTreeMap::new();
    for function in started.into_values() {
        *in_flight.entry(function).or_default() += 1;
    }
    in_flight
}

#[test]
fn given_the_orders_scenario_with_faults_then_at_every_step_the_record_gives_the_state_the_cloud_is_in() {
    let runtime = localcloud::runtime().unwrap();
    let template = root().join("infra/template.yaml");
    let scenario =
        Scenario::parse(&std::fs::read_to_string(root().join("events/scenarios/orders-demo.jsonl")).unwrap()).unwrap();
    let topology = Topology::load(&template, &sam_template::Options::default()).unwrap();
    let options = CloudOptions {
        seed: 1,
        faults: Faults::demo(),
        schedules_until: scenario.last_at() + 60_000,
        ..CloudOptions::default()
    };
    let mut cloud = LocalCloud::new(topology, options, &localcloud::catalogue()).unwrap();
    let lines = Rc::new(RefCell::new(Vec::new()));
    let kept = Rc::clone(&lines);
    cloud.record_run(true, move |line| kept.borrow_mut().push(line.clone()));
    cloud.keep_timeline(false);
    scenario.schedule(&mut cloud).unwrap();

    let (mut checked, mut busy, mut running) = (0, 0, 0);
    let mut until = 0;
    while !cloud.is_idle() {
        until += 97;
        runtime.block_on(cloud.run(until));
        let now = cloud.now();
        let lines = lines.borrow();
        let recorded = queue_states(&lines, now);
        for queue in cloud.queues() {
            let id = &queue.config().logical_id;
            let hidden = queue.messages().filter(|m| m.visible_at > now).count();
            let actual = (queue.len() - hidden, hidden);
            let (visible, in_flight, delayed) = recorded.get(id).copied().unwrap_or_default();
            assert_eq!((visible, in_flight + delayed), actual, "{id} at +{now} ms");
            busy += usize::from(in_flight > 0);
        }
        let in_flight = functions_in_flight(&lines, now);
        assert_eq!(
            in_flight,
            cloud.invocations_in_flight(),
            "invocations in flight at +{now} ms"
        );
        running += usize::from(!in_flight.is_empty());
        checked += 1;
    }

    let lines = lines.borrow();
    assert!(checked > 100, "only {checked} instants checked");
    assert!(busy > 20, "messages in flight at only {busy} instants");
    assert!(running > 5, "invocations in flight at only {running} instants");
    assert!(functions_in_flight(&lines, cloud.now()).is_empty());
    let count = |kind: &str| lines.iter().filter(|l| l["k"] == kind).count();
    assert_eq!(count("invoked"), count("ended"));
    assert_eq!(
        count("invoked"),
        cloud.stats().invocations.values().sum::<u64>() as usize
    );
    // Every event line carries its envelope (a schedule's has none); every causation names an
    // event recorded before it.
    let mut seen = std::collections::HashSet::new();
    for event in lines
        .iter()
        .filter(|l| l["k"] == "event" && l["type"] != "Scheduled Event")
    {
        assert!(event["envelope"]["metadata"]["id"] == event["id"], "{event}");
        if let Some(cause) = event["causation"].as_str() {
            assert!(
                seen.contains(cause),
                "{} caused by {cause}, not recorded before it",
                event["id"]
            );
        }
        seen.insert(event["id"].as_str().unwrap().to_owned());
    }
}

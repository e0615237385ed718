//! The simulation campaign: a run's choices replay it exactly, and the minimal reproducer of
//! the race it found in detect-anomaly (`events/scenarios/sensors-backlog-race.faults.json`)
//! breaks the same invariant until the sensors' many-writers issue fixes it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::PathBuf;
use std::sync::Arc;

use localcloud::campaign::{self, FaultFile, RunSpec, invariant_class};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> PathBuf {
    root().join("infra/template.yaml")
}

#[tokio::test(start_paused = true)]
async fn given_a_campaign_run_when_its_choices_are_replayed_then_the_run_is_the_same() {
    let registry = localcloud::registry();
    let spec = campaign::spec(7, 12, None);
    let first = campaign::run(&orders_demo::Orders, &template(), &registry, &spec)
        .await
        .unwrap();
    assert!(first.choices.len() > 100, "faults and latencies were drawn");
    let replay = RunSpec {
        replay: Some(Arc::new(first.choices.clone())),
        ..spec
    };
    let again = campaign::run(&orders_demo::Orders, &template(), &registry, &replay)
        .await
        .unwrap();
    assert_eq!(again.schedule, first.schedule, "the same port calls in the same order");
    assert_eq!(again.injected, first.injected);
    assert_eq!(again.violations, first.violations);
}

/// The race: two invocations of detect-anomaly decide the same window from the same state;
/// one publishes its `AnomalyDetected` while the other commits first; the loser's commit
/// fails, it is decided again from the winner's state and publishes the same revision (the
/// same id) with other data. Consumers that absorb repeats by id keep the first, which the
/// stored state never held. Found by `localcloud simulate --variant backlog` on seed 14 and
/// shrunk from 60,114 choices to one: a publish of detect-anomaly that takes 16 ms.
#[tokio::test(start_paused = true)]
async fn given_the_backlog_race_reproducer_then_detect_anomaly_publishes_a_revision_its_state_does_not_back() {
    let text = std::fs::read_to_string(root().join("events/scenarios/sensors-backlog-race.faults.json")).unwrap();
    let file: FaultFile = serde_json::from_str(&text).unwrap();
    assert_eq!(file.choices.len(), 1, "minimal: {:?}", file.choices);
    let registry = localcloud::registry();
    let spec = RunSpec {
        size: file.size,
        seed: file.seed,
        faults: file.faults,
        replay: Some(Arc::new(file.choices.clone())),
        variant: file.variant.clone(),
        timeline: false,
    };
    let broken = campaign::run(&sensors_demo::Sensors, &template(), &registry, &spec)
        .await
        .unwrap();
    // When detect-anomaly publishes only what it committed, this fails: expect no violation then.
    assert!(
        broken
            .violations
            .iter()
            .any(|v| invariant_class(v) == invariant_class(&file.breaks)),
        "{:#?}",
        broken.violations
    );
    // Without that one latency the invocations do not interleave there, and every invariant holds.
    let calm = RunSpec {
        replay: Some(Arc::new(Vec::new())),
        ..spec
    };
    let held = campaign::run(&sensors_demo::Sensors, &template(), &registry, &calm)
        .await
        .unwrap();
    assert!(held.violations.is_empty(), "{:#?}", held.violations);
}

/// The known breaks `make simulate` tolerates are the ones an open issue names, and the pinned
/// reproducer's is among them: when the fix lands, both go.
#[test]
fn the_known_breaks_name_their_issue_and_include_the_pinned_race() {
    let known: Vec<campaign::KnownBreak> =
        serde_json::from_str(&std::fs::read_to_string(root().join("events/scenarios/known-breaks.json")).unwrap())
            .unwrap();
    assert!(known.iter().all(|k| !k.issue.is_empty() && !k.why.is_empty()));
    let text = std::fs::read_to_string(root().join("events/scenarios/sensors-backlog-race.faults.json")).unwrap();
    let file: FaultFile = serde_json::from_str(&text).unwrap();
    assert!(known.iter().any(|k| k.class == invariant_class(&file.breaks)));
}

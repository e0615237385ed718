//! The simulation campaign: a run's choices replay it exactly, and the minimal reproducer of
//! the race it found in detect-anomaly (`events/scenarios/sensors-backlog-race.faults.json`)
//! now runs clean.

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
    let registry = localcloud::catalogue();
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

/// The race issue 23 fixed: two invocations of detect-anomaly decided the same window from
/// the same state; one published its `AnomalyDetected` while the other committed first; the
/// loser's commit failed, it was decided again from the winner's state and published the same
/// revision (the same id) with other data. Found by `localcloud simulate --variant backlog` on
/// seed 14 and shrunk from 60,114 choices to one: a publish of detect-anomaly that takes
/// 16 ms. Now a batch commits its windows with their events in an outbox and publishes only
/// what it committed: the reproducer runs clean, and so does the run without it.
#[tokio::test(start_paused = true)]
async fn given_the_backlog_race_reproducer_then_detect_anomaly_publishes_only_what_its_state_backs() {
    let text = std::fs::read_to_string(root().join("events/scenarios/sensors-backlog-race.faults.json")).unwrap();
    let file: FaultFile = serde_json::from_str(&text).unwrap();
    assert_eq!(file.choices.len(), 1, "minimal: {:?}", file.choices);
    let registry = localcloud::catalogue();
    let spec = RunSpec {
        size: file.size,
        seed: file.seed,
        faults: file.faults,
        replay: Some(Arc::new(file.choices.clone())),
        variant: file.variant.clone(),
        timeline: false,
    };
    for spec in [
        spec.clone(),
        RunSpec {
            replay: Some(Arc::new(Vec::new())),
            ..spec
        },
    ] {
        let run = campaign::run(&sensors_demo::Sensors, &template(), &registry, &spec)
            .await
            .unwrap();
        assert!(run.violations.is_empty(), "{:#?}", run.violations);
    }
}

/// The known breaks `make simulate` tolerates are the ones an open issue names, and the fixed
/// race is no longer among them.
#[test]
fn the_known_breaks_name_their_issue_and_not_the_fixed_race() {
    let known: Vec<campaign::KnownBreak> =
        serde_json::from_str(&std::fs::read_to_string(root().join("events/scenarios/known-breaks.json")).unwrap())
            .unwrap();
    assert!(known.iter().all(|k| !k.issue.is_empty() && !k.why.is_empty()));
    let text = std::fs::read_to_string(root().join("events/scenarios/sensors-backlog-race.faults.json")).unwrap();
    let file: FaultFile = serde_json::from_str(&text).unwrap();
    assert!(!known.iter().any(|k| k.class == invariant_class(&file.breaks)));
}

//! Scenarios as files: the orders demo's inputs are `events/scenarios/orders-demo.jsonl`, a
//! test keeps the file equal to what the demo generates, and playing the file keeps every
//! invariant the demo checks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::PathBuf;

use emulator::faults::Faults;
use emulator::scenario::Scenario;
use emulator::topology::Topology;
use orders_demo::{Shop, demo_mix};

/// Every domain's functions: the template deploys them all.
fn registry() -> emulator::functions::FunctionCatalogue {
    localcloud::catalogue()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn file() -> PathBuf {
    root().join("events/scenarios/orders-demo.jsonl")
}

const HEADER: &str = "// The orders demo's inputs (12 orders, seed 1): `localcloud play` runs them.\n\
// Regenerate: UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files\n";

#[test]
fn the_demo_scenario_file_is_what_the_demo_places() {
    let topology = Topology::load(&root().join("infra/template.yaml"), &sam_template::Options::default()).unwrap();
    let generated = format!("{HEADER}{}", demo_mix(&topology, 12, 1).unwrap().to_jsonl());
    if std::env::var_os("UPDATE_SCENARIOS").is_some() {
        std::fs::write(file(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(file()).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files",
        file().display()
    );
}

#[tokio::test(start_paused = true)]
async fn given_the_demo_scenario_file_when_played_then_every_invariant_holds() {
    let scenario = Scenario::parse(&std::fs::read_to_string(file()).unwrap()).unwrap();
    assert!(
        scenario.steps.len() >= 14,
        "12 orders, a retry, a malformed request and message"
    );
    let mut shop = Shop::open(
        &root().join("infra/template.yaml"),
        1,
        Faults::demo(),
        1_000,
        &registry(),
    )
    .unwrap();
    shop.play(&scenario).unwrap();
    let outcome = shop.settle().await;
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert_eq!(outcome.states.len(), 12);
    assert_eq!(outcome.parked.len(), 1, "the malformed message");
}

fn sensors_file() -> PathBuf {
    root().join("events/scenarios/sensors-demo.jsonl")
}

const SENSORS_HEADER: &str = "// The sensors demo's inputs (24 sensors, 65 minutes from 2026-03-29T00:30Z, seed 1): `localcloud play` runs them\n\
// with --table SensorCatalogueTable=events/sensors/catalogue.json.\n\
// Regenerate: UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files\n";

fn sensors_site() -> sensors_demo::Site {
    sensors_demo::Site::new(
        &root().join("infra/template.yaml"),
        1,
        Faults::demo(),
        sensors_demo::DEMO_MINUTES,
        &registry(),
    )
    .unwrap()
}

#[test]
fn the_sensors_scenario_file_is_what_the_sensors_demo_sends() {
    let generated = format!("{SENSORS_HEADER}{}", sensors_site().generated().scenario.to_jsonl());
    if std::env::var_os("UPDATE_SCENARIOS").is_some() {
        std::fs::write(sensors_file(), &generated).unwrap();
    }
    let committed = std::fs::read_to_string(sensors_file()).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files",
        sensors_file().display()
    );
}

/// Every window's final verdict against the computation over all readings, one alert per
/// period with an anomaly, every reading counted or parked as too late: with faults on.
#[tokio::test(start_paused = true)]
async fn given_the_sensors_scenario_file_when_played_then_every_invariant_holds() {
    let scenario = Scenario::parse(&std::fs::read_to_string(sensors_file()).unwrap()).unwrap();
    let mut site = sensors_site();
    site.play(&scenario).unwrap();
    let checked = site.settle().await;
    assert!(checked.violations.is_empty(), "{:#?}", checked.violations);
    assert!(checked.readings > 5_000, "an hour of readings from 24 sensors");
    assert!(checked.too_late > 0, "some readings beyond the horizon");
    assert_eq!(checked.refused, 24, "one invalid reading per sensor, each refused");
    assert!(checked.revised > 0, "late readings revise windows");
    assert!(
        checked
            .verdicts
            .values()
            .any(|v| v.direction == Some(sensors::events::Direction::Above))
            && checked
                .verdicts
                .values()
                .any(|v| v.direction == Some(sensors::events::Direction::Below)),
        "anomalies of both directions"
    );
    assert!(!checked.alerts.is_empty());
}

//! Scenarios as files: the orders demo's inputs are `events/scenarios/orders-demo.jsonl`, a
//! test keeps the file equal to what the demo generates, and playing the file keeps every
//! invariant the demo checks. Each domain's outcome of its file (`localcloud play --outcome`,
//! what the end-to-end harness compares a deployment with) holds no violation and has the
//! shape the harness reads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::PathBuf;

use emulator::domain::{Domain, ScenarioOutcome};
use emulator::faults::Faults;
use emulator::scenario::Scenario;
use emulator::topology::Topology;
use orders_demo::{SCENARIO_STOCK, Shop, demo_mix};
use serde_json::{Value, json};

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
        SCENARIO_STOCK,
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

/// `domain`'s outcome of the scenario file at `file`, as `localcloud play --outcome` computes it.
async fn outcome_of(domain: &dyn Domain, file: &std::path::Path) -> ScenarioOutcome {
    let scenario = Scenario::parse(&std::fs::read_to_string(file).unwrap()).unwrap();
    domain
        .outcome(&root().join("infra/template.yaml"), &scenario, &registry(), &|_| {})
        .await
        .unwrap()
}

/// The length of the object or array at `key` of `json`.
fn size(json: &Value, key: &str) -> usize {
    json[key]
        .as_object()
        .map(serde_json::Map::len)
        .or_else(|| json[key].as_array().map(Vec::len))
        .unwrap_or_else(|| panic!("{key} is neither an object nor an array: {}", json[key]))
}

/// GIVEN the orders demo's file WHEN its outcome is computed THEN every invariant holds and the
/// JSON says what the harness compares: 12 orders in their final states, stock from 1,000 of
/// each sku, the one malformed message parked, nothing dead-lettered, each request answered.
#[tokio::test(start_paused = true)]
async fn given_the_orders_scenario_file_when_its_outcome_is_computed_then_it_holds_and_has_the_harness_shape() {
    let outcome = outcome_of(&orders_demo::Orders, &file()).await;
    let json = &outcome.json;
    assert!(outcome.report.violations.is_empty(), "{:#?}", outcome.report.violations);
    assert_eq!(json["domain"], "orders");
    assert_eq!(json["violations"], json!([]));
    assert_eq!(
        json["stock_initial"],
        json!({"SKU-RED-MUG": 1000, "SKU-SOLD-OUT": 0, "SKU-TEA-100G": 1000})
    );
    assert_eq!(size(json, "orders"), 12);
    let statuses: Vec<&str> = json["orders"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        statuses
            .iter()
            .all(|s| ["shipped", "cancelled", "rejected"].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(size(json, "stock"), 3);
    assert_eq!(json["stock"]["SKU-SOLD-OUT"], json!({"available": 0, "reserved": 0}));
    let mug = &json["stock"]["SKU-RED-MUG"];
    assert_eq!(
        mug["available"].as_u64().unwrap() + mug["reserved"].as_u64().unwrap(),
        1000,
        "what is not shipped is back on the shelf"
    );
    assert_eq!(size(json, "parked"), 1, "the malformed message");
    assert!(json["parked"][0]["kind"].is_string() && json["parked"][0]["reason"].is_string());
    assert_eq!(json["dead_letters"], 0);
    let decisions: u64 = json["notifications"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n["decisions"].as_u64().unwrap())
        .sum();
    assert_eq!(decisions, 12, "each order's outcome told once");
    assert_eq!(
        size(json, "answers"),
        14,
        "12 orders, a client's retry and a malformed request"
    );
    assert_eq!(json["answers"]["POST /orders (malformed #0)"], 400);
    assert_eq!(json["answers"]["POST /orders #0"], 202);
}

/// GIVEN the sensors demo's file WHEN its outcome is computed THEN every invariant holds and
/// the JSON says what the harness compares: the counts, refusals by field, every window's final
/// verdict with its start as the events write it, the expected alerts and the too-late readings.
#[tokio::test(start_paused = true)]
async fn given_the_sensors_scenario_file_when_its_outcome_is_computed_then_it_holds_and_has_the_harness_shape() {
    let outcome = outcome_of(&sensors_demo::Sensors, &sensors_file()).await;
    let json = &outcome.json;
    assert!(outcome.report.violations.is_empty(), "{:#?}", outcome.report.violations);
    assert_eq!(json["domain"], "sensors");
    assert_eq!(json["violations"], json!([]));
    assert!(
        json["readings"].as_u64().unwrap() > 5_000,
        "an hour of readings from 24 sensors"
    );
    assert_eq!(json["refused"], 24, "one invalid reading per sensor");
    let by_field: u64 = json["refused_by_field"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_field, 24);
    assert!(json["revised"].as_u64().unwrap() > 0, "late readings revise windows");
    let too_late = json["too_late"].as_u64().unwrap();
    assert!(too_late > 0, "some readings beyond the horizon");
    assert_eq!(size(json, "too_late_ids") as u64, too_late);
    let windows = json["windows"].as_array().unwrap();
    assert!(windows.len() > 24 * 60, "a window a minute per stream");
    let anomalous = windows.iter().filter(|w| !w["direction"].is_null()).count();
    assert_eq!(anomalous as u64, json["anomalous"].as_u64().unwrap());
    assert!(windows.iter().any(|w| w["direction"] == "above") && windows.iter().any(|w| w["direction"] == "below"));
    let first = &windows[0];
    assert!(first["sensorId"].is_string() && first["metric"].is_string() && first["count"].as_u64().unwrap() > 0);
    let start = first["windowStart"].as_str().unwrap();
    assert_eq!(
        start,
        sensors::time::utc(sensors::time::parse(start).unwrap()),
        "written as the events write it"
    );
    assert!(start.ends_with(":00Z"), "a minute's start in UTC: {start}");
    assert!(size(json, "alerts") > 0);
    let alerts: Vec<&str> = json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(alerts.is_sorted(), "sorted, so runs compare as text");
}

/// GIVEN a sensors scenario other than the one the site generates WHEN its outcome is asked
/// for THEN it is refused, naming where it differs and the command that regenerates the file:
/// the invariants judge each reading by the fate the generator gave it.
#[tokio::test(start_paused = true)]
async fn given_a_sensors_scenario_not_generated_when_its_outcome_is_asked_for_then_it_is_refused_naming_the_regenerate_command()
 {
    let mut scenario = Scenario::parse(&std::fs::read_to_string(sensors_file()).unwrap()).unwrap();
    scenario.steps.remove(3);
    let Err(error) = sensors_demo::Sensors
        .outcome(&root().join("infra/template.yaml"), &scenario, &registry(), &|_| {})
        .await
    else {
        panic!("a scenario the site did not generate was judged");
    };
    let message = error.to_string();
    assert!(message.contains("step 4 differs"), "{message}");
    assert!(
        message.contains("UPDATE_SCENARIOS=1 cargo test -p system-tests --test scenario_files"),
        "{message}"
    );
}

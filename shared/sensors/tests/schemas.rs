//! The sensors events' schemas in `events/schemas/iot.sensors/` as a contract: the file of each
//! current version is what its Rust type generates, a change to an existing version breaks none
//! of its consumers, each version has a file and no other file is there, and the events the
//! domain decides conform to their schemas.
//!
//! `UPDATE_SCHEMAS=1 cargo test -p sensors --test schemas` rewrites the files of the current
//! versions, but never to a schema that breaks the version it replaces: that is a new version
//! with an upcaster.
//!
//! The schema tooling (generation, the compatibility checker, the payload checker) is the
//! orders crate's, generic over any `EventType`; it is called here, not copied.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use envelope::EventType;
use orders::schemas::{self as tooling, EventSchema, breaking_changes, violations};
use schemars::JsonSchema;
use sensors::alerts::{AlertSettings, Alerts};
use sensors::events::{self, EventTypeVisitor, SOURCE, SensorReadingReceived};
use sensors::windows::Windows;
use serde_json::Value;
use support::{AlertStore, WindowStore, reading, time};

/// The command that rewrites the schema files of the current versions.
const REFRESH: &str = "UPDATE_SCHEMAS=1 cargo test -p sensors --test schemas";

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/schemas")
}

fn shown(file: &str) -> String {
    format!("events/schemas/{file}")
}

/// The schema of every sensors event type at its current version, with this crate's refresh
/// command in its `$comment` (the generator writes the orders crate's).
fn current() -> Vec<EventSchema> {
    struct Generate(Vec<EventSchema>);
    impl EventTypeVisitor for Generate {
        fn visit<E: EventType + JsonSchema>(&mut self) {
            let mut generated = EventSchema::of::<E>();
            if let Some(Value::String(comment)) = generated.schema.get_mut("$comment") {
                *comment = comment.replace(tooling::REFRESH, REFRESH);
            }
            self.0.push(generated);
        }
    }
    let mut generate = Generate(Vec::new());
    events::visit_all(&mut generate);
    generate.0
}

fn on_disk(file: &str) -> Option<Value> {
    let path = schemas_dir().join(file);
    let text = fs::read_to_string(&path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display())))
}

/// Writes through a temporary file, so a test reading it meanwhile never sees half of it.
fn write(file: &str, schema: &Value) {
    let path = schemas_dir().join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let temporary = path.with_extension("json.tmp");
    fs::write(&temporary, serde_json::to_string_pretty(schema).unwrap() + "\n").unwrap();
    fs::rename(&temporary, &path).unwrap();
}

/// Why a generated schema may not replace its committed file, if it may not.
fn refusal(committed: &Value, generated: &EventSchema) -> Option<String> {
    let breaks = breaking_changes(committed, &generated.schema);
    if breaks.is_empty() {
        return None;
    }
    let (file, version) = (shown(&generated.file()), generated.version);
    let breaks: Vec<String> = breaks.iter().map(ToString::to_string).collect();
    Some(format!(
        "{} {} as the Rust type now is would break version {version} ({file}):\n    {}\n  \
         Add version {} with an upcaster instead (bump VERSION, add the upcaster, keep {file}, then run `{REFRESH}`).",
        generated.source,
        generated.event_type,
        breaks.join("\n    "),
        version + 1
    ))
}

/// With `UPDATE_SCHEMAS=1`, rewrites the files once, before any test reads them, unless the
/// change would break the version. Returns the refusals.
fn refresh_once() -> &'static [String] {
    static REFUSED: OnceLock<Vec<String>> = OnceLock::new();
    REFUSED.get_or_init(|| {
        if std::env::var_os("UPDATE_SCHEMAS").is_none_or(|v| v != "1") {
            return Vec::new();
        }
        let mut refused = Vec::new();
        for generated in current() {
            let file = generated.file();
            match on_disk(&file) {
                Some(committed) if committed == generated.schema => {}
                Some(committed) => match refusal(&committed, &generated) {
                    Some(refusal) => refused.push(refusal),
                    None => write(&file, &generated.schema),
                },
                None => write(&file, &generated.schema),
            }
        }
        refused
    })
}

fn committed(file: &str) -> Option<Value> {
    refresh_once();
    on_disk(file)
}

#[test]
fn given_the_rust_types_when_their_schemas_are_generated_then_each_is_its_committed_file() {
    let mut problems = refresh_once().to_vec();
    let generated = current();
    assert_eq!(generated.len(), 5, "every sensors event type");
    for generated in generated {
        let file = generated.file();
        match committed(&file) {
            None => problems.push(format!("{} is missing. Write it with `{REFRESH}`", shown(&file))),
            Some(committed) if committed == generated.schema => {}
            Some(committed) => match refusal(&committed, &generated) {
                Some(refusal) if problems.contains(&refusal) => {}
                Some(refusal) => problems.push(refusal),
                None => problems.push(format!(
                    "{} is stale: its Rust type changed. Refresh it with `{REFRESH}`",
                    shown(&file)
                )),
            },
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}

#[test]
fn the_schemas_folder_of_the_source_holds_a_file_for_each_version_and_nothing_else() {
    refresh_once();
    let expected: BTreeSet<String> = current()
        .iter()
        .flat_map(|s| (1..=s.version).map(|v| tooling::file(s.source, s.event_type, v)))
        .collect();
    let found: BTreeSet<String> = fs::read_dir(schemas_dir().join(SOURCE))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("{SOURCE}/{name}"))
        .collect();
    assert_eq!(found, expected, "remove a file no event type has, or register the type");
}

#[test]
fn every_generated_schema_tolerates_additions_and_types_its_enums() {
    for generated in current() {
        let schema = &generated.schema;
        assert_ne!(
            schema.get("additionalProperties"),
            Some(&Value::Bool(false)),
            "{}: consumers must accept added fields",
            generated.event_type
        );
        let text = schema.to_string();
        if text.contains("Direction") {
            assert!(text.contains(r#""above""#) && text.contains(r#""below""#), "{text}");
        }
    }
}

/// `violations` checks integer formats; a float's `double` says nothing serde does not check
/// (every JSON number reads as an `f64`), so it is taken off before checking.
fn without_float_formats(schema: &Value) -> Value {
    match schema {
        Value::Object(keywords) => Value::Object(
            keywords
                .iter()
                .filter(|(k, v)| !(*k == "format" && v.as_str() == Some("double")))
                .map(|(k, v)| (k.clone(), without_float_formats(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_float_formats).collect()),
        other => other.clone(),
    }
}

#[test]
fn the_events_the_domain_decides_conform_to_their_committed_schemas() {
    // A reading, an anomaly detected and cleared, an alert triggered and resolved.
    let windows = Windows::new(support::at_once()).unwrap();
    let alerts = Alerts::new(AlertSettings::default()).unwrap();
    let (mut window_store, mut alert_store) = (WindowStore::default(), AlertStore::default());
    let mut emitted = Vec::new();
    let readings = [
        [reading("s-adelaide", "2026-11-23T20:30:10+10:30", 31.0)],
        [reading("s-adelaide", "2026-11-23T20:33:00+10:30", 20.0)],
        [reading("s-adelaide", "2026-11-23T20:30:20+10:30", 1.0)],
    ];
    for batch in &readings {
        let outcome = window_store.run(&windows, batch, time("2026-11-23T10:05:00Z"));
        let alerted = alert_store.run(&alerts, &outcome.events);
        emitted.extend(outcome.events.iter().map(|e| e.to_untyped().unwrap()));
        emitted.extend(alerted.events.iter().map(|e| e.to_untyped().unwrap()));
    }
    let received = events::reading_event(
        SensorReadingReceived {
            sensor_id: "s-adelaide".into(),
            metric: "temperature".into(),
            value: 31.0,
            unit: "C".into(),
        },
        time("2026-11-23T20:30:10+10:30"),
    );
    emitted.push(received.to_untyped().unwrap());
    let types: BTreeSet<&str> = emitted.iter().map(|e| e.metadata.event_type.as_str()).collect();
    assert_eq!(types.len(), 5, "every type is emitted: {types:?}");
    for event in &emitted {
        let file = tooling::file(SOURCE, &event.metadata.event_type, event.metadata.version);
        let schema = committed(&file).unwrap_or_else(|| panic!("{} is missing", shown(&file)));
        let found = violations(&without_float_formats(&schema), &event.data);
        assert!(found.is_empty(), "{}: {found:?}", event.metadata.event_type);
        let mut missing = event.data.clone();
        missing.as_object_mut().unwrap().remove("sensorId");
        assert_eq!(
            violations(&without_float_formats(&schema), &missing),
            ["data.sensorId: required field is missing"]
        );
    }
}

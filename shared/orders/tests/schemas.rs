//! The event schemas in `events/schemas/` as a contract: the file of each current version is
//! what its Rust type generates, a change to an existing version breaks none of its consumers,
//! every version from 1 to the current has a file and an upcaster path, and every sample
//! event conforms to its version's schema exactly when its consumer can read it.
//!
//! `UPDATE_SCHEMAS=1 cargo test -p orders --test schemas` rewrites the files of the current
//! versions (and freezes the file of a version that is no longer current), but never to a
//! schema that breaks the version it replaces: that is a new version with an upcaster.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use envelope::{Decoder, Envelope, Location};
use orders::events::{CustomerNotified, SOURCE};
use orders::lifecycle::OrderEvent;
use orders::schemas::{self, BreakingChange, Change, EventSchema, REFRESH, breaking_changes, violations};
use serde_json::{Value, json};

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn schemas_dir() -> PathBuf {
    events_dir().join("schemas")
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SCHEMAS").is_some_and(|v| v == "1")
}

/// A committed schema file, if there is one (after the refresh, when one is asked for).
fn committed(file: &str) -> Option<Value> {
    refresh_once();
    on_disk(file)
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

fn shown(file: &str) -> String {
    format!("events/schemas/{file}")
}

/// What refreshing does to the file of a current version: nothing (`None`), write the
/// generated schema, or refuse because the change would break the version.
fn refreshed<'a>(committed: Option<&Value>, generated: &'a EventSchema) -> Result<Option<&'a Value>, String> {
    let Some(committed) = committed else {
        return Ok(Some(&generated.schema));
    };
    if committed == &generated.schema {
        return Ok(None);
    }
    let breaks = breaking_changes(committed, &generated.schema);
    if breaks.is_empty() {
        Ok(Some(&generated.schema))
    } else {
        Err(refusal(generated, &breaks))
    }
}

fn refusal(generated: &EventSchema, breaks: &[BreakingChange]) -> String {
    let (file, version) = (shown(&generated.file()), generated.version);
    let breaks: Vec<String> = breaks.iter().map(ToString::to_string).collect();
    format!(
        "{} {} as the Rust type now is would break version {version} ({file}):\n    {}\n  \
         A version's contract does not change that way: add version {} with an upcaster instead \
         (bump VERSION, add the upcaster, keep {file} as it is, then run `{REFRESH}`).",
        generated.source,
        generated.event_type,
        breaks.join("\n    "),
        version + 1
    )
}

/// With `UPDATE_SCHEMAS=1`, rewrites the files once, before any test reads them: the current
/// versions' files unless the change would break them, and the files of versions no longer
/// current as frozen snapshots. Returns the refusals.
fn refresh_once() -> &'static [String] {
    static REFUSED: OnceLock<Vec<String>> = OnceLock::new();
    REFUSED.get_or_init(|| if updating() { refresh() } else { Vec::new() })
}

fn refresh() -> Vec<String> {
    let mut refused = Vec::new();
    for generated in schemas::current() {
        let file = generated.file();
        match refreshed(on_disk(&file).as_ref(), &generated) {
            Ok(None) => {}
            Ok(Some(schema)) => write(&file, schema),
            Err(refusal) => refused.push(refusal),
        }
        for version in 1..generated.version {
            let file = schemas::file(generated.source, generated.event_type, version);
            let frozen = Value::String(schemas::frozen_comment(version));
            if let Some(mut snapshot) = on_disk(&file)
                && snapshot["$comment"] != frozen
            {
                snapshot["$comment"] = frozen;
                write(&file, &snapshot);
            }
        }
    }
    refused
}

#[test]
fn given_the_rust_types_when_their_schemas_are_generated_then_each_is_its_committed_file() {
    let mut problems = refresh_once().to_vec();
    for generated in schemas::current() {
        let file = generated.file();
        let committed = committed(&file);
        match refreshed(committed.as_ref(), &generated) {
            Ok(None) => {}
            Ok(Some(_)) => problems.push(format!(
                "{} is {}. Refresh it with `{REFRESH}`",
                shown(&file),
                if committed.is_some() {
                    "stale: its Rust type changed"
                } else {
                    "missing"
                }
            )),
            Err(refusal) if problems.contains(&refusal) => {} // refused by the refresh
            Err(refusal) => problems.push(refusal),
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}

#[test]
fn given_a_committed_version_when_its_type_is_regenerated_then_nothing_breaks_its_consumers() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for generated in schemas::current() {
        let Some(committed) = committed(&generated.file()) else {
            continue; // a new version: nothing to be compatible with (the freshness test writes it)
        };
        checked += 1;
        let breaks = breaking_changes(&committed, &generated.schema);
        if !breaks.is_empty() {
            problems.push(refusal(&generated, &breaks));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
    assert!(checked > 0, "no committed schema under {}", schemas_dir().display());
}

#[test]
fn every_version_from_1_to_the_current_has_a_file_and_older_ones_are_frozen_snapshots() {
    refresh_once();
    let current = schemas::current();
    let expected: BTreeSet<String> = current
        .iter()
        .flat_map(|s| (1..=s.version).map(|v| schemas::file(s.source, s.event_type, v)))
        .collect();
    // Only this domain's source: other domains keep their schemas beside these.
    let found: BTreeSet<String> = fs::read_dir(schemas_dir().join(orders::events::SOURCE))
        .unwrap()
        .map(|file| file.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            path.strip_prefix(schemas_dir())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let mut problems = Vec::new();
    for file in found.difference(&expected) {
        problems.push(format!(
            "{}: no event type has this version; remove it, or register the type",
            shown(file)
        ));
    }
    for generated in &current {
        for version in 1..generated.version {
            let file = schemas::file(generated.source, generated.event_type, version);
            let frozen = Value::String(schemas::frozen_comment(version));
            match committed(&file) {
                None => problems.push(format!(
                    "{} is missing: the Rust type models version {} only, so write version {version}'s \
                     schema by hand with \"$comment\": {frozen} and an example, from what its upcaster reads",
                    shown(&file),
                    generated.version
                )),
                Some(snapshot) if snapshot["$comment"] == frozen => {}
                Some(_) => problems.push(format!(
                    "{}: version {version} is no longer current; freeze its file with `{REFRESH}`",
                    shown(&file)
                )),
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
    assert!(found.len() > current.len(), "OrderPlaced is at version 2: two files");
}

fn envelope_of(event_type: &str, version: u32, data: &Value) -> Envelope<Value> {
    let metadata = json!({
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": event_type, "version": version,
        "source": SOURCE, "time": "2026-11-23T09:00:00Z", "subject": "example",
        "correlationId": "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    });
    Envelope::from_json_value(json!({ "metadata": metadata, "data": data }), &Location::root()).unwrap()
}

/// Whether a consumer of the orders events reads `envelope`: upcast, then typed.
fn read(envelope: Envelope<Value>) -> Result<Envelope<Value>, String> {
    let at = Location::root();
    let current = orders::registry().upcast(envelope, &at).map_err(|e| e.to_string())?;
    let typed = match current.metadata.event_type.as_str() {
        "CustomerNotified" => current.clone().into_typed::<CustomerNotified>(&at).map(drop),
        _ => OrderEvent::from_envelope(current.clone()).map(drop),
    };
    typed.map(|()| current).map_err(|e| e.to_string())
}

#[test]
fn given_an_example_of_each_older_version_when_upcast_then_it_is_a_valid_current_event() {
    let mut upcast = 0;
    for generated in schemas::current() {
        for version in 1..generated.version {
            let file = schemas::file(generated.source, generated.event_type, version);
            let snapshot = committed(&file).unwrap_or_else(|| panic!("{} is missing", shown(&file)));
            let examples = snapshot["examples"].as_array().cloned().unwrap_or_default();
            assert!(
                !examples.is_empty(),
                "{}: add an example of version {version} (`examples`) so its upcaster path is tested",
                shown(&file)
            );
            for example in examples {
                let errors = violations(&snapshot, &example);
                assert!(
                    errors.is_empty(),
                    "{}: its example does not conform: {errors:?}",
                    shown(&file)
                );
                let current = read(envelope_of(generated.event_type, version, &example)).unwrap_or_else(|e| {
                    panic!(
                        "{}: its example is not read as version {}: {e}",
                        shown(&file),
                        generated.version
                    )
                });
                let errors = violations(&generated.schema, &current.data);
                assert!(
                    errors.is_empty(),
                    "{}: upcast, its example breaks the current schema: {errors:?}",
                    shown(&file)
                );
                upcast += 1;
            }
        }
    }
    assert!(upcast > 0, "OrderPlaced version 1 has an example");
}

fn sample_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path != schemas_dir() {
            sample_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "json") {
            found.push(path);
        }
    }
}

#[test]
fn every_sample_event_conforms_to_its_versions_schema_exactly_when_its_consumer_reads_it() {
    let mut samples = Vec::new();
    sample_files(&events_dir(), &mut samples);
    let (mut conforming, mut refused, mut older) = (0, 0, 0);
    let mut problems = Vec::new();
    for path in samples {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // `bad-` samples are refused before their data is read; Function URL requests are not events.
        let Ok(records) = Decoder::new().decode_slice(&fs::read(&path).unwrap()) else {
            continue;
        };
        for envelope in records.into_iter().filter_map(|r| r.envelope.ok()) {
            let metadata = &envelope.metadata;
            if metadata.source != SOURCE || name.starts_with("bad-") {
                continue;
            }
            let file = schemas::file(SOURCE, &metadata.event_type, metadata.version);
            let Some(schema) = committed(&file) else {
                problems.push(format!("{name}: no schema for {file}"));
                continue;
            };
            let errors = violations(&schema, &envelope.data);
            older +=
                usize::from(metadata.version < orders::registry().current_version(&metadata.event_type).unwrap_or(0));
            match (errors.is_empty(), read(envelope.clone())) {
                (true, Ok(_)) => conforming += 1,
                (false, Err(_)) => refused += 1,
                (true, Err(e)) => problems.push(format!("{name}: conforms to {file} but is refused: {e}")),
                (false, Ok(_)) => problems.push(format!("{name}: is read but does not conform to {file}: {errors:?}")),
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
    assert!(
        conforming >= 8 && refused >= 1 && older >= 1,
        "the samples include events that conform ({conforming}), one that does not ({refused}), and an older version ({older})"
    );
}

// The compatibility checker, on small handmade schemas.

fn order_placed() -> EventSchema {
    schemas::current()
        .into_iter()
        .find(|s| s.event_type == "OrderPlaced")
        .unwrap()
}

fn order(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn changes(committed: &Value, generated: &Value) -> Vec<(String, Change)> {
    breaking_changes(committed, generated)
        .into_iter()
        .map(|b| (b.at, b.change))
        .collect()
}

fn text() -> Value {
    json!({ "type": "string" })
}

#[test]
fn given_a_removed_field_then_the_change_is_breaking() {
    let before = order(json!({ "orderId": text(), "note": text() }), &["orderId"]);
    let after = order(json!({ "orderId": text() }), &["orderId"]);
    assert_eq!(
        changes(&before, &after),
        [("data.note".to_owned(), Change::FieldRemoved)]
    );
}

#[test]
fn given_a_renamed_field_then_the_change_is_breaking() {
    let before = order(json!({ "orderId": text() }), &["orderId"]);
    let after = order(json!({ "orderID": text() }), &["orderID"]);
    assert_eq!(
        changes(&before, &after),
        [
            ("data.orderID".to_owned(), Change::FieldRequired),
            ("data.orderId".to_owned(), Change::FieldRemoved)
        ]
    );
}

#[test]
fn given_a_changed_type_at_the_top_or_inside_a_line_then_the_change_is_breaking() {
    let line = |quantity: Value| {
        json!({ "type": "object", "properties": { "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } } },
                "$defs": { "Line": { "type": "object", "properties": { "quantity": quantity } } } })
    };
    let before = line(json!({ "type": "integer", "format": "uint32", "minimum": 0 }));
    let after = line(json!({ "type": "string" }));
    assert_eq!(
        changes(&before, &after),
        [
            (
                "data.lines[].quantity".to_owned(),
                Change::TypeChanged {
                    from: "integer (uint32)".into(),
                    to: "string".into()
                }
            ),
            (
                "data.lines[].quantity".to_owned(),
                Change::ConstraintChanged {
                    keyword: "minimum".into(),
                    from: Some(json!(0)),
                    to: None
                }
            )
        ]
    );
    let wider = line(json!({ "type": "integer", "format": "uint64", "minimum": 0 }));
    assert!(matches!(
        &changes(&before, &wider)[..],
        [(_, Change::TypeChanged { .. })]
    ));
    let nullable = order(json!({ "total": { "type": ["integer", "null"] } }), &[]);
    assert_eq!(
        changes(&order(json!({ "total": { "type": "integer" } }), &[]), &nullable),
        [(
            "data.total".to_owned(),
            Change::TypeChanged {
                from: "integer".into(),
                to: "integer or null".into()
            }
        )]
    );
}

#[test]
fn given_a_new_required_field_then_the_change_is_breaking() {
    let before = order(json!({ "orderId": text() }), &["orderId"]);
    let after = order(json!({ "orderId": text(), "channel": text() }), &["orderId", "channel"]);
    assert_eq!(
        changes(&before, &after),
        [("data.channel".to_owned(), Change::FieldRequired)]
    );
}

#[test]
fn given_a_required_field_made_optional_then_the_change_is_breaking() {
    let before = order(json!({ "orderId": text() }), &["orderId"]);
    let after = order(json!({ "orderId": text() }), &[]);
    assert_eq!(
        changes(&before, &after),
        [("data.orderId".to_owned(), Change::FieldOptional)]
    );
}

#[test]
fn given_an_enum_value_removed_or_added_then_the_change_is_breaking() {
    let status = |values: Value| order(json!({ "status": { "type": "string", "enum": values } }), &["status"]);
    assert_eq!(
        changes(
            &status(json!(["placed", "shipped"])),
            &status(json!(["placed", "sent"]))
        ),
        [
            ("data.status".to_owned(), Change::EnumValueRemoved(json!("shipped"))),
            ("data.status".to_owned(), Change::EnumValueAdded(json!("sent")))
        ]
    );
}

#[test]
fn given_a_new_optional_field_new_docs_or_a_renamed_definition_then_the_change_is_compatible() {
    let before = json!({ "type": "object", "properties": { "lines": { "type": "array", "items": { "$ref": "#/$defs/OrderLine" } } },
                         "required": ["lines"], "$defs": { "OrderLine": { "type": "object", "properties": { "sku": text() } } } });
    let after = json!({ "type": "object", "description": "Now documented.",
                        "properties": { "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } },
                                        "giftWrap": { "type": ["boolean", "null"] } },
                        "required": ["lines"],
                        "$defs": { "Line": { "type": "object", "properties": { "sku": text(), "discountCode": text() } } } });
    assert_eq!(changes(&before, &after), []);
    let placed = &order_placed().schema;
    let mut with_a_new_optional_field = placed.clone();
    with_a_new_optional_field["properties"]["giftWrap"] = json!({ "type": ["string", "null"] });
    assert_eq!(changes(placed, &with_a_new_optional_field), []);
}

#[test]
fn given_a_breaking_change_to_an_existing_version_when_refreshing_then_the_file_stays_and_a_new_version_is_asked_for() {
    let placed = &order_placed();
    assert_eq!(placed.version, 3);
    let mut breaking = placed.clone();
    breaking.schema["properties"]
        .as_object_mut()
        .unwrap()
        .remove("currency");
    let refused = refreshed(Some(&placed.schema), &breaking).unwrap_err();
    assert!(refused.contains("data.currency: removed or renamed"), "{refused}");
    assert!(refused.contains("add version 4 with an upcaster instead"), "{refused}");
    let mut compatible = placed.clone();
    compatible.schema["properties"]["giftWrap"] = json!({ "type": "boolean" });
    assert_eq!(
        refreshed(Some(&placed.schema), &compatible),
        Ok(Some(&compatible.schema))
    );
    assert_eq!(refreshed(Some(&placed.schema), placed), Ok(None));
}

#[test]
fn given_a_payload_then_each_violation_of_its_schema_is_named_by_its_path() {
    let placed = &order_placed().schema;
    let mut data = json!({ "orderId": "o-1", "customer": { "id": "c-1" }, "currency": "EUR", "total": 10,
                           "lines": [ { "sku": "A", "quantity": 1, "unitPrice": 10, "addedLater": true } ],
                           "addedLater": { "by": "a newer producer" } });
    assert_eq!(violations(placed, &data), Vec::<String>::new(), "additions conform");
    data["lines"][0]["quantity"] = json!(5_000_000_000_u64);
    data["total"] = json!(-1);
    data.as_object_mut().unwrap().remove("currency");
    let mut found = violations(placed, &data);
    found.sort();
    assert_eq!(
        found,
        [
            "data.currency: required field is missing",
            "data.lines[0].quantity: 5000000000 is not a \"uint32\"",
            "data.total: -1 is not a \"uint64\"",
            "data.total: -1 is outside the minimum 0",
        ]
    );
}

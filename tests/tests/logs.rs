//! What the functions log and keep (issue 14): every domain's demo runs as `make demo` runs
//! it, faults on and malformed input included, with the functions' own JSON log subscriber
//! capturing every line at the level they ship with (`info`: nothing above debug is left out).
//! No line may carry an event's data: no personal value, and no value of a data field but the
//! ids that say what a line is about. And no personal value the customers sent is in clear in
//! any event on the bus, in the event store, in a tracking view or in an idempotency record:
//! past order-api, they are sealed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeSet;
use std::path::PathBuf;

use emulator::domain::DemoOptions;
use emulator::faults::Faults;
use event_store::InMemoryEventStore;
use handler_kit::testing::CapturedLogs;
use order_stores::{InMemoryOrderViews, OrderViews};
use serde_json::Value;

/// Every string in the `data` of what was emitted, but ids (`orderId`, `paymentId`, ...),
/// which name what a log line is about and are logged on purpose.
fn data_values(value: &Value, in_data: bool, key: &str, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (name, inner) in object {
                data_values(inner, in_data || name == "data", name, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| data_values(item, in_data, key, found)),
        Value::String(text) if in_data && !key.ends_with("Id") => {
            found.insert(text.clone());
        }
        _ => {}
    }
}

/// Whether `line` carries `value`: anywhere in it, or, for a value too short to tell from a
/// word (a unit such as `C`), as a whole JSON string.
fn logged(line: &str, value: &str) -> bool {
    if value.chars().count() < 4 {
        return line.contains(&format!("{value:?}"));
    }
    line.contains(value)
}

#[tokio::test(start_paused = true)]
async fn the_demo_logs_no_event_data_at_info() {
    let captured = CapturedLogs::default();
    let _logging = captured.install();
    let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    // Every personal value the orders demo's customers may have sent (more numbers than orders).
    let mut secrets: BTreeSet<String> = (0..64).flat_map(orders_demo::personal_values).collect();
    let mut in_clear = Vec::new();
    for domain in localcloud::domains() {
        let options = DemoOptions {
            size: 12,
            seed: 1,
            faults: Faults::demo(),
            replay: None,
            variant: None,
        };
        let mut run = domain.demo(&template, options, &localcloud::catalogue()).unwrap();
        run.cloud_mut().keep_emitted();
        let report = run.finish().await;
        assert!(
            report.violations.is_empty(),
            "{}: {:#?}",
            domain.name(),
            report.violations
        );
        for emitted in run.cloud_mut().emitted() {
            data_values(&emitted.event, false, "", &mut secrets);
        }
        // What was kept: every event on the bus, the event store, the tracking views. (The
        // notifications topic is where a message leaves for the customer: it names them.)
        let cloud = run.cloud_mut();
        let mut kept: Vec<(String, String)> = cloud
            .emitted()
            .iter()
            .filter(|e| e.bus.is_some())
            .map(|e| ("bus".to_owned(), e.event.to_string()))
            .collect();
        for (name, store) in cloud.tables().all::<InMemoryEventStore>() {
            kept.extend(store.events().iter().map(|e| (name.clone(), format!("{e:?}"))));
        }
        // Idempotency records keep what a function sent, to hand it to a duplicate: not when
        // it names people (notify-customer's messages keep a digest only).
        for (name, records) in cloud.tables().all::<idempotency::InMemoryStore>() {
            kept.extend(records.records().iter().map(|r| (name.clone(), format!("{r:?}"))));
        }
        for (name, views) in cloud.tables().all::<InMemoryOrderViews>() {
            let views = views.all().await.unwrap();
            kept.extend(views.iter().map(|v| (name.clone(), serde_json::to_string(v).unwrap())));
        }
        assert!(kept.len() > 50, "{}: only {} kept items", domain.name(), kept.len());
        for (place, text) in &kept {
            for value in (0..64).flat_map(orders_demo::personal_values) {
                if text.contains(&value) {
                    in_clear.push(format!("{value:?} in clear in {place}: {text}"));
                }
            }
        }
    }
    assert!(
        in_clear.is_empty(),
        "{} personal values in clear:\n{}",
        in_clear.len(),
        in_clear.join("\n")
    );
    assert!(
        secrets.iter().any(|s| s.ends_with("@example.com")),
        "the run addressed no customer: {secrets:?}"
    );
    let text = captured.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 100, "only {} log lines", lines.len());
    let mut leaks = Vec::new();
    for line in &lines {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
        leaks.extend(
            secrets
                .iter()
                .filter(|s| logged(line, s))
                .map(|s| format!("{s:?} in {line}")),
        );
    }
    assert!(
        leaks.is_empty(),
        "{} event data values logged:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

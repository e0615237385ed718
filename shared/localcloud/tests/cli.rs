//! `localcloud decode` as a person runs it: on files, on stdin, on good and bad payloads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn carriers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/carriers")
}

fn localcloud(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_localcloud"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(str::to_owned).collect()
}

#[test]
fn given_an_sqs_batch_when_decoded_then_one_json_line_per_envelope_with_its_message_id() {
    let file = carriers().join("order-placed.sqs-eventbridge.json");
    let out = localcloud(&["decode", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["messageId"], "059f36b4-87a3-44ab-83d2-661975830a7d");
    assert_eq!(records[0]["carrier"], "sqs/eventbridge");
    assert_eq!(records[0]["envelope"]["metadata"]["type"], "OrderPlaced");
    assert_eq!(records[0]["envelope"]["metadata"]["time"], "2026-11-23T04:45:00.250Z");
    assert_eq!(
        records[2]["envelope"]["metadata"]["causationId"],
        records[0]["envelope"]["metadata"]["id"]
    );
}

#[test]
fn given_stdin_when_decoding_dash_then_it_reads_the_payload_from_stdin() {
    let payload = std::fs::read(carriers().join("order-shipped.sqs-sns.json")).unwrap();
    let out = localcloud(&["decode", "-"], Some(&payload));
    assert!(out.status.success());
    let record: Value = serde_json::from_str(&lines(&out.stdout)[0]).unwrap();
    assert_eq!(record["carrier"], "sqs/sns");
    assert_eq!(record["envelope"]["metadata"]["type"], "OrderShipped");
}

#[test]
fn given_a_batch_with_one_bad_record_then_good_ones_print_the_bad_one_is_named_and_exit_is_1() {
    let file = carriers().join("bad-json.sqs-eventbridge.json");
    let out = localcloud(&["decode", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines(&out.stdout).len(), 1, "the good record is still printed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "record 1 (message id '7e0a3b9c-8d1f-4c2b-af5a-4b3c2d1e0f9a'), at `Records[1].body`: not valid JSON"
        ),
        "{stderr}"
    );
}

#[test]
fn given_each_bad_sample_then_the_error_names_what_and_where_and_exit_is_1() {
    for (file, expected) in [
        (
            "bad-broken-inner.sqs-sns.json",
            "at `Records[0].body > Message`: not valid JSON",
        ),
        (
            "bad-missing-type.sqs-eventbridge.json",
            "at `Records[0].body > detail.metadata.type`: required field is missing",
        ),
        ("bad-oversize.sqs-envelope.json", "over the 1048576-byte limit"),
        (
            "bad-time-without-offset.sqs-envelope.json",
            "at `Records[0].body > metadata.time`: '2026-11-23T09:00:00' is not an RFC 3339 time",
        ),
        (
            "bad-carrier-mismatch.eventbridge.json",
            "at `detail-type`: the carrier says 'OrderShipped' but the envelope says 'OrderPlaced'",
        ),
    ] {
        let out = localcloud(&["decode", carriers().join(file).to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{file}: {stderr}");
    }
}

#[test]
fn given_a_file_that_is_not_there_or_not_json_then_the_error_says_so() {
    let out = localcloud(&["decode", "no-such-file.json"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no-such-file.json"));

    let out = localcloud(&["decode", "-"], Some(b"<xml/>"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("payload: not valid JSON"));
}

#[test]
fn summary_prints_one_readable_line_per_record() {
    let file = carriers().join("sensor-reading.sqs-envelope.json");
    let out = localcloud(&["decode", "--summary", file.to_str().unwrap()], None);
    assert!(out.status.success());
    let lines = lines(&out.stdout);
    assert_eq!(lines.len(), 3);
    // 09:00 in Tokyo is midnight UTC.
    assert!(lines[0].starts_with("record 0 [sqs/envelope] SensorReadingRecorded v1 from iot.sensors about sensor-tokyo-7 #1041 at 2026-11-23T00:00:00Z"), "{}", lines[0]);
}

#[test]
fn given_an_old_version_of_a_known_type_then_it_is_shown_upcast() {
    let file = carriers().join("order-placed-v1.sqs-eventbridge.json");
    let out = localcloud(&["decode", file.to_str().unwrap()], None);
    assert!(out.status.success());
    let record: Value = serde_json::from_str(&lines(&out.stdout)[0]).unwrap();
    assert_eq!(record["envelope"]["metadata"]["version"], 3);
    assert_eq!(record["envelope"]["data"]["currency"], "EUR");
    assert!(record["envelope"]["data"]["customer"]["id"].is_string(), "{record}");
    assert_eq!(record["envelope"]["data"]["total"], 1250);
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn localcloud_at_root(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_localcloud"))
        .current_dir(root())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn test_event_pattern_prints_true_or_false_and_exits_2_on_an_invalid_pattern() {
    let event = r#"{"source": "shop.orders", "detail": {"total": 3399}}"#;
    let run = |pattern: &str| localcloud_at_root(&["test-event-pattern", "--event-pattern", pattern, "--event", event]);
    let yes = run(r#"{"detail": {"total": [{"numeric": [">", 1000]}]}}"#);
    assert_eq!(
        (yes.status.code(), lines(&yes.stdout)),
        (Some(0), vec!["true".to_owned()])
    );
    let no = run(r#"{"source": [{"prefix": "shop.sensors"}]}"#);
    assert_eq!(
        (no.status.code(), lines(&no.stdout)),
        (Some(0), vec!["false".to_owned()])
    );
    let invalid = run(r#"{"detail": {"total": [{"numeric": [">", "a lot"]}]}}"#);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(invalid.stdout.is_empty());
    let reason = String::from_utf8_lossy(&invalid.stderr);
    assert!(reason.contains("detail.total"), "the reason names where: {reason}");
}

#[test]
fn test_event_pattern_reads_files_given_with_an_at_sign() {
    let dir = std::env::temp_dir().join(format!("localcloud-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = dir.join("pattern.json");
    std::fs::write(&pattern, r#"{"detail-type": ["OrderPlaced"]}"#).unwrap();
    let event = dir.join("event.json");
    std::fs::write(&event, r#"{"detail-type": "OrderPlaced"}"#).unwrap();
    let out = localcloud_at_root(&[
        "test-event-pattern",
        "--event-pattern",
        &format!("@{}", pattern.display()),
        "--event",
        &format!("@{}", event.display()),
    ]);
    assert_eq!(lines(&out.stdout), ["true"]);
}

#[test]
fn route_names_every_rule_queue_and_function_an_event_reaches() {
    let out = localcloud_at_root(&[
        "route",
        "events/orders/process-payment/inventory-reserved.sqs-eventbridge.json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let routes = lines(&out.stdout);
    assert!(
        routes.contains(&"InventoryReserved: ProcessPaymentRule -> ProcessPaymentQueue -> process-payment".to_owned()),
        "{routes:?}"
    );
    assert!(routes.iter().any(|r| r.contains("OrderProjectionRule")), "{routes:?}");
    assert!(routes.iter().any(|r| r.contains("EventArchiveRule")), "{routes:?}");
    // Three records, each to the same three places.
    assert_eq!(routes.len(), 9, "{routes:?}");
}

#[test]
fn route_explain_says_for_each_rule_that_does_not_match_the_first_field_that_fails_and_why() {
    let sample = "events/orders/ship-order/payment-completed.sqs-eventbridge.json";
    let out = localcloud_at_root(&["route", "--explain", sample]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let explained = lines(&out.stdout);
    assert!(
        explained.contains(&"PaymentCompleted: ShipOrderRule -> ShipOrderQueue -> ship-order".to_owned()),
        "the routes are still there: {explained:?}"
    );
    assert!(
        explained.contains(
            &r#"PaymentCompleted: ReserveInventoryRule: no match: detail-type: "PaymentCompleted" is not "OrderPlaced""#
                .to_owned()
        ),
        "{explained:?}"
    );
    assert!(
        explained.contains(&r#"PaymentCompleted: NotifyCustomerRule: no match: detail-type: "PaymentCompleted" is not one of ["OrderShipped", "PaymentFailed", "OrderRejected"]"#.to_owned()),
        "{explained:?}"
    );
    // Without --explain, only where it goes.
    let plain = localcloud_at_root(&["route", sample]);
    assert!(lines(&plain.stdout).iter().all(|l| !l.contains("no match")));
}

#[test]
fn test_event_pattern_explain_prints_false_then_why_and_an_invalid_pattern_reads_as_put_rule() {
    let event = r#"{"source": "shop.orders", "detail": {"total": 3399}}"#;
    let run = |pattern: &str| {
        localcloud_at_root(&[
            "test-event-pattern",
            "--explain",
            "--event-pattern",
            pattern,
            "--event",
            event,
        ])
    };
    let no = run(r#"{"detail": {"total": [{"numeric": [">", 5000]}]}}"#);
    assert_eq!(
        (no.status.code(), lines(&no.stdout)),
        (
            Some(0),
            vec!["false".to_owned(), "detail.total: 3399 is not in [>5000]".to_owned()]
        )
    );
    let yes = run(r#"{"source": ["shop.orders"]}"#);
    assert_eq!(lines(&yes.stdout), ["true"], "a match has nothing to explain");
    let invalid = run(r#"{"detail": {"total": [{"numeric": [">", "a lot"]}]}}"#);
    assert_eq!(invalid.status.code(), Some(2));
    let reason = String::from_utf8_lossy(&invalid.stderr);
    assert!(
        reason.starts_with("InvalidEventPatternException: Event pattern is not valid. Reason: ")
            && reason.contains("at `detail.total`"),
        "{reason}"
    );
}

#[test]
fn invoke_runs_one_function_on_a_sample_and_prints_its_response_and_events() {
    let out = localcloud_at_root(&[
        "invoke",
        "reserve-inventory",
        "events/orders/reserve-inventory/order-placed.sqs-eventbridge.json",
        "--table",
        "InventoryTable=events/tables/inventory.json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"batchItemFailures\": []"), "{text}");
    assert!(text.contains("PutEvents local-events: "), "{text}");
    let unknown = localcloud_at_root(&["invoke", "no-such-function", "events/README.md"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there are: "));
}

/// The sealed samples are what the demo put on the bus: the local cloud's key for the
/// template's `FieldKey` opens them for the functions granted each field.
#[test]
fn invoke_opens_the_sealed_samples_for_the_functions_granted_their_fields() {
    let shipped = localcloud_at_root(&[
        "invoke",
        "ship-order",
        "events/orders/ship-order/payment-completed-sealed.sqs-eventbridge.json",
    ]);
    let text = String::from_utf8_lossy(&shipped.stdout);
    assert!(text.contains("\"batchItemFailures\": []"), "{text}");
    assert_eq!(
        text.matches("PutEvents local-events: OrderShipped").count(),
        2,
        "{text}"
    );

    let told = localcloud_at_root(&[
        "invoke",
        "notify-customer",
        "events/orders/notify-customer/customer-events-sealed.sqs-eventbridge.json",
    ]);
    let text = String::from_utf8_lossy(&told.stdout);
    assert!(text.contains("\"batchItemFailures\": []"), "{text}");
    assert_eq!(
        text.matches("@example.com").count(),
        3,
        "each message addressed: {text}"
    );
    assert!(!text.contains("sealed value"), "{text}");
}

#[test]
fn graph_prints_the_template_as_mermaid() {
    let out = localcloud_at_root(&["graph"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("flowchart LR\n"));
    assert!(
        text.contains("EventBus -->|\"ReserveInventoryRule: OrderPlaced\"| ReserveInventoryQueue"),
        "{text}"
    );
}

#[test]
fn demo_places_orders_checks_the_invariants_and_exits_0() {
    let out = localcloud_at_root(&["demo", "--size", "5", "--seed", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Invariants hold"), "{text}");
    assert!(text.contains("Orders end to end (5):"), "the story is told: {text}");
}

/// A number with five or more decimals (`10.905000000000001`): a float printed as it is stored.
fn unreadable_number(text: &str) -> Option<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find(|token| {
        token.split_once('.').is_some_and(|(whole, decimals)| {
            !whole.is_empty() && decimals.len() >= 5 && decimals.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

/// What `make demo` prints (seed 1, size 12): the story in under 300 lines, with numbers a person
/// reads; `--verbose` every step.
#[test]
fn demo_tells_its_story_in_under_300_lines_and_every_step_with_verbose() {
    let story = localcloud_at_root(&["demo", "--size", "12", "--seed", "1"]);
    let text = String::from_utf8_lossy(&story.stdout);
    assert!(story.status.success(), "{text}");
    let lines = text.lines().count();
    assert!(lines < 300, "{lines} lines:\n{text}");
    for told in [
        "Orders end to end (12):",
        "anomaly ",
        "ALERT ",
        "PARKED by ",
        "refused (",
        "FAULT ",
        "Not told above",
    ] {
        assert!(text.contains(told), "{told:?} missing:\n{text}");
    }
    assert_eq!(unreadable_number(&text), None, "{text}");

    let verbose = localcloud_at_root(&["demo", "--size", "12", "--seed", "1", "--verbose"]);
    let every = String::from_utf8_lossy(&verbose.stdout);
    assert!(every.lines().count() > 20 * lines, "{}", every.lines().count());
    assert!(every.contains("-> ReserveInventoryRule -> ReserveInventoryQueue -> reserve-inventory"));
}

#[test]
fn unreadable_numbers_are_found_and_times_and_two_decimals_are_not() {
    assert_eq!(
        unreadable_number("mean 10.905000000000001 outside"),
        Some("10.905000000000001")
    );
    assert_eq!(
        unreadable_number("+01:03.905 mean 10.91 at 2026-03-29T01:10:27.274Z"),
        None
    );
}

/// `--record` and `--html` keep both domains' runs; `view` refuses a file that is not a record,
/// naming the line.
#[test]
fn demo_keeps_its_record_and_page_and_view_refuses_what_is_not_a_record() {
    let dir = std::env::temp_dir().join(format!("localcloud-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (record, page) = (dir.join("run.jsonl"), dir.join("run.html"));
    let out = localcloud_at_root(&[
        "demo",
        "--size",
        "3",
        "--record",
        record.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["k"].as_str().unwrap()).collect();
    let runs: Vec<&Value> = lines.iter().filter(|l| l["k"] == "run").map(|l| &l["domain"]).collect();
    assert_eq!(runs, ["orders", "sensors"]);
    assert_eq!(kinds.iter().filter(|k| **k == "summary").count(), 2);
    for kind in [
        "graph",
        "event",
        "notification",
        "sent",
        "received",
        "gone",
        "invoked",
        "ended",
        "entry",
        "view",
    ] {
        assert!(kinds.contains(&kind), "no {kind} line");
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(r#"<script id="run-data" type="application/octet-stream" data-encoding="gzip+base64">"#));
    for marker in ["/*PAGE_CSS*/", "/*PAGE_JS*/", "<!--RUN_DATA-->"] {
        assert!(!html.contains(marker), "{marker} left in the page");
    }

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"k\": \"run\"}\n{\"at\": 1}\n").unwrap();
    let out = localcloud_at_root(&["view", bad.to_str().unwrap()]);
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(error.contains("bad.jsonl:2") && error.contains("no `k`"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_template_the_local_cloud_cannot_run_is_an_error_naming_resource_and_property() {
    let dir = std::env::temp_dir().join(format!("localcloud-bad-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    std::fs::write(
        &template,
        "Resources:\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern:\n        source: shop.orders\n",
    )
    .unwrap();
    let out = localcloud_at_root(&["--template", template.to_str().unwrap(), "graph"]);
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("Rule: Properties.EventPattern"), "{error}");
}

#[test]
fn play_runs_a_scenario_file_and_writes_what_was_emitted() {
    let emitted = std::env::temp_dir().join(format!("localcloud-emitted-{}.jsonl", std::process::id()));
    let out = localcloud_at_root(&[
        "play",
        "events/scenarios/orders-demo.jsonl",
        "--table",
        "InventoryTable=events/tables/inventory.json",
        "--emitted",
        emitted.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OrderShipped"), "the saga ran: {text}");
    assert!(
        text.contains("ParkingQueue: "),
        "the malformed message is parked: {text}"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&emitted)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_file(&emitted);
    assert!(
        lines
            .iter()
            .any(|l| l["bus"] == "local-events" && l["event"]["detail-type"] == "OrderPlaced")
    );
    assert!(lines.iter().any(|l| l["topic"] == "NotificationsTopic"));
    assert!(
        lines.windows(2).all(|w| w[0]["at"].as_i64() <= w[1]["at"].as_i64()),
        "in virtual time order"
    );

    let bad = localcloud_at_root(&["play", "events/README.md"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("line 1"),
        "names the line"
    );
}

#[test]
fn rebuild_after_the_orders_demo_finds_every_view_equal_to_the_live_one() {
    let out = localcloud_at_root(&["rebuild", "--size", "8", "--seed", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Every rebuilt view equals the live one, order by order."),
        "{text}"
    );
}

#[test]
fn replay_of_the_archive_to_one_rule_is_absorbed_and_tells_no_one() {
    let out = localcloud_at_root(&["replay", "--archive", "EventBusArchive", "--rule", "NotifyCustomerRule"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("to rule NotifyCustomerRule only; consumers published 0 new events and told no one"),
        "{text}"
    );
    assert!(text.contains("exactly the"), "the audit holds after the replay: {text}");

    let unknown = localcloud_at_root(&["replay", "--archive", "NoArchive"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no archive NoArchive in the template (there are: EventBusArchive)")
    );
}

#[test]
fn history_of_an_unknown_stream_names_streams_the_store_holds_and_a_known_one_prints_its_state_then() {
    let out = localcloud_at_root(&["history", "shop.orders#o-nope"]);
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr).into_owned();
    let known = error
        .split(&[' ', ','][..])
        .find(|word| word.starts_with("shop.orders#o-") && *word != "shop.orders#o-nope")
        .unwrap_or_else(|| panic!("{error}"));

    let out = localcloud_at_root(&["history", known, "--as-of", "2000-01-01T00:00:00Z"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 of") && text.contains("the order did not exist yet"),
        "{text}"
    );
    let now = localcloud_at_root(&["history", known]);
    assert!(String::from_utf8_lossy(&now.stdout).contains("\"orderId\""));
}

/// The sensors scenario file carries the instant it was written for (`// start:`): played as the
/// README says, its readings meet a clock of their own day, and it gives what the demo gives:
/// 35 anomalous windows and 3 revisions, 38 `AnomalyDetected` in all. Started a day later with
/// `--start`, every reading is a day late for the clock, and the run tells another story.
#[test]
fn play_starts_the_clock_where_the_scenario_says_unless_told_otherwise() {
    let anomalies = |extra: &[&str]| {
        let out_file =
            std::env::temp_dir().join(format!("sensors-emitted-{}-{}.jsonl", std::process::id(), extra.len()));
        let mut args = vec![
            "play",
            "events/scenarios/sensors-demo.jsonl",
            "--table",
            "SensorCatalogueTable=events/sensors/catalogue.json",
            "--emitted",
            out_file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = localcloud_at_root(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let emitted = std::fs::read_to_string(&out_file).unwrap();
        let _ = std::fs::remove_file(&out_file);
        emitted
            .lines()
            .filter(|line| line.contains("\"detail-type\":\"AnomalyDetected\""))
            .count()
    };
    assert_eq!(anomalies(&[]), 38);
    assert_ne!(anomalies(&["--start", "2026-03-30T00:30:00Z"]), 38);
    let bad = localcloud_at_root(&["play", "events/scenarios/sensors-demo.jsonl", "--start", "tomorrow"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--start tomorrow: not an RFC 3339 instant"));
}

/// A fault file replays on the scenario it was recorded on, and says so when given another.
#[test]
fn play_with_a_fault_file_refuses_a_scenario_it_was_not_recorded_on() {
    let out = localcloud_at_root(&[
        "play",
        "events/scenarios/sensors-demo.jsonl",
        "--faults-file",
        "events/scenarios/sensors-backlog-race.faults.json",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not the one the fault file was recorded on (sensors seed 14, size 65)"),
        "{err}"
    );
    let bad = localcloud_at_root(&[
        "play",
        "events/scenarios/sensors-demo.jsonl",
        "--faults-file",
        "README.md",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("README.md: not a fault file"));
}

/// A fault file without a domain replays its choices on any scenario: here one duplicate
/// delivery of the first `OrderPlaced` to reserve-inventory's queue, and nothing else.
#[test]
fn play_with_a_fault_file_of_its_own_replays_exactly_its_choices() {
    let file = std::env::temp_dir().join(format!("one-duplicate-{}.faults.json", std::process::id()));
    std::fs::write(
        &file,
        r#"{"faults": {}, "choices": [{"stream": "rule:ReserveInventoryRule:reserve-inventory/duplicate", "draw": 0, "value": true}]}"#,
    )
    .unwrap();
    let out = localcloud_at_root(&[
        "play",
        "events/scenarios/orders-demo.jsonl",
        "--table",
        "InventoryTable=events/tables/inventory.json",
        "--faults-file",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let faults: Vec<&str> = text.lines().filter(|l| l.contains("FAULT")).collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert!(
        faults[0].contains("event delivered twice to ReserveInventoryQueue"),
        "{faults:?}"
    );
}

/// `--size` sizes every domain's demo; `--orders`, its old name, still reads as it.
#[test]
fn demo_takes_its_size_as_size_or_by_its_old_name_orders() {
    for flag in ["--size", "--orders"] {
        let out = localcloud_at_root(&["demo", flag, "many"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(
            error.contains("invalid value 'many' for '--size <SIZE>'"),
            "{flag}: {error}"
        );
    }
}

/// `--domain` takes the domains the CLI bundles (`localcloud::domains()`), and lists them.
#[test]
fn a_domain_the_cli_does_not_bundle_is_refused_with_the_ones_it_does() {
    let names = localcloud::domain_names().join(", ");
    for args in [
        &["rebuild", "--domain", "weather"][..],
        &["simulate", "--seeds", "1", "--domain", "weather"],
    ] {
        let out = localcloud_at_root(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(
            error.contains(&format!("[possible values: {names}]")),
            "{args:?}: {error}"
        );
    }
}

/// A stream belongs to the domain that owns its source: one no domain owns is refused before
/// any demo runs, naming the sources there are.
#[test]
fn history_of_a_stream_no_domain_owns_names_the_sources_the_domains_own() {
    let out = localcloud_at_root(&["history", "weather.stations#w-1"]);
    assert_eq!(out.status.code(), Some(1));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains(
            "weather.stations#w-1: no domain this CLI bundles owns its source (their sources: shop.orders, iot.sensors)"
        ),
        "{error}"
    );
}

/// The sensors domain keeps no views: its stream's history is the stream alone, up to the
/// instant asked, and no view follows it.
#[test]
fn history_of_a_sensor_stream_prints_the_stream_and_no_view() {
    let out = localcloud_at_root(&["history", "iot.sensors#s-berlin-1", "--as-of", "2026-03-29T00:30:10Z"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("2 of ") && last.ends_with(" events had happened by then"),
        "the stream's count ends the output: {text}"
    );
    assert!(text.lines().any(|l| l.contains("SensorReadingReceived")), "{text}");
}

/// GIVEN the orders scenario file WHEN played with `--domain orders --outcome FILE` THEN the
/// domain's summary prints, the invariants hold (exit 0) and FILE holds the outcome the
/// end-to-end harness reads; `--outcome` without `--domain`, or with a flag of the bare cloud's
/// run, is refused by the parser (exit 2) naming the flag.
#[test]
fn play_with_a_domain_writes_its_checked_outcome_and_outcome_needs_a_domain() {
    let file = std::env::temp_dir().join(format!("orders-outcome-{}.json", std::process::id()));
    let scenario = "events/scenarios/orders-demo.jsonl";
    let out = localcloud_at_root(&[
        "play",
        scenario,
        "--domain",
        "orders",
        "--outcome",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Invariants hold"), "{text}");
    let outcome: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(outcome["domain"], "orders");
    assert_eq!(outcome["violations"], serde_json::json!([]));
    assert_eq!(outcome["orders"].as_object().unwrap().len(), 12);

    let alone = localcloud_at_root(&["play", scenario, "--outcome", "out.json"]);
    assert_eq!(alone.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("--domain"));
    let faults = localcloud_at_root(&["play", scenario, "--domain", "orders", "--faults"]);
    assert_eq!(faults.status.code(), Some(2), "the domain's run is fault-free");
}

/// `view` serves a record's page on loopback, at the address it prints, and nothing else.
#[test]
fn view_serves_the_page_of_a_record_on_loopback() {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpStream;

    let dir = std::env::temp_dir().join(format!("localcloud-view-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("run.jsonl");
    let out = localcloud_at_root(&["demo", "--size", "2", "--record", record.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    /// The server, stopped however the test ends (a panic included).
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_localcloud"))
            .current_dir(root())
            .args(["view", record.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    let address = said
        .split_whitespace()
        .find_map(|word| word.strip_prefix("http://"))
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no address in {said:?}"))
        .to_owned();
    let get = |path: &str| {
        let mut stream = TcpStream::connect(&address).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };

    let page = get("/");
    let elsewhere = get("/run.jsonl");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(
        page.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains(r#"<script id="run-data""#));
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
}

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
        ("bad-oversize.sqs-envelope.json", "over the 262144-byte limit"),
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
    assert_eq!(record["envelope"]["metadata"]["version"], 2);
    assert_eq!(record["envelope"]["data"]["currency"], "EUR");
    assert_eq!(record["envelope"]["data"]["total"], 1250);
}

//! The logs as CloudWatch receives them: JSON lines carrying the ids. In a test binary of its
//! own, because a thread-local subscriber shares tracing's callsite cache with concurrent tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use common::*;
use handler_kit::testing::CapturedLogs;
use serde_json::Value;

#[tokio::test(flavor = "current_thread")]
async fn logs_are_json_lines_carrying_request_function_event_and_correlation_ids_but_no_payload() {
    let captured = CapturedLogs::default();
    let _guard = captured.install();

    let processor = processor();
    let event = batch(&["o-ok", "o-timeout"]);
    let span = handler_kit::observability::invocation_span("reserve-inventory", "req-42");
    tracing::Instrument::instrument(processor.process_sqs(&event, &invocation()), span)
        .await
        .unwrap();

    let text = captured.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let in_records: Vec<&Value> = lines.iter().filter(|l| l["span"]["name"] == "record").collect();
    assert!(in_records.len() >= 2, "{text}");
    for line in &in_records {
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["request_id"], "req-42");
        assert_eq!(spans[0]["function"], "reserve-inventory");
        let record = &line["span"];
        assert!(record["message_id"].as_str().unwrap().starts_with("m-o-"));
        assert_eq!(record["event_type"], "OrderPlaced");
        assert_eq!(record["event_id"].as_str().unwrap().len(), 36);
        assert_eq!(record["correlation_id"], record["event_id"]);
    }
    let retried = in_records
        .iter()
        .find(|l| l["fields"]["message"].as_str().unwrap().contains("reported for retry"))
        .unwrap();
    assert_eq!(retried["level"], "WARN");
    assert!(!text.contains("order_id"), "payload data is not logged: {text}");
}

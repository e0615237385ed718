//! EMF metrics of a batch, as CloudWatch reads them from the log stream. In a test binary of
//! its own: the metrics recorder is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn a_batch_emits_processed_failed_parked_and_latency_metrics_with_the_function_dimension() {
    let collector = handler_kit::observability::metrics("ServerlessEvents", "reserve-inventory").unwrap();
    let processor = processor();
    processor
        .process_sqs(&batch(&["o-ok", "o-ok2", "o-timeout", "o-invalid"]), &invocation())
        .await
        .unwrap();

    let mut out = Vec::new();
    collector.flush(&mut out).unwrap();
    let documents: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let document = documents
        .iter()
        .find(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
        })
        .expect("an EMF document with metrics");
    assert_eq!(
        document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ServerlessEvents"
    );
    assert_eq!(document["function"], "reserve-inventory");
    assert_eq!(document["Processed"], 2);
    assert_eq!(document["Failed"], 1);
    assert_eq!(document["Parked"], 1);
    assert_eq!(
        document["RecordLatency"].as_array().map(Vec::len),
        Some(4),
        "{document}"
    );
    let units: Vec<&Value> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert!(
        units
            .iter()
            .any(|m| m["Name"] == "RecordLatency" && m["Unit"] == "Milliseconds"),
        "{document}"
    );
}

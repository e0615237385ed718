//! Many invocations in one process, as Lambda Managed Instances run them: the kit's Lambda glue
//! ([`handler_kit::lambda::run_entry`]) in a process of its own, polling a Runtime API this
//! test plays on loopback, with `AWS_LAMBDA_MAX_CONCURRENCY` set or not. Every invocation gets
//! its own answer, its log lines carry its own request id, its metrics document names it and
//! counts its records alone; with the variable set they overlap, without it they do not.
//!
//! The function process is this test binary again (`function_process`, ignored when run
//! alone): the runtime reads its configuration from the environment, which a test may not set
//! in its own process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::runtime_api::{self, Run, play};
use common::*;
use envelope::{Envelope, Registry};
use handler_kit::{HandlerError, RecordHandler};
use serde_json::Value;

/// How long each record's work takes: long enough that invocations at once overlap.
const WORK: Duration = Duration::from_millis(150);

/// Takes `WORK` per record, logs a line inside it, and fails `o-invalid` for good.
struct Reserve;
impl RecordHandler for Reserve {
    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }
    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let placed = event.into_typed::<OrderPlaced>(&envelope::Location::root())?;
        tokio::time::sleep(WORK).await;
        tracing::info!(order = placed.data.order_id, "reserved");
        if placed.data.order_id.ends_with("invalid") {
            return Err(HandlerError::permanent("invalid-order", "order has no lines"));
        }
        Ok(Vec::new())
    }
}

/// The function process: serves `runtime_api::FUNCTION` with `Reserve` from the Runtime API its environment names, until
/// the test that started it kills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the function process of `invocations_at_once_each_keep_their_own_answer_logs_and_metrics`"]
async fn function_process() {
    handler_kit::observability::init_logging();
    let entry = handler_kit::dispatch::records(&local_platform(), &runtime_api::FUNCTION, Reserve).unwrap();
    handler_kit::lambda::run_entry(entry, |documents| {
        for document in documents {
            println!("{document}");
        }
    })
    .await
    .unwrap();
}

/// Plays `invocations` (request id, orders) to this binary's function process.
async fn run(max_concurrency: Option<&str>, invocations: &[(String, Vec<String>)]) -> Run {
    let mut process = Command::new(std::env::current_exe().unwrap());
    process
        .args([
            "function_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LOG_LEVEL", "info");
    let payloads = invocations
        .iter()
        .map(|(request_id, orders)| {
            let orders: Vec<&str> = orders.iter().map(String::as_str).collect();
            (request_id.clone(), serde_json::to_string(&batch(&orders)).unwrap())
        })
        .collect();
    play(process, max_concurrency, payloads).await
}

/// Eight invocations: invocation n has n + 1 orders, and one unreadable order when n is odd.
fn eight_invocations() -> Vec<(String, Vec<String>)> {
    (0..8)
        .map(|n| {
            let mut orders: Vec<String> = (0..=n).map(|k| format!("o-{n}-{k}")).collect();
            if n % 2 == 1 {
                orders.push(format!("o-{n}-invalid"));
            }
            (format!("req-{n}"), orders)
        })
        .collect()
}

/// The lines of `stdout` that are JSON, by whether they are EMF documents (the test harness
/// starts its first line with the test's name).
fn documents_and_logs(stdout: &[String]) -> (Vec<Value>, Vec<Value>) {
    stdout
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
        .partition(|line| line.get("_aws").is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_at_once_each_keep_their_own_answer_logs_and_metrics() {
    let invocations = eight_invocations();
    let run = run(Some("8"), &invocations).await;
    assert!(
        run.api.most_out.load(Ordering::SeqCst) > 1,
        "with AWS_LAMBDA_MAX_CONCURRENCY=8 invocations overlap"
    );
    let (documents, logs) = documents_and_logs(&run.stdout);
    let answers = run.api.answers.lock().unwrap();
    for (n, (request_id, orders)) in invocations.iter().enumerate() {
        // Its answer: the unreadable order is parked (not failed), the rest done.
        let (kind, body) = &answers[request_id];
        assert_eq!(kind, "response", "{request_id}: {body}");
        let answer: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            answer["batchItemFailures"],
            serde_json::json!([]),
            "{request_id}: {answer}"
        );

        // Its log lines: one per order, each inside its own invocation's span.
        let reserved: BTreeSet<&str> = logs
            .iter()
            .filter(|l| l["fields"]["message"] == "reserved")
            .filter(|l| {
                l["spans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["request_id"] == request_id.as_str())
            })
            .map(|l| l["fields"]["order"].as_str().unwrap())
            .collect();
        let expected: BTreeSet<&str> = orders.iter().map(String::as_str).collect();
        assert_eq!(reserved, expected, "{request_id}'s log lines");

        // Its metrics: its own records only, under its own request id.
        let mine: Vec<&Value> = documents
            .iter()
            .filter(|d| d["RequestId"] == request_id.as_str())
            .collect();
        let processed: f64 = mine.iter().filter_map(|d| d["Processed"].as_f64()).sum();
        assert_eq!(processed, (n + 1) as f64, "{request_id}: {mine:?}");
        let parked = mine.iter().filter_map(|d| d["Parked"].as_f64()).sum::<f64>();
        assert_eq!(parked, (n % 2) as f64, "{request_id}: {mine:?}");
    }
    let cold_starts: f64 = documents.iter().filter_map(|d| d["ColdStart"].as_f64()).sum();
    assert_eq!(cold_starts, 1.0, "one cold start per process");
    // Every record line names the one invocation it belongs to.
    for line in logs.iter().filter(|l| l["fields"]["message"] == "reserved") {
        let ids: BTreeSet<&str> = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s.get("request_id")?.as_str())
            .collect();
        assert_eq!(ids.len(), 1, "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_variable_invocations_run_one_at_a_time() {
    let invocations = eight_invocations();
    let run = run(None, &invocations[..3]).await;
    assert_eq!(run.api.most_out.load(Ordering::SeqCst), 1);
    assert_eq!(run.api.answers.lock().unwrap().len(), 3);
    // Records of one invocation still overlap: 1 + 2 + 3 orders, not 6 times the work.
    assert!(run.took > WORK * 3, "{:?}", run.took);
}

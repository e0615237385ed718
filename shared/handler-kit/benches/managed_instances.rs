//! Records per second in one execution environment, with `AWS_LAMBDA_MAX_CONCURRENCY` unset
//! (classic Lambda: one invocation at a time) and set to 8 (Lambda Managed Instances), when
//! every idempotency store call takes 20 ms (`STORE_LATENCY_MS`): the kit's Lambda glue in a
//! process of its own (this binary again), fed 10-record SQS batches by a Runtime API on
//! loopback (`tests/common/runtime_api.rs`). The two settings alternate, `ROUNDS` times each
//! (default 2); `INVOCATIONS` (default 80) batches per run.
//!
//! `cargo bench -p handler-kit --features aws --bench managed-instances`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)] // a panic is how a benchmark reports failure

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{OrderPlaced, batch, local_platform_with, runtime_api};
use envelope::{Envelope, Registry};
use handler_kit::{HandlerError, RecordHandler};
use ports::{Fault, FaultPlan};
use serde_json::Value;

/// Set in the function process's environment.
const FUNCTION_PROCESS: &str = "MANAGED_INSTANCES_FUNCTION_PROCESS";
const RECORDS_PER_BATCH: usize = 10;

/// Reads its order and is done: the store's latency is what is measured.
struct Reserve;
impl RecordHandler for Reserve {
    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }
    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        event.into_typed::<OrderPlaced>(&envelope::Location::root())?;
        Ok(Vec::new())
    }
}

/// Every idempotency store call answers after a network round trip's worth of delay.
struct StoreLatency(Duration);
impl FaultPlan for StoreLatency {
    fn before(&self, operation: &'static str) -> Fault {
        if operation.starts_with("Store::") {
            Fault::Delay(self.0)
        } else {
            Fault::None
        }
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let latency = Duration::from_millis(setting("STORE_LATENCY_MS", 20));
    if std::env::var_os(FUNCTION_PROCESS).is_some() {
        let platform = local_platform_with(Arc::new(StoreLatency(latency)));
        let entry = handler_kit::dispatch::records(&platform, &runtime_api::FUNCTION, Reserve).unwrap();
        handler_kit::lambda::run_entry(entry, |_| ()).await.unwrap();
        return;
    }
    let invocations = usize::try_from(setting("INVOCATIONS", 80)).unwrap();
    let mut rates: Vec<(&str, f64)> = Vec::new();
    for round in 0..setting("ROUNDS", 2) {
        for concurrency in [None, Some("8")] {
            let payloads = (0..invocations)
                .map(|n| {
                    let orders: Vec<String> = (0..RECORDS_PER_BATCH).map(|k| format!("o-{round}-{n}-{k}")).collect();
                    let orders: Vec<&str> = orders.iter().map(String::as_str).collect();
                    (format!("req-{n}"), serde_json::to_string(&batch(&orders)).unwrap())
                })
                .collect();
            let mut process = Command::new(std::env::current_exe().unwrap());
            process.env(FUNCTION_PROCESS, "1").env("LOG_LEVEL", "warn");
            let run = runtime_api::play(process, concurrency, payloads).await;
            assert!(
                run.api
                    .answers
                    .lock()
                    .unwrap()
                    .values()
                    .all(|(kind, body)| kind == "response" && body.contains(r#""batchItemFailures":[]"#)),
                "every record done"
            );
            let rate = (invocations * RECORDS_PER_BATCH) as f64 / run.took.as_secs_f64();
            let label = concurrency.map_or("AWS_LAMBDA_MAX_CONCURRENCY unset", |_| "AWS_LAMBDA_MAX_CONCURRENCY=8");
            println!(
                "managed-instances/{label:<33} {rate:>9.0} records/s ({invocations} batches of {RECORDS_PER_BATCH} in {:.2} s, at most {} at once, store {latency:?})",
                run.took.as_secs_f64(),
                run.api.most_out.load(std::sync::atomic::Ordering::SeqCst),
            );
            rates.push((label, rate));
        }
    }
    let mean = |label: &str| {
        let of: Vec<f64> = rates.iter().filter(|(l, _)| *l == label).map(|(_, r)| *r).collect();
        of.iter().sum::<f64>() / of.len() as f64
    };
    println!(
        "managed-instances/8 at once vs 1: {:.2}x the records per second",
        mean("AWS_LAMBDA_MAX_CONCURRENCY=8") / mean("AWS_LAMBDA_MAX_CONCURRENCY unset")
    );
}

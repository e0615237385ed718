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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use envelope::{Envelope, Registry};
use handler_kit::trigger::Sqs;
use handler_kit::{Function, HandlerError, Nowhere, RecordHandler};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpListener, TcpStream};

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

static RESERVE: Function<Sqs, Nowhere> = Function {
    name: "f",
    trigger: Sqs,
    outputs: Nowhere,
    settings: &[],
    idempotent: true,
};

/// The function process: serves `RESERVE` from the Runtime API its environment names, until
/// the test that started it kills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the function process of `invocations_at_once_each_keep_their_own_answer_logs_and_metrics`"]
async fn function_process() {
    handler_kit::observability::init_logging();
    let entry = handler_kit::dispatch::records(&local_platform(), &RESERVE, Reserve).unwrap();
    handler_kit::lambda::run_entry(entry, |documents| {
        for document in documents {
            println!("{document}");
        }
    })
    .await
    .unwrap();
}

/// One invocation as the Runtime API hands it out.
struct Pending {
    request_id: String,
    body: String,
}

/// What the Runtime API saw: invocations waiting, answers by request id, and how many were
/// out at once (handed out, not yet answered).
#[derive(Default)]
struct RuntimeApi {
    waiting: Mutex<VecDeque<Pending>>,
    answers: Mutex<BTreeMap<String, (String, String)>>,
    out: AtomicUsize,
    most_out: AtomicUsize,
}

impl RuntimeApi {
    /// Serves one connection's requests (the runtime keeps its connections alive).
    async fn serve(self: Arc<Self>, stream: TcpStream) {
        let mut stream = AsyncBufReader::new(stream);
        loop {
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let length = head
                .iter()
                .find_map(|h| {
                    h.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await.unwrap();
            let mut request_line = head[0].split_whitespace();
            let (method, path) = (request_line.next().unwrap(), request_line.next().unwrap().to_owned());
            let reply = if method == "GET" && path.ends_with("/invocation/next") {
                self.next().await
            } else {
                // POST .../invocation/{id}/response or .../error.
                let mut parts = path.rsplit('/');
                let (kind, id) = (parts.next().unwrap().to_owned(), parts.next().unwrap().to_owned());
                self.out.fetch_sub(1, Ordering::SeqCst);
                self.answers
                    .lock()
                    .unwrap()
                    .insert(id, (kind, String::from_utf8(body).unwrap()));
                "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}".to_owned()
            };
            stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
        }
    }

    /// The next invocation, when there is one (a long poll, as Lambda's).
    async fn next(&self) -> String {
        let pending = loop {
            if let Some(pending) = self.waiting.lock().unwrap().pop_front() {
                break pending;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let out = self.out.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_out.fetch_max(out, Ordering::SeqCst);
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 30_000;
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\n\
             lambda-runtime-deadline-ms: {deadline}\r\n\
             lambda-runtime-invoked-function-arn: arn:aws:lambda:eu-west-1:123456789012:function:f\r\n\
             lambda-runtime-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n\
             content-length: {length}\r\n\r\n{body}",
            id = pending.request_id,
            length = pending.body.len(),
            body = pending.body,
        )
    }
}

/// What one run of the function process gave: the Runtime API's view, its stdout, and how long
/// the invocations took.
struct Run {
    api: Arc<RuntimeApi>,
    stdout: Vec<String>,
    took: Duration,
}

/// Plays `invocations` (request id, orders) to a function process with `max_concurrency`.
async fn run(max_concurrency: Option<&str>, invocations: &[(String, Vec<String>)]) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let api = Arc::new(RuntimeApi::default());
    for (request_id, orders) in invocations {
        let orders: Vec<&str> = orders.iter().map(String::as_str).collect();
        api.waiting.lock().unwrap().push_back(Pending {
            request_id: request_id.clone(),
            body: serde_json::to_string(&batch(&orders)).unwrap(),
        });
    }
    let serving = Arc::clone(&api);
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(Arc::clone(&serving).serve(stream));
        }
    });
    let mut process = Command::new(std::env::current_exe().unwrap());
    process
        .args([
            "function_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "f")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped());
    match max_concurrency {
        Some(value) => process.env("AWS_LAMBDA_MAX_CONCURRENCY", value),
        None => process.env_remove("AWS_LAMBDA_MAX_CONCURRENCY"),
    };
    let started = Instant::now();
    let mut child = process.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    while api.answers.lock().unwrap().len() < invocations.len() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the function process answered too few"
        );
        assert!(child.try_wait().unwrap().is_none(), "the function process stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    server.abort();
    Run {
        api,
        stdout: lines.join().unwrap(),
        took,
    }
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

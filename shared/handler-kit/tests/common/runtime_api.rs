//! Lambda's Runtime API on loopback, for a function process of the kit's Lambda glue: it hands
//! out queued invocations (a long poll, as Lambda's) and keeps each answer, counting how many
//! were out at once. `tests/concurrent.rs` and the `managed-instances` bench play it.

#![allow(dead_code, unreachable_pub)] // each user takes part of it

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use handler_kit::trigger::Sqs;
use handler_kit::{Function, Nowhere};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpListener, TcpStream};

/// The function a function process serves: the one [`ENVIRONMENT`] names, its records taken
/// from SQS one by one, idempotent, with nowhere to publish.
pub static FUNCTION: Function<Sqs, Nowhere> = Function {
    name: "f",
    trigger: Sqs,
    outputs: Nowhere,
    settings: &[],
    idempotent: true,
};

/// The environment Lambda gives a function process, beside `AWS_LAMBDA_RUNTIME_API`.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "f"),
    ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048"),
    ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
];

/// One invocation as the Runtime API hands it out.
struct Pending {
    request_id: String,
    body: String,
}

/// What the Runtime API saw: invocations waiting, answers by request id (`response` or
/// `error`, and the body), how many were out at once (handed out, not yet answered), and when
/// the first was handed out.
#[derive(Default)]
pub struct RuntimeApi {
    waiting: Mutex<VecDeque<Pending>>,
    pub answers: Mutex<BTreeMap<String, (String, String)>>,
    out: AtomicUsize,
    pub most_out: AtomicUsize,
    first_out: Mutex<Option<Instant>>,
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
                "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}"
                    .to_owned()
            };
            stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
        }
    }

    /// The next invocation, when there is one.
    async fn next(&self) -> String {
        let pending = loop {
            if let Some(pending) = self.waiting.lock().unwrap().pop_front() {
                break pending;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        self.first_out.lock().unwrap().get_or_insert_with(Instant::now);
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

/// What one run of a function process gave: the Runtime API's view, the process's stdout, and
/// how long it took from the first invocation handed out to the last answer.
pub struct Run {
    pub api: Arc<RuntimeApi>,
    pub stdout: Vec<String>,
    pub took: Duration,
}

/// Starts `process` (a function process of the kit's glue) on a Runtime API that hands out
/// `invocations` (request id, payload), with `AWS_LAMBDA_MAX_CONCURRENCY` set to
/// `max_concurrency` or unset; stops it once every invocation has its answer.
pub async fn play(mut process: Command, max_concurrency: Option<&str>, invocations: Vec<(String, String)>) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let api = Arc::new(RuntimeApi::default());
    let count = invocations.len();
    api.waiting.lock().unwrap().extend(
        invocations
            .into_iter()
            .map(|(request_id, body)| Pending { request_id, body }),
    );
    let serving = Arc::clone(&api);
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(Arc::clone(&serving).serve(stream));
        }
    });
    process
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .envs(ENVIRONMENT.iter().copied())
        .stdout(Stdio::piped());
    match max_concurrency {
        Some(value) => process.env("AWS_LAMBDA_MAX_CONCURRENCY", value),
        None => process.env_remove("AWS_LAMBDA_MAX_CONCURRENCY"),
    };
    let started = Instant::now();
    let mut child = process.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    while api.answers.lock().unwrap().len() < count {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the function process answered too few"
        );
        assert!(child.try_wait().unwrap().is_none(), "the function process stopped");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = api
        .first_out
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |first| first.elapsed());
    child.kill().unwrap();
    child.wait().unwrap();
    server.abort();
    Run {
        api,
        stdout: lines.join().unwrap(),
        took,
    }
}

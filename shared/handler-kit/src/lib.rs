//! What every function shares, so a function's `lib.rs` is only its domain decision and its
//! `main.rs` one call:
//!
//! - [`dispatch`]: the one invocation path both platforms call, each payload read once into
//!   the type its [`trigger`] names, with the layers every entry point shares;
//! - [`records`]: SQS batches (concurrent, FIFO-aware, deadline-aware) and direct EventBridge
//!   and SNS events, each record on its own through the idempotent executor, errors
//!   classified: transient ones reported for retry, permanent ones parked with their reason;
//! - [`aggregate`]: SQS batches taken whole by a handler that keeps its work once in its own
//!   state (commit, then publish from an outbox), and its scheduled ticks;
//! - [`backoff`]: every retry the code makes itself, each policy named once;
//! - [`publish`]: batched publishers for EventBridge, SNS, SQS and memory, and parking;
//! - [`observability`]: JSON logs with request, function, event and correlation ids; EMF metrics;
//! - [`config`]: environment variables read once, each problem named;
//! - [`function`] and [`platform`]: a function declared once (trigger, outputs, settings) and
//!   built by one generic builder from the adapters of where it runs;
//! - [`StoreFailure`]: the error of every state port, classified for retry or parking;
//! - [`local`]: the local platform, for the local cloud and tests (no AWS SDK);
//! - `lambda` (feature `aws`): the AWS platform and the glue to `lambda_runtime`.
//!
//! A function is declared once ([`Function`]: its trigger, outputs and settings, as types and
//! constants) and built by one generic `build(&platform)` from the adapters of where it runs
//! (`functions/README.md` shows one whole). On Lambda, `main.rs` is one call of
//! `lambda::serve_records`, `serve_batches` or `serve_http` on `lambda::AwsPlatform` (DynamoDB,
//! SQS parking, EventBridge or SNS by the declared outputs); the local cloud calls the same
//! `build` on [`local::LocalPlatform`] (in-memory tables by name, the run's faults around every
//! port, an outbox it routes). A domain declares its ports with `ports::port!`, which also makes
//! each fault-injectable (`ports::Faulty<T>`: errors, latency, failures after a step), and its
//! tables with [`table_port!`], which says once, beside the port, what it is on each platform.
//! The AWS SDKs are behind the feature `aws`, which only the function crates' own default `aws`
//! feature (their binary) turns on: the local cloud and the unit tests compile no SDK.
//!
//! At cold start an entry point installs JSON logging and reads, once, `AWS_LAMBDA_FUNCTION_NAME`,
//! `IDEMPOTENCY_TABLE` (for idempotent functions), `PARKING_QUEUE_URL`, the outputs' destination
//! and the function's settings, and optionally `AWS_ENDPOINT_URL`, `MAX_CONCURRENCY`,
//! `DEADLINE_MARGIN_MS` (2 s) and `IDEMPOTENCY_TTL_SECONDS`; a missing or malformed variable
//! stops it with a log line naming it. Then, per trigger:
//!
//! - **SQS** (`ReportBatchItemFailures`): records run concurrently (bounded) through the
//!   idempotent executor; two copies of one message in a batch end as one; FIFO groups run in
//!   order. Each record's outputs are published before its result is recorded with whether they
//!   went out, so a redelivery does not send them again. Transient failures (a panic in a
//!   handler among them) are batch item failures, retried by SQS and then its DLQ; permanent
//!   ones (unreadable, schema violation, unknown type or version, payload mismatch, a handler's
//!   permanent error, an output refused for good) are parked at once on the parking queue with
//!   their original body and the reason in message attributes (`parked-reason`, `parked-kind`,
//!   `parked-by`, `original-message-id`, and `parked-from`: the SQS queue it came from, where
//!   `events parked resubmit` sends it back). If parking or publishing fails, the record is
//!   retried: nothing is dropped. The rules, the deadline and FIFO are in [`records`].
//! - **EventBridge** and **SNS** direct targets: the same decoding and idempotency; a transient
//!   failure fails the invocation, so Lambda retries it.
//! - **SqsBatches**: the batch whole, through a [`BatchHandler`] ([`aggregate`]), and the ticks
//!   of its scheduled rule. **FunctionUrl**: one request through an [`HttpHandler`].
//!
//! A batch's outputs go out in one go: `publish::EventBridgePublisher` (PutEvents, chunks of
//! 10 entries and 1 MB), `publish::SnsPublisher` (PublishBatch, with `type`/`source`/`subject`
//! attributes for filter policies), `publish::SqsPublisher` (SendMessageBatch; FIFO group =
//! subject, dedup id = event id, both mapped to what SQS accepts), each retrying only the failed
//! entries on [`backoff::PUBLISH`]. Only an entry the service can never accept as it is
//! (malformed detail, an invalid parameter, too large) is refused for good; every other error,
//! access denied and missing resources included, is retried, and an entry counts as sent only
//! when the answer confirms it.
//!
//! Logs are JSON lines carrying request id, function, message id, event id, type and correlation
//! id, never payload data. Metrics are CloudWatch EMF, flushed per invocation: `Processed`,
//! `Failed`, `Parked`, `NotStarted`, `RecordLatency`, `ColdStart`, and `duplicates` and `panics`
//! (lower case, as the code names them).
//!
//! What a record and a cold start cost (figures in `bench/README.md`): the crates on the
//! per-record path are built for speed (`opt-level = 3`), the rest for size; the binaries
//! allocate with mimalloc (feature `allocator`, without transparent huge pages, which cost a cold
//! start milliseconds of zeroed pages); the SDK's HTTPS client builds its TLS connector, reading
//! the system's root certificates, on the first call and once for every client
//! (`lambda::http_client`), not once per client at cold start.

pub mod aggregate;
mod answer;
pub mod backoff;
pub mod config;
pub mod dispatch;
mod error;
mod fifo;
pub mod function;
pub mod http;
pub mod keys;
#[cfg(feature = "aws")]
pub mod lambda;

/// Every binary built on the kit with the `allocator` feature (the Lambda binaries, the local
/// cloud's CLI) allocates through mimalloc: a record's work is many small allocations freed
/// soon after; glibc's allocator took about a quarter of the per-record path when profiled,
/// and of a simulation run (the batch benchmark uses it too, so it measures what ships).
#[cfg(feature = "allocator")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
pub mod invocation;
pub mod local;
pub mod observability;
mod outcome;
pub mod platform;
pub mod publish;
pub mod records;
mod store;
pub mod table;
pub mod testing;
pub mod trigger;

pub use aggregate::{BatchHandler, BatchProcessor, Settled};
pub use error::{HandlerError, KitError};
pub use function::{Bus, Function, Nowhere, Setting, Topic};
pub use http::HttpHandler;
pub use idempotency::{Clock, ManualClock, SystemClock};
pub use invocation::{Invocation, Limits};
pub use keys::FieldKeysPort;
pub use platform::{Platform, PublishesTo};
pub use records::{RecordHandler, RecordProcessor};
pub use store::StoreFailure;
pub use trigger::{Trigger, TriggerKind};

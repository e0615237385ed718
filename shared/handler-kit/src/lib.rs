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

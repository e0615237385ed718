//! What every function shares, so a function's `lib.rs` is only its domain decision and its
//! `main.rs` one call:
//!
//! - [`processor`]: SQS batches (concurrent, FIFO-aware, deadline-aware) and direct EventBridge
//!   and SNS events, each record through the idempotent executor, errors classified: transient
//!   ones reported for retry, permanent ones parked with their reason;
//! - [`publish`]: batched publishers for EventBridge, SNS, SQS and memory, and parking;
//! - [`observability`]: JSON logs with request, function, event and correlation ids; EMF metrics;
//! - [`config`]: environment variables read once, each problem named;
//! - [`function`] and [`platform`]: a function declared once (trigger, outputs, settings) and
//!   built by one generic builder from the adapters of where it runs;
//! - [`StoreFailure`]: the error of every state port, classified for retry or parking;
//! - [`local`]: the local platform, for the local cloud and tests (no AWS SDK);
//! - `lambda` (feature `aws`): the AWS platform and the glue to `lambda_runtime`.

pub mod aggregate;
pub mod config;
mod error;
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
pub mod local;
pub mod observability;
pub mod platform;
pub mod processor;
pub mod publish;
mod store;
pub mod table;
pub mod testing;

pub use aggregate::{BatchHandler, BatchProcessor, Settled};
pub use error::{HandlerError, KitError};
pub use function::{Bus, Function, Nowhere, Setting, Topic, Trigger};
pub use http::HttpHandler;
pub use idempotency::{Clock, ManualClock, SystemClock};
pub use keys::FieldKeysPort;
pub use platform::{Platform, PublishesTo};
pub use processor::{Handler, Invocation, Limits, Processor};
pub use store::StoreFailure;

//! The one invocation path. Lambda (`lambda.rs`, feature `aws`) and the local cloud
//! ([`crate::local`]) read a payload once, into the type its function's trigger names, and
//! call [`invoke`]: the layers every entry point shares (the invocation's span; a panic caught
//! as the invocation's failure, as Lambda's runtime reports it) around the function's
//! [`Entry`]. Neither platform looks at a payload's shape: a payload Lambda would refuse for a
//! function is refused locally too. (Lambda's glue measures each invocation apart and writes
//! its EMF metrics as it ends; locally nothing measures.)
//!
//! An entry is built once per cold start from the function's declaration, its builder's
//! handler and the platform's adapters: [`records`], [`batches`] or [`http`], each taking only
//! the triggers it serves.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use aws_lambda_events::http::HeaderValue;
use futures_util::FutureExt;
use idempotency::{Clock, Store};
use tracing::Instrument;

use crate::aggregate::{BatchHandler, BatchProcessor};
use crate::config::{ConfigError, KitConfig};
use crate::error::KitError;
use crate::function::{Function, Outputs};
use crate::http::HttpHandler;
use crate::invocation::Invocation;
use crate::observability;
use crate::outcome::panic_message;
use crate::platform::{Platform, PublishesTo, batch_processor, processor};
use crate::publish::{Parking, Publisher};
use crate::records::{RecordHandler, RecordProcessor};
use crate::trigger::{BatchPayload, EventBridge, FunctionUrl, Sns, Sqs, SqsBatches, Trigger};

/// What a trigger delivers to entry `E`.
pub type PayloadOf<E> = <<E as Entry>::Trigger as Trigger>::Payload;
/// What entry `E` answers.
pub type ResponseOf<E> = <<E as Entry>::Trigger as Trigger>::Response;

/// A function ready for invocations, on one platform.
pub trait Entry: Send + Sync + 'static {
    /// How events reach it.
    type Trigger: Trigger;

    /// Its deployed name (logs, metrics, parked messages).
    fn name(&self) -> &str;

    /// Whether it consumes events of `event_type` (false for an HTTP function).
    fn consumes(&self, event_type: &str) -> bool;

    /// One invocation.
    fn call(
        &self,
        payload: PayloadOf<Self>,
        invocation: &Invocation,
    ) -> impl Future<Output = Result<ResponseOf<Self>, KitError>> + Send;
}

/// Runs one invocation of `entry` inside the shared layers.
pub async fn invoke<E: Entry>(
    entry: &E,
    payload: PayloadOf<E>,
    invocation: &Invocation,
) -> Result<ResponseOf<E>, KitError> {
    let span = observability::invocation_span(entry.name(), invocation);
    // Records' work is already caught one by one (a panic there fails its record alone); this
    // catches what is left, the kit's own steps, as a failed invocation rather than a dead
    // process (Lambda's runtime does the same; the local cloud would otherwise stop the run).
    let caught = AssertUnwindSafe(entry.call(payload, invocation).instrument(span.clone()))
        .catch_unwind()
        .await;
    caught.unwrap_or_else(|panic| {
        let message = panic_message(panic.as_ref());
        span.in_scope(|| tracing::error!(panic = message, "the invocation panicked"));
        observability::count(&observability::PANICS);
        Err(KitError::Panicked { message })
    })
}

/// A trigger whose records a [`RecordHandler`] handles one by one.
pub trait RecordTrigger: Trigger {
    /// Processes `payload` with `processor`, answering as the trigger expects.
    fn process<H: RecordHandler, S: Store, P: Publisher, Q: Parking>(
        processor: &RecordProcessor<H, S, P, Q>,
        payload: Self::Payload,
        invocation: &Invocation,
    ) -> impl Future<Output = Result<Self::Response, KitError>> + Send;
}

impl RecordTrigger for Sqs {
    async fn process<H: RecordHandler, S: Store, P: Publisher, Q: Parking>(
        processor: &RecordProcessor<H, S, P, Q>,
        payload: Self::Payload,
        invocation: &Invocation,
    ) -> Result<Self::Response, KitError> {
        processor.process_sqs(&payload, invocation).await
    }
}

impl RecordTrigger for EventBridge {
    async fn process<H: RecordHandler, S: Store, P: Publisher, Q: Parking>(
        processor: &RecordProcessor<H, S, P, Q>,
        payload: Self::Payload,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        processor.process_eventbridge(payload, invocation).await
    }
}

impl RecordTrigger for Sns {
    async fn process<H: RecordHandler, S: Store, P: Publisher, Q: Parking>(
        processor: &RecordProcessor<H, S, P, Q>,
        payload: Self::Payload,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        processor.process_sns(&payload, invocation).await
    }
}

/// A function whose records are handled one by one.
#[derive(Debug)]
pub struct Records<T, H, S, P, Q> {
    name: String,
    processor: RecordProcessor<H, S, P, Q>,
    trigger: std::marker::PhantomData<T>,
}

impl<T, H, S, P, Q> Records<T, H, S, P, Q> {
    /// Its processor, e.g. to inspect in-memory adapters in tests.
    pub fn processor(&self) -> &RecordProcessor<H, S, P, Q> {
        &self.processor
    }
}

impl<T, H, S, P, Q> Entry for Records<T, H, S, P, Q>
where
    T: RecordTrigger,
    H: RecordHandler + 'static,
    S: Store + 'static,
    P: Publisher + 'static,
    Q: Parking + 'static,
{
    type Trigger = T;

    fn name(&self) -> &str {
        &self.name
    }

    fn consumes(&self, event_type: &str) -> bool {
        self.processor.consumes(event_type)
    }

    fn call(
        &self,
        payload: T::Payload,
        invocation: &Invocation,
    ) -> impl Future<Output = Result<T::Response, KitError>> {
        T::process(&self.processor, payload, invocation)
    }
}

/// The entry of record handler `H` triggered by `T` on platform `Pl` publishing to `O`.
pub type RecordsOn<Pl, T, O, H> =
    Records<T, H, <Pl as Platform>::Store, <Pl as PublishesTo<O>>::Publisher, <Pl as Platform>::Parking>;

/// The entry of a function whose records `handler` handles one by one, on `platform`.
pub fn records<Pl, T, O, H>(
    platform: &Pl,
    function: &'static Function<T, O>,
    handler: H,
) -> Result<RecordsOn<Pl, T, O, H>, ConfigError>
where
    Pl: PublishesTo<O>,
    T: RecordTrigger,
    O: Outputs,
    H: RecordHandler,
{
    let (name, processor) = processor(platform, function, handler)?;
    Ok(Records {
        name,
        processor,
        trigger: std::marker::PhantomData,
    })
}

/// A function whose batches `BatchHandler` takes whole, and whose scheduled rule ticks.
pub struct Batches<H, P, Q> {
    name: String,
    trigger: SqsBatches,
    processor: BatchProcessor<H, P, Q>,
    clock: Arc<dyn Clock>,
}

impl<H, P, Q> std::fmt::Debug for Batches<H, P, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl<H, P, Q> Batches<H, P, Q> {
    /// Its processor, e.g. to inspect in-memory adapters in tests.
    pub fn processor(&self) -> &BatchProcessor<H, P, Q> {
        &self.processor
    }
}

impl<H, P, Q> Entry for Batches<H, P, Q>
where
    H: BatchHandler + 'static,
    P: Publisher + 'static,
    Q: Parking + 'static,
{
    type Trigger = SqsBatches;

    fn name(&self) -> &str {
        &self.name
    }

    fn consumes(&self, event_type: &str) -> bool {
        self.processor.consumes(event_type)
    }

    async fn call(&self, payload: BatchPayload, invocation: &Invocation) -> Result<Option<SqsBatchResponse>, KitError> {
        match payload {
            BatchPayload::Messages(event) => Ok(Some(self.processor.process_sqs(&event, invocation).await?)),
            BatchPayload::Tick(event) if !BatchPayload::is_tick(&event) => Err(KitError::NotATick {
                event_source: event.source,
                detail_type: event.detail_type,
            }),
            BatchPayload::Tick(_) if self.trigger.schedule.is_none() => Err(KitError::NoSchedule),
            BatchPayload::Tick(_) => {
                self.processor.process_tick(self.clock.now(), invocation).await?;
                Ok(None)
            }
        }
    }
}

/// The entry of batch handler `H` on platform `Pl` publishing to `O`.
pub type BatchesOn<Pl, O, H> = Batches<H, <Pl as PublishesTo<O>>::Publisher, <Pl as Platform>::Parking>;

/// The entry of a function whose batches `handler` takes whole, on `platform`.
pub fn batches<Pl, O, H>(
    platform: &Pl,
    function: &'static Function<SqsBatches, O>,
    handler: H,
) -> Result<BatchesOn<Pl, O, H>, ConfigError>
where
    Pl: PublishesTo<O>,
    O: Outputs,
    H: BatchHandler,
{
    let (name, processor) = batch_processor(platform, function, handler)?;
    Ok(Batches {
        name,
        trigger: function.trigger,
        processor,
        clock: platform.clock(),
    })
}

/// A function behind a Function URL.
#[derive(Debug)]
pub struct Http<H> {
    name: String,
    handler: H,
}

impl<H: HttpHandler + 'static> Entry for Http<H> {
    type Trigger = FunctionUrl;

    fn name(&self) -> &str {
        &self.name
    }

    fn consumes(&self, _event_type: &str) -> bool {
        false
    }

    /// The request goes on in the invocation's X-Ray trace: its `traceparent` is set to it, so
    /// what the handler publishes carries the trace X-Ray shows for this request (a client's
    /// own W3C header is not one X-Ray continues: only `X-Amzn-Trace-Id` is).
    async fn call(
        &self,
        mut request: <FunctionUrl as Trigger>::Payload,
        invocation: &Invocation,
    ) -> Result<<FunctionUrl as Trigger>::Response, KitError> {
        let started = tokio::time::Instant::now();
        if let Some(correlation_id) = request.headers.get("x-correlation-id").and_then(|v| v.to_str().ok()) {
            observability::record_correlation(correlation_id);
        }
        if let Some(traceparent) = invocation
            .trace
            .as_ref()
            .and_then(|t| HeaderValue::from_str(&t.traceparent).ok())
        {
            request.headers.insert("traceparent", traceparent);
        }
        let response = self.handler.handle(request).await;
        observability::request_done(response.status_code, started.elapsed());
        Ok(response)
    }
}

/// The entry of an HTTP function answering with `handler`, on `platform`: named as deployed
/// (`AWS_LAMBDA_FUNCTION_NAME`), or by its crate.
pub fn http<Pl: Platform, O, H: HttpHandler>(
    platform: &Pl,
    function: &'static Function<FunctionUrl, O>,
    handler: H,
) -> Http<H> {
    let name = platform
        .env()
        .optional(KitConfig::FUNCTION_NAME)
        .unwrap_or_else(|| function.name.to_owned());
    Http { name, handler }
}

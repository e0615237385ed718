//! Record processing: every record decoded, claimed through the idempotent executor, its work
//! run and its outcome classified; outputs published, then recorded; exactly the records to
//! retry reported, before the deadline.
//!
//! | outcome of a record | what happens |
//! |---|---|
//! | handled | its outputs are published with the batch's, then its result is recorded with whether they went out |
//! | a duplicate whose outputs went out | nothing is sent again (people are told once) |
//! | a duplicate whose outputs did not go out | its stored outputs are published, then marked delivered |
//! | transient failure, or a panic in its work | reported as a batch item failure: SQS redelivers it after the visibility timeout, and after `maxReceiveCount` moves it to the DLQ |
//! | permanent failure | parked at once with its reason and original body, and not retried |
//! | not started before the deadline margin | reported as a batch item failure |
//! | output refused for good | parked (its work is recorded as done, its outputs as not delivered) |
//! | output, parking or bookkeeping not finished in time, or failed for now | reported as a batch item failure: retried, never lost |
//!
//! Time: no record starts with less than the deadline margin left, and its work is stopped at
//! the margin; publishing stops when half the margin is left, recording and parking when a
//! tenth is, so the invocation always answers before Lambda's deadline.
//!
//! FIFO queues: one message group's records run in order, and their outputs go out in record
//! order (each publish call carries at most one output per group); from a group's first
//! failure on, the rest of the group is neither published nor deleted.
//!
//! The steps, one file each: `run.rs` decodes, claims and handles each record (FIFO groups in
//! order); `deliver.rs` publishes what they produced, records it and parks what must be
//! parked; the kit's `answer.rs` says what SQS retries.

mod deliver;
mod run;

use std::future::Future;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use envelope::{Decoded, Decoder, Envelope, Registry};
use idempotency::{Idempotency, Store};
use serde_json::Value;

use crate::answer::sqs_response;
use crate::error::{HandlerError, KitError};
use crate::fifo::{fail_rest_of_groups, is_fifo, message_groups};
use crate::invocation::{Invocation, Limits};
use crate::observability;
use crate::outcome::Outcome;
use crate::publish::{Parking, Publisher};

/// A function's decision: what an event means, as the events it causes.
///
/// It runs at most once per event (the kit wraps it in the idempotent executor), so it may
/// have effects; the events it returns should have ids derived from the input
/// ([`Envelope::caused_by`]) so a re-run produces the same ones.
pub trait RecordHandler: Send + Sync {
    /// The event types this function consumes, with their upcasters.
    fn event_types(&self) -> Registry;

    /// Handles one event.
    fn handle(&self, event: Envelope<Value>)
    -> impl Future<Output = Result<Vec<Envelope<Value>>, HandlerError>> + Send;
}

/// Runs a [`RecordHandler`] over each record of a batch on its own, through the idempotent
/// executor, with publishing and parking (unlike [`crate::BatchProcessor`], which hands the
/// batch whole to a handler keeping its work once in its own state).
#[derive(Debug)]
pub struct RecordProcessor<H, S, P, Q> {
    function: String,
    decoder: Decoder,
    handler: H,
    idempotency: Idempotency<S>,
    publisher: P,
    parking: Q,
    limits: Limits,
}

impl<H: RecordHandler, S: Store, P: Publisher, Q: Parking> RecordProcessor<H, S, P, Q> {
    /// A processor for `function`, decoding the handler's event types.
    pub fn new(function: impl Into<String>, handler: H, idempotency: Idempotency<S>, publisher: P, parking: Q) -> Self {
        Self {
            function: function.into(),
            decoder: Decoder::with_registry(handler.event_types()),
            handler,
            idempotency,
            publisher,
            parking,
            limits: Limits::default(),
        }
    }

    /// With other limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether records of `event_type` are read.
    pub fn consumes(&self, event_type: &str) -> bool {
        self.decoder.accepts(event_type)
    }

    /// The handler, publisher and parking, e.g. to inspect in-memory adapters in tests.
    pub fn parts(&self) -> (&H, &Idempotency<S>, &P, &Q) {
        (&self.handler, &self.idempotency, &self.publisher, &self.parking)
    }

    /// Processes an SQS batch and returns exactly the records to retry. Fails as a whole only
    /// when a record to retry has no message id, which SQS never sends: reporting it would
    /// fail the batch anyway, and dropping it would lose it.
    pub async fn process_sqs(&self, event: &SqsEvent, invocation: &Invocation) -> Result<SqsBatchResponse, KitError> {
        let decoded = self.decoder.decode_sqs(event);
        let bodies: Vec<&str> = event
            .records
            .iter()
            .map(|r| r.body.as_deref().unwrap_or_default())
            .collect();
        let fifo = is_fifo(event);
        let groups = if fifo { message_groups(event) } else { Vec::new() };
        let outcomes = if fifo {
            self.run_fifo(decoded, &groups, invocation).await
        } else {
            self.run_concurrently(decoded, invocation).await
        };
        let ids = crate::answer::Origin::of_sqs(event);
        let mut outcomes = self
            .settle(outcomes, &bodies, ids, fifo.then_some(groups.as_slice()), invocation)
            .await;
        if fifo {
            fail_rest_of_groups(&mut outcomes, &groups);
        }
        sqs_response(event, &outcomes)
    }

    /// Processes an event delivered by an EventBridge rule straight to the function. There is
    /// no partial response: a transient failure fails the invocation (Lambda retries it, then
    /// sends it to the function's on-failure destination); a permanent one is parked.
    pub async fn process_eventbridge(
        &self,
        event: EventBridgeEvent<Value>,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        let body = serde_json::to_string(&event).unwrap_or_default();
        let decoded = vec![self.decoder.decode_eventbridge(event)];
        self.process_direct(decoded, vec![body], invocation).await
    }

    /// Processes an SNS event delivered straight to the function (failures as for EventBridge).
    pub async fn process_sns(&self, event: &SnsEvent, invocation: &Invocation) -> Result<(), KitError> {
        let bodies = event.records.iter().map(|r| r.sns.message.clone()).collect();
        self.process_direct(self.decoder.decode_sns(event), bodies, invocation)
            .await
    }

    /// EventBridge and SNS invoke a function in the trace of the put or publish (X-Ray carries
    /// it to Lambda), so a record without a trace of its own takes the invocation's.
    async fn process_direct(
        &self,
        mut decoded: Vec<Decoded>,
        bodies: Vec<String>,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        for record in &mut decoded {
            record.adopt_trace(invocation.trace.clone());
        }
        let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let ids = decoded.iter().map(|d| d.message_id.clone().into()).collect();
        let outcomes = self.run_concurrently(decoded, invocation).await;
        let outcomes = self.settle(outcomes, &bodies, ids, None, invocation).await;
        observability::batch_done(&outcomes);
        let failed: Vec<String> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match o {
                Outcome::Retry { reason } => Some(format!("record {i}: {reason}")),
                Outcome::NotStarted => Some(format!("record {i}: not started before the deadline")),
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(KitError::Retry { reasons: failed })
        }
    }
}

//! Functions that aggregate: one decision covers several records (a window of readings, a
//! period of anomalies), so the handler sees the whole batch at once, with the same
//! per-record failure reporting as [`crate::Handler`].
//!
//! A batch is decided, its outputs published, and only then its new state committed. If the
//! publish or the commit does not happen, nothing was written and the records come back: the
//! next decision computes the same outputs (derived ids, so consumers absorb the repeat) and
//! the aggregate counts no record twice (its state knows what it holds). A record the handler
//! refuses for good is parked with its reason; one it cannot decide for now is retried.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use envelope::{Decoder, Envelope, ErrorClass, Registry};
use serde_json::Value;
use tokio::time::{Instant, timeout_at};

use crate::error::{HandlerError, KitError};
use crate::processor::{
    Invocation, Limits, Outcome, fail_rest_of_groups, failed, is_fifo, message_groups, not_in_time, park,
    permanent_decode, sqs_response,
};
use crate::publish::{Parking, Publisher};

/// What an aggregating handler decided for a batch.
#[derive(Debug)]
pub struct Decision<T> {
    /// Per event given, in order: accepted (`Ok`), or why not.
    pub records: Vec<Result<(), HandlerError>>,
    /// The events the batch causes, with ids derived from what caused them.
    pub outputs: Vec<Envelope<Value>>,
    /// The state to write once the outputs went out.
    pub pending: T,
}

/// A function whose decision covers a whole batch.
pub trait BatchHandler: Send + Sync {
    /// The state a decision writes when it is committed.
    type Pending: Send;

    /// The event types this function consumes, with their upcasters.
    fn event_types(&self) -> Registry;

    /// How records are read: by default upcast to [`Self::event_types`], other types refused.
    /// A handler that keeps events as they arrived (an archive) reads every type as it is.
    fn decoder(&self) -> Decoder {
        Decoder::with_registry(self.event_types())
    }

    /// Decides `events` (the batch's readable records, in order) at once, reading what it
    /// needs and writing nothing. Events it has counted before change nothing, and the outputs
    /// their state implies come out again, with the same ids.
    fn decide(
        &self,
        events: Vec<Envelope<Value>>,
    ) -> impl Future<Output = Result<Decision<Self::Pending>, HandlerError>> + Send;

    /// What time alone decides (a scheduled rule's tick at `now`): windows of quiet streams.
    fn tick(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Decision<Self::Pending>, HandlerError>> + Send;

    /// Writes the state of a decision whose outputs went out. A conflict (another invocation
    /// wrote first) is a transient error: the batch comes back and is decided again.
    fn commit(&self, pending: Self::Pending) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Runs a [`BatchHandler`] over batches: decode, decide, publish, commit, park, answer.
#[derive(Debug)]
pub struct BatchProcessor<H, P, Q> {
    function: String,
    decoder: Decoder,
    handler: H,
    publisher: P,
    parking: Q,
    limits: Limits,
}

impl<H: BatchHandler, P: Publisher, Q: Parking> BatchProcessor<H, P, Q> {
    /// A processor for `function`, decoding the handler's event types.
    pub fn new(function: impl Into<String>, handler: H, publisher: P, parking: Q) -> Self {
        Self {
            function: function.into(),
            decoder: handler.decoder(),
            handler,
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

    /// The handler, publisher and parking, e.g. to inspect in-memory adapters in tests.
    pub fn parts(&self) -> (&H, &P, &Q) {
        (&self.handler, &self.publisher, &self.parking)
    }

    /// Processes an SQS batch and returns exactly the records to retry.
    pub async fn process_sqs(&self, event: &SqsEvent, invocation: &Invocation) -> Result<SqsBatchResponse, KitError> {
        let decoded = self.decoder.decode_sqs(event);
        let bodies: Vec<&str> = event
            .records
            .iter()
            .map(|r| r.body.as_deref().unwrap_or_default())
            .collect();
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(decoded.len());
        let mut readable = Vec::new();
        let mut positions = Vec::new();
        for record in decoded {
            match record.envelope {
                Ok(envelope) => {
                    positions.push(outcomes.len());
                    readable.push(envelope);
                    outcomes.push(Outcome::Done);
                }
                Err(err) => outcomes.push(permanent_decode(&err)),
            }
        }
        if !readable.is_empty() {
            let count = readable.len();
            let settled = self.settle(self.handler.decide(readable), count, invocation).await;
            for (position, outcome) in positions.into_iter().zip(settled) {
                outcomes[position] = outcome;
            }
        }
        let ids = event.records.iter().map(|r| r.message_id.clone()).collect();
        let mut outcomes = park(
            &self.parking,
            &self.function,
            outcomes,
            &bodies,
            ids,
            self.limits.settle_by(invocation),
        )
        .await;
        // FIFO (a function serialised behind one message group): a record retried holds
        // back the rest of its group. Their effects, if committed, are absorbed as stale
        // when they come back.
        if is_fifo(event) {
            fail_rest_of_groups(&mut outcomes, &message_groups(event));
        }
        sqs_response(event, &outcomes)
    }

    /// A scheduled rule's tick at `now`: decides what time alone closes, publishes, commits.
    /// A failure fails the invocation, so Lambda retries it.
    pub async fn process_tick(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        let outcome = self.settle(self.handler.tick(now), 0, invocation).await;
        match outcome.into_iter().next() {
            None | Some(Outcome::Done) => Ok(()),
            Some(Outcome::Retry { reason } | Outcome::Park { reason, .. }) => {
                Err(KitError::Retry { reasons: vec![reason] })
            }
            Some(_) => Err(KitError::Retry {
                reasons: vec!["the tick did not start before the deadline margin".to_owned()],
            }),
        }
    }

    /// Decides, publishes by the publishing budget, commits by the settling budget: `count`
    /// outcomes (one for a tick when `count` is 0).
    async fn settle(
        &self,
        decide: impl Future<Output = Result<Decision<H::Pending>, HandlerError>>,
        count: usize,
        invocation: &Invocation,
    ) -> Vec<Outcome> {
        let slots = count.max(1);
        let every = |make: &dyn Fn() -> Outcome| -> Vec<Outcome> { (0..slots).map(|_| make()).collect() };
        let remaining = invocation.deadline.saturating_duration_since(Instant::now());
        if remaining <= self.limits.deadline_margin {
            return every(&|| Outcome::NotStarted);
        }
        let decided = match tokio::time::timeout(remaining - self.limits.deadline_margin, decide).await {
            Ok(Ok(decision)) => decision,
            Ok(Err(err)) => return every(&|| classified(&err)),
            Err(_) => {
                return every(&|| Outcome::Retry {
                    reason: "the batch was not decided before the deadline margin".into(),
                });
            }
        };
        let mut outcomes: Vec<Outcome> = decided
            .records
            .iter()
            .map(|record| match record {
                Ok(()) => Outcome::Done,
                Err(err) => classified(err),
            })
            .collect();
        outcomes.resize_with(slots, || Outcome::Done);
        // The outputs are the batch's joint product: if they do not all go out, nothing is
        // committed and every accepted record comes back.
        let published = if decided.outputs.is_empty() {
            Ok(())
        } else {
            match timeout_at(
                self.limits.publish_by(invocation),
                self.publisher.publish(&decided.outputs),
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err((err.class() == ErrorClass::Permanent, err.to_string())),
                Err(_) => Err((false, not_in_time().reason)),
            }
        };
        let failed = match published {
            Err(failure) => Some(failure),
            Ok(()) => match self.commit(decided.pending, invocation).await {
                Ok(()) => None,
                Err(reason) => Some((false, reason)),
            },
        };
        if let Some((permanent, reason)) = failed {
            tracing::warn!(
                permanent,
                reason,
                outputs = decided.outputs.len(),
                "the batch's outputs or state did not go through"
            );
            for outcome in outcomes.iter_mut().filter(|o| matches!(o, Outcome::Done)) {
                *outcome = if permanent {
                    Outcome::Park {
                        kind: "output-refused".to_owned(),
                        reason: reason.clone(),
                    }
                } else {
                    Outcome::Retry { reason: reason.clone() }
                };
            }
        }
        outcomes
    }

    /// Commits by the settling budget. A failure (a conflict, a throttled table) is not
    /// retried here: the pending state may be stale, so the batch comes back and is decided
    /// again from what is stored; its outputs come out again with the same ids.
    async fn commit(&self, pending: H::Pending, invocation: &Invocation) -> Result<(), String> {
        let settle_by = self.limits.settle_by(invocation);
        match timeout_at(settle_by, self.handler.commit(pending)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("state not written: {err}")),
            Err(_) => Err("state not written before the deadline".to_owned()),
        }
    }
}

/// A record's failure as its outcome, logged as the per-record path logs it.
fn classified(err: &HandlerError) -> Outcome {
    failed(err.class(), err.kind().to_owned(), err)
}

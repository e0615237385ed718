//! Functions that aggregate: one decision covers several records (a window of readings, a
//! period of anomalies), so the handler sees the whole batch at once, with the same
//! per-record failure reporting as [`crate::RecordHandler`].
//!
//! **Commit, then publish, from an outbox.** A handler settles a batch: it decides and commits
//! its new state with the outputs kept beside it (an outbox in the same conditional write), and
//! hands back only outputs that committed state holds. The processor publishes them, then tells
//! the handler they went out ([`BatchHandler::sent`]) so it can clear its outbox. Nothing is
//! published that the stored state does not back: an invocation that loses a race never
//! publishes what it decided, it re-reads and decides again. If the publish fails (or the
//! invocation dies) after the commit, the outputs stay in the outbox and the next batch or tick
//! that reads that state sends them again, under the same ids, so consumers absorb the repeat.
//! Publishing first and committing after (the other order) would leave events on the bus that
//! the state never took when the commit lost its race.
//!
//! A conflict (another invocation wrote first) is the handler's to resolve inside the
//! invocation: re-read, re-apply, a bounded number of times and only until `by`; only the
//! records it still could not commit come back, with a transient error. A record the handler
//! refuses for good is parked with its reason; one it cannot decide for now is retried.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use envelope::{Decoder, Envelope, ErrorClass, Registry};
use serde_json::Value;
/// The instant a handler stops starting new attempts by (tokio's, so virtual time moves it).
pub use tokio::time::Instant;
use tokio::time::timeout_at;

use crate::answer::{park, sqs_response};
use crate::error::{HandlerError, KitError};
use crate::fifo::{fail_rest_of_groups, is_fifo, message_groups};
use crate::invocation::{Invocation, Limits};
use crate::outcome::{Outcome, failed, not_in_time, permanent_decode};
use crate::publish::{Parking, Publisher};

/// What an aggregating handler settled for a batch or a tick: its state is committed.
#[derive(Debug)]
pub struct Settled<S> {
    /// Per event given, in order: accepted and committed (`Ok`), or why not.
    pub records: Vec<Result<(), HandlerError>>,
    /// The events the committed state holds in its outbox, with ids derived from what caused
    /// them: to publish now.
    pub outputs: Vec<Envelope<Value>>,
    /// What to tell the handler once the outputs went out.
    pub sent: S,
}

impl<S: Default> Settled<S> {
    /// Nothing decided, nothing to publish.
    pub fn nothing() -> Self {
        Self {
            records: Vec::new(),
            outputs: Vec::new(),
            sent: S::default(),
        }
    }
}

/// A function whose decision covers a whole batch.
pub trait BatchHandler: Send + Sync {
    /// What [`Self::sent`] needs to clear the outbox entries of outputs that went out.
    type Sent: Send;

    /// The event types this function consumes, with their upcasters.
    fn event_types(&self) -> Registry;

    /// How records are read: by default upcast to [`Self::event_types`], other types refused.
    /// A handler that keeps events as they arrived (an archive) reads every type as it is.
    fn decoder(&self) -> Decoder {
        Decoder::with_registry(self.event_types())
    }

    /// Decides `events` (the batch's readable records, in order) and commits the new state with
    /// its outputs in an outbox; resolves conflicts by reading again, starting no new attempt
    /// after `by`. Events counted before change nothing, and what the outbox still holds comes
    /// out again, with the same ids.
    fn settle(
        &self,
        events: Vec<Envelope<Value>>,
        by: Instant,
    ) -> impl Future<Output = Result<Settled<Self::Sent>, HandlerError>> + Send;

    /// What time alone decides (a scheduled rule's tick at `now`), settled the same way.
    fn tick(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        by: Instant,
    ) -> impl Future<Output = Result<Settled<Self::Sent>, HandlerError>> + Send;

    /// The outputs of a settle went out: clear them from the outbox. A failure here only means
    /// they go out again later, under the same ids.
    fn sent(&self, sent: Self::Sent) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Runs a [`BatchHandler`] over batches: decode, settle (decide and commit), publish, clear the
/// outbox, park, answer.
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

    /// Whether records of `event_type` are read.
    pub fn consumes(&self, event_type: &str) -> bool {
        self.decoder.accepts(event_type)
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
            let decide_by = self.decide_by(invocation);
            let settled = self
                .settle(self.handler.settle(readable, decide_by), count, invocation)
                .await;
            for (position, outcome) in positions.into_iter().zip(settled) {
                outcomes[position] = outcome;
            }
        }
        let ids = crate::answer::Origin::of_sqs(event);
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

    /// A scheduled rule's tick at `now`: settles what time alone closes, publishes. A failure
    /// fails the invocation, so Lambda retries it.
    pub async fn process_tick(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        let decide_by = self.decide_by(invocation);
        let outcome = self.settle(self.handler.tick(now, decide_by), 0, invocation).await;
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

    /// When settling must be done: the deadline less its margin.
    fn decide_by(&self, invocation: &Invocation) -> Instant {
        invocation
            .deadline
            .checked_sub(self.limits.deadline_margin)
            .unwrap_or_else(Instant::now)
    }

    /// Settles (decides and commits), publishes the committed outputs by the publishing
    /// budget, tells the handler they went out: `count` outcomes (one for a tick when `count`
    /// is 0).
    async fn settle(
        &self,
        settle: impl Future<Output = Result<Settled<H::Sent>, HandlerError>>,
        count: usize,
        invocation: &Invocation,
    ) -> Vec<Outcome> {
        let slots = count.max(1);
        let every = |make: &dyn Fn() -> Outcome| -> Vec<Outcome> { (0..slots).map(|_| make()).collect() };
        let decide_by = self.decide_by(invocation);
        if Instant::now() >= decide_by {
            return every(&|| Outcome::NotStarted);
        }
        let settled = match timeout_at(decide_by, settle).await {
            Ok(Ok(settled)) => settled,
            Ok(Err(err)) => return every(&|| classified(&err)),
            Err(_) => {
                // What was committed before the deadline is in the outbox: the records come
                // back and send it.
                return every(&|| Outcome::Retry {
                    reason: "the batch was not settled before the deadline margin".into(),
                });
            }
        };
        let mut outcomes: Vec<Outcome> = settled
            .records
            .iter()
            .map(|record| match record {
                Ok(()) => Outcome::Done,
                Err(err) => classified(err),
            })
            .collect();
        outcomes.resize_with(slots, || Outcome::Done);
        if settled.outputs.is_empty() {
            return outcomes;
        }
        let published = match timeout_at(
            self.limits.publish_by(invocation),
            self.publisher.publish(&settled.outputs),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err((err.class() == ErrorClass::Permanent, err.to_string())),
            Err(_) => Err((false, not_in_time().reason)),
        };
        // A publish that can never take the outputs (refused for what they are) clears them
        // too, or every later batch of that state would be refused with them; the records are
        // parked with the reason, and the log names the outputs.
        if published.as_ref().is_ok() || published.as_ref().is_err_and(|(permanent, _)| *permanent) {
            // Best effort: an entry left in the outbox only goes out again.
            match timeout_at(self.limits.settle_by(invocation), self.handler.sent(settled.sent)).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(reason = %err, "the outbox was not cleared; its events go out again"),
                Err(_) => tracing::warn!("the outbox was not cleared in time; its events go out again"),
            }
        }
        if let Err((permanent, reason)) = published {
            // Transient: the state is committed with these outputs in its outbox; the records
            // come back and send them.
            let ids: Vec<String> = settled.outputs.iter().map(|o| o.metadata.id.to_string()).collect();
            tracing::warn!(
                permanent,
                reason,
                outputs = ?ids,
                "the batch's committed outputs did not go out"
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
}

/// A record's failure as its outcome, logged as the per-record path logs it.
fn classified(err: &HandlerError) -> Outcome {
    failed(err.class(), err.kind().to_owned(), err)
}

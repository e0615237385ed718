//! Batch processing: every record decoded, claimed through the idempotent executor, its work
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

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use envelope::{Arrival, Decoded, Decoder, Envelope, EnvelopeError, ErrorClass, Registry};
use futures_util::FutureExt;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use idempotency::{Claim, Completed, Idempotency, IdempotencyError, Store, Ticket};
use serde_json::Value;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use crate::error::{HandlerError, KitError};
use crate::observability;
use crate::publish::{FailedEntry, ParkedMessage, Parking, Publisher};

/// A function's decision: what an event means, as the events it causes.
///
/// It runs at most once per event (the kit wraps it in the idempotent executor), so it may
/// have effects; the events it returns should have ids derived from the input
/// ([`Envelope::caused_by`]) so a re-run produces the same ones.
pub trait Handler: Send + Sync {
    /// The event types this function consumes, with their upcasters.
    fn event_types(&self) -> Registry;

    /// Handles one event.
    fn handle(&self, event: Envelope<Value>)
    -> impl Future<Output = Result<Vec<Envelope<Value>>, HandlerError>> + Send;
}

/// The invocation a batch arrived in.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Lambda's request id.
    pub request_id: String,
    /// When Lambda stops the invocation.
    pub deadline: Instant,
}

impl Invocation {
    /// An invocation with `remaining` time left from now.
    pub fn with_remaining(request_id: impl Into<String>, remaining: Duration) -> Self {
        Self {
            request_id: request_id.into(),
            deadline: Instant::now() + remaining,
        }
    }
}

/// Tuning of a processor.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records processed at once.
    pub concurrency: usize,
    /// A record is not started with less time than this left, and its work is stopped when
    /// only this is left. Publishing gets until half of it is left, recording and parking
    /// until a tenth is: what is not done by then is reported for retry.
    pub deadline_margin: Duration,
}

impl Limits {
    pub(crate) fn publish_by(&self, invocation: &Invocation) -> Instant {
        before(invocation.deadline, self.deadline_margin / 2)
    }

    pub(crate) fn settle_by(&self, invocation: &Invocation) -> Instant {
        before(invocation.deadline, self.deadline_margin / 10)
    }
}

/// `margin` before `deadline` (an instant can only go back as far as the clock began).
fn before(deadline: Instant, margin: Duration) -> Instant {
    deadline.checked_sub(margin).unwrap_or(deadline)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: 10,
            deadline_margin: Duration::from_secs(2),
        }
    }
}

/// What happened to one record.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Work done (now, or before without its outputs delivered): publish, then record.
    Produced {
        outputs: Vec<Envelope<Value>>,
        then: Bookkeeping,
    },
    Done,
    Retry {
        reason: String,
    },
    Park {
        kind: String,
        reason: String,
    },
    NotStarted,
    /// The same event as an earlier record of the batch (a duplicate delivery): it ends as
    /// that record does, without claiming the key that record holds.
    Follows(usize),
}

/// Tries at recording a result, and the pause before the n-th retry (times n).
const RECORD_ATTEMPTS: u32 = 3;
const RECORD_BACKOFF: Duration = Duration::from_millis(50);

/// What to record once a record's outputs were published (or not).
#[derive(Debug)]
pub(crate) enum Bookkeeping {
    /// Complete the claimed key with the outputs and whether they went out.
    Complete(Ticket),
    /// A duplicate's stored outputs went out now: mark them delivered.
    MarkDelivered(String),
}

/// Why a record's outputs did not all go out.
#[derive(Debug, Clone)]
pub(crate) struct Undelivered {
    pub(crate) permanent: bool,
    pub(crate) reason: String,
}

impl Outcome {
    pub(crate) fn is_failure(&self) -> bool {
        matches!(self, Self::Retry { .. } | Self::NotStarted)
    }

    /// How a duplicate of this record in the same batch ends: done or parked alike, else retried.
    fn for_follower(&self, leader: usize) -> Self {
        match self {
            Self::Done => Self::Done,
            Self::Park { kind, reason } => Self::Park {
                kind: kind.clone(),
                reason: reason.clone(),
            },
            _ => Self::Retry {
                reason: format!("the same event as record {leader} of this batch, which is retried"),
            },
        }
    }
}

/// Runs a [`Handler`] over batches, with idempotency, publishing and parking.
#[derive(Debug)]
pub struct Processor<H, S, P, Q> {
    function: String,
    decoder: Decoder,
    handler: H,
    idempotency: Idempotency<S>,
    publisher: P,
    parking: Q,
    limits: Limits,
}

impl<H: Handler, S: Store, P: Publisher, Q: Parking> Processor<H, S, P, Q> {
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
        let ids = event.records.iter().map(|r| r.message_id.clone()).collect();
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

    async fn process_direct(
        &self,
        decoded: Vec<Decoded>,
        bodies: Vec<String>,
        invocation: &Invocation,
    ) -> Result<(), KitError> {
        let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let ids = decoded.iter().map(|d| d.message_id.clone()).collect();
        let outcomes = self.run_concurrently(decoded, invocation).await;
        let outcomes = self.settle(outcomes, &bodies, ids, None, invocation).await;
        observability::batch_done(&outcomes.iter().map(Outcome::is_failure).collect::<Vec<_>>());
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

    async fn run_concurrently(&self, decoded: Vec<Decoded>, invocation: &Invocation) -> Vec<Outcome> {
        let leaders = self.leaders(&decoded);
        stream::iter(decoded.into_iter().zip(leaders))
            .map(|(record, leader)| self.run_unless_following(record, leader, invocation))
            .buffered(self.limits.concurrency.max(1))
            .collect()
            .await
    }

    /// For each record, the earlier record of the batch carrying the same event (same key and
    /// the same payload as it arrived), if any: SQS may deliver one message twice in a batch,
    /// and the copy must not be turned away as "in progress" by the key its twin holds.
    fn leaders(&self, decoded: &[Decoded]) -> Vec<Option<usize>> {
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        decoded
            .iter()
            .map(|record| {
                let envelope = record.envelope.as_ref().ok()?;
                let key = self.idempotency.key_of(envelope)?;
                let same = |other: &Decoded| {
                    let Ok(theirs) = &other.envelope else { return false };
                    theirs.metadata.event_type == envelope.metadata.event_type
                        && theirs.metadata.version == envelope.metadata.version
                        && theirs.data == envelope.data
                        && other.arrived_as == record.arrived_as
                };
                let earlier = seen.entry(key).or_default();
                let leader = earlier.iter().copied().find(|&index| same(&decoded[index]));
                if leader.is_none() {
                    earlier.push(record.index);
                }
                leader
            })
            .collect()
    }

    async fn run_unless_following(&self, record: Decoded, leader: Option<usize>, invocation: &Invocation) -> Outcome {
        match leader {
            Some(leader) => Outcome::Follows(leader),
            None => self.run_record(record, invocation).await,
        }
    }

    /// Groups run concurrently; a group's records run in order, and stop at its first failure.
    async fn run_fifo(&self, decoded: Vec<Decoded>, groups: &[String], invocation: &Invocation) -> Vec<Outcome> {
        let count = decoded.len();
        let leaders = self.leaders(&decoded);
        let by_group = group_in_order(decoded.into_iter().zip(leaders).zip(groups));
        let runs = stream::iter(by_group)
            .map(|records| async move {
                let mut outcomes = Vec::with_capacity(records.len());
                let mut stopped = false;
                for (record, leader) in records {
                    let index = record.index;
                    let outcome = if stopped {
                        Outcome::NotStarted
                    } else {
                        self.run_unless_following(record, leader, invocation).await
                    };
                    stopped |= outcome.is_failure();
                    outcomes.push((index, outcome));
                }
                outcomes
            })
            .buffer_unordered(self.limits.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut ordered: Vec<Option<Outcome>> = (0..count).map(|_| None).collect();
        for (index, outcome) in runs.into_iter().flatten() {
            ordered[index] = Some(outcome);
        }
        ordered.into_iter().map(|o| o.unwrap_or(Outcome::NotStarted)).collect()
    }

    async fn run_record(&self, record: Decoded, invocation: &Invocation) -> Outcome {
        let span = observability::record_span(&record);
        async move {
            let remaining = invocation.deadline.saturating_duration_since(Instant::now());
            if remaining <= self.limits.deadline_margin {
                tracing::warn!(
                    remaining_ms = remaining.as_millis(),
                    "not started: too close to the deadline; reported for retry"
                );
                return Outcome::NotStarted;
            }
            let started = Instant::now();
            let outcome = match record.envelope {
                Err(err) => permanent_decode(&err),
                Ok(event) => {
                    let work = self.claim_and_handle(event, record.arrived_as.as_ref(), remaining);
                    // Stop a record that would run into Lambda's timeout, so the batch still
                    // answers (and publishes and parks) for the others. Its key stays in progress
                    // until the deadline, like a crash, and the record is retried.
                    match tokio::time::timeout(remaining.saturating_sub(self.limits.deadline_margin), work).await {
                        Ok(outcome) => outcome,
                        Err(_) => {
                            tracing::warn!("stopped at the deadline margin; reported for retry");
                            Outcome::Retry {
                                reason: "did not finish before the deadline margin".into(),
                            }
                        }
                    }
                }
            };
            observability::record_done(outcome_name(&outcome), started.elapsed());
            outcome
        }
        .instrument(span)
        .await
    }

    /// Claims the event's key, then runs the handler if the work has not run before. A panic
    /// in the handler is this record's failure alone: its key is released and it is retried
    /// (the release profile unwinds so that this can be caught).
    async fn claim_and_handle(
        &self,
        event: Envelope<Value>,
        arrived_as: Option<&Arrival>,
        remaining: Duration,
    ) -> Outcome {
        let claim = self
            .idempotency
            .claim_envelope::<Vec<Envelope<Value>>, HandlerError>(&event, arrived_as, remaining)
            .await;
        let ticket = match claim {
            Err(err) => return failure(err),
            Ok(Claim::Acquired(ticket)) => ticket,
            Ok(Claim::Completed(completed)) => return duplicate(completed),
        };
        match AssertUnwindSafe(self.handler.handle(event)).catch_unwind().await {
            Ok(Ok(outputs)) => {
                tracing::info!(outputs = outputs.len(), "handled");
                Outcome::Produced {
                    outputs,
                    then: Bookkeeping::Complete(ticket),
                }
            }
            Ok(Err(err)) => {
                self.idempotency.release(&ticket).await;
                failure(IdempotencyError::Work(err))
            }
            Err(panic) => {
                self.idempotency.release(&ticket).await;
                let message = panic_message(panic.as_ref());
                tracing::error!(panic = message, "the handler panicked; reported for retry");
                metrics::counter!("panics").increment(1);
                Outcome::Retry {
                    reason: format!("the handler panicked: {message}"),
                }
            }
        }
    }

    /// Publishes what was produced, then records it and parks what must be parked, each in
    /// time: what cannot be finished before the deadline is reported for retry.
    async fn settle(
        &self,
        outcomes: Vec<Outcome>,
        bodies: &[&str],
        message_ids: Vec<Option<String>>,
        fifo_groups: Option<&[String]>,
        invocation: &Invocation,
    ) -> Vec<Outcome> {
        let publish_by = self.limits.publish_by(invocation);
        let deliveries = match fifo_groups {
            Some(groups) => self.publish_in_group_order(&outcomes, groups, publish_by).await,
            None => self.publish_together(&outcomes, publish_by).await,
        };
        let settle_by = self.limits.settle_by(invocation);
        let mut bookkeeping = Vec::new();
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .zip(deliveries)
            .map(|(outcome, delivery)| match (outcome, delivery) {
                (Outcome::Produced { outputs, then }, Some(delivery)) => {
                    bookkeeping.push(self.record_delivery(outputs, then, delivery.is_ok(), settle_by));
                    match delivery {
                        Ok(()) => Outcome::Done,
                        Err(Undelivered {
                            permanent: false,
                            reason,
                        }) => Outcome::Retry { reason },
                        Err(Undelivered {
                            permanent: true,
                            reason,
                        }) => Outcome::Park {
                            kind: "output-refused".to_owned(),
                            reason,
                        },
                    }
                }
                (outcome, _) => outcome,
            })
            .collect();
        let outcomes = resolve_followers(outcomes);
        let (_, outcomes) = tokio::join!(
            join_all(bookkeeping),
            self.park(outcomes, bodies, message_ids, settle_by)
        );
        outcomes
    }

    /// Records a produced result and whether its outputs went out, by `settle_by`, retrying
    /// a store that fails for now: until it is recorded, a redelivery would find the key in
    /// progress, then run the work again once it expires. If it never is, the record still
    /// counts as done when its outputs went out (the rerun's derived ids make it a duplicate
    /// downstream).
    async fn record_delivery(
        &self,
        outputs: Vec<Envelope<Value>>,
        then: Bookkeeping,
        delivered: bool,
        settle_by: Instant,
    ) {
        let attempts = async {
            let mut attempt = 0;
            loop {
                let written = match &then {
                    Bookkeeping::Complete(ticket) => self
                        .idempotency
                        .complete::<_, HandlerError>(ticket, &outputs, delivered)
                        .await
                        .map(drop)
                        .map_err(|err| (err.class_with(HandlerError::class), err.to_string())),
                    Bookkeeping::MarkDelivered(key) if delivered => self
                        .idempotency
                        .mark_delivered(key)
                        .await
                        .map_err(|err| (err.class(), err.to_string())),
                    Bookkeeping::MarkDelivered(_) => Ok(()),
                };
                attempt += 1;
                match written {
                    Err((ErrorClass::Transient, _)) if attempt < RECORD_ATTEMPTS => {
                        tokio::time::sleep(RECORD_BACKOFF * attempt).await;
                    }
                    other => return other.map_err(|(_, message)| message),
                }
            }
        };
        let recorded = timeout_at(settle_by, attempts)
            .await
            .unwrap_or_else(|_| Err("not recorded before the deadline".to_owned()));
        if let Err(error) = recorded {
            tracing::warn!(delivered, error, "the result could not be recorded");
        }
    }

    /// Every output in one publish (the publisher chunks and retries), by `publish_by`.
    async fn publish_together(
        &self,
        outcomes: &[Outcome],
        publish_by: Instant,
    ) -> Vec<Option<Result<(), Undelivered>>> {
        let mut deliveries = delivered_until_told_otherwise(outcomes);
        let mut owners = Vec::new();
        let mut outputs = Vec::new();
        for (index, outcome) in outcomes.iter().enumerate() {
            if let Outcome::Produced { outputs: produced, .. } = outcome {
                owners.extend(std::iter::repeat_n(index, produced.len()));
                outputs.extend(produced.iter().cloned());
            }
        }
        if outputs.is_empty() {
            return deliveries;
        }
        match timeout_at(publish_by, self.publisher.publish(&outputs)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(error = %err, "publishing failed for some outputs");
                for failed in err.failed {
                    // An index the publisher should never give: fail every output, lose none.
                    let owned = owners.get(failed.index).map_or(owners.as_slice(), std::slice::from_ref);
                    for &owner in owned {
                        blame(&mut deliveries[owner], &failed);
                    }
                }
            }
            Err(_) => {
                tracing::error!(outputs = outputs.len(), "publishing did not finish before the deadline");
                for &owner in &owners {
                    deliveries[owner] = Some(Err(not_in_time()));
                }
            }
        }
        deliveries
    }

    /// FIFO: a group's outputs go out in record order, one per group per call, so a retried
    /// entry is never overtaken by a later one of its group; a group stops at its first
    /// output that does not go out, and its later records are not published.
    async fn publish_in_group_order(
        &self,
        outcomes: &[Outcome],
        groups: &[String],
        publish_by: Instant,
    ) -> Vec<Option<Result<(), Undelivered>>> {
        let mut deliveries = delivered_until_told_otherwise(outcomes);
        let produced = outcomes
            .iter()
            .enumerate()
            .filter_map(|(index, outcome)| match outcome {
                Outcome::Produced { outputs, .. } => Some(((index, outputs), &groups[index])),
                _ => None,
            });
        let mut queues: Vec<VecDeque<(usize, &Envelope<Value>)>> = group_in_order(produced)
            .into_iter()
            .map(|records| {
                records
                    .into_iter()
                    .flat_map(|(index, outputs)| outputs.iter().map(move |output| (index, output)))
                    .collect()
            })
            .collect();
        loop {
            let round: Vec<usize> = (0..queues.len()).filter(|&g| !queues[g].is_empty()).collect();
            if round.is_empty() {
                break;
            }
            let events: Vec<Envelope<Value>> = round.iter().map(|&g| queues[g][0].1.clone()).collect();
            let failed = match timeout_at(publish_by, self.publisher.publish(&events)).await {
                Ok(Ok(())) => Vec::new(),
                Ok(Err(err)) => err.failed,
                Err(_) => (0..events.len())
                    .map(|index| FailedEntry {
                        index,
                        code: "Timeout".to_owned(),
                        message: not_in_time().reason,
                        permanent: false,
                    })
                    .collect(),
            };
            for failed in &failed {
                let Some(&group) = round.get(failed.index) else {
                    // An index the publisher should never give: stop every group of the round.
                    for &group in &round {
                        fail_group(&mut deliveries, &mut queues[group], failed);
                    }
                    continue;
                };
                fail_group(&mut deliveries, &mut queues[group], failed);
            }
            for &group in &round {
                queues[group].pop_front();
            }
        }
        deliveries
    }

    async fn park(
        &self,
        outcomes: Vec<Outcome>,
        bodies: &[&str],
        message_ids: Vec<Option<String>>,
        settle_by: Instant,
    ) -> Vec<Outcome> {
        park(&self.parking, &self.function, outcomes, bodies, message_ids, settle_by).await
    }
}

/// The SQS answer for `outcomes`: exactly the records to retry. Fails as a whole only when a
/// record to retry has no message id, which SQS never sends.
pub(crate) fn sqs_response(event: &SqsEvent, outcomes: &[Outcome]) -> Result<SqsBatchResponse, KitError> {
    let mut response = SqsBatchResponse::default();
    for (index, outcome) in outcomes.iter().enumerate() {
        if outcome.is_failure() {
            let id = event.records[index].message_id.clone().filter(|id| !id.is_empty());
            let id = id.ok_or(KitError::RecordWithoutId { index })?;
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    observability::batch_done(&outcomes.iter().map(Outcome::is_failure).collect::<Vec<_>>());
    Ok(response)
}

/// Parks what must be parked, in one batched call, by `settle_by`, as `function`; a record not
/// parked (refused, failed or out of time) is retried instead.
pub(crate) async fn park<Q: Parking>(
    parking: &Q,
    function: &str,
    mut outcomes: Vec<Outcome>,
    bodies: &[&str],
    message_ids: Vec<Option<String>>,
    settle_by: Instant,
) -> Vec<Outcome> {
    let parked: Vec<(usize, ParkedMessage)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(index, outcome)| match outcome {
            Outcome::Park { kind, reason } => Some((
                index,
                ParkedMessage {
                    function: function.to_owned(),
                    message_id: message_ids.get(index).cloned().flatten(),
                    body: bodies.get(index).copied().unwrap_or_default().to_owned(),
                    kind: kind.clone(),
                    reason: reason.clone(),
                },
            )),
            _ => None,
        })
        .collect();
    if parked.is_empty() {
        return outcomes;
    }
    let messages: Vec<ParkedMessage> = parked.iter().map(|(_, m)| m.clone()).collect();
    let failed: Vec<(usize, String)> = match timeout_at(settle_by, parking.park(&messages)).await {
        Ok(Ok(())) => Vec::new(),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "parking failed; the records will be retried");
            err.failed.into_iter().map(|f| (f.index, f.message)).collect()
        }
        Err(_) => {
            tracing::error!("parking did not finish before the deadline; the records will be retried");
            (0..parked.len()).map(|i| (i, not_in_time().reason)).collect()
        }
    };
    for (index, message) in failed {
        outcomes[parked[index].0] = Outcome::Retry {
            reason: format!("could not be parked: {message}"),
        };
    }
    outcomes
}

/// A duplicate within the batch ends as the record it duplicates did.
fn resolve_followers(mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    for index in 0..outcomes.len() {
        if let Outcome::Follows(leader) = outcomes[index] {
            // A leader comes before its followers and never follows another record itself.
            outcomes[index] = outcomes[leader].for_follower(leader);
        }
    }
    outcomes
}

/// Items in groups, each group in the order its items came, groups in order of first item.
fn group_in_order<T, K: AsRef<str>>(items: impl IntoIterator<Item = (T, K)>) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (item, group) in items {
        let slot = *position.entry(group.as_ref().to_owned()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(item);
    }
    groups
}

/// What each record's publishing came to: `None` where nothing was produced, else sent until
/// an answer says otherwise.
fn delivered_until_told_otherwise(outcomes: &[Outcome]) -> Vec<Option<Result<(), Undelivered>>> {
    outcomes
        .iter()
        .map(|o| matches!(o, Outcome::Produced { .. }).then_some(Ok(())))
        .collect()
}

/// A group's first pending output failed: its record is blamed, and the rest of the group
/// waits for it (not published, retried after it).
fn fail_group(
    deliveries: &mut [Option<Result<(), Undelivered>>],
    queue: &mut VecDeque<(usize, &Envelope<Value>)>,
    failed: &FailedEntry,
) {
    let Some(&(first, _)) = queue.front() else {
        return;
    };
    blame(&mut deliveries[first], failed);
    for &(later, _) in queue.iter().skip(1) {
        if deliveries[later].as_ref().is_some_and(Result::is_ok) {
            deliveries[later] = Some(Err(Undelivered {
                permanent: false,
                reason: "an earlier record of its message group was not published".to_owned(),
            }));
        }
    }
    queue.clear();
}

/// Marks a record's delivery failed by `failed`; a transient failure of any of its outputs
/// makes the record a retry, even if another output was refused for good.
fn blame(delivery: &mut Option<Result<(), Undelivered>>, failed: &FailedEntry) {
    let reason = format!("output not published: {} {}", failed.code, failed.message);
    *delivery = match delivery.take() {
        Some(Err(earlier)) if !earlier.permanent => Some(Err(earlier)),
        _ => Some(Err(Undelivered {
            permanent: failed.permanent,
            reason,
        })),
    };
}

pub(crate) fn not_in_time() -> Undelivered {
    Undelivered {
        permanent: false,
        reason: "not confirmed before the deadline".to_owned(),
    }
}

/// In a FIFO batch, a record after a failed one of its group must not be deleted before it.
/// Whether the batch comes from a FIFO queue (its name ends in `.fifo`).
pub(crate) fn is_fifo(event: &SqsEvent) -> bool {
    event
        .records
        .first()
        .and_then(|r| r.event_source_arn.as_deref())
        .is_some_and(|arn| arn.ends_with(".fifo"))
}

/// Each record's message group (empty on a standard queue).
pub(crate) fn message_groups(event: &SqsEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.attributes.get("MessageGroupId").cloned().unwrap_or_default())
        .collect()
}

/// FIFO: from a group's first failure on, its later records come back too, so none
/// overtakes it.
pub(crate) fn fail_rest_of_groups(outcomes: &mut [Outcome], groups: &[String]) {
    let mut failed_groups = std::collections::HashSet::new();
    for (outcome, group) in outcomes.iter_mut().zip(groups) {
        if failed_groups.contains(group) && !outcome.is_failure() {
            *outcome = Outcome::NotStarted;
        }
        if outcome.is_failure() {
            failed_groups.insert(group.clone());
        }
    }
}

pub(crate) fn permanent_decode(err: &EnvelopeError) -> Outcome {
    tracing::error!(kind = err.kind(), error = %err, "unreadable record; parking it");
    Outcome::Park {
        kind: err.kind().to_owned(),
        reason: err.to_string(),
    }
}

/// A duplicate sends its outputs again only if they are not known to have gone out.
fn duplicate(completed: Completed<Vec<Envelope<Value>>>) -> Outcome {
    metrics::counter!("duplicates").increment(1);
    match completed {
        Completed { delivered: true, .. } => {
            tracing::info!(duplicate = true, "already handled; its outputs went out");
            Outcome::Done
        }
        Completed {
            key,
            result: Some(outputs),
            ..
        } => {
            tracing::info!(
                duplicate = true,
                outputs = outputs.len(),
                "already handled; sending its outputs again"
            );
            Outcome::Produced {
                outputs,
                then: Bookkeeping::MarkDelivered(key),
            }
        }
        // Never written: an undelivered result too large to keep releases its key instead.
        Completed { key, result: None, .. } => Outcome::Retry {
            reason: format!("'{key}' completed without its result or delivery; retried until it expires"),
        },
    }
}

fn failure(err: IdempotencyError<HandlerError>) -> Outcome {
    let kind = match &err {
        IdempotencyError::Work(handler) => handler.kind().to_owned(),
        IdempotencyError::InProgress { .. } => "in-progress".to_owned(),
        IdempotencyError::PayloadMismatch { .. } => "payload-mismatch".to_owned(),
        IdempotencyError::Store(_) => "idempotency-store".to_owned(),
        _ => "idempotency".to_owned(),
    };
    failed(err.class_with(HandlerError::class), kind, &err)
}

/// A record that failed, as its outcome: retried when the failure can pass, parked when it
/// cannot; logged either way (the per-record path and the aggregating one alike).
pub(crate) fn failed(class: ErrorClass, kind: String, err: &dyn std::fmt::Display) -> Outcome {
    match class {
        ErrorClass::Transient => {
            tracing::warn!(kind, error = %err, "failed; reported for retry");
            Outcome::Retry {
                reason: err.to_string(),
            }
        }
        ErrorClass::Permanent => {
            tracing::error!(kind, error = %err, "cannot be processed; parking it");
            Outcome::Park {
                kind,
                reason: err.to_string(),
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Produced { .. } | Outcome::Done | Outcome::Follows(_) => "processed",
        Outcome::Retry { .. } => "failed",
        Outcome::Park { .. } => "parked",
        Outcome::NotStarted => "not-started",
    }
}

//! Batch processing: every record decoded, run once through the idempotent executor, its
//! outcome classified; outputs published together; exactly the records to retry reported.
//!
//! | outcome of a record | what happens |
//! |---|---|
//! | handled (or a duplicate) | its outputs are published with the batch's; a duplicate re-publishes its stored outputs, since the first publish may have failed (consumers absorb the repeat by id) |
//! | transient failure | reported as a batch item failure: SQS redelivers it after the visibility timeout, and after `maxReceiveCount` moves it to the DLQ |
//! | permanent failure | parked at once with its reason and original body, and not retried |
//! | not started before the deadline margin | reported as a batch item failure |
//! | parking or publishing failed | reported as a batch item failure: retried, never lost |
//!
//! FIFO queues: one message group's records run in order; from a group's first failure on,
//! the rest of the group is reported failed, so order is kept; other groups go on.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use envelope::{Decoded, Decoder, Envelope, EnvelopeError, ErrorClass, Registry};
use futures_util::stream::{self, StreamExt};
use idempotency::{Idempotency, IdempotencyError, Store};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::{HandlerError, KitError};
use crate::observability;
use crate::publish::{ParkedMessage, Parking, Publisher};

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
    /// A record is not started with less time than this left.
    pub deadline_margin: Duration,
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
enum Outcome {
    Done { outputs: Vec<Envelope<Value>> },
    Retry { reason: String },
    Park { kind: String, reason: String },
    NotStarted,
}

impl Outcome {
    fn is_failure(&self) -> bool {
        matches!(self, Self::Retry { .. } | Self::NotStarted)
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
        let fifo = event
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref())
            .is_some_and(|arn| arn.ends_with(".fifo"));
        let groups: Vec<String> = event
            .records
            .iter()
            .map(|r| r.attributes.get("MessageGroupId").cloned().unwrap_or_default())
            .collect();
        let mut outcomes = if fifo {
            self.run_fifo(decoded, &groups, invocation).await
        } else {
            self.run_concurrently(decoded, invocation).await
        };
        self.settle(
            &mut outcomes,
            &bodies,
            event.records.iter().map(|r| r.message_id.clone()).collect(),
        )
        .await;
        if fifo {
            fail_rest_of_groups(&mut outcomes, &groups);
        }
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
        observability::batch_done(&outcomes.iter().map(|o| o.is_failure()).collect::<Vec<_>>());
        Ok(response)
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
        let mut outcomes = self.run_concurrently(decoded, invocation).await;
        self.settle(&mut outcomes, &bodies, ids).await;
        observability::batch_done(&outcomes.iter().map(|o| o.is_failure()).collect::<Vec<_>>());
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
        stream::iter(decoded)
            .map(|record| self.run_record(record, invocation))
            .buffered(self.limits.concurrency.max(1))
            .collect()
            .await
    }

    /// Groups run concurrently; a group's records run in order, and stop at its first failure.
    async fn run_fifo(&self, decoded: Vec<Decoded>, groups: &[String], invocation: &Invocation) -> Vec<Outcome> {
        let count = decoded.len();
        let mut by_group: Vec<(String, Vec<Decoded>)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for (record, group) in decoded.into_iter().zip(groups) {
            let slot = *position.entry(group.clone()).or_insert_with(|| {
                by_group.push((group.clone(), Vec::new()));
                by_group.len() - 1
            });
            by_group[slot].1.push(record);
        }
        let runs = stream::iter(by_group)
            .map(|(_, records)| async move {
                let mut outcomes = Vec::with_capacity(records.len());
                let mut stopped = false;
                for record in records {
                    let index = record.index;
                    let outcome = if stopped {
                        Outcome::NotStarted
                    } else {
                        self.run_record(record, invocation).await
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
                    let work = self
                        .idempotency
                        .execute_envelope(&event, remaining, || self.handler.handle(event.clone()));
                    // Stop a record that would run into Lambda's timeout, so the batch still
                    // answers (and publishes and parks) for the others. Its key stays in progress
                    // until the deadline, like a crash, and the record is retried.
                    match tokio::time::timeout(remaining.saturating_sub(self.limits.deadline_margin), work).await {
                        Ok(result) => classify(result),
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

    /// Publishes what was produced and parks what must be parked, each in one batched call.
    /// A record whose output was refused for good (too large, malformed) is parked; one whose
    /// output or parking failed for now is retried.
    async fn settle(&self, outcomes: &mut [Outcome], bodies: &[&str], message_ids: Vec<Option<String>>) {
        self.publish_outputs(outcomes).await;
        let parked: Vec<(usize, ParkedMessage)> = outcomes
            .iter()
            .enumerate()
            .filter_map(|(index, outcome)| match outcome {
                Outcome::Park { kind, reason } => Some((
                    index,
                    ParkedMessage {
                        function: self.function.clone(),
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
            return;
        }
        let messages: Vec<ParkedMessage> = parked.iter().map(|(_, m)| m.clone()).collect();
        if let Err(err) = self.parking.park(&messages).await {
            tracing::error!(error = %err, "parking failed; the records will be retried");
            for failed in err.failed {
                outcomes[parked[failed.index].0] = Outcome::Retry {
                    reason: format!("could not be parked: {}", failed.message),
                };
            }
        }
    }

    async fn publish_outputs(&self, outcomes: &mut [Outcome]) {
        let mut owners = Vec::new();
        let mut outputs = Vec::new();
        for (index, outcome) in outcomes.iter().enumerate() {
            if let Outcome::Done { outputs: produced } = outcome {
                owners.extend(std::iter::repeat_n(index, produced.len()));
                outputs.extend(produced.iter().cloned());
            }
        }
        if outputs.is_empty() {
            return;
        }
        let Err(err) = self.publisher.publish(&outputs).await else {
            return;
        };
        tracing::error!(error = %err, "publishing failed for some outputs");
        for failed in err.failed {
            let owner = &mut outcomes[owners[failed.index]];
            let reason = format!(
                "output {} not published: {} {}",
                failed.index, failed.code, failed.message
            );
            *owner = match owner {
                // A transient failure of any of its outputs makes the record a retry.
                Outcome::Retry { .. } => continue,
                _ if !failed.permanent => Outcome::Retry { reason },
                Outcome::Park { .. } => continue,
                _ => Outcome::Park {
                    kind: "output-refused".to_owned(),
                    reason,
                },
            };
        }
    }
}

/// In a FIFO batch, a record after a failed one of its group must not be deleted before it.
fn fail_rest_of_groups(outcomes: &mut [Outcome], groups: &[String]) {
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

fn permanent_decode(err: &EnvelopeError) -> Outcome {
    tracing::error!(kind = err.kind(), error = %err, "unreadable record; parking it");
    Outcome::Park {
        kind: err.kind().to_owned(),
        reason: err.to_string(),
    }
}

fn classify(result: Result<idempotency::Outcome<Vec<Envelope<Value>>>, IdempotencyError<HandlerError>>) -> Outcome {
    match result {
        Ok(outcome) => {
            let duplicate = outcome.is_duplicate();
            let outputs = outcome.into_result();
            tracing::info!(duplicate, outputs = outputs.len(), "handled");
            if duplicate {
                metrics::counter!("duplicates").increment(1);
            }
            Outcome::Done { outputs }
        }
        Err(err) => {
            let kind = match &err {
                IdempotencyError::Work(handler) => handler.kind().to_owned(),
                IdempotencyError::InProgress { .. } => "in-progress".to_owned(),
                IdempotencyError::PayloadMismatch { .. } => "payload-mismatch".to_owned(),
                IdempotencyError::Store(_) => "idempotency-store".to_owned(),
                _ => "idempotency".to_owned(),
            };
            match err.class_with(HandlerError::class) {
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
    }
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Done { .. } => "processed",
        Outcome::Retry { .. } => "failed",
        Outcome::Park { .. } => "parked",
        Outcome::NotStarted => "not-started",
    }
}

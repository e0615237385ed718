//! Each record of a batch: decoded, its key claimed, its handler run once, its outcome
//! classified; a batch's duplicates follow their first copy, and FIFO groups run in order.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use envelope::{Arrival, Decoded, Envelope};
use futures_util::FutureExt;
use futures_util::stream::{self, StreamExt};
use idempotency::{Claim, Completed, IdempotencyError, Store};
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;

use super::{RecordHandler, RecordProcessor};
use crate::error::HandlerError;
use crate::fifo::group_in_order;
use crate::invocation::Invocation;
use crate::observability;
use crate::outcome::{Bookkeeping, Outcome, failed, panic_message, permanent_decode};
use crate::publish::{Parking, Publisher};

impl<H: RecordHandler, S: Store, P: Publisher, Q: Parking> RecordProcessor<H, S, P, Q> {
    pub(super) async fn run_concurrently(&self, decoded: Vec<Decoded>, invocation: &Invocation) -> Vec<Outcome> {
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
    pub(super) fn leaders(&self, decoded: &[Decoded]) -> Vec<Option<usize>> {
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

    pub(super) async fn run_unless_following(
        &self,
        record: Decoded,
        leader: Option<usize>,
        invocation: &Invocation,
    ) -> Outcome {
        match leader {
            Some(leader) => Outcome::Follows(leader),
            None => self.run_record(record, invocation).await,
        }
    }

    /// Groups run concurrently; a group's records run in order, and stop at its first failure.
    pub(super) async fn run_fifo(
        &self,
        decoded: Vec<Decoded>,
        groups: &[String],
        invocation: &Invocation,
    ) -> Vec<Outcome> {
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

    pub(super) async fn run_record(&self, record: Decoded, invocation: &Invocation) -> Outcome {
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
            observability::record_done(started.elapsed());
            outcome
        }
        .instrument(span)
        .await
    }

    /// Claims the event's key, then runs the handler if the work has not run before. A panic
    /// in the handler is this record's failure alone: its key is released and it is retried
    /// (the release profile unwinds so that this can be caught).
    pub(super) async fn claim_and_handle(
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
                observability::count(&observability::PANICS);
                Outcome::Retry {
                    reason: format!("the handler panicked: {message}"),
                }
            }
        }
    }
}

/// A duplicate sends its outputs again only if they are not known to have gone out.
fn duplicate(completed: Completed<Vec<Envelope<Value>>>) -> Outcome {
    observability::count(&observability::DUPLICATES);
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

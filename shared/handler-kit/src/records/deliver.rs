//! After the records ran: what they produced is published (FIFO groups in order), then
//! recorded with whether it went out, and what must be parked is parked, each by its part of
//! the deadline.

use std::collections::VecDeque;

use envelope::{Envelope, ErrorClass};
use futures_util::future::join_all;
use idempotency::Store;
use serde_json::Value;
use tokio::time::{Instant, timeout_at};

use super::{RecordHandler, RecordProcessor};
use crate::answer::{Origin, park};
use crate::backoff::RECORD_RESULT;
use crate::error::HandlerError;
use crate::fifo::group_in_order;
use crate::invocation::Invocation;
use crate::outcome::{Bookkeeping, Outcome, Undelivered, not_in_time, resolve_followers};
use crate::publish::{FailedEntry, Parking, Publisher};

impl<H: RecordHandler, S: Store, P: Publisher, Q: Parking> RecordProcessor<H, S, P, Q> {
    /// Publishes what was produced, then records it and parks what must be parked, each in
    /// time: what cannot be finished before the deadline is reported for retry.
    pub(super) async fn settle(
        &self,
        mut outcomes: Vec<Outcome>,
        bodies: &[&str],
        message_ids: Vec<Origin>,
        fifo_groups: Option<&[String]>,
        invocation: &Invocation,
    ) -> Vec<Outcome> {
        let publish_by = self.limits.publish_by(invocation);
        let deliveries = match fifo_groups {
            Some(groups) => self.publish_in_group_order(&outcomes, groups, publish_by).await,
            None => self.publish_together(&mut outcomes, publish_by).await,
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
    pub(super) async fn record_delivery(
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
                    Err((ErrorClass::Transient, _)) if attempt < RECORD_RESULT.attempts => {
                        RECORD_RESULT.wait(attempt - 1).await;
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

    /// Every output in one publish (the publisher chunks and retries), by `publish_by`. The
    /// outputs move into the one list published and back to their records after: no copy.
    pub(super) async fn publish_together(
        &self,
        outcomes: &mut [Outcome],
        publish_by: Instant,
    ) -> Vec<Option<Result<(), Undelivered>>> {
        let mut deliveries = delivered_until_told_otherwise(outcomes);
        let mut owners = Vec::new();
        let mut outputs = Vec::new();
        for (index, outcome) in outcomes.iter_mut().enumerate() {
            if let Outcome::Produced { outputs: produced, .. } = outcome {
                owners.extend(std::iter::repeat_n(index, produced.len()));
                outputs.append(produced);
            }
        }
        if outputs.is_empty() {
            return deliveries;
        }
        let published = timeout_at(publish_by, self.publisher.publish(&outputs)).await;
        // `owners` is in record order: each record takes back its run of outputs.
        let mut returned = outputs.into_iter();
        for run in owners.chunk_by(|a, b| a == b) {
            if let Outcome::Produced { outputs: produced, .. } = &mut outcomes[run[0]] {
                produced.extend(returned.by_ref().take(run.len()));
            }
        }
        match published {
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
                tracing::error!(outputs = owners.len(), "publishing did not finish before the deadline");
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
    pub(super) async fn publish_in_group_order(
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

    pub(super) async fn park(
        &self,
        outcomes: Vec<Outcome>,
        bodies: &[&str],
        message_ids: Vec<Origin>,
        settle_by: Instant,
    ) -> Vec<Outcome> {
        park(&self.parking, &self.function, outcomes, bodies, message_ids, settle_by).await
    }
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

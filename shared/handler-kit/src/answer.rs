//! What an invocation answers SQS (exactly the records to retry) and how it parks the
//! records that can never be processed: shared by the record and batch processors.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use tokio::time::{Instant, timeout_at};

use crate::error::KitError;
use crate::observability;
use crate::outcome::{Outcome, not_in_time};
use crate::publish::{ParkedMessage, Parking};

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
    observability::batch_done(outcomes);
    Ok(response)
}

/// Where a record came from, as a parked message records it: its carrier's message id, and for
/// an SQS record the queue's ARN (where a resubmit sends it back).
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    message_id: Option<String>,
    queue_arn: Option<String>,
}

impl Origin {
    /// The origin of each record of an SQS batch: its message id and `eventSourceARN`.
    pub(crate) fn of_sqs(event: &SqsEvent) -> Vec<Self> {
        event
            .records
            .iter()
            .map(|r| Self {
                message_id: r.message_id.clone(),
                queue_arn: r.event_source_arn.clone().filter(|arn| !arn.is_empty()),
            })
            .collect()
    }
}

/// A record of another carrier: its message id, no queue.
impl From<Option<String>> for Origin {
    fn from(message_id: Option<String>) -> Self {
        Self {
            message_id,
            queue_arn: None,
        }
    }
}

/// Parks what must be parked, in one batched call, by `settle_by`, as `function`; a record not
/// parked (refused, failed or out of time) is retried instead.
pub(crate) async fn park<Q: Parking>(
    parking: &Q,
    function: &str,
    mut outcomes: Vec<Outcome>,
    bodies: &[&str],
    origins: Vec<Origin>,
    settle_by: Instant,
) -> Vec<Outcome> {
    let parked: Vec<(usize, ParkedMessage)> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(index, outcome)| match outcome {
            Outcome::Park { kind, reason } => {
                let origin = origins.get(index).cloned().unwrap_or_default();
                Some((
                    index,
                    ParkedMessage {
                        function: function.to_owned(),
                        message_id: origin.message_id,
                        body: bodies.get(index).copied().unwrap_or_default().to_owned(),
                        kind: kind.clone(),
                        reason: reason.clone(),
                        parked_from: origin.queue_arn,
                    },
                ))
            }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use aws_lambda_events::event::sqs::SqsMessage;

    use super::*;
    use crate::publish::InMemoryParking;

    #[tokio::test]
    async fn given_an_sqs_record_and_a_direct_one_when_parked_then_only_the_sqs_one_records_its_queue() {
        let mut record = SqsMessage::default();
        record.message_id = Some("m-1".into());
        record.event_source_arn = Some("arn:aws:sqs:eu-west-1:123456789012:reserve-inventory".into());
        let mut event = SqsEvent::default();
        event.records = vec![record];
        let park_it = || Outcome::Park {
            kind: "malformed-json".into(),
            reason: "not JSON".into(),
        };
        let parking = InMemoryParking::new();
        let deadline = Instant::now() + std::time::Duration::from_secs(1);

        park(
            &parking,
            "reserve-inventory",
            vec![park_it()],
            &["{"],
            Origin::of_sqs(&event),
            deadline,
        )
        .await;
        park(
            &parking,
            "raise-alert",
            vec![park_it()],
            &["{"],
            vec![Some("e-1".to_owned()).into()],
            deadline,
        )
        .await;

        let parked = parking.parked();
        assert_eq!(
            parked[0].parked_from.as_deref(),
            Some("arn:aws:sqs:eu-west-1:123456789012:reserve-inventory")
        );
        assert!(
            parked[0].attributes().contains(&(
                "parked-from",
                "arn:aws:sqs:eu-west-1:123456789012:reserve-inventory".to_owned()
            )),
            "where a resubmit sends it back"
        );
        assert_eq!(parked[1].message_id.as_deref(), Some("e-1"));
        assert_eq!(
            parked[1].parked_from, None,
            "EventBridge invoked it: no queue to go back to"
        );
    }
}

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

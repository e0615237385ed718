//! FIFO queues: a message group's records in order, and none deleted before an earlier one
//! of its group that failed.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsEvent;

use crate::outcome::Outcome;

/// Items in groups, each group in the order its items came, groups in order of first item.
pub(crate) fn group_in_order<T, K: AsRef<str>>(items: impl IntoIterator<Item = (T, K)>) -> Vec<Vec<T>> {
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
/// overtakes it. Except a record already parked: it left the queue's order for the parking
/// queue, with its body and reason, and sending it back would only park it a second time.
pub(crate) fn fail_rest_of_groups(outcomes: &mut [Outcome], groups: &[String]) {
    let mut failed_groups = std::collections::HashSet::new();
    for (outcome, group) in outcomes.iter_mut().zip(groups) {
        let parked = matches!(outcome, Outcome::Park { .. });
        if failed_groups.contains(group) && !outcome.is_failure() && !parked {
            *outcome = Outcome::NotStarted;
        }
        if outcome.is_failure() {
            failed_groups.insert(group.clone());
        }
    }
}

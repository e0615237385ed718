//! Dead-letter queues: which queues are one ([`dead_letter_queues`]), what they hold
//! ([`show`]), and sending it back ([`redrive`]).

use std::collections::BTreeMap;

use envelope::Registry;

use crate::error::RepairError;
use crate::ports::{DeadLetterSource, Peeked, QueueInfo, Queues};
use crate::{age, decoded_lines, resolve};

/// The attributes EventBridge adds to an event it keeps in a target's dead-letter queue
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html>): not part of
/// the message the target should have had, so a redrive leaves them off.
pub const EVENTBRIDGE_ATTRIBUTES: &[&str] = &[
    "ERROR_CODE",
    "ERROR_MESSAGE",
    "EXHAUSTED_RETRY_CONDITION",
    "RETRY_ATTEMPTS",
    "RULE_ARN",
    "TARGET_ARN",
];

/// A dead-letter queue and what sends to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    /// The queue.
    pub queue: QueueInfo,
    /// The queues whose `RedrivePolicy` names it.
    pub from_queues: Vec<QueueInfo>,
    /// The rule targets and subscriptions whose dead-letter configuration names it.
    pub from_others: Vec<DeadLetterSource>,
}

impl DeadLetterQueue {
    /// What sends to it, in a few words.
    pub fn sources(&self) -> String {
        self.from_queues
            .iter()
            .map(|q| format!("queue {}", q.name))
            .chain(self.from_others.iter().map(|s| s.name.clone()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Every dead-letter queue of the stack: each queue some queue's redrive policy, rule target or
/// subscription names, in the order the stack lists its queues.
pub async fn dead_letter_queues(queues: &impl Queues) -> Result<Vec<DeadLetterQueue>, RepairError> {
    let all = queues.queues().await?;
    let others = queues.dead_letter_sources().await?;
    Ok(all
        .iter()
        .filter_map(|queue| {
            let from_queues: Vec<QueueInfo> = all
                .iter()
                .filter(|q| q.dead_letter_arn.as_deref() == Some(queue.arn.as_str()))
                .cloned()
                .collect();
            let from_others: Vec<DeadLetterSource> = others
                .iter()
                .filter(|s| s.dead_letter_arn == queue.arn)
                .cloned()
                .collect();
            (!from_queues.is_empty() || !from_others.is_empty()).then(|| DeadLetterQueue {
                queue: queue.clone(),
                from_queues,
                from_others,
            })
        })
        .collect())
}

/// The dead-letter queue `name` (its name, URL or ARN).
pub async fn dead_letter_queue(queues: &impl Queues, name: &str) -> Result<DeadLetterQueue, RepairError> {
    let all = queues.queues().await?;
    let queue = resolve(&all, name)?;
    let dead = dead_letter_queues(queues).await?;
    dead.iter()
        .find(|d| d.queue.arn == queue.arn)
        .cloned()
        .ok_or_else(|| RepairError::NotADeadLetterQueue {
            name: queue.name.clone(),
            known: names(&dead),
        })
}

fn names(dead: &[DeadLetterQueue]) -> String {
    if dead.is_empty() {
        return "none".to_owned();
    }
    dead.iter()
        .map(|d| d.queue.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `dlq list`: one line per dead-letter queue: its depth, the age of its oldest message, and
/// what sends to it. Finding the oldest looks at the messages (a receive each, their
/// visibility restored at once), so only queues that hold some are looked at.
pub async fn list(queues: &impl Queues) -> Result<Vec<String>, RepairError> {
    let dead = dead_letter_queues(queues).await?;
    if dead.is_empty() {
        return Ok(vec!["no dead-letter queues in the stack".to_owned()]);
    }
    let now = queues.now();
    let width = dead.iter().map(|d| d.queue.name.len()).max().unwrap_or_default();
    let mut lines = Vec::with_capacity(dead.len());
    for d in &dead {
        let oldest = if d.queue.depth == 0 {
            "-".to_owned()
        } else {
            let messages = queues.peek(&d.queue).await?;
            messages
                .iter()
                .filter_map(|m| m.sent_at)
                .min()
                .map_or_else(|| "unknown".to_owned(), |sent| age(now - sent))
        };
        lines.push(format!(
            "{:<width$}  depth {:>4}  oldest {:>8}  dead-letter queue of {}",
            d.queue.name,
            d.queue.depth,
            oldest,
            d.sources()
        ));
    }
    Ok(lines)
}

/// `dlq show <queue>`: each message with its receive count (on SQS, earlier looks by these
/// tools count too: SQS shows a message only by receiving it; this look does not), the
/// failure recorded and the envelopes its body carries (decoded and upcast as a consumer
/// would; sealed fields stay sealed), without consuming it.
pub async fn show(queues: &impl Queues, name: &str, known: &Registry) -> Result<Vec<String>, RepairError> {
    let dead = dead_letter_queue(queues, name).await?;
    let messages = queues.peek(&dead.queue).await?;
    let now = queues.now();
    let mut lines = vec![format!(
        "{}: {} message(s); dead-letter queue of {}",
        dead.queue.name,
        messages.len(),
        dead.sources()
    )];
    for message in &messages {
        lines.push(format!(
            "message {}: received {} time(s){}",
            message.id,
            message.receive_count,
            message
                .sent_at
                .map(|sent| format!(", sent {} ({} ago)", sent.to_rfc3339(), age(now - sent)))
                .unwrap_or_default()
        ));
        lines.push(format!(
            "  failure: {}",
            queues.failure_of(message).unwrap_or_else(|| {
                "none recorded (a queue's redrive keeps no reason: look the message id up in its consumer's logs)"
                    .to_owned()
            })
        ));
        lines.extend(decoded_lines(&message.body, known));
    }
    Ok(lines)
}

/// What a redrive did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redriven {
    /// Messages sent back.
    pub moved: u64,
    /// Messages left in the queue, each with why.
    pub refused: Vec<String>,
}

/// `dlq redrive <queue> [--rate N]`: sends every message of the dead-letter queue back where
/// it failed, telling `say` how it goes.
///
/// A dead-letter queue of SQS queues is moved by SQS itself (`StartMessageMoveTask` without a
/// destination: each message back to its source queue, at most `rate` a second), its progress
/// polled until the task is over. SQS moves messages only back to SQS sources, so a queue that
/// keeps what a rule's target (or a subscription) could not take is redriven here, message by
/// message: each to the queue its `TARGET_ARN` attribute names when that is a queue of the
/// stack (without EventBridge's error attributes), then deleted; any other is left, with why.
///
/// Safe to repeat: consumers are idempotent, so a message whose work completed before it was
/// dead-lettered is a duplicate to them and sends nothing.
pub async fn redrive(
    queues: &impl Queues,
    name: &str,
    rate: Option<u32>,
    say: &mut impl FnMut(&str),
) -> Result<Redriven, RepairError> {
    let dead = dead_letter_queue(queues, name).await?;
    if dead.from_others.is_empty() {
        return move_back(queues, &dead, rate, say).await;
    }
    say(&format!(
        "{} keeps what {} could not deliver: SQS's StartMessageMoveTask only returns messages to SQS \
         source queues, so each message goes to the queue its TARGET_ARN attribute names, when that is a \
         queue of the stack",
        dead.queue.name,
        dead.sources()
    ));
    let stack = queues.queues().await?;
    let mut redriven = Redriven::default();
    for message in queues.peek(&dead.queue).await? {
        match target_queue(&stack, &message) {
            Ok(target) => {
                let attributes: BTreeMap<String, String> = message
                    .attributes
                    .iter()
                    .filter(|(name, _)| !EVENTBRIDGE_ATTRIBUTES.contains(&name.as_str()))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                let sent = queues.send(target, &message.body, &attributes).await?;
                queues.delete(&dead.queue, &message.id).await?;
                say(&format!("  {} -> {} (as {sent})", message.id, target.name));
                redriven.moved += 1;
            }
            Err(why) => {
                say(&format!("  {} left in {}: {why}", message.id, dead.queue.name));
                redriven.refused.push(format!("{}: {why}", message.id));
            }
        }
    }
    say(&format!(
        "redrive of {}: {} sent back, {} left",
        dead.queue.name,
        redriven.moved,
        redriven.refused.len()
    ));
    Ok(redriven)
}

/// The queue of the stack a rule target's dead letter goes back to, or why none.
fn target_queue<'a>(stack: &'a [QueueInfo], message: &Peeked) -> Result<&'a QueueInfo, String> {
    let target = message
        .attribute("TARGET_ARN")
        .ok_or("it has no TARGET_ARN attribute, so where it was going is unknown; send it yourself")?;
    stack.iter().find(|q| q.is(target)).ok_or_else(|| {
        format!(
            "its target {target} is not an SQS queue of the stack (a function, topic or other bus): redrive \
             it by republishing its event (`events replay --stream ...`)"
        )
    })
}

async fn move_back(
    queues: &impl Queues,
    dead: &DeadLetterQueue,
    rate: Option<u32>,
    say: &mut impl FnMut(&str),
) -> Result<Redriven, RepairError> {
    say(&format!(
        "moving {} message(s) from {} back to {}{}",
        dead.queue.depth,
        dead.queue.name,
        dead.sources(),
        rate.map(|r| format!(", at most {r} a second")).unwrap_or_default()
    ));
    queues.start_move(&dead.queue, rate).await?;
    let mut last = None;
    loop {
        let progress = queues.move_progress(&dead.queue).await?;
        let line = format!(
            "  {}: {} moved{}",
            progress.status,
            progress.moved,
            progress.to_move.map(|n| format!(" of {n}")).unwrap_or_default()
        );
        if last.as_ref() != Some(&line) {
            say(&line);
            last = Some(line);
        }
        if progress.is_over() {
            if let Some(failure) = progress.failure.filter(|_| progress.status != "COMPLETED") {
                return Err(RepairError::service(
                    format!("the move task of {}", dead.queue.name),
                    format!("{}: {failure}", progress.status),
                ));
            }
            return Ok(Redriven {
                moved: progress.moved,
                refused: Vec::new(),
            });
        }
    }
}

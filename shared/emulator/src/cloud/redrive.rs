//! What the repair tools (`localcloud dlq ...`, `localcloud parked ...`) do to the local cloud's
//! queues, as SQS's API does it: send a message now, delete one by id, and move a dead-letter
//! queue's messages back to the queue each left (`StartMessageMoveTask` without a destination).

use chrono::{DateTime, Utc};

use super::{LocalCloud, Task};
use crate::sqs::Outgoing;

impl LocalCloud {
    /// The instant `at` virtual ms after the start.
    pub fn instant(&self, at: i64) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds(at)
    }

    /// Sends `message` to queue `logical_id` now, as SendMessage does (the queue's mappings
    /// poll it), and returns the new message's id.
    pub fn send_now(&mut self, logical_id: &str, message: Outgoing) -> Result<String, String> {
        let queue = self
            .queues
            .get_mut(logical_id)
            .ok_or_else(|| format!("no queue {logical_id}"))?;
        let sent = queue.send(self.now, message.clone()).map_err(|e| e.to_string())?;
        self.note_sent(logical_id, &sent.message_id, &message, self.now, super::OUTSIDE);
        self.wake(logical_id);
        Ok(sent.message_id)
    }

    /// Deletes message `id` from queue `logical_id`, visible or not, as a receive and
    /// DeleteMessage do; false when it is not there.
    pub fn delete_message(&mut self, logical_id: &str, id: &str) -> bool {
        let removed = self
            .queues
            .get_mut(logical_id)
            .is_some_and(|queue| queue.remove(id).is_some());
        if removed {
            self.note_gone(logical_id, id, "removed");
        }
        removed
    }

    /// Moves every message of dead-letter queue `logical_id` back to the queue it was
    /// dead-lettered from, in order, at most `rate` a second of virtual time (all at once
    /// without), as SQS's message move task without a destination does; each arrives as a new
    /// message, its receive count at zero. A message's source is the queue whose id its message
    /// id carries (a dead letter keeps its id), else the dead-letter queue's only source queue.
    /// Returns how many will arrive; messages with no source queue stay, and make it an error
    /// naming them.
    pub fn move_dead_letters(&mut self, logical_id: &str, rate: Option<u32>) -> Result<usize, String> {
        let arn = self
            .queues
            .get(logical_id)
            .map(|q| q.config().arn.clone())
            .ok_or_else(|| format!("no queue {logical_id}"))?;
        let sources: Vec<String> = self
            .queues
            .values()
            .filter(|q| q.config().redrive.as_ref().is_some_and(|(_, dlq)| *dlq == arn))
            .map(|q| q.config().logical_id.clone())
            .collect();
        if sources.is_empty() {
            return Err(format!(
                "{logical_id} is not a dead-letter queue: no queue's RedrivePolicy names it"
            ));
        }
        let ids: Vec<String> = self.queues[logical_id].messages().map(|m| m.id.clone()).collect();
        let mut moved = 0;
        let mut stranded = Vec::new();
        for id in ids {
            let source = sources
                .iter()
                .find(|s| id.starts_with(&format!("{}-", s.to_lowercase())))
                .or_else(|| (sources.len() == 1).then(|| &sources[0]))
                .cloned();
            let Some(source) = source else {
                stranded.push(id);
                continue;
            };
            let Some(message) = self.queues.get_mut(logical_id).and_then(|q| q.remove(&id)) else {
                continue;
            };
            self.note_gone(logical_id, &id, "removed");
            let gap = rate.map_or(0, |r| i64::from(1000 / r.max(1)));
            let at = self.now + gap * i64::try_from(moved).unwrap_or(i64::MAX);
            self.schedule(
                at,
                Task::Deliver {
                    queue: source,
                    message: message.sent,
                    dead_letter: None,
                    from: logical_id.to_owned(),
                },
            );
            moved += 1;
        }
        if stranded.is_empty() {
            Ok(moved)
        } else {
            Err(format!(
                "{} of {logical_id}'s messages left no queue of its {} sources that can be told apart: {}",
                stranded.len(),
                sources.len(),
                stranded.join(", ")
            ))
        }
    }
}

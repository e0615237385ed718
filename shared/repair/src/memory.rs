//! In-memory adapters: queues that keep messages (and the source of each dead letter, as SQS
//! does for its move tasks) and a ledger, for tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::error::RepairError;
use crate::ports::{Claim, DeadLetterSource, Ledger, MoveProgress, Peeked, QueueInfo, Queues};

#[derive(Debug, Default)]
struct State {
    /// Queues in creation order, with their messages.
    queues: Vec<(QueueInfo, Vec<Peeked>)>,
    /// The queue each dead letter left (by message id), where a move sends it back.
    sources: HashMap<String, String>,
    /// The latest move task of each dead-letter queue (by ARN).
    moves: HashMap<String, MoveProgress>,
    sent: u64,
}

/// Queues in memory. A move task moves everything at once and reports `COMPLETED`.
#[derive(Debug)]
pub struct MemoryQueues {
    state: Mutex<State>,
    others: Vec<DeadLetterSource>,
    now: DateTime<Utc>,
}

impl MemoryQueues {
    /// No queues, the clock stopped at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            state: Mutex::default(),
            others: Vec::new(),
            now,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds queue `name`, whose failed messages go to `dead_letter` (a queue added before).
    pub fn add_queue(&self, name: &str, dead_letter: Option<&str>) {
        let info = QueueInfo {
            name: name.to_owned(),
            url: format!("https://sqs.local/000000000000/{name}"),
            arn: format!("arn:aws:sqs:local:000000000000:{name}"),
            depth: 0,
            dead_letter_arn: dead_letter.map(|d| format!("arn:aws:sqs:local:000000000000:{d}")),
        };
        self.state().queues.push((info, Vec::new()));
    }

    /// Declares a rule target or subscription that keeps its failures in queue `dead_letter`.
    #[must_use]
    pub fn with_source(mut self, name: &str, target_arn: &str, dead_letter: &str) -> Self {
        self.others.push(DeadLetterSource {
            dead_letter_arn: format!("arn:aws:sqs:local:000000000000:{dead_letter}"),
            name: name.to_owned(),
            target_arn: target_arn.to_owned(),
        });
        self
    }

    /// Puts a message sent at `sent_at` on `queue`; returns its id.
    pub fn put(&self, queue: &str, body: &str, attributes: &[(&str, &str)], sent_at: DateTime<Utc>) -> String {
        let mut state = self.state();
        state.sent += 1;
        let id = format!("m-{}", state.sent);
        if let Some((_, messages)) = state.queues.iter_mut().find(|(q, _)| q.name == queue) {
            messages.push(Peeked {
                id: id.clone(),
                body: body.to_owned(),
                attributes: attributes
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
                receive_count: 0,
                sent_at: Some(sent_at),
            });
        }
        id
    }

    /// Moves message `id` from `queue` to its dead-letter queue after `receives` receives, as
    /// SQS's redrive does.
    pub fn dead_letter(&self, queue: &str, id: &str, receives: u32) {
        let mut state = self.state();
        let Some(from) = state.queues.iter().position(|(q, _)| q.name == queue) else {
            return;
        };
        let (source, dlq) = (
            state.queues[from].0.arn.clone(),
            state.queues[from].0.dead_letter_arn.clone(),
        );
        let Some(at) = state.queues[from].1.iter().position(|m| m.id == id) else {
            return;
        };
        let mut message = state.queues[from].1.remove(at);
        message.receive_count = receives;
        state.sources.insert(id.to_owned(), source);
        if let Some((_, messages)) = state.queues.iter_mut().find(|(q, _)| Some(&q.arn) == dlq.as_ref()) {
            messages.push(message);
        }
    }

    /// What `queue` holds.
    pub fn messages(&self, queue: &str) -> Vec<Peeked> {
        self.state()
            .queues
            .iter()
            .find(|(q, _)| q.name == queue)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

impl Queues for MemoryQueues {
    async fn queues(&self) -> Result<Vec<QueueInfo>, RepairError> {
        Ok(self
            .state()
            .queues
            .iter()
            .map(|(q, messages)| QueueInfo {
                depth: messages.len() as u64,
                ..q.clone()
            })
            .collect())
    }

    async fn dead_letter_sources(&self) -> Result<Vec<DeadLetterSource>, RepairError> {
        Ok(self.others.clone())
    }

    async fn peek(&self, queue: &QueueInfo) -> Result<Vec<Peeked>, RepairError> {
        Ok(self.messages(&queue.name))
    }

    async fn send(
        &self,
        queue: &QueueInfo,
        body: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, RepairError> {
        let attributes: Vec<(&str, &str)> = attributes.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        Ok(self.put(&queue.name, body, &attributes, self.now))
    }

    async fn delete(&self, queue: &QueueInfo, id: &str) -> Result<bool, RepairError> {
        let mut state = self.state();
        let Some((_, messages)) = state.queues.iter_mut().find(|(q, _)| q.arn == queue.arn) else {
            return Ok(false);
        };
        let before = messages.len();
        messages.retain(|m| m.id != id);
        Ok(messages.len() != before)
    }

    async fn start_move(&self, dead_letter: &QueueInfo, _rate: Option<u32>) -> Result<(), RepairError> {
        let mut state = self.state();
        let Some(from) = state.queues.iter().position(|(q, _)| q.arn == dead_letter.arn) else {
            return Err(RepairError::service("StartMessageMoveTask", "no such queue"));
        };
        let messages = std::mem::take(&mut state.queues[from].1);
        let to_move = messages.len() as u64;
        let mut moved = 0;
        for mut message in messages {
            let source = state.sources.get(&message.id).cloned();
            match state.queues.iter_mut().find(|(q, _)| Some(&q.arn) == source.as_ref()) {
                Some((_, target)) => {
                    message.receive_count = 0;
                    target.push(message);
                    moved += 1;
                }
                None => state.queues[from].1.push(message),
            }
        }
        let failure = (moved < to_move).then(|| "some messages have no source queue".to_owned());
        state
            .moves
            .insert(dead_letter.arn.clone(), MoveProgress::done(moved, to_move, failure));
        Ok(())
    }

    async fn move_progress(&self, dead_letter: &QueueInfo) -> Result<MoveProgress, RepairError> {
        self.state()
            .moves
            .get(&dead_letter.arn)
            .cloned()
            .ok_or_else(|| RepairError::service("ListMessageMoveTasks", "no move task"))
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// A ledger in memory: a claim is a key not yet in the map.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    claims: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys claimed, with when.
    pub fn claims(&self) -> BTreeMap<String, DateTime<Utc>> {
        self.claims.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Ledger for MemoryLedger {
    async fn claim(&self, key: &str, at: DateTime<Utc>) -> Result<Claim, RepairError> {
        let mut claims = self.claims.lock().unwrap_or_else(PoisonError::into_inner);
        match claims.get(key) {
            Some(before) => Ok(Claim::Already(*before)),
            None => {
                claims.insert(key.to_owned(), at);
                Ok(Claim::Claimed)
            }
        }
    }

    async fn release(&self, key: &str) -> Result<(), RepairError> {
        self.claims.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        Ok(())
    }
}

//! Queues feeding functions: a message arriving in a queue (or refused, to the rule's
//! dead-letter queue), event source mappings polling it (batch size, batching window), the
//! invocation and its crash faults, settling the batch, and redrive to the queue's DLQ.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::Value;

use super::{After, LocalCloud, Task, What};
use crate::esm::{self, MappingConfig};
use crate::sqs::{Message, Outgoing};

impl LocalCloud {
    /// A message from `from` arrives in `queue_id`; a refused one goes to `dead_letter` with
    /// the reason.
    pub(super) fn deliver(&mut self, queue_id: &str, message: Outgoing, dead_letter: Option<String>, from: &str) {
        let Some(queue) = self.queues.get_mut(queue_id) else {
            self.undeliverable(queue_id.to_owned(), "no such queue".into());
            return;
        };
        match queue.send(self.now, message.clone()) {
            Ok(sent) => {
                if !sent.deduplicated {
                    self.note_sent(queue_id, &sent.message_id, &message, self.now, from);
                }
                self.wake(queue_id);
            }
            Err(refused) => match dead_letter {
                Some(dlq) => {
                    let mut parked = message;
                    parked.attributes.insert("ERROR_CODE".into(), "SQS_SEND_FAILED".into());
                    parked.attributes.insert("ERROR_MESSAGE".into(), refused.to_string());
                    parked.group_id = None;
                    self.record(What::Undeliverable {
                        target: queue_id.to_owned(),
                        reason: format!("{refused}; kept in {dlq}"),
                    });
                    self.deliver(&dlq, parked, None, from);
                }
                None => self.undeliverable(queue_id.to_owned(), refused.to_string()),
            },
        }
    }

    /// Makes sure every mapping on `queue_id` polls now.
    pub(super) fn wake(&mut self, queue_id: &str) {
        let now = self.now;
        for index in 0..self.topology.mappings.len() {
            if self.topology.mappings[index].queue == queue_id {
                self.poll_at(index, now);
            }
        }
    }

    fn poll_at(&mut self, mapping: usize, at: i64) {
        if self.polls[mapping].is_some_and(|pending| pending <= at) {
            return;
        }
        self.polls[mapping] = Some(at);
        self.schedule(at, Task::Poll { mapping });
    }

    /// A mapping's poller looks at its queue: it takes batches while the mapping has room for
    /// more in flight ([`MappingConfig::concurrency`]; a FIFO queue hands out none of a group
    /// with a message in flight) and starts an invocation for each.
    pub(super) fn poll(&mut self, index: usize) {
        if self.polls[index] != Some(self.now) {
            return; // superseded by an earlier poll
        }
        self.polls[index] = None;
        let mapping: MappingConfig = self.topology.mappings[index].clone();
        if !mapping.enabled {
            return;
        }
        loop {
            let Some(queue) = self.queues.get_mut(&mapping.queue) else {
                return;
            };
            let visible = queue.visible(self.now);
            if visible == 0 {
                if self.batches_in_flight[index] == 0 && queue.is_empty() {
                    self.active_since[index] = None; // idle again: the next burst starts at five
                }
                if let Some(next) = queue.next_visible_after(self.now) {
                    self.poll_at(index, next);
                }
                return;
            }
            let active = self.now - *self.active_since[index].get_or_insert(self.now);
            if self.batches_in_flight[index] >= mapping.concurrency(active) {
                return; // polled again when a batch ends
            }
            // The batching window: wait for a full batch, at most the window after the first record.
            if visible < mapping.batch_size && mapping.window_ms > 0 {
                let opened = *self.windows[index].get_or_insert(self.now);
                if self.now < opened + mapping.window_ms {
                    self.poll_at(index, opened + mapping.window_ms);
                    return;
                }
            }
            self.windows[index] = None;
            let received = queue.receive(self.now, mapping.batch_size);
            let fifo = queue.config().fifo;
            let config = queue.config().clone();
            for dead in received.dead_letters {
                self.dead_letter(&config, dead);
            }
            for expired in received.expired {
                self.note_gone(&config.logical_id, &expired.id, "expired");
                self.record(What::Expired {
                    queue: config.logical_id.clone(),
                    id: expired.id,
                });
            }
            let mut batch = received.messages;
            if batch.is_empty() {
                continue; // only dead letters came out: look again
            }
            if !fifo {
                self.dice
                    .shuffle(&format!("queue:{}/order", config.logical_id), &mut batch);
            }
            self.note_received(&config.logical_id, &batch, self.now + config.visibility_timeout_ms);
            self.batches_in_flight[index] += 1;
            // Lambda may throttle the invocation: the poller retries it while the batch's
            // visibility timeout runs, so its messages can come back to another poller first.
            match self.dice.invoke_throttle_ms(&format!("mapping:{}", mapping.logical_id)) {
                0 => self.invoke_batch(index, batch),
                throttled => {
                    self.record(What::Throttled {
                        function: self.topology.crate_of(&mapping.function).to_owned(),
                        size: batch.len(),
                        for_ms: throttled,
                    });
                    self.schedule(self.now + throttled, Task::Unthrottle { mapping: index, batch });
                }
            }
        }
    }

    /// Invokes mapping `index`'s function on `batch`, as Lambda's poller hands it over.
    pub(super) fn invoke_batch(&mut self, index: usize, batch: Vec<Message>) {
        let mapping = &self.topology.mappings[index];
        let (function, queue) = (mapping.function.clone(), mapping.queue.clone());
        let Some(config) = self.queues.get(&queue).map(|q| q.config().clone()) else {
            return;
        };
        let event = self.sqs_event(&config, &batch);
        let crate_name = self.topology.crate_of(&function).to_owned();
        *self.stats.records.entry(crate_name).or_default() += batch.len() as u64;
        self.start_invocation(
            &function,
            serde_json::to_value(event).unwrap_or(Value::Null),
            After::Batch { mapping: index, batch },
        );
    }

    /// A batch's invocation ended (or could not start): its records are deleted or left to
    /// come back as the answer says, and the poller looks again.
    pub(super) fn settle_batch(
        &mut self,
        index: usize,
        batch: Vec<Message>,
        mut result: Result<Value, String>,
        faulted: Option<bool>,
    ) {
        let mapping: MappingConfig = self.topology.mappings[index].clone();
        let crate_name = self.topology.crate_of(&mapping.function).to_owned();
        self.batches_in_flight[index] = self.batches_in_flight[index].saturating_sub(1);
        let ran = faulted.is_some();
        let mut faulted = faulted.unwrap_or(false);
        if ran && self.dice.crash(&format!("mapping:{}", mapping.logical_id)) {
            faulted = true;
            self.record(What::Crash {
                function: crate_name.clone(),
                size: batch.len(),
            });
            result = Err("Runtime.ExitError: crashed after publishing (injected)".into());
        }
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let settlement = esm::settle(&ids, &result, mapping.report_batch_item_failures);
        if let Some(queue) = self.queues.get_mut(&mapping.queue) {
            // A receipt from an earlier receive no longer deletes a message received again
            // since (its visibility timeout ran out while this batch was in flight).
            let deleted: Vec<&str> = batch
                .iter()
                .filter(|m| settlement.delete.contains(&m.id))
                .filter(|m| queue.delete(m.receipt.as_deref().unwrap_or_default()))
                .map(|m| m.id.as_str())
                .collect();
            for id in deleted {
                self.note_gone(&mapping.queue, id, "deleted");
            }
        }
        if !settlement.retry.is_empty() {
            *self.stats.failed_batches.entry(crate_name.clone()).or_default() += 1;
            let reason = settlement
                .batch_failure
                .clone()
                .unwrap_or_else(|| format!("{crate_name} reported it as a batch item failure"));
            for id in &settlement.retry {
                self.failures.insert(id.clone(), reason.clone());
                let counts = self.receive_failures.entry(id.clone()).or_default();
                if faulted {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
            self.record(What::Batch {
                function: crate_name,
                size: batch.len(),
                retried: settlement.retry.len(),
                failure: settlement.batch_failure,
            });
        }
        // The poller has room again.
        let now = self.now;
        self.poll_at(index, now);
    }

    fn dead_letter(&mut self, from: &crate::sqs::QueueConfig, message: Message) {
        let Some((_, arn)) = &from.redrive else {
            return;
        };
        let target = self
            .queues
            .values()
            .find(|q| &q.config().arn == arn)
            .map(|q| q.config().logical_id.clone());
        match target {
            Some(target) => {
                self.note_gone(&from.logical_id, &message.id, "dead-lettered");
                self.note_sent(&target, &message.id, &message.sent, self.now, &from.logical_id);
                self.record(What::DeadLetter {
                    queue: from.logical_id.clone(),
                    dead_letter_queue: target.clone(),
                    receives: message.receive_count,
                });
                let now = self.now;
                if let Some(queue) = self.queues.get_mut(&target) {
                    queue.enqueue_dead_letter(now, message);
                }
                self.wake(&target);
            }
            None => self.undeliverable(
                arn.clone(),
                format!("dead-letter queue of {} not found", from.logical_id),
            ),
        }
    }

    /// The SQS event Lambda's poller hands to the function for `batch`.
    fn sqs_event(&self, queue: &crate::sqs::QueueConfig, batch: &[Message]) -> SqsEvent {
        let epoch = |at: i64| {
            (self.start + chrono::Duration::milliseconds(at))
                .timestamp_millis()
                .to_string()
        };
        let mut event = SqsEvent::default();
        event.records = batch
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = Some(m.id.clone());
                record.receipt_handle.clone_from(&m.receipt);
                record.body = Some(m.sent.body.clone());
                let mut attributes = HashMap::from([
                    ("ApproximateReceiveCount".to_owned(), m.receive_count.to_string()),
                    ("SentTimestamp".to_owned(), epoch(m.sent_at)),
                    ("SenderId".to_owned(), "AIDALOCALCLOUD".to_owned()),
                    (
                        "ApproximateFirstReceiveTimestamp".to_owned(),
                        epoch(m.first_received_at.unwrap_or(m.sent_at)),
                    ),
                ]);
                if let Some(group) = &m.sent.group_id {
                    attributes.insert("MessageGroupId".into(), group.clone());
                }
                if let Some(trace) = &m.sent.trace_header {
                    attributes.insert("AWSTraceHeader".into(), trace.clone());
                }
                record.attributes = attributes;
                record.message_attributes = m.sent.sqs_attributes();
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn = Some(queue.arn.clone());
                record.aws_region = Some(self.region.clone());
                record
            })
            .collect();
        event
    }
}

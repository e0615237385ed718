//! An SQS queue on the virtual clock: visibility timeout, receive count, redrive to a dead-letter
//! queue at `maxReceiveCount`, FIFO message groups and 5-minute deduplication, the size limit,
//! and expiry after the retention period.
//!
//! Time is passed in (milliseconds of virtual time), so every rule is testable without waiting.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::RangeInclusive;

use aws_lambda_events::encodings::Base64Data;
use aws_lambda_events::event::sns;
use aws_lambda_events::event::sqs::SqsMessageAttribute;
use base64::Engine;
use event_pattern::sns::MessageAttribute;

/// The largest message SQS accepts (body and attributes), and the default `MaximumMessageSize`:
/// 1 MiB since AWS raised it from 256 KiB in 2025.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;

/// The values `MaximumMessageSize` may take: 1 KiB to 1 MiB.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>
/// (and `API_CreateQueue.html`, which lists the same range and default).
pub const MESSAGE_BYTES_RANGE: RangeInclusive<usize> = 1_024..=MAX_MESSAGE_BYTES;

/// The default `MessageRetentionPeriod`, in seconds: 4 days.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>
pub const DEFAULT_RETENTION_SECONDS: i64 = 345_600;

/// The values `MessageRetentionPeriod` may take, in seconds: 1 minute to 14 days.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>
/// (and the quotas page, "Message retention").
pub const RETENTION_SECONDS_RANGE: RangeInclusive<i64> = 60..=1_209_600;

/// The data type of a message attribute whose type is not given (what the kit's publishers
/// send). The type name counts toward the message size.
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>
pub const ATTRIBUTE_DATA_TYPE: &str = "String";

/// How long a FIFO queue remembers a deduplication id.
pub const DEDUPLICATION_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A queue's settings, from the template (`AWS::SQS::Queue` properties, AWS defaults otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Logical id in the template.
    pub logical_id: String,
    /// Queue ARN.
    pub arn: String,
    /// Queue URL.
    pub url: String,
    /// `VisibilityTimeout` (default 30 s).
    pub visibility_timeout_ms: i64,
    /// `RedrivePolicy.maxReceiveCount` and the dead-letter queue's ARN.
    pub redrive: Option<(u32, String)>,
    /// `FifoQueue`.
    pub fifo: bool,
    /// `ContentBasedDeduplication`.
    pub content_based_deduplication: bool,
    /// `MaximumMessageSize` (default and maximum 1 MiB).
    pub max_message_bytes: usize,
    /// `MessageRetentionPeriod` in ms (default 4 days): a message older than this is deleted.
    pub retention_ms: i64,
}

impl QueueConfig {
    /// A standard queue with AWS's defaults.
    pub fn standard(logical_id: &str) -> Self {
        Self {
            logical_id: logical_id.to_owned(),
            arn: format!("arn:aws:sqs:us-east-1:000000000000:{logical_id}"),
            url: format!("https://sqs.us-east-1.amazonaws.com/000000000000/{logical_id}"),
            visibility_timeout_ms: 30_000,
            redrive: None,
            fifo: false,
            content_based_deduplication: false,
            max_message_bytes: MAX_MESSAGE_BYTES,
            retention_ms: DEFAULT_RETENTION_SECONDS * 1000,
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// The body.
    pub body: String,
    /// Message attributes: name -> value as text, as SNS's JSON carries it (a `Number` as its
    /// digits, a `String.Array` as JSON array text, a `Binary` as base64).
    pub attributes: BTreeMap<String, String>,
    /// The data type of each attribute that is not a `String` ([`ATTRIBUTE_DATA_TYPE`] when
    /// absent): `Number`, `String.Array`, `Binary`, or one with a custom suffix (`Number.float`).
    pub attribute_types: BTreeMap<String, String>,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (else the body's SHA-256 with content-based deduplication).
    pub deduplication_id: Option<String>,
    /// The `AWSTraceHeader` system attribute: the X-Ray trace the message travels in, handed on
    /// by EventBridge (an entry's `TraceHeader`) and SNS (with active tracing). Not counted in
    /// the size, as SQS does not count system attributes.
    pub trace_header: Option<String>,
}

impl Outgoing {
    /// Its size as SQS counts it: the body and every attribute's name, data type and value.
    pub fn size(&self) -> usize {
        // "All components of a message attribute are included in the message size restriction":
        // name, type and value.
        // <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(name, value)| {
                    let data_type = self.attribute_type(name);
                    let value = if is_binary(data_type) {
                        binary(value).len()
                    } else {
                        value.len()
                    };
                    name.len() + data_type.len() + value
                })
                .sum::<usize>()
    }

    /// The message with attribute `name` of `data_type` (`String`, `Number`, `String.Array`,
    /// `Binary`, custom suffixes) set to `value`.
    #[must_use]
    pub fn with_attribute(mut self, name: &str, data_type: &str, value: &str) -> Self {
        self.attributes.insert(name.to_owned(), value.to_owned());
        if data_type == ATTRIBUTE_DATA_TYPE {
            self.attribute_types.remove(name);
        } else {
            self.attribute_types.insert(name.to_owned(), data_type.to_owned());
        }
        self
    }

    /// The data type of attribute `name`.
    pub fn attribute_type(&self, name: &str) -> &str {
        self.attribute_types
            .get(name)
            .map_or(ATTRIBUTE_DATA_TYPE, String::as_str)
    }

    /// The attributes, typed, as an SNS filter policy reads them.
    pub fn typed_attributes(&self) -> BTreeMap<String, MessageAttribute> {
        self.attributes
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    MessageAttribute::new(self.attribute_type(name), value.clone()),
                )
            })
            .collect()
    }

    /// The attributes as an SNS notification carries them, to SQS or Lambda:
    /// `"MessageAttributes": {"total": {"Type": "Number", "Value": "12"}}`.
    pub fn sns_attributes(&self) -> HashMap<String, sns::MessageAttribute> {
        self.attributes
            .iter()
            .map(|(name, value)| {
                let mut attribute = sns::MessageAttribute::default();
                self.attribute_type(name).clone_into(&mut attribute.data_type);
                attribute.value.clone_from(value);
                (name.clone(), attribute)
            })
            .collect()
    }

    /// The attributes as Lambda's SQS event carries them: `stringValue` for `String`, `Number`
    /// and `String.Array` (to SQS, a `String` with the custom suffix `Array`), `binaryValue` for
    /// `Binary`, each with its `dataType`.
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html>
    pub fn sqs_attributes(&self) -> HashMap<String, SqsMessageAttribute> {
        self.attributes
            .iter()
            .map(|(name, value)| {
                let data_type = self.attribute_type(name);
                let mut attribute = SqsMessageAttribute::default();
                if is_binary(data_type) {
                    let mut bytes = Base64Data::default();
                    *bytes = binary(value);
                    attribute.binary_value = Some(bytes);
                } else {
                    attribute.string_value = Some(value.clone());
                }
                attribute.data_type = Some(data_type.to_owned());
                (name.clone(), attribute)
            })
            .collect()
    }

    /// A message with only a body.
    pub fn body(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }
}

/// `Binary` or `Binary.<custom>`.
fn is_binary(data_type: &str) -> bool {
    data_type.split('.').next() == Some("Binary")
}

/// The bytes of a `Binary` attribute from its base64 text (the text's own bytes if it is not
/// base64).
fn binary(value: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap_or_else(|_| value.as_bytes().to_vec())
}

/// A message in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message id.
    pub id: String,
    /// What was sent.
    pub sent: Outgoing,
    /// When it was sent (virtual ms).
    pub sent_at: i64,
    /// When its retention period started (virtual ms): when it was sent, kept when a standard
    /// queue's redrive moves it to the dead-letter queue, restarted when a FIFO queue's does.
    pub enqueued_at: i64,
    /// How many times it was received.
    pub receive_count: u32,
    /// When it was first received.
    pub first_received_at: Option<i64>,
    /// Invisible until then.
    pub visible_at: i64,
    /// The receipt handle of its latest receive.
    pub receipt: Option<String>,
}

impl Message {
    /// Whether it is past a retention period of `retention_ms` at `now`: SQS deletes a message
    /// once it is older than the queue's `MessageRetentionPeriod`, received or not.
    /// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html>
    fn expired(&self, retention_ms: i64, now: i64) -> bool {
        now - self.enqueued_at >= retention_ms
    }
}

/// Why a send was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Over the size limit.
    #[error("message of {size} bytes is over {queue}'s limit of {limit} bytes")]
    TooLarge {
        /// The queue.
        queue: String,
        /// Body and attributes, in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A FIFO send without `MessageGroupId`.
    #[error("{queue} is a FIFO queue: MessageGroupId is required")]
    MissingGroupId {
        /// The queue.
        queue: String,
    },
    /// A FIFO send without deduplication id on a queue without content-based deduplication.
    #[error("{queue} has no ContentBasedDeduplication: MessageDeduplicationId is required")]
    MissingDeduplicationId {
        /// The queue.
        queue: String,
    },
}

/// The answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message id (the first one's, for a deduplicated send).
    pub message_id: String,
    /// Accepted but not enqueued: the same deduplication id was sent in the last 5 minutes.
    pub deduplicated: bool,
}

/// The answer to a receive.
#[derive(Debug, Default)]
pub struct Received {
    /// The messages delivered, now invisible for the visibility timeout.
    pub messages: Vec<Message>,
    /// Messages that came back more than `maxReceiveCount` times: removed here, for the
    /// caller to put on the dead-letter queue (same id, body and attributes, as SQS does).
    pub dead_letters: Vec<Message>,
    /// Messages past the queue's retention period: deleted here, never delivered.
    pub expired: Vec<Message>,
}

/// One queue.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    messages: VecDeque<Message>,
    deduplication: HashMap<String, (i64, String)>,
    counter: u64,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        Self {
            config,
            messages: VecDeque::new(),
            deduplication: HashMap::new(),
            counter: 0,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Sends a message at `now`.
    pub fn send(&mut self, now: i64, message: Outgoing) -> Result<Sent, SendError> {
        let size = message.size();
        if size > self.config.max_message_bytes {
            return Err(SendError::TooLarge {
                queue: self.config.logical_id.clone(),
                size,
                limit: self.config.max_message_bytes,
            });
        }
        self.counter += 1;
        let id = format!("{}-{:06}", self.config.logical_id.to_lowercase(), self.counter);
        if self.config.fifo {
            if message.group_id.is_none() {
                return Err(SendError::MissingGroupId {
                    queue: self.config.logical_id.clone(),
                });
            }
            let key = match (&message.deduplication_id, self.config.content_based_deduplication) {
                (Some(id), _) => id.clone(),
                (None, true) => idempotency::sha256_hex(message.body.as_bytes()),
                (None, false) => {
                    return Err(SendError::MissingDeduplicationId {
                        queue: self.config.logical_id.clone(),
                    });
                }
            };
            self.deduplication.retain(|_, (expires, _)| *expires > now);
            if let Some((_, first)) = self.deduplication.get(&key) {
                return Ok(Sent {
                    message_id: first.clone(),
                    deduplicated: true,
                });
            }
            self.deduplication
                .insert(key, (now + DEDUPLICATION_WINDOW_MS, id.clone()));
        }
        self.messages.push_back(Message {
            id: id.clone(),
            sent: message,
            sent_at: now,
            enqueued_at: now,
            receive_count: 0,
            first_received_at: None,
            visible_at: now,
            receipt: None,
        });
        Ok(Sent {
            message_id: id,
            deduplicated: false,
        })
    }

    /// Puts back a message moved here from another queue's redrive (keeps id and history).
    pub fn enqueue_dead_letter(&mut self, now: i64, mut message: Message) {
        message.visible_at = now;
        message.receipt = None;
        message.receive_count = 0;
        // A standard queue's message keeps its original enqueue time, so it leaves the DLQ
        // after the DLQ's retention counted from its first send; a FIFO queue's restarts here.
        // <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/setting-up-dead-letter-queue-retention.html>
        if self.config.fifo {
            message.enqueued_at = now;
        }
        self.messages.push_back(message);
    }

    /// Deletes the messages past the retention period at `now` and returns them. Expiry is
    /// lazy: `receive` does it, so it costs nothing while nobody reads the queue; until then
    /// [`Queue::visible`] and [`Queue::next_visible_after`] already leave expired messages out.
    pub fn expire(&mut self, now: i64) -> Vec<Message> {
        let retention_ms = self.config.retention_ms;
        if !self.messages.iter().any(|m| m.expired(retention_ms, now)) {
            return Vec::new();
        }
        let (expired, kept): (VecDeque<Message>, VecDeque<Message>) =
            self.messages.drain(..).partition(|m| m.expired(retention_ms, now));
        self.messages = kept;
        expired.into()
    }

    /// Receives up to `max` visible messages at `now`. Standard queues hand out any visible
    /// messages; FIFO queues hand out a group's messages in order, and none of a group while
    /// one of its messages is in flight.
    pub fn receive(&mut self, now: i64, max: usize) -> Received {
        let mut received = Received {
            expired: self.expire(now),
            ..Received::default()
        };
        let max_receives = self.config.redrive.as_ref().map(|(count, _)| *count);
        let blocked_groups: HashSet<String> = self.blocked_groups(now).into_iter().map(str::to_owned).collect();
        let mut index = 0;
        while index < self.messages.len() && received.messages.len() < max {
            let message = &self.messages[index];
            let group = message.sent.group_id.clone().unwrap_or_default();
            if message.visible_at > now || (self.config.fifo && blocked_groups.contains(&group)) {
                index += 1;
                continue;
            }
            // A message that was received maxReceiveCount times and came back is moved, not delivered.
            if max_receives.is_some_and(|max| message.receive_count >= max) {
                if let Some(dead) = self.messages.remove(index) {
                    received.dead_letters.push(dead);
                }
                continue;
            }
            self.counter += 1;
            let receipt = format!("{}-receipt-{}", message.id, self.counter);
            let visibility = self.config.visibility_timeout_ms;
            let message = &mut self.messages[index];
            message.receive_count += 1;
            message.first_received_at.get_or_insert(now);
            message.visible_at = now + visibility;
            message.receipt = Some(receipt);
            received.messages.push(message.clone());
            index += 1;
        }
        received
    }

    /// Deletes the message received with `receipt`; false if no message has that receipt
    /// (deleted already, or received again since).
    pub fn delete(&mut self, receipt: &str) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.receipt.as_deref() != Some(receipt));
        self.messages.len() != before
    }

    /// Takes message `id` out of the queue, visible or not (a receive and delete by the repair
    /// tools, a move task).
    pub fn remove(&mut self, id: &str) -> Option<Message> {
        let index = self.messages.iter().position(|m| m.id == id)?;
        self.messages.remove(index)
    }

    /// FIFO: the groups with a message in flight at `now`, whose other messages must wait.
    fn blocked_groups(&self, now: i64) -> HashSet<&str> {
        if !self.config.fifo {
            return HashSet::new();
        }
        self.messages
            .iter()
            .filter(|m| m.visible_at > now && !m.expired(self.config.retention_ms, now))
            .filter_map(|m| m.sent.group_id.as_deref())
            .collect()
    }

    /// Messages a receive at `now` could hand out: visible, and (FIFO) of a group with nothing
    /// in flight.
    pub fn visible(&self, now: i64) -> usize {
        let blocked = self.blocked_groups(now);
        self.messages
            .iter()
            .filter(|m| m.visible_at <= now && !m.sent.group_id.as_deref().is_some_and(|g| blocked.contains(g)))
            .filter(|m| !m.expired(self.config.retention_ms, now))
            .count()
    }

    /// The earliest time after `now` a message becomes visible again (for FIFO, this also
    /// unblocks its group). A message that expires before then is left out: it never will.
    pub fn next_visible_after(&self, now: i64) -> Option<i64> {
        self.messages
            .iter()
            .filter(|m| !m.expired(self.config.retention_ms, m.visible_at))
            .map(|m| m.visible_at)
            .filter(|t| *t > now)
            .min()
    }

    /// Every message, in send order (visible or not), as of the last [`Queue::receive`] or
    /// [`Queue::expire`]: expired messages are dropped there.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter()
    }

    /// How many messages it holds, as of the last [`Queue::receive`] or [`Queue::expire`].
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether it holds none, as of the last [`Queue::receive`] or [`Queue::expire`].
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn queue(max_receives: Option<u32>) -> Queue {
        let mut config = QueueConfig::standard("Work");
        config.visibility_timeout_ms = 60_000;
        config.redrive = max_receives.map(|n| (n, "arn:dlq".to_owned()));
        Queue::new(config)
    }

    fn fifo() -> Queue {
        let mut config = QueueConfig::standard("Work.fifo");
        config.fifo = true;
        config.content_based_deduplication = true;
        Queue::new(config)
    }

    fn grouped(body: &str, group: &str) -> Outgoing {
        Outgoing {
            group_id: Some(group.into()),
            ..Outgoing::body(body)
        }
    }

    #[test]
    fn given_a_received_message_when_the_visibility_timeout_passes_then_it_comes_back() {
        let mut q = queue(None);
        q.send(0, Outgoing::body("a")).unwrap();
        assert_eq!(q.receive(0, 10).messages.len(), 1);
        assert_eq!(q.receive(59_999, 10).messages.len(), 0, "invisible until the timeout");
        assert_eq!(q.next_visible_after(0), Some(60_000));
        let again = q.receive(60_000, 10);
        assert_eq!(again.messages.len(), 1);
        assert_eq!(again.messages[0].receive_count, 2);
    }

    #[test]
    fn given_a_deleted_message_then_it_never_comes_back_and_an_old_receipt_deletes_nothing() {
        let mut q = queue(None);
        q.send(0, Outgoing::body("a")).unwrap();
        let first = q.receive(0, 1).messages.remove(0);
        let second = q.receive(60_000, 1).messages.remove(0);
        assert!(!q.delete(first.receipt.as_deref().unwrap()), "stale receipt");
        assert!(q.delete(second.receipt.as_deref().unwrap()));
        assert!(q.is_empty());
    }

    #[test]
    fn given_max_receive_count_3_when_received_3_times_then_the_4th_receive_moves_it_to_the_dlq() {
        let mut q = queue(Some(3));
        q.send(0, Outgoing::body("poison")).unwrap();
        for attempt in 0..3 {
            let got = q.receive(attempt * 60_000, 10);
            assert_eq!(got.messages.len(), 1, "receive {attempt}");
            assert!(got.dead_letters.is_empty());
        }
        let last = q.receive(3 * 60_000, 10);
        assert!(last.messages.is_empty());
        assert_eq!(last.dead_letters.len(), 1);
        assert_eq!(last.dead_letters[0].sent.body, "poison");
        assert_eq!(last.dead_letters[0].receive_count, 3);
        assert!(q.is_empty());
    }

    #[test]
    fn given_more_messages_than_the_batch_then_receive_takes_at_most_max() {
        let mut q = queue(None);
        for i in 0..15 {
            q.send(0, Outgoing::body(format!("{i}"))).unwrap();
        }
        assert_eq!(q.receive(0, 10).messages.len(), 10);
        assert_eq!(q.receive(0, 10).messages.len(), 5);
        assert_eq!(q.visible(0), 0);
    }

    #[test]
    fn given_a_fifo_group_in_flight_then_its_later_messages_wait_and_other_groups_go_on() {
        let mut q = fifo();
        for (body, group) in [("a1", "a"), ("a2", "a"), ("b1", "b")] {
            q.send(0, grouped(body, group)).unwrap();
        }
        let first = q.receive(0, 1);
        assert_eq!(first.messages[0].sent.body, "a1");
        let next = q.receive(0, 10);
        let bodies: Vec<_> = next.messages.iter().map(|m| m.sent.body.as_str()).collect();
        assert_eq!(bodies, ["b1"], "a2 waits for a1");
        assert_eq!(q.visible(0), 0, "a2 is visible but not receivable");
        assert!(q.delete(first.messages[0].receipt.as_deref().unwrap()));
        assert_eq!(q.visible(0), 1);
        assert_eq!(q.receive(0, 10).messages[0].sent.body, "a2");
    }

    #[test]
    fn given_a_fifo_batch_then_a_groups_messages_come_in_send_order() {
        let mut q = fifo();
        for i in 0..5 {
            q.send(0, grouped(&format!("m{i}"), "g")).unwrap();
        }
        let bodies: Vec<_> = q.receive(0, 10).messages.into_iter().map(|m| m.sent.body).collect();
        assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn given_a_fifo_duplicate_within_5_minutes_then_it_is_accepted_but_not_enqueued() {
        let mut q = fifo();
        let first = q.send(0, grouped("same", "g")).unwrap();
        let again = q.send(DEDUPLICATION_WINDOW_MS - 1, grouped("same", "g")).unwrap();
        assert!(again.deduplicated);
        assert_eq!(again.message_id, first.message_id);
        assert_eq!(q.len(), 1);
        let later = q.send(DEDUPLICATION_WINDOW_MS, grouped("same", "g")).unwrap();
        assert!(!later.deduplicated, "the window is 5 minutes");
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn given_a_fifo_queue_then_sends_without_group_or_dedup_id_are_refused() {
        let mut q = fifo();
        assert!(matches!(
            q.send(0, Outgoing::body("x")),
            Err(SendError::MissingGroupId { .. })
        ));
        let mut config = QueueConfig::standard("Strict.fifo");
        config.fifo = true;
        let mut strict = Queue::new(config);
        assert!(matches!(
            strict.send(0, grouped("x", "g")),
            Err(SendError::MissingDeduplicationId { .. })
        ));
    }

    #[test]
    fn given_the_default_limit_then_1_mib_fits_and_one_byte_more_is_refused_with_its_size() {
        let mut q = queue(None);
        assert_eq!(q.config().max_message_bytes, 1_048_576);
        assert!(q.send(0, Outgoing::body("x".repeat(1_048_576))).is_ok());
        let err = q.send(0, Outgoing::body("x".repeat(1_048_577))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "message of 1048577 bytes is over Work's limit of 1048576 bytes"
        );
    }

    #[test]
    fn given_maximum_message_size_262144_then_a_message_over_256_kib_is_refused() {
        let mut config = QueueConfig::standard("Small");
        config.max_message_bytes = 262_144;
        let mut q = Queue::new(config);
        assert!(q.send(0, Outgoing::body("x".repeat(262_144))).is_ok());
        let err = q.send(0, Outgoing::body("x".repeat(262_145))).unwrap_err();
        assert_eq!(
            err,
            SendError::TooLarge {
                queue: "Small".into(),
                size: 262_145,
                limit: 262_144
            }
        );
    }

    #[test]
    fn given_attributes_then_their_name_data_type_and_value_count_toward_the_limit() {
        let mut config = QueueConfig::standard("Small");
        config.max_message_bytes = 1_024;
        let mut q = Queue::new(config);
        let with_body = |len: usize| Outgoing {
            attributes: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
            ..Outgoing::body("x".repeat(len))
        };
        // Body 1016 + name 1 + "String" 6 + value 1 = 1024: exactly the limit.
        assert_eq!(with_body(1_016).size(), 1_024);
        assert!(q.send(0, with_body(1_016)).is_ok());
        // One byte more: body, name and value alone (1019) would fit; the type name does not.
        let err = q.send(0, with_body(1_017)).unwrap_err();
        assert!(matches!(
            err,
            SendError::TooLarge {
                size: 1_025,
                limit: 1_024,
                ..
            }
        ));
    }

    #[test]
    fn given_typed_attributes_then_their_real_type_name_counts_and_binary_counts_its_bytes() {
        let message = Outgoing::body("")
            .with_attribute("n", "Number", "12")
            .with_attribute("tags", "String.Array", r#"["a"]"#)
            .with_attribute("b", "Binary", "AAEC");
        // "n" + "Number" + "12", "tags" + "String.Array" + `["a"]`, "b" + "Binary" + 3 bytes.
        assert_eq!(message.size(), (1 + 6 + 2) + (4 + 12 + 5) + (1 + 6 + 3));
        assert_eq!(message.attribute_type("n"), "Number");
        let sqs = message.sqs_attributes();
        assert_eq!(
            sqs["b"].binary_value.as_deref().map(|b| b.as_slice()),
            Some(&[0, 1, 2][..])
        );
        assert_eq!(sqs["n"].data_type.as_deref(), Some("Number"));
        assert_eq!(sqs["n"].string_value.as_deref(), Some("12"));
        assert_eq!(message.sns_attributes()["tags"].data_type, "String.Array");
        // Set back to a String, the type is forgotten.
        assert_eq!(message.with_attribute("n", "String", "x").attribute_type("n"), "String");
    }

    #[test]
    fn given_a_message_not_received_within_the_retention_period_then_it_is_gone() {
        let retention = DEFAULT_RETENTION_SECONDS * 1000;
        let mut q = queue(None);
        q.send(0, Outgoing::body("late")).unwrap();
        assert_eq!(q.visible(retention - 1), 1, "kept for the whole retention period");
        assert_eq!(q.visible(retention), 0, "expired: no longer counted");
        assert_eq!(q.next_visible_after(0), None);
        let got = q.receive(retention, 10);
        assert!(got.messages.is_empty(), "never received");
        assert_eq!(got.expired.len(), 1);
        assert_eq!(got.expired[0].sent.body, "late");
        assert!(q.is_empty());
    }

    #[test]
    fn given_a_message_in_flight_when_the_retention_period_ends_then_it_does_not_come_back() {
        let mut config = QueueConfig::standard("Short");
        config.retention_ms = 60_000;
        config.visibility_timeout_ms = 45_000;
        let mut q = Queue::new(config);
        q.send(0, Outgoing::body("a")).unwrap();
        assert_eq!(q.receive(30_000, 1).messages.len(), 1);
        assert_eq!(
            q.next_visible_after(30_000),
            None,
            "it would be visible at 75 s, after expiry"
        );
        assert!(q.receive(75_000, 1).messages.is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn given_a_message_redriven_to_the_dlq_then_it_expires_from_its_original_enqueue_time() {
        let day = 24 * 60 * 60 * 1000;
        let mut source = queue(Some(1));
        let mut dlq = Queue::new(QueueConfig::standard("WorkDlq"));
        source.send(0, Outgoing::body("poison")).unwrap();
        source.receive(0, 1);
        let moved = source.receive(day, 1).dead_letters;
        assert_eq!(moved.len(), 1, "moved after 1 day in the source queue");
        for message in moved {
            dlq.enqueue_dead_letter(day, message);
        }
        // The DLQ keeps messages 4 days, counted from the first send: 3 more days, not 4.
        assert_eq!(dlq.visible(4 * day - 1), 1);
        assert_eq!(dlq.visible(4 * day), 0);
        assert_eq!(dlq.receive(4 * day, 10).expired.len(), 1);
        assert!(dlq.is_empty());
    }

    #[test]
    fn given_a_fifo_message_redriven_to_the_dlq_then_its_expiry_restarts_in_the_dlq() {
        let day = 24 * 60 * 60 * 1000;
        let mut config = QueueConfig::standard("Work.fifo");
        config.fifo = true;
        config.content_based_deduplication = true;
        config.redrive = Some((1, "arn:dlq.fifo".to_owned()));
        let mut source = Queue::new(config);
        let mut dlq_config = QueueConfig::standard("WorkDlq.fifo");
        dlq_config.fifo = true;
        let mut dlq = Queue::new(dlq_config);
        source.send(0, grouped("poison", "g")).unwrap();
        source.receive(0, 1);
        for message in source.receive(day, 1).dead_letters {
            dlq.enqueue_dead_letter(day, message);
        }
        assert_eq!(dlq.visible(4 * day), 1, "a FIFO DLQ restarts the enqueue time");
        assert_eq!(dlq.visible(5 * day), 0);
    }
}

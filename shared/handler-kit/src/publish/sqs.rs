//! SQS: SendMessageBatch in chunks of at most 10 messages and 1 MiB, for publishing envelopes
//! to a queue and for parking messages that cannot be processed. 1 MiB (1,048,576 bytes) is
//! both a message's and a call's limit (SendMessageBatch,
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html>).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    SendMessageBatchRequestEntry,
};
use envelope::{Envelope, TraceContext};
use serde_json::Value;

use super::batch::{Answer, CallError, Limits, Service, call_error, entry_id, fifo_id, send_all, sha256_hex};
use super::{ParkedMessage, Parking, PublishError, Publisher};

const LIMITS: Limits = Limits {
    entries: 10,
    bytes: 1024 * 1024,
};

/// One message to send.
#[derive(Debug)]
struct Outgoing {
    body: String,
    attributes: Vec<(&'static str, String)>,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    /// The `AWSTraceHeader` system attribute (not counted in the size by SQS).
    trace_header: Option<String>,
}

impl Outgoing {
    fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(n, v)| n.len() + v.len() + "String".len())
                .sum::<usize>()
    }
}

#[derive(Debug, Clone)]
struct Queue {
    client: Client,
    url: String,
    retry: crate::backoff::Backoff,
}

impl Queue {
    fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
            retry: crate::backoff::PUBLISH,
        }
    }

    fn is_fifo(&self) -> bool {
        self.url.ends_with(".fifo")
    }

    async fn send(&self, messages: &[Outgoing]) -> Result<(), PublishError> {
        let sizes: Vec<usize> = messages.iter().map(Outgoing::size).collect();
        send_all(&sizes, LIMITS, self.retry, |indexes| async move {
            let entries = indexes
                .iter()
                .enumerate()
                .map(|(position, &i)| entry(position, &messages[i]))
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|err| call_error(Service::Sqs, &err))?;
            Ok(Answer::by_id(
                Service::Sqs,
                output.successful().iter().map(|s| s.id()),
                output.failed().iter().map(|f| (f.id(), f.code(), f.message())),
            ))
        })
        .await
    }
}

fn entry(position: usize, message: &Outgoing) -> Result<SendMessageBatchRequestEntry, CallError> {
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(entry_id(position))
        .message_body(&message.body)
        .set_message_group_id(message.group_id.clone())
        .set_message_deduplication_id(message.deduplication_id.clone());
    for (name, value) in &message.attributes {
        let value = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(CallError::unbuildable)?;
        entry = entry.message_attributes(*name, value);
    }
    if let Some(trace) = &message.trace_header {
        let value = MessageSystemAttributeValue::builder()
            .data_type("String")
            .string_value(trace)
            .build()
            .map_err(CallError::unbuildable)?;
        entry = entry.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
    }
    entry.build().map_err(CallError::unbuildable)
}

/// Publishes envelopes (their JSON as the body) to one queue. On a FIFO queue the group is the
/// event's subject (one aggregate's events stay in order) and the deduplication id its id, each
/// made valid first (a long or non-ASCII subject becomes a readable prefix and its SHA-256).
#[derive(Debug, Clone)]
pub struct SqsPublisher {
    queue: Queue,
}

impl SqsPublisher {
    /// A publisher to the queue at `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            queue: Queue::new(client, queue_url),
        }
    }
}

impl Publisher for SqsPublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let fifo = self.queue.is_fifo();
        let messages: Vec<Outgoing> = events
            .iter()
            .map(|event| Outgoing {
                body: serde_json::to_string(event).unwrap_or_default(),
                attributes: vec![("type", event.metadata.event_type.clone())],
                group_id: fifo.then(|| fifo_id(&event.metadata.subject)),
                deduplication_id: fifo.then(|| fifo_id(&event.metadata.id.to_string())),
                trace_header: event.metadata.trace.as_ref().and_then(TraceContext::xray_header),
            })
            .collect();
        self.queue.send(&messages).await
    }
}

/// Parks messages on a quarantine queue: the original body, and the reason in message attributes
/// (`parked-reason`, `parked-kind`, `parked-by`, `original-message-id`, `parked-from`).
#[derive(Debug, Clone)]
pub struct SqsParking {
    queue: Queue,
}

impl SqsParking {
    /// Parking on the queue at `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            queue: Queue::new(client, queue_url),
        }
    }
}

impl Parking for SqsParking {
    async fn park(&self, parked: &[ParkedMessage]) -> Result<(), PublishError> {
        let fifo = self.queue.is_fifo();
        let messages: Vec<Outgoing> = parked
            .iter()
            .map(|p| Outgoing {
                body: p.body.clone(),
                attributes: p.attributes(),
                group_id: fifo.then(|| fifo_id(&p.function)),
                // Without a message id, the same body parked twice is the same parking.
                deduplication_id: fifo.then(|| {
                    p.message_id
                        .as_deref()
                        .map_or_else(|| sha256_hex(p.body.as_bytes()), fifo_id)
                }),
                trace_header: None,
            })
            .collect();
        self.queue.send(&messages).await
    }
}

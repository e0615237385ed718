//! SNS: PublishBatch in chunks of at most 10 messages and [`MAX_SNS_MESSAGE_BYTES`] (still
//! 256 KB), with message attributes that subscription filter policies can match.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use envelope::Envelope;
use serde_json::Value;

use super::batch::{Answer, CallError, Limits, Service, call_error, entry_id, fifo_id, send_all};
use super::{AttributesOf, MAX_SNS_MESSAGE_BYTES, PublishError, Publisher, message_attributes};

const LIMITS: Limits = Limits {
    entries: 10,
    bytes: MAX_SNS_MESSAGE_BYTES,
};

/// Publishes envelopes (their JSON as the message) to one topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
    retry: crate::backoff::Backoff,
    attributes: Option<AttributesOf>,
}

impl SnsPublisher {
    /// A publisher to `topic_arn`. Every message carries the attributes `type`, `source`,
    /// `subject` and `correlationId`; a FIFO topic also gets group = subject, dedup id = event id
    /// (one the service would refuse, e.g. a long or non-ASCII subject, becomes a readable
    /// prefix and its SHA-256).
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            retry: crate::backoff::PUBLISH,
            attributes: None,
        }
    }

    /// Adds attributes taken from each event.
    #[must_use]
    pub fn with_attributes(mut self, attributes: AttributesOf) -> Self {
        self.attributes = Some(attributes);
        self
    }

    /// Retries failed entries by `policy`.
    #[must_use]
    pub fn with_retry(mut self, retry: crate::backoff::Backoff) -> Self {
        self.retry = retry;
        self
    }

    /// The message attributes of `event`.
    fn attributes_of(&self, event: &Envelope<Value>) -> Vec<(String, String)> {
        message_attributes(event, self.attributes)
    }

    fn entry(
        &self,
        position: usize,
        event: &Envelope<Value>,
        message: &str,
        attributes: &[(String, String)],
    ) -> Result<PublishBatchRequestEntry, CallError> {
        let m = &event.metadata;
        let mut entry = PublishBatchRequestEntry::builder()
            .id(entry_id(position))
            .message(message);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(CallError::unbuildable)?;
            entry = entry.message_attributes(name.clone(), value);
        }
        if self.topic_arn.ends_with(".fifo") {
            entry = entry
                .message_group_id(fifo_id(&m.subject))
                .message_deduplication_id(fifo_id(&m.id.to_string()));
        }
        entry.build().map_err(CallError::unbuildable)
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let messages: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect();
        let attributes: Vec<Vec<(String, String)>> = events.iter().map(|e| self.attributes_of(e)).collect();
        // SNS counts attribute names, types and values into the 256 KB too.
        let sizes: Vec<usize> = messages
            .iter()
            .zip(&attributes)
            .map(|(m, a)| m.len() + a.iter().map(|(n, v)| n.len() + "String".len() + v.len()).sum::<usize>())
            .collect();
        send_all(&sizes, LIMITS, self.retry, |indexes| {
            let (messages, attributes) = (&messages, &attributes);
            async move {
                let entries = indexes
                    .iter()
                    .enumerate()
                    .map(|(position, &i)| self.entry(position, &events[i], &messages[i], &attributes[i]))
                    .collect::<Result<Vec<_>, _>>()?;
                let output = self
                    .client
                    .publish_batch()
                    .topic_arn(&self.topic_arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|err| call_error(Service::Sns, &err))?;
                Ok(Answer::by_id(
                    Service::Sns,
                    output.successful().iter().filter_map(|s| s.id()),
                    output.failed().iter().map(|f| (f.id(), f.code(), f.message())),
                ))
            }
        })
        .await
    }
}

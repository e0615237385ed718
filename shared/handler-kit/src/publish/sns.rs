//! SNS: PublishBatch in chunks of at most 10 messages and [`MAX_SNS_MESSAGE_BYTES`] (still
//! 256 KB), with message attributes that subscription filter policies can match.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use envelope::{Envelope, TraceContext};
use futures_util::future::join_all;
use serde_json::Value;

use super::batch::{Answer, CallError, Limits, Service, call_error, entry_id, fifo_id, send_all};
use super::{AttributesOf, FailedEntry, MAX_SNS_MESSAGE_BYTES, PublishError, Publisher, message_attributes};

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

impl SnsPublisher {
    /// Publishes `events[i]` for each `i` of `indexes`, in calls carrying X-Ray header `trace`.
    async fn publish_in_trace(
        &self,
        events: &[Envelope<Value>],
        indexes: &[usize],
        trace: Option<&str>,
    ) -> Result<(), PublishError> {
        let messages: Vec<String> = indexes
            .iter()
            .map(|&i| serde_json::to_string(&events[i]).unwrap_or_default())
            .collect();
        let attributes: Vec<Vec<(String, String)>> = indexes.iter().map(|&i| self.attributes_of(&events[i])).collect();
        // SNS counts attribute names, types and values into the 256 KB too.
        let sizes: Vec<usize> = messages
            .iter()
            .zip(&attributes)
            .map(|(m, a)| m.len() + a.iter().map(|(n, v)| n.len() + "String".len() + v.len()).sum::<usize>())
            .collect();
        send_all(&sizes, LIMITS, self.retry, |chunk| {
            let (messages, attributes) = (&messages, &attributes);
            async move {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(position, &i)| self.entry(position, &events[indexes[i]], &messages[i], &attributes[i]))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut call = self
                    .client
                    .publish_batch()
                    .topic_arn(&self.topic_arn)
                    .set_publish_batch_request_entries(Some(entries))
                    .customize();
                if let Some(trace) = trace {
                    let trace = trace.to_owned();
                    call = call.mutate_request(move |request| {
                        request.headers_mut().insert(TRACE_HEADER, trace.clone());
                    });
                }
                let output = call.send().await.map_err(|err| call_error(Service::Sns, &err))?;
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

/// SNS reads a publish's X-Ray trace from this HTTP header, one per call, and with active
/// tracing hands it on to subscribers (SQS as the `AWSTraceHeader` system attribute). The
/// SDK's recursion-detection interceptor leaves a header already set alone.
const TRACE_HEADER: &str = "x-amzn-trace-id";

impl Publisher for SnsPublisher {
    /// One trace per call (see [`TRACE_HEADER`]): the events are grouped by trace, each group
    /// published in its own calls, all groups at once.
    async fn publish(&self, events: &[Envelope<Value>]) -> Result<(), PublishError> {
        let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for (index, event) in events.iter().enumerate() {
            let trace = event.metadata.trace.as_ref().and_then(TraceContext::xray_header);
            match groups.iter_mut().find(|(t, _)| *t == trace) {
                Some((_, indexes)) => indexes.push(index),
                None => groups.push((trace, vec![index])),
            }
        }
        let sent = join_all(
            groups
                .iter()
                .map(|(trace, indexes)| self.publish_in_trace(events, indexes, trace.as_deref())),
        )
        .await;
        let mut failed = Vec::new();
        for ((_, indexes), result) in groups.iter().zip(sent) {
            if let Err(err) = result {
                failed.extend(err.failed.into_iter().map(|f| FailedEntry {
                    index: indexes[f.index],
                    ..f
                }));
            }
        }
        failed.sort_by_key(|f| f.index);
        PublishError::unless_failed(events.len(), failed)
    }
}

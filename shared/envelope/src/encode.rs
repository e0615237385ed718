//! Envelopes wrapped the way AWS delivers them: what the local cloud hands to functions, and
//! what round-trip tests decode again.

use std::collections::HashMap;

use aws_lambda_events::event::sns::{SnsEvent, SnsMessage, SnsRecord};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::decode::Carrier;
use crate::envelope::{Envelope, Metadata};
use crate::error::EnvelopeError;

/// The account and region a delivery pretends to come from, for ARNs and event fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsContext {
    /// 12-digit account id.
    pub account: String,
    /// Region code, e.g. `eu-west-1`.
    pub region: String,
}

impl Default for AwsContext {
    fn default() -> Self {
        Self {
            account: "123456789012".to_owned(),
            region: "eu-west-1".to_owned(),
        }
    }
}

impl AwsContext {
    fn arn(&self, service: &str, name: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{name}", self.region, self.account)
    }
}

/// An SQS event as Lambda's event source mapping delivers it: one record per `(message id, body)`.
pub fn sqs_event(
    queue_arn: &str,
    region: &str,
    messages: impl IntoIterator<Item = (String, String)>,
    sent: DateTime<Utc>,
) -> SqsEvent {
    let sent = sent.timestamp_millis().to_string();
    let mut event = SqsEvent::default();
    event.records = messages
        .into_iter()
        .map(|(message_id, body)| {
            let mut message = SqsMessage::default();
            message.receipt_handle = Some(format!("local-receipt-{message_id}"));
            message.message_id = Some(message_id);
            message.body = Some(body);
            message.attributes = HashMap::from([
                ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
                ("SentTimestamp".to_owned(), sent.clone()),
                ("SenderId".to_owned(), "AIDAIENQZJOLO23YVJ4VO".to_owned()),
                ("ApproximateFirstReceiveTimestamp".to_owned(), sent.clone()),
            ]);
            message.event_source = Some("aws:sqs".to_owned());
            message.event_source_arn = Some(queue_arn.to_owned());
            message.aws_region = Some(region.to_owned());
            message
        })
        .collect();
    event
}

/// An SNS notification of `message` on `topic_arn`.
pub fn sns_notification(topic_arn: &str, message_id: &str, message: String, timestamp: DateTime<Utc>) -> SnsMessage {
    let mut notification = SnsMessage::default();
    notification.sns_message_type = "Notification".to_owned();
    notification.message_id = message_id.to_owned();
    notification.topic_arn = topic_arn.to_owned();
    notification.timestamp = timestamp;
    notification.signature_version = "1".to_owned();
    // Local deliveries are not signed; consumers behind SQS or Lambda do not verify signatures.
    notification.signature = "LOCAL".to_owned();
    let region = topic_arn.split(':').nth(3).unwrap_or("eu-west-1");
    notification.signing_cert_url = format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem");
    notification.unsubscribe_url =
        format!("https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:{message_id}");
    notification.message = message;
    notification
}

/// The body SQS receives for a notification when raw delivery is off. SQS spells two field
/// names differently from Lambda's SNS event (`SigningCertURL`, `UnsubscribeURL`).
pub fn sns_notification_body(notification: &SnsMessage) -> String {
    let mut value = serde_json::to_value(notification).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        for (lambda, sqs) in [
            ("SigningCertUrl", "SigningCertURL"),
            ("UnsubscribeUrl", "UnsubscribeURL"),
        ] {
            if let Some(v) = object.remove(lambda) {
                object.insert(sqs.to_owned(), v);
            }
        }
    }
    value.to_string()
}

/// An SNS event as Lambda receives it from a subscription.
pub fn sns_event(subscription_arn: &str, notifications: impl IntoIterator<Item = SnsMessage>) -> SnsEvent {
    let mut event = SnsEvent::default();
    event.records = notifications
        .into_iter()
        .map(|sns| {
            let mut record = SnsRecord::default();
            record.event_source = "aws:sns".to_owned();
            record.event_version = "1.0".to_owned();
            record.event_subscription_arn = subscription_arn.to_owned();
            record.sns = sns;
            record
        })
        .collect();
    event
}

impl Carrier {
    /// Wraps envelopes as AWS delivers them through this carrier: one payload for a batching
    /// carrier (SQS, SNS), one payload per envelope otherwise. Carrier ids are derived from the
    /// envelope ids, so the same envelopes always give the same payloads.
    pub fn wrap(self, envelopes: &[Envelope<Value>], aws: &AwsContext) -> Result<Vec<Value>, EnvelopeError> {
        let id = |envelope: &Envelope<Value>, purpose: &str| {
            Metadata::derived_id(envelope.metadata.id, purpose, 0).to_string()
        };
        let topic_arn = aws.arn("sns", "events");
        let notification = |envelope: &Envelope<Value>, message: String| {
            sns_notification(
                &topic_arn,
                &id(envelope, "sns-message"),
                message,
                envelope.metadata.time,
            )
        };
        let eventbridge = |envelope: &Envelope<Value>| -> Result<Value, EnvelopeError> {
            let entry = envelope.to_put_events_entry()?;
            Ok(to_json(&entry.to_event(
                &id(envelope, "eventbridge-event"),
                &aws.account,
                &aws.region,
            )?))
        };
        let sqs = |bodies: Vec<String>| {
            let messages = envelopes.iter().map(|e| id(e, "sqs-message")).zip(bodies);
            let sent = envelopes.first().map_or_else(Utc::now, |e| e.metadata.time);
            vec![to_json(&sqs_event(
                &aws.arn("sqs", "events-queue"),
                &aws.region,
                messages,
                sent,
            ))]
        };
        let texts = |f: &dyn Fn(&Envelope<Value>) -> String| envelopes.iter().map(f).collect::<Vec<_>>();
        Ok(match self {
            Self::EventBridge => envelopes.iter().map(eventbridge).collect::<Result<_, _>>()?,
            Self::Envelope => envelopes.iter().map(to_json).collect(),
            Self::CloudEvent => envelopes.iter().map(Envelope::to_cloudevent).collect(),
            Self::Sns => {
                let subscription = format!("{topic_arn}:{}", Uuid::nil());
                let notifications = envelopes.iter().map(|e| notification(e, to_json(e).to_string()));
                vec![to_json(&sns_event(&subscription, notifications))]
            }
            Self::SqsEventBridge => sqs(envelopes
                .iter()
                .map(|e| eventbridge(e).map(|event| event.to_string()))
                .collect::<Result<_, _>>()?),
            Self::SqsSns => sqs(texts(&|e| {
                sns_notification_body(&notification(e, to_json(e).to_string()))
            })),
            Self::SqsEnvelope => sqs(texts(&|e| to_json(e).to_string())),
            Self::SqsCloudEvent => sqs(texts(&|e| e.to_cloudevent().to_string())),
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    // Every type passed here is a plain data structure of strings, numbers and JSON values.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

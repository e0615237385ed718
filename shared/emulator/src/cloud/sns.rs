//! SNS: messages published to topics, filtered by each subscription's policy and delivered to
//! its queue or function, raw or as an SNS notification.

use serde_json::Value;

use super::{Emitted, LocalCloud, Task, What};
use crate::sqs::Outgoing;
use crate::topology::Endpoint;

/// A message published to a topic.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Virtual time.
    pub at: i64,
    /// Topic logical id.
    pub topic: String,
    /// The message.
    pub message: Outgoing,
    /// Sent by an invocation a fault was injected into (a crash, a failed or slow call), which
    /// may leave it unrecorded as sent: its rerun, or whoever reads its outbox, may send it
    /// again.
    pub at_risk: bool,
}

impl LocalCloud {
    /// Publishes `message` to topic `topic_id` (logical id) now, as `from`: every subscription
    /// whose filter policy passes it (on its typed attributes or its body) gets it, raw or
    /// wrapped in an SNS notification, its attributes with their data types.
    pub fn publish(&mut self, topic_id: &str, message: Outgoing, from: &str) {
        let Some(topic) = self.topology.topics.get(topic_id).cloned() else {
            self.undeliverable(format!("topic {topic_id}"), "no such topic in the template".into());
            return;
        };
        let message_id = self.next_id("sns");
        let attributes = message.typed_attributes();
        let mut delivered = 0;
        for subscription in &topic.subscriptions {
            if let Some(policy) = &subscription.filter
                && !policy.matches_message(&message.body, &attributes)
            {
                continue;
            }
            delivered += 1;
            let mut notification = envelope::encode::sns_notification(
                &topic.arn,
                &message_id,
                message.body.clone(),
                self.start + chrono::Duration::milliseconds(self.now),
            );
            notification.message_attributes = message.sns_attributes();
            match &subscription.endpoint {
                Endpoint::Queue(queue) => {
                    // With active tracing SNS hands its trace on to SQS subscribers.
                    let outgoing = if subscription.raw {
                        message.clone()
                    } else {
                        Outgoing {
                            trace_header: message.trace_header.clone(),
                            ..Outgoing::body(envelope::encode::sns_notification_body(&notification))
                        }
                    };
                    self.schedule(
                        self.now
                            + self.dice.between(
                                &format!("topic:{topic_id}:{}/latency", subscription.logical_id),
                                5,
                                25,
                            ),
                        Task::Deliver {
                            queue: queue.clone(),
                            message: outgoing,
                            dead_letter: None,
                            from: topic_id.to_owned(),
                        },
                    );
                }
                Endpoint::Function(function) => {
                    let event = envelope::encode::sns_event(
                        &format!("{}:{}", topic.arn, subscription.logical_id),
                        [notification],
                    );
                    self.invoke_later(function, serde_json::to_value(event).unwrap_or(Value::Null));
                }
                // The template loader only subscribes queues and functions.
                Endpoint::Topic(_) => delivered -= 1,
            }
        }
        let trace_id = message
            .trace_header
            .as_deref()
            .and_then(envelope::TraceContext::from_xray)
            .and_then(|t| t.xray_trace_id());
        self.note_notification(topic_id, &message, from, delivered, trace_id.as_deref());
        self.record(What::Notification {
            trace_id,
            topic: topic_id.to_owned(),
            subject: message.attributes.get("subject").cloned().unwrap_or_default(),
            from: from.to_owned(),
            delivered,
        });
        if let Some(emitted) = &mut self.emitted {
            let body = serde_json::from_str(&message.body).unwrap_or_else(|_| Value::String(message.body.clone()));
            emitted.push(Emitted {
                at: self.now,
                bus: None,
                topic: Some(topic_id.to_owned()),
                event: serde_json::json!({ "message": body, "attributes": message.attributes }),
            });
        }
        self.notifications.push(Notification {
            at: self.now,
            topic: topic_id.to_owned(),
            message,
            // Marked when the invocation that sent it ends having failed to record its work.
            at_risk: false,
        });
    }
}

//! notify-customer: on `OrderShipped`, `PaymentFailed` and `OrderRejected`, publishes a
//! `CustomerNotified` message to the notifications topic, with message attributes
//! (`customerId`, `template`) that subscriptions can filter on. A replayed event (after a bug
//! fix, say) tells no one again: customers were told when it happened.

use std::sync::Arc;

use envelope::{Envelope, Registry};
use handler_kit::config::ConfigError;
use handler_kit::{Clock, Function, Handler, HandlerError, Platform, Topic, Trigger};
use orders::decisions;
use orders::events::{OrderRejected, OrderShipped, PaymentFailed};
use orders::lifecycle::OrderEvent;
use serde_json::Value;

/// Tells customers what happened to their orders.
pub struct NotifyCustomer {
    clock: Arc<dyn Clock>,
}

impl NotifyCustomer {
    /// Notifies with event times from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

/// Message attributes of a notification, for subscription filter policies.
pub fn attributes(notification: &Envelope<Value>) -> Vec<(String, String)> {
    ["customerId", "template"]
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), notification.data.get(*name)?.as_str()?.to_owned())))
        .collect()
}

impl Handler for NotifyCustomer {
    fn event_types(&self) -> Registry {
        Registry::new()
            .register::<OrderShipped>()
            .register::<PaymentFailed>()
            .register::<OrderRejected>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let (metadata, event) = OrderEvent::from_envelope(event)?;
        if let Some(replay) = &metadata.replay {
            tracing::info!(replay, event_id = %metadata.id, "replayed: the customer is not told again");
            return Ok(Vec::new());
        }
        let notification = decisions::notification(&metadata, &event, self.clock.now()).transpose()?;
        Ok(notification.into_iter().collect())
    }
}

/// notify-customer, declared once: SQS in, notifications to `NOTIFICATIONS_TOPIC_ARN` with
/// `customerId` and `template` attributes for subscription filter policies.
pub const FUNCTION: Function<Topic> = Function {
    name: "notify-customer",
    trigger: Trigger::Sqs,
    schedule: None,
    outputs: Topic {
        variable: "NOTIFICATIONS_TOPIC_ARN",
        attributes,
    },
    settings: &[],
    idempotent: true,
};

/// The function's one composition root, on any platform.
pub fn build<P: Platform>(platform: &P) -> Result<NotifyCustomer, ConfigError> {
    Ok(NotifyCustomer::new(platform.clock()))
}

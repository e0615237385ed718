//! notify-customer: on `OrderShipped`, `PaymentFailed` and `OrderRejected`, publishes a
//! `CustomerNotified` message to the notifications topic, with message attributes
//! (`customerId`, `template`) that subscriptions can filter on. A replayed event (after a bug
//! fix, say) tells no one again: customers were told when it happened.
//!
//! The customer's name and email arrive sealed; this function alone may open them
//! ([`FIELD_KEY`]), to address the message, and only for the order the message is about (a
//! contact copied from another order's event is parked naming the field). The notifications
//! topic is where a message leaves for the customer (its subscribers are the delivery
//! channels), so the recipient is in clear there, and nowhere else: its idempotency records
//! keep a digest of what it sent, never the message (`Topic { personal: true, .. }`).

use std::sync::Arc;

use envelope::{Envelope, Registry};
use field_crypto::{FieldCipher, KeyService};
use handler_kit::config::ConfigError;
use handler_kit::trigger::Sqs;
use handler_kit::{Clock, FieldKeysPort, Function, HandlerError, RecordHandler, Setting, Topic};
use orders::decisions;
use orders::events::{Contact, OrderRejected, OrderShipped, PaymentFailed, Recipient, personal};
use orders::lifecycle::OrderEvent;
use serde_json::Value;

/// Tells customers what happened to their orders.
pub struct NotifyCustomer<K> {
    cipher: FieldCipher<K>,
    clock: Arc<dyn Clock>,
}

impl<K: KeyService> NotifyCustomer<K> {
    /// Notifies, opening contacts with `cipher`, with event times from `clock`.
    pub fn new(cipher: FieldCipher<K>, clock: Arc<dyn Clock>) -> Self {
        Self { cipher, clock }
    }

    /// The contact of an event about `order`, opened for it alone.
    async fn recipient(&self, order: &str, contact: &Contact) -> Result<Recipient, HandlerError> {
        Ok(Recipient {
            name: self
                .cipher
                .open_text(personal::CUSTOMER_NAME, order, &contact.name)
                .await?,
            email: self
                .cipher
                .open_text(personal::CUSTOMER_EMAIL, order, &contact.email)
                .await?,
        })
    }
}

/// Message attributes of a notification, for subscription filter policies.
pub fn attributes(notification: &Envelope<Value>) -> Vec<(String, String)> {
    ["customerId", "template"]
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), notification.data.get(*name)?.as_str()?.to_owned())))
        .collect()
}

impl<K: KeyService> RecordHandler for NotifyCustomer<K> {
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
        let recipient = match event.contact() {
            Some(contact) => {
                let order = personal::subject(&metadata, event.order_id())?;
                Some(self.recipient(order, contact).await?)
            }
            None => None,
        };
        let notification = decisions::notification(&metadata, &event, recipient, self.clock.now()).transpose()?;
        Ok(notification.into_iter().collect())
    }
}

/// notify-customer, declared once: SQS in, notifications to `NOTIFICATIONS_TOPIC_ARN` with
/// `customerId` and `template` attributes for subscription filter policies.
pub const FUNCTION: Function<Sqs, Topic> = Function {
    name: "notify-customer",
    trigger: Sqs,
    outputs: Topic {
        variable: "NOTIFICATIONS_TOPIC_ARN",
        attributes,
        personal: true,
    },
    settings: &[FIELD_KEY],
    idempotent: true,
};

/// The key personal fields are sealed under: this function may open the name and email alone.
pub const FIELD_KEY: Setting = Setting::key("FIELD_KEY_ID", "the KMS key personal fields are sealed under")
    .calls(&[field_crypto::DECRYPT])
    .fields(&[personal::CUSTOMER_NAME, personal::CUSTOMER_EMAIL]);

/// The function's one composition root, on any platform.
pub fn build<P: FieldKeysPort>(platform: &P) -> Result<NotifyCustomer<P::Keys>, ConfigError> {
    Ok(NotifyCustomer::new(
        platform.field_cipher(&FIELD_KEY)?,
        platform.clock(),
    ))
}

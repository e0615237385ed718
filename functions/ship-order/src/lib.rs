//! ship-order: on `PaymentCompleted`, the order ships to its address with a carrier chosen by
//! the destination and a tracking number derived from the order id (a re-run assigns the
//! same), and `OrderShipped` is published.
//!
//! The shipping address arrives sealed; this function alone may open it ([`FIELD_KEY`]), for
//! the order being shipped only (an address copied from another order's event is parked naming
//! the field), and publishes none of it.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use field_crypto::{FieldCipher, KeyService};
use handler_kit::config::ConfigError;
use handler_kit::trigger::Sqs;
use handler_kit::{Bus, Clock, FieldKeysPort, Function, HandlerError, RecordHandler, Setting};
use orders::decisions;
use orders::events::{PaymentCompleted, ShippingAddress, personal};
use serde_json::Value;

/// Ships paid orders.
pub struct ShipOrder<K> {
    cipher: FieldCipher<K>,
    clock: Arc<dyn Clock>,
}

impl<K: KeyService> ShipOrder<K> {
    /// Ships, opening addresses with `cipher`, with event times from `clock`.
    pub fn new(cipher: FieldCipher<K>, clock: Arc<dyn Clock>) -> Self {
        Self { cipher, clock }
    }
}

impl<K: KeyService> RecordHandler for ShipOrder<K> {
    fn event_types(&self) -> Registry {
        Registry::new().register::<PaymentCompleted>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let completed = event.into_typed::<PaymentCompleted>(&Location::root())?;
        let address: Option<ShippingAddress> = match &completed.data.shipping_address {
            Some(sealed) => {
                let order = personal::subject(&completed.metadata, &completed.data.order_id)?;
                Some(self.cipher.open_json(personal::SHIPPING_ADDRESS, order, sealed).await?)
            }
            None => None,
        };
        let country = address.as_ref().map(|a| a.country.as_str());
        Ok(vec![decisions::shipment(&completed, country, self.clock.now())?])
    }
}

/// ship-order, declared once: SQS in, events to the bus.
pub const FUNCTION: Function<Sqs, Bus> = Function {
    name: "ship-order",
    trigger: Sqs,
    outputs: Bus {
        sources: &[orders::events::SOURCE],
    },
    settings: &[FIELD_KEY],
    idempotent: true,
};

/// The key personal fields are sealed under: this function may open the shipping address alone.
pub const FIELD_KEY: Setting = Setting::key("FIELD_KEY_ID", "the KMS key personal fields are sealed under")
    .calls(&[field_crypto::DECRYPT])
    .fields(&[personal::SHIPPING_ADDRESS]);

/// The function's one composition root, on any platform.
pub fn build<P: FieldKeysPort>(platform: &P) -> Result<ShipOrder<P::Keys>, ConfigError> {
    Ok(ShipOrder::new(platform.field_cipher(&FIELD_KEY)?, platform.clock()))
}

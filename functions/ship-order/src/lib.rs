//! ship-order: on `PaymentCompleted`, the order ships with a carrier and a tracking number
//! derived from the order id (a re-run assigns the same), and `OrderShipped` is published.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::config::ConfigError;
use handler_kit::{Bus, Clock, Function, Handler, HandlerError, Platform, Trigger};
use orders::decisions;
use orders::events::PaymentCompleted;
use serde_json::Value;

/// Ships paid orders.
pub struct ShipOrder {
    clock: Arc<dyn Clock>,
}

impl ShipOrder {
    /// Ships with event times from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock }
    }
}

impl Handler for ShipOrder {
    fn event_types(&self) -> Registry {
        Registry::new().register::<PaymentCompleted>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let completed = event.into_typed::<PaymentCompleted>(&Location::root())?;
        Ok(vec![decisions::shipment(&completed, self.clock.now())?])
    }
}

/// ship-order, declared once: SQS in, events to the bus.
pub const FUNCTION: Function<Bus> = Function {
    name: "ship-order",
    trigger: Trigger::Sqs,
    schedule: None,
    outputs: Bus,
    settings: &[],
    idempotent: true,
};

/// The function's one composition root, on any platform.
pub fn build<P: Platform>(platform: &P) -> Result<ShipOrder, ConfigError> {
    Ok(ShipOrder::new(platform.clock()))
}

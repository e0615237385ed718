//! ship-order: on `PaymentCompleted`, the order ships with a carrier and a tracking number
//! derived from the order id (a re-run assigns the same), and `OrderShipped` is published.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::{Clock, Handler, HandlerError};
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

//! release-inventory: compensation. On `PaymentFailed`, gives back exactly the stock reserved
//! for the order (once, however often the event is delivered) and publishes `InventoryReleased`.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::{Clock, Handler, HandlerError};
use order_stores::Inventory;
use orders::decisions;
use orders::events::PaymentFailed;
use serde_json::Value;

/// Releases the stock of orders whose payment failed.
pub struct ReleaseInventory<I> {
    inventory: I,
    clock: Arc<dyn Clock>,
}

impl<I: Inventory> ReleaseInventory<I> {
    /// Releases into `inventory`, with event times from `clock`.
    pub fn new(inventory: I, clock: Arc<dyn Clock>) -> Self {
        Self { inventory, clock }
    }

    /// The inventory, e.g. to inspect an in-memory one.
    pub fn inventory(&self) -> &I {
        &self.inventory
    }
}

impl<I: Inventory> Handler for ReleaseInventory<I> {
    fn event_types(&self) -> Registry {
        Registry::new().register::<PaymentFailed>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let failed = event.into_typed::<PaymentFailed>(&Location::root())?;
        self.inventory
            .release(&failed.data.order_id, &failed.data.lines)
            .await
            .map_err(|e| HandlerError::classified(e.class, "inventory", e))?;
        Ok(vec![decisions::inventory_released(&failed, self.clock.now())?])
    }
}

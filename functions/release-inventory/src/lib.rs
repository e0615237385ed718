//! release-inventory: compensation. On `PaymentFailed`, gives back exactly the stock reserved
//! for the order (once, however often the event is delivered) and publishes `InventoryReleased`.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::config::ConfigError;
use handler_kit::trigger::Sqs;
use handler_kit::{Bus, Clock, Function, HandlerError, RecordHandler, Setting};
use order_stores::{Inventory, InventoryPort};
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

impl<I: Inventory> RecordHandler for ReleaseInventory<I> {
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

/// The table of stock per sku.
pub const INVENTORY_TABLE: Setting = Setting::table("INVENTORY_TABLE", "the DynamoDB table of stock per sku");

/// release-inventory, declared once: SQS in, events to the bus, stock in `INVENTORY_TABLE`.
pub const FUNCTION: Function<Sqs, Bus> = Function {
    name: "release-inventory",
    trigger: Sqs,
    outputs: Bus {
        sources: &[orders::events::SOURCE],
    },
    // One transaction of updates (the counts, the reservation's tombstone).
    settings: &[INVENTORY_TABLE.calls(&["dynamodb:UpdateItem"])],
    idempotent: true,
};

/// The function's one composition root, on any platform.
pub fn build<P: InventoryPort>(platform: &P) -> Result<ReleaseInventory<P::Inventory>, ConfigError> {
    let inventory = platform.inventory(&platform.setting(&INVENTORY_TABLE)?)?;
    Ok(ReleaseInventory::new(inventory, platform.clock()))
}

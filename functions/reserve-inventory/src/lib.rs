//! reserve-inventory: on `OrderPlaced`, reserves every line at once (no partial reservation)
//! and publishes `InventoryReserved`, or `OrderRejected` naming the skus out of stock. All lines
//! or none: one transaction on `INVENTORY_TABLE`.

use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::config::ConfigError;
use handler_kit::trigger::Sqs;
use handler_kit::{Bus, Clock, Function, HandlerError, RecordHandler, Setting};
use order_stores::{Inventory, InventoryPort};
use orders::decisions;
use orders::events::OrderPlaced;
use serde_json::Value;

/// Reserves stock for placed orders.
pub struct ReserveInventory<I> {
    inventory: I,
    clock: Arc<dyn Clock>,
}

impl<I: Inventory> ReserveInventory<I> {
    /// Reserves from `inventory`, with event times from `clock`.
    pub fn new(inventory: I, clock: Arc<dyn Clock>) -> Self {
        Self { inventory, clock }
    }

    /// The inventory, e.g. to inspect an in-memory one.
    pub fn inventory(&self) -> &I {
        &self.inventory
    }
}

impl<I: Inventory> RecordHandler for ReserveInventory<I> {
    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let placed = event.into_typed::<OrderPlaced>(&Location::root())?;
        let lines = decisions::stock_lines(&placed.data);
        let outcome = self
            .inventory
            .reserve(&placed.data.order_id, &lines)
            .await
            .map_err(|e| HandlerError::classified(e.class, "inventory", e))?;
        Ok(vec![decisions::inventory_decided(&placed, outcome, self.clock.now())?])
    }
}

/// The table of stock per sku.
pub const INVENTORY_TABLE: Setting = Setting::table("INVENTORY_TABLE", "the DynamoDB table of stock per sku");

/// reserve-inventory, declared once: SQS in, events to the bus, stock in `INVENTORY_TABLE`.
pub const FUNCTION: Function<Sqs, Bus> = Function {
    name: "reserve-inventory",
    trigger: Sqs,
    outputs: Bus {
        sources: &[orders::events::SOURCE],
    },
    // One transaction: an update per line, the reservation's conditional put.
    settings: &[INVENTORY_TABLE.calls(&["dynamodb:PutItem", "dynamodb:UpdateItem"])],
    idempotent: true,
};

/// The function's one composition root, on any platform.
pub fn build<P: InventoryPort>(platform: &P) -> Result<ReserveInventory<P::Inventory>, ConfigError> {
    let inventory = platform.inventory(&platform.setting(&INVENTORY_TABLE)?)?;
    Ok(ReserveInventory::new(inventory, platform.clock()))
}

//! The orders ports on each platform a function runs on: DynamoDB on AWS (feature
//! `dynamodb`), in-memory tables with the run's faults in the local cloud. A function's builder
//! asks for them by the setting naming the table; one declaration per port, beside the port.

use handler_kit::local::LocalTable;
use serde_json::Value;

use crate::inventory::{InMemoryInventory, Inventory};
use crate::views::{InMemoryOrderViews, OrderViews};

handler_kit::table_port! {
    /// A platform that gives the inventory port.
    pub trait InventoryPort {
        /// The adapter.
        type Inventory: Inventory;

        /// The inventory in `table`.
        fn inventory(&self, table: &str) -> Result<Self::Inventory, ConfigError>;
    }
    local: InMemoryInventory;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoInventory;

    /// A platform that gives the order-tracking views port.
    pub trait ViewsPort {
        /// The adapter.
        type Views: OrderViews;

        /// The views in `table`.
        fn views(&self, table: &str) -> Result<Self::Views, ConfigError>;
    }
    local: InMemoryOrderViews;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoOrderViews;
}

/// Stock is loaded as the deployed table holds it: `{"id": sku, "available": n}` per sku
/// (`reserved` optional, 0 by default).
impl LocalTable for InMemoryInventory {
    fn load(&self, items: &[Value]) -> Result<(), String> {
        let mut stock = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let field = |name: &str| item.get(name);
            let sku = field("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("item {index}: `id` (the sku) must be a string"))?;
            let count = |name: &str, default: Option<u64>| match field(name) {
                None => default.ok_or_else(|| format!("item {index} ({sku}): `{name}` is missing")),
                Some(value) => value
                    .as_u64()
                    .ok_or_else(|| format!("item {index} ({sku}): `{name}` must be a whole number, found {value}")),
            };
            stock.push((sku.to_owned(), count("available", None)?, count("reserved", Some(0))?));
        }
        for (sku, available, reserved) in stock {
            self.set_stock(&sku, available, reserved);
        }
        Ok(())
    }
}

impl LocalTable for InMemoryOrderViews {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn given_items_as_the_table_holds_them_then_the_stock_is_loaded_and_bad_ones_are_named() {
        let inventory = InMemoryInventory::default();
        let items = [
            serde_json::json!({"id": "SKU-MUG", "available": 5}),
            serde_json::json!({"id": "SKU-TEA", "available": 1, "reserved": 2}),
        ];
        inventory.load(&items).unwrap();
        let stock = inventory.stock("SKU-TEA").await.unwrap().unwrap();
        assert_eq!((stock.available, stock.reserved), (1, 2));
        let err = inventory
            .load(&[serde_json::json!({"id": "SKU-X", "available": "lots"})])
            .unwrap_err();
        assert_eq!(
            err,
            "item 0 (SKU-X): `available` must be a whole number, found \"lots\""
        );
    }
}

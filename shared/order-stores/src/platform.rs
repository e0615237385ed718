//! The orders ports on each platform a function runs on: DynamoDB on AWS (feature
//! `dynamodb`), in-memory tables with the run's faults in the local cloud. A function's builder
//! asks for them by the setting naming the table; one declaration per port, beside the port.

use std::sync::Arc;

use handler_kit::Platform;
use handler_kit::config::ConfigError;
use handler_kit::local::{LocalPlatform, LocalTable};
use ports::Faulty;
use serde_json::Value;

use crate::inventory::{InMemoryInventory, Inventory};
use crate::views::{InMemoryOrderViews, OrderViews};

/// A platform that gives the inventory port.
pub trait InventoryPort: Platform {
    /// The adapter.
    type Inventory: Inventory + 'static;

    /// The inventory in `table`.
    fn inventory(&self, table: &str) -> Result<Self::Inventory, ConfigError>;
}

/// A platform that gives the order-tracking views port.
pub trait ViewsPort: Platform {
    /// The adapter.
    type Views: OrderViews + 'static;

    /// The views in `table`.
    fn views(&self, table: &str) -> Result<Self::Views, ConfigError>;
}

impl InventoryPort for LocalPlatform {
    type Inventory = Faulty<Arc<InMemoryInventory>>;

    fn inventory(&self, table: &str) -> Result<Self::Inventory, ConfigError> {
        Ok(self.faulty(self.table(table, InMemoryInventory::default)?))
    }
}

impl ViewsPort for LocalPlatform {
    type Views = Faulty<Arc<InMemoryOrderViews>>;

    fn views(&self, table: &str) -> Result<Self::Views, ConfigError> {
        Ok(self.faulty(self.table(table, InMemoryOrderViews::default)?))
    }
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

#[cfg(feature = "dynamodb")]
mod aws {
    use handler_kit::lambda::AwsPlatform;

    use super::{ConfigError, InventoryPort, ViewsPort};
    use crate::dynamodb::{DynamoInventory, DynamoOrderViews};

    impl InventoryPort for AwsPlatform {
        type Inventory = DynamoInventory;

        fn inventory(&self, table: &str) -> Result<DynamoInventory, ConfigError> {
            Ok(DynamoInventory::new(
                aws_sdk_dynamodb::Client::new(self.sdk_config()),
                table,
            ))
        }
    }

    impl ViewsPort for AwsPlatform {
        type Views = DynamoOrderViews;

        fn views(&self, table: &str) -> Result<DynamoOrderViews, ConfigError> {
            Ok(DynamoOrderViews::new(
                aws_sdk_dynamodb::Client::new(self.sdk_config()),
                table,
            ))
        }
    }
}

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

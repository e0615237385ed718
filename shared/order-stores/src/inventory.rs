//! Stock per sku, with all-or-nothing reservations.
//!
//! Table (key `id`): one item per sku (`available`, `reserved`), and one item per reservation
//! (`id` = `reservation#<order id>`, with its lines), so a reservation is made and released
//! exactly once however often its event is delivered.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use orders::decisions::StockOutcome;
use orders::events::StockLine;

use crate::error::StoreFailure;

/// Stock of one sku.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stock {
    /// Free to reserve.
    pub available: u64,
    /// Held for orders not yet paid or released.
    pub reserved: u64,
}

/// Stock per sku.
pub trait Inventory: Send + Sync {
    /// Reserves every line for `order_id`, or none: out of stock names the skus short of stock.
    /// Reserving an order already reserved answers `Reserved` and changes nothing.
    fn reserve(
        &self,
        order_id: &str,
        lines: &[StockLine],
    ) -> impl Future<Output = Result<StockOutcome, StoreFailure>> + Send;

    /// Gives back the lines of `order_id`'s reservation. Releasing an order with no reservation
    /// (already released) changes nothing.
    fn release(&self, order_id: &str, lines: &[StockLine]) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// The stock of `sku`, if it is stocked.
    fn stock(&self, sku: &str) -> impl Future<Output = Result<Option<Stock>, StoreFailure>> + Send;
}

fn reservation_id(order_id: &str) -> String {
    format!("reservation#{order_id}")
}

/// Inventory in memory, for tests and the local cloud.
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<(HashMap<String, Stock>, HashSet<String>)>,
}

impl InMemoryInventory {
    /// Inventory with `available` units of each sku.
    pub fn with_stock<'a>(stock: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let skus = stock
            .into_iter()
            .map(|(sku, available)| (sku.to_owned(), Stock { available, reserved: 0 }))
            .collect();
        Self {
            state: Mutex::new((skus, HashSet::new())),
        }
    }
}

impl Inventory for InMemoryInventory {
    async fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        if reservations.contains(order_id) {
            return Ok(StockOutcome::Reserved);
        }
        let short: Vec<String> = lines
            .iter()
            .filter(|l| skus.get(&l.sku).is_none_or(|s| s.available < u64::from(l.quantity)))
            .map(|l| l.sku.clone())
            .collect();
        if !short.is_empty() {
            return Ok(StockOutcome::OutOfStock { skus: short });
        }
        for line in lines {
            if let Some(stock) = skus.get_mut(&line.sku) {
                stock.available -= u64::from(line.quantity);
                stock.reserved += u64::from(line.quantity);
            }
        }
        reservations.insert(order_id.to_owned());
        Ok(StockOutcome::Reserved)
    }

    async fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        if !reservations.remove(order_id) {
            return Ok(());
        }
        for line in lines {
            let stock = skus.entry(line.sku.clone()).or_default();
            stock.available += u64::from(line.quantity);
            stock.reserved = stock.reserved.saturating_sub(u64::from(line.quantity));
        }
        Ok(())
    }

    async fn stock(&self, sku: &str) -> Result<Option<Stock>, StoreFailure> {
        Ok(self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .get(sku)
            .copied())
    }
}

/// Inventory in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoInventory {
    client: Client,
    table: String,
}

impl DynamoInventory {
    /// Inventory in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Sets the available stock of `sku` (seeding, restocking).
    pub async fn restock(&self, sku: &str, available: u64) -> Result<(), StoreFailure> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(sku.to_owned()))
            .item("available", number(available))
            .item("reserved", number(0))
            .send()
            .await
            .map_err(|e| StoreFailure::sdk("restock", &e))?;
        Ok(())
    }

    /// One conditional update per line moving `quantity` between the counters, in one transaction
    /// with the reservation item's put or delete.
    async fn transact(
        &self,
        operation: &'static str,
        lines: &[StockLine],
        reservation: TransactWriteItem,
    ) -> Result<(), Refused> {
        let (from, to) = if operation == "reserve" {
            ("available", "reserved")
        } else {
            ("reserved", "available")
        };
        let mut items = Vec::with_capacity(lines.len() + 1);
        for line in lines {
            let update = Update::builder()
                .table_name(&self.table)
                .key("id", AttributeValue::S(line.sku.clone()))
                .update_expression("SET #from = #from - :q, #to = if_not_exists(#to, :zero) + :q")
                .condition_expression("#from >= :q")
                .expression_attribute_names("#from", from)
                .expression_attribute_names("#to", to)
                .expression_attribute_values(":q", number(u64::from(line.quantity)))
                .expression_attribute_values(":zero", number(0))
                .build()
                .map_err(|e| Refused::Failed(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        items.push(reservation);
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Err(Refused::Cancelled(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().map(str::to_owned))
                        .collect(),
                )),
                _ => Err(Refused::Failed(
                    aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string(),
                )),
            },
        }
    }
}

/// Why a transaction did not commit.
enum Refused {
    /// Cancelled: one code (or none) per item, in order.
    Cancelled(Vec<Option<String>>),
    /// Not answered, or refused as a whole.
    Failed(String),
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn failed_condition(code: Option<&Option<String>>) -> bool {
    code.and_then(Option::as_deref) == Some("ConditionalCheckFailed")
}

impl Inventory for DynamoInventory {
    async fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure> {
        let lines_json = serde_json::to_string(lines).unwrap_or_default();
        let put = Put::builder()
            .table_name(&self.table)
            .item("id", AttributeValue::S(reservation_id(order_id)))
            .item("lines", AttributeValue::S(lines_json))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|e| StoreFailure::permanent("reserve", e.to_string()))?;
        match self
            .transact("reserve", lines, TransactWriteItem::builder().put(put).build())
            .await
        {
            Ok(()) => Ok(StockOutcome::Reserved),
            Err(Refused::Cancelled(reasons)) if failed_condition(reasons.get(lines.len())) => {
                Ok(StockOutcome::Reserved)
            }
            Err(Refused::Cancelled(reasons)) => {
                let skus: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| failed_condition(reasons.get(*i)))
                    .map(|(_, l)| l.sku.clone())
                    .collect();
                if skus.is_empty() {
                    // Cancelled for another reason (a conflicting transaction): try again later.
                    Err(StoreFailure::transient(
                        "reserve",
                        format!("transaction cancelled: {reasons:?}"),
                    ))
                } else {
                    Ok(StockOutcome::OutOfStock { skus })
                }
            }
            Err(Refused::Failed(message)) => Err(StoreFailure::transient("reserve", message)),
        }
    }

    async fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("id", AttributeValue::S(reservation_id(order_id)))
            .condition_expression("attribute_exists(id)")
            .build()
            .map_err(|e| StoreFailure::permanent("release", e.to_string()))?;
        match self
            .transact("release", lines, TransactWriteItem::builder().delete(delete).build())
            .await
        {
            Ok(()) => Ok(()),
            // No reservation: it was released before (or never made). Nothing to give back.
            Err(Refused::Cancelled(reasons)) if failed_condition(reasons.get(lines.len())) => Ok(()),
            Err(Refused::Cancelled(reasons))
                if lines.iter().enumerate().any(|(i, _)| failed_condition(reasons.get(i))) =>
            {
                Err(StoreFailure::permanent(
                    "release",
                    format!(
                        "order {order_id}'s reservation exists but the reserved counts are lower than its lines: {reasons:?}"
                    ),
                ))
            }
            Err(Refused::Cancelled(reasons)) => Err(StoreFailure::transient(
                "release",
                format!("transaction cancelled: {reasons:?}"),
            )),
            Err(Refused::Failed(message)) => Err(StoreFailure::transient("release", message)),
        }
    }

    async fn stock(&self, sku: &str) -> Result<Option<Stock>, StoreFailure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(sku.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreFailure::sdk("stock", &e))?;
        let read = |item: &HashMap<String, AttributeValue>, name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok(output.item().map(|item| Stock {
            available: read(item, "available"),
            reserved: read(item, "reserved"),
        }))
    }
}

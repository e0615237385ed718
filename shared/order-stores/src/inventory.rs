//! Stock per sku, with all-or-nothing reservations.
//!
//! Table (key `id`): one item per sku (`available`, `reserved`), and one item per reservation
//! (`id` = `reservation#<order id>`, with its lines and its `state`, `reserved` or `released`),
//! so a reservation is made and released exactly once however often its event is delivered.
//!
//! Releasing keeps the reservation item as a tombstone (`state` = `released`) rather than
//! deleting it: an `OrderPlaced` redriven from the parking queue or a dead-letter queue after
//! its idempotency record lapsed would otherwise reserve stock again that nothing would ever
//! release. Reservation items written before tombstones have no `state` and count as reserved.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
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
    /// Reserving an order already reserved, or reserved and since released, answers `Reserved`
    /// and changes nothing.
    fn reserve(
        &self,
        order_id: &str,
        lines: &[StockLine],
    ) -> impl Future<Output = Result<StockOutcome, StoreFailure>> + Send;

    /// Gives back the lines of `order_id`'s reservation and marks it released. Releasing an
    /// order never reserved, or already released, changes nothing.
    fn release(&self, order_id: &str, lines: &[StockLine]) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// Adds `added` units to what is available of `sku` (stocking it if new); never touches
    /// what is reserved, so reservations made before are still released in full.
    fn restock(&self, sku: &str, added: u64) -> impl Future<Output = Result<(), StoreFailure>> + Send;

    /// The stock of `sku`, if it is stocked.
    fn stock(&self, sku: &str) -> impl Future<Output = Result<Option<Stock>, StoreFailure>> + Send;
}

fn reservation_id(order_id: &str) -> String {
    format!("reservation#{order_id}")
}

/// The `state` of a reservation item that holds stock.
const RESERVED: &str = "reserved";
/// The `state` of a reservation item whose stock was given back: a tombstone.
const RELEASED: &str = "released";

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reservation {
    /// Its stock is held.
    Reserved,
    /// Its stock was given back; kept so the order is never reserved again.
    Released,
}

/// Inventory in memory, for tests and the local cloud.
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<(HashMap<String, Stock>, HashMap<String, Reservation>)>,
}

impl InMemoryInventory {
    /// Inventory with `available` units of each sku.
    pub fn with_stock<'a>(stock: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let skus = stock
            .into_iter()
            .map(|(sku, available)| (sku.to_owned(), Stock { available, reserved: 0 }))
            .collect();
        Self {
            state: Mutex::new((skus, HashMap::new())),
        }
    }
}

impl Inventory for InMemoryInventory {
    async fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        if reservations.contains_key(order_id) {
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
        reservations.insert(order_id.to_owned(), Reservation::Reserved);
        Ok(StockOutcome::Reserved)
    }

    async fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        match reservations.get_mut(order_id) {
            Some(reservation @ Reservation::Reserved) => *reservation = Reservation::Released,
            Some(Reservation::Released) | None => return Ok(()),
        }
        for line in lines {
            let stock = skus.entry(line.sku.clone()).or_default();
            stock.available += u64::from(line.quantity);
            stock.reserved = stock.reserved.saturating_sub(u64::from(line.quantity));
        }
        Ok(())
    }

    async fn restock(&self, sku: &str, added: u64) -> Result<(), StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let stock = state.0.entry(sku.to_owned()).or_default();
        stock.available = stock
            .available
            .checked_add(added)
            .ok_or_else(|| StoreFailure::permanent("restock", format!("{sku}: available would overflow")))?;
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

    /// One conditional update per line moving `quantity` between the counters, in one transaction
    /// with the reservation item's put (reserve) or update to a tombstone (release).
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
            .item("state", AttributeValue::S(RESERVED.to_owned()))
            // Reserved before, released or not: the tombstone answers as the first reservation did.
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
        // Held (items from before tombstones have no state) becomes released, at most once: a
        // concurrent second release fails this condition and gives nothing back.
        let tombstone = Update::builder()
            .table_name(&self.table)
            .key("id", AttributeValue::S(reservation_id(order_id)))
            .update_expression("SET #state = :released")
            .condition_expression("attribute_exists(id) AND (attribute_not_exists(#state) OR #state = :reserved)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":released", AttributeValue::S(RELEASED.to_owned()))
            .expression_attribute_values(":reserved", AttributeValue::S(RESERVED.to_owned()))
            .build()
            .map_err(|e| StoreFailure::permanent("release", e.to_string()))?;
        match self
            .transact("release", lines, TransactWriteItem::builder().update(tombstone).build())
            .await
        {
            Ok(()) => Ok(()),
            // No reservation held: released before (or never made). Nothing to give back.
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

    async fn restock(&self, sku: &str, added: u64) -> Result<(), StoreFailure> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(sku.to_owned()))
            .update_expression("SET #reserved = if_not_exists(#reserved, :zero) ADD #available :added")
            .expression_attribute_names("#reserved", "reserved")
            .expression_attribute_names("#available", "available")
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":added", number(added))
            .send()
            .await
            .map_err(|e| StoreFailure::sdk("restock", &e))?;
        Ok(())
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

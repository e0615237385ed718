//! The DynamoDB adapters of the orders ports (feature `dynamodb`).
//!
//! Inventory table (key `id`): one item per sku (`available`, `reserved`), and one item per
//! reservation (`id` = `reservation#<order id>`, its lines and its `state`). Views table (key
//! `orderId`): `revision` (N), `sequence` (N), `status` (S) and `view` (S, the view as JSON).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use handler_kit::table::dynamodb::{Item, Refused, failure, refused};
use orders::decisions::StockOutcome;
use orders::events::StockLine;
use orders::lifecycle::OrderView;

use crate::error::StoreFailure;
use crate::inventory::{Inventory, Stock};
use crate::views::{OrderViews, Saved};

fn reservation_id(order_id: &str) -> String {
    format!("reservation#{order_id}")
}

/// The `state` of a reservation item that holds stock.
const RESERVED: &str = "reserved";
/// The `state` of a reservation item whose stock was given back: a tombstone.
const RELEASED: &str = "released";

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
                .map_err(|e| Refused::Failed(StoreFailure::permanent(operation, e.to_string())))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        items.push(reservation);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(drop)
            .map_err(|err| refused(operation, &err))
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
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
            Err(Refused::Cancelled(reasons)) if reasons.condition_failed(lines.len()) => Ok(StockOutcome::Reserved),
            Err(Refused::Cancelled(reasons)) => {
                let skus: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| reasons.condition_failed(*i))
                    .map(|(_, l)| l.sku.clone())
                    .collect();
                if skus.is_empty() {
                    // Cancelled for another reason (a conflicting transaction, throttling: try
                    // again later; an item DynamoDB refuses: park).
                    Err(reasons.failure("reserve"))
                } else {
                    Ok(StockOutcome::OutOfStock { skus })
                }
            }
            Err(Refused::Failed(failed)) => Err(failed),
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
            Err(Refused::Cancelled(reasons)) if reasons.condition_failed(lines.len()) => Ok(()),
            Err(Refused::Cancelled(reasons)) if (0..lines.len()).any(|i| reasons.condition_failed(i)) => {
                Err(StoreFailure::permanent(
                    "release",
                    format!(
                        "order {order_id}'s reservation exists but the reserved counts are lower than its lines: {:?}",
                        reasons.codes
                    ),
                ))
            }
            Err(Refused::Cancelled(reasons)) => Err(reasons.failure("release")),
            Err(Refused::Failed(failed)) => Err(failed),
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
            .map_err(|e| failure("restock", &e))?;
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
            .map_err(|e| failure("stock", &e))?;
        let read = |item: &Item, name: &str| {
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

/// Views in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoOrderViews {
    client: Client,
    table: String,
}

impl DynamoOrderViews {
    /// Views in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// The view an item holds.
fn view_of(item: &Item, operation: &'static str) -> Result<OrderView, StoreFailure> {
    let order_id = item
        .get("orderId")
        .and_then(|v| v.as_s().ok())
        .map_or("?", String::as_str);
    let text = item
        .get("view")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreFailure::permanent(operation, format!("order {order_id}: item has no `view` string")))?;
    serde_json::from_str(text)
        .map_err(|e| StoreFailure::permanent(operation, format!("order {order_id}: stored view unreadable: {e}")))
}

impl OrderViews for DynamoOrderViews {
    async fn all(&self) -> Result<Vec<OrderView>, StoreFailure> {
        // Every view is read (to compare with a rebuild), so a scan costs what it must.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| failure("read all views", &e))?;
        items.iter().map(|item| view_of(item, "read all views")).collect()
    }

    async fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("orderId", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| failure("get view", &e))?;
        output.item().map(|item| view_of(item, "get view")).transpose()
    }

    async fn save_if_unchanged(&self, view: &OrderView, read: Option<usize>) -> Result<Saved, StoreFailure> {
        let text = serde_json::to_string(view).map_err(|e| StoreFailure::permanent("save view", e.to_string()))?;
        let status = serde_json::to_value(view.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (condition, read_revision) = match read {
            None => ("attribute_not_exists(orderId)", None),
            Some(revision) => ("#revision = :read", Some(AttributeValue::N(revision.to_string()))),
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("orderId", AttributeValue::S(view.order_id.clone()))
            .item("revision", AttributeValue::N(view.timeline.len().to_string()))
            .item("sequence", AttributeValue::N(view.sequence.to_string()))
            .item("status", AttributeValue::S(status))
            .item("customerId", AttributeValue::S(view.customer_id.clone()))
            .item("view", AttributeValue::S(text))
            .condition_expression(condition)
            .set_expression_attribute_names(
                read_revision
                    .is_some()
                    .then(|| [("#revision".to_owned(), "revision".to_owned())].into()),
            )
            .set_expression_attribute_values(read_revision.map(|n| [(":read".to_owned(), n)].into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Saved::Written),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(Saved::Conflict)
            }
            Err(err) => Err(failure("save view", &err)),
        }
    }
}

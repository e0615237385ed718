//! The order-tracking read model: one item per order, replaced only by a view of a newer
//! sequence (a conditional put), so duplicates and late events cannot move it backwards even
//! when two projections race.
//!
//! Table (key `orderId`): `sequence` (N), `status` (S) and `view` (S, the view as JSON).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use orders::lifecycle::OrderView;

use crate::error::StoreFailure;

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The view was written.
    Written,
    /// A view of the same or a newer sequence was already there; nothing was written.
    Stale,
}

/// Order-tracking views.
pub trait OrderViews: Send + Sync {
    /// The view of `order_id`, if any event of it was applied.
    fn get(&self, order_id: &str) -> impl Future<Output = Result<Option<OrderView>, StoreFailure>> + Send;

    /// Writes `view` unless the stored one is as new or newer.
    fn save_if_newer(&self, view: &OrderView) -> impl Future<Output = Result<Saved, StoreFailure>> + Send;
}

/// Views in memory.
#[derive(Debug, Default)]
pub struct InMemoryOrderViews {
    views: Mutex<HashMap<String, OrderView>>,
}

impl InMemoryOrderViews {
    /// No views.
    pub fn new() -> Self {
        Self::default()
    }
}

impl OrderViews for InMemoryOrderViews {
    async fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure> {
        Ok(self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order_id)
            .cloned())
    }

    async fn save_if_newer(&self, view: &OrderView) -> Result<Saved, StoreFailure> {
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        match views.get(&view.order_id) {
            Some(stored) if stored.sequence >= view.sequence => Ok(Saved::Stale),
            _ => {
                views.insert(view.order_id.clone(), view.clone());
                Ok(Saved::Written)
            }
        }
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

impl OrderViews for DynamoOrderViews {
    async fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("orderId", AttributeValue::S(order_id.to_owned()))
            .send()
            .await
            .map_err(|e| StoreFailure::sdk("get view", &e))?;
        let Some(item) = output.item() else { return Ok(None) };
        let text = item.get("view").and_then(|v| v.as_s().ok()).ok_or_else(|| {
            StoreFailure::permanent("get view", format!("order {order_id}: item has no `view` string"))
        })?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| StoreFailure::permanent("get view", format!("order {order_id}: stored view unreadable: {e}")))
    }

    async fn save_if_newer(&self, view: &OrderView) -> Result<Saved, StoreFailure> {
        let text = serde_json::to_string(view).map_err(|e| StoreFailure::permanent("save view", e.to_string()))?;
        let status = serde_json::to_value(view.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("orderId", AttributeValue::S(view.order_id.clone()))
            .item("sequence", AttributeValue::N(view.sequence.to_string()))
            .item("status", AttributeValue::S(status))
            .item("customerId", AttributeValue::S(view.customer_id.clone()))
            .item("view", AttributeValue::S(text))
            .condition_expression("attribute_not_exists(orderId) OR #sequence < :sequence")
            .expression_attribute_names("#sequence", "sequence")
            .expression_attribute_values(":sequence", AttributeValue::N(view.sequence.to_string()))
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
                Ok(Saved::Stale)
            }
            Err(err) => Err(StoreFailure::sdk("save view", &err)),
        }
    }
}

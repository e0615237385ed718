//! The order-tracking read model: one item per order, replaced only if it has not changed since
//! it was read (a conditional put on its revision, the number of steps in its timeline). Two projections racing on one order cannot
//! lose each other's events: the loser reads again and re-applies. That only newer events move
//! the view is the domain's rule (`OrderView::apply`).
//!
//! Table (key `orderId`): `revision` (N), `sequence` (N), `status` (S) and `view` (S, the view as JSON).

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
    /// The stored view changed since it was read; nothing was written: read and apply again.
    Conflict,
}

/// Order-tracking views.
pub trait OrderViews: Send + Sync {
    /// The view of `order_id`, if any event of it was applied.
    fn get(&self, order_id: &str) -> impl Future<Output = Result<Option<OrderView>, StoreFailure>> + Send;

    /// Writes `view` if the stored view is still the one read: at revision `read` (its timeline's
    /// length; `None`: absent).
    fn save_if_unchanged(
        &self,
        view: &OrderView,
        read: Option<usize>,
    ) -> impl Future<Output = Result<Saved, StoreFailure>> + Send;
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

    async fn save_if_unchanged(&self, view: &OrderView, read: Option<usize>) -> Result<Saved, StoreFailure> {
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        if views.get(&view.order_id).map(|stored| stored.timeline.len()) != read {
            return Ok(Saved::Conflict);
        }
        views.insert(view.order_id.clone(), view.clone());
        Ok(Saved::Written)
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
            .consistent_read(true)
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
            Err(err) => Err(StoreFailure::sdk("save view", &err)),
        }
    }
}

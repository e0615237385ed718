//! The DynamoDB adapters of the sensors ports (feature `dynamodb`).
//!
//! **Catalogue table** (key `sensorId`, S): `sensor` (S), the sensor as its catalogue item in
//! JSON, exactly an object of a catalogue file. One JSON attribute rather than one attribute per
//! field: the item is read back with `Sensor::from_item`, so the file, the local cloud and the
//! table are validated by one reader, and nothing ever filters on a band. Edit it through a
//! catalogue file and `sensor-catalogue`; an item that no longer reads is named among the
//! catalogue's unreadable items, with why, and parks only its own sensor's records.
//!
//! **Windows table** and **alerts table** (partition key `sensorId`, S; sort key `item`, S:
//! `stream#<metric>`, `window#<metric>#<start>` or `period#<metric>#<start>`, starts in RFC 3339
//! UTC to the second, so a metric's windows sort by time and a Query reads the newest first):
//! `state` (S, the domain's state as JSON), `sequence` (N, the state's sequence, what saves
//! are conditional on), and
//! - windows and periods: `expiresAt` (N, epoch seconds; the table's TTL attribute): a
//!   window's end, or a period's latest window's start, plus [`RETENTION`];
//! - periods: `active` (BOOL), whether the period's alert is triggered and not resolved, what
//!   `open_alerts` filters on;
//! - streams with a due time (open windows, or events left in their outbox): `dueShard` (S,
//!   one of [`crate::DUE_SHARDS`] by a hash of sensor and metric) and `dueAt` (N, epoch ms),
//!   the keys of the sparse, keys-only index [`crate::DUE_INDEX`] the tick queries.
//!
//! The prefixes do not overlap, so one table can hold both; the local cloud keeps one kind of
//! state per table name, so the template gives each its own.
//!
//! Expired items are still read (DynamoDB deletes them up to days late): a read must see what
//! a conditional write will, or a window recreated over an expired one would conflict forever.
//!
//! Costs: the sensors of a batch, one BatchGetItem per 100 ids; every sensor, one Scan per
//! 1 MB; putting sensors, one BatchWriteItem per 25. A load of windows or periods is one
//! BatchGetItem per 100 keys (consistent reads); a save one TransactWriteItems per stream
//! (its states all or none; at most [`crate::MAX_TRANSACTION_ITEMS`] items and
//! [`crate::MAX_TRANSACTION_BYTES`]), [`TRANSACTIONS_AT_ONCE`] at a time. The due streams: one
//! Query per shard of the index, side by side (a shard that fails is skipped this time). A
//! sensor's status: one Query for its streams, then one per metric for its latest closed window
//! (concurrently), and one Query for its open alerts. Unprocessed keys and items of batch
//! calls are sent again with backoff.

mod alerts;
mod catalogue;
mod windows;

use std::collections::HashMap;
use std::ops::ControlFlow;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use handler_kit::table::dynamodb::{Item, Refused, batch_get, batch_write, failure, refused};
use serde::de::DeserializeOwned;

pub use alerts::DynamoAlertStore;
pub use catalogue::DynamoSensorCatalogue;
pub use windows::DynamoWindowStore;

pub use crate::RETENTION;
use crate::error::StoreFailure;
use crate::save::{Plan, Saved};

const SENSOR_ID: &str = "sensorId";
const ITEM: &str = "item";
const STATE: &str = "state";
const SEQUENCE: &str = "sequence";
const EXPIRES_AT: &str = "expiresAt";
const ACTIVE: &str = "active";

/// The key of the state `item` of `sensor_id`.
fn key(sensor_id: &str, item: String) -> Item {
    HashMap::from([
        (SENSOR_ID.to_owned(), AttributeValue::S(sensor_id.to_owned())),
        (ITEM.to_owned(), AttributeValue::S(item)),
    ])
}

/// A put of `entry` (its state as JSON, its sequence), on condition that the stored item's
/// sequence is the one before (absent for 1), with `more` attributes.
fn conditional_put(
    table: &str,
    operation: &'static str,
    entry: &crate::save::Entry<'_>,
    more: impl IntoIterator<Item = (&'static str, AttributeValue)>,
) -> Result<TransactWriteItem, StoreFailure> {
    // Checked by `save::plan`: every entry planned has an item.
    let item = entry.item.clone().unwrap_or_default();
    let mut put = Put::builder()
        .table_name(table)
        .set_item(Some(key(entry.sensor_id, item)))
        .item(STATE, AttributeValue::S(entry.json.clone()))
        .item(SEQUENCE, AttributeValue::N(entry.sequence.to_string()))
        .expression_attribute_names("#sequence", SEQUENCE);
    for (name, value) in more {
        put = put.item(name, value);
    }
    put = match entry.sequence.checked_sub(1).filter(|previous| *previous > 0) {
        None => put.condition_expression("attribute_not_exists(#sequence)"),
        Some(previous) => put
            .condition_expression("#sequence = :previous")
            .expression_attribute_values(":previous", AttributeValue::N(previous.to_string())),
    };
    let put = put
        .build()
        .map_err(|e| StoreFailure::permanent(operation, e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// How many transactions a save sends at once by default: DynamoDB isolates transactions item
/// by item, so streams (disjoint items) are written side by side.
pub const TRANSACTIONS_AT_ONCE: usize = 16;

/// Writes `puts` (one per entry) as `plan` says: one transaction per stream, `at_once` of them
/// side by side.
async fn transact(
    client: &Client,
    operation: &'static str,
    puts: Vec<TransactWriteItem>,
    plan: Plan,
    at_once: usize,
) -> Saved {
    use futures_util::StreamExt as _;
    let mut puts: Vec<Option<TransactWriteItem>> = puts.into_iter().map(Some).collect();
    let sends: Vec<_> = plan
        .streams
        .into_iter()
        .map(|(stream, indexes)| {
            let items: Vec<TransactWriteItem> = indexes.iter().filter_map(|&i| puts[i].take()).collect();
            async move {
                let result = client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                (stream, result)
            }
        })
        .collect();
    let results: Vec<_> = futures_util::stream::iter(sends)
        .buffer_unordered(at_once.max(1))
        .collect()
        .await;
    let mut saved = Saved {
        conflicts: Vec::new(),
        failed: plan.refused,
    };
    for (stream, result) in results {
        let Err(err) = result else { continue };
        match refused(operation, &err) {
            // Only other writers (a failed condition, a concurrent transaction): read again and
            // apply again.
            Refused::Cancelled(reasons) if reasons.raced() => saved.conflicts.push(stream),
            Refused::Cancelled(reasons) => {
                saved.failed.insert(stream, reasons.failure(operation));
            }
            Refused::Failed(failed) => {
                saved.failed.insert(stream, failed);
            }
        }
    }
    saved.conflicts.sort();
    saved
}

/// The state an item holds, with the item's `sequence` (what saves are conditional on).
fn state_of<T: DeserializeOwned>(
    operation: &'static str,
    table: &str,
    item: &Item,
    sequence_of: impl FnOnce(&mut T) -> &mut u64,
) -> Result<T, StoreFailure> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
    let named = || {
        format!(
            "item {} of sensor {} in table {table}",
            text(ITEM).map_or("?", |s| s),
            text(SENSOR_ID).map_or("?", |s| s)
        )
    };
    let json =
        text(STATE).ok_or_else(|| StoreFailure::permanent(operation, format!("{}: no `{STATE}` string", named())))?;
    let sequence = item
        .get(SEQUENCE)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| StoreFailure::permanent(operation, format!("{}: no whole `{SEQUENCE}` number", named())))?;
    let mut state: T = serde_json::from_str(json)
        .map_err(|e| StoreFailure::permanent(operation, format!("{}: stored state unreadable: {e}", named())))?;
    *sequence_of(&mut state) = sequence;
    Ok(state)
}

/// A Query of the items of one sensor whose sort key begins with `prefix`.
#[derive(Debug, Clone, Copy)]
struct Query<'a> {
    operation: &'static str,
    sensor_id: &'a str,
    prefix: &'a str,
    /// Newest (greatest sort key) first.
    newest_first: bool,
    /// Items per page (none: DynamoDB's 1 MB pages).
    page: Option<i32>,
    /// Only periods whose alert is active.
    active_only: bool,
}

impl Query<'_> {
    /// Sends the query page by page, giving each item to `visit` until it breaks or the items
    /// run out.
    async fn run(
        self,
        client: &Client,
        table: &str,
        mut visit: impl FnMut(&Item) -> Result<ControlFlow<()>, StoreFailure> + Send,
    ) -> Result<(), StoreFailure> {
        let mut request = client
            .query()
            .table_name(table)
            .key_condition_expression("#sensorId = :sensorId AND begins_with(#item, :prefix)")
            .expression_attribute_names("#sensorId", SENSOR_ID)
            .expression_attribute_names("#item", ITEM)
            .expression_attribute_values(":sensorId", AttributeValue::S(self.sensor_id.to_owned()))
            .expression_attribute_values(":prefix", AttributeValue::S(self.prefix.to_owned()))
            .scan_index_forward(!self.newest_first)
            .set_limit(self.page);
        if self.active_only {
            request = request
                .filter_expression("#active = :active")
                .expression_attribute_names("#active", ACTIVE)
                .expression_attribute_values(":active", AttributeValue::Bool(true));
        }
        // Pages are read as the items are visited: none after the one `visit` breaks in.
        let mut items = request.into_paginator().items().send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| failure(self.operation, &e))?;
            if visit(&item)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

//! Streams and windows in a DynamoDB table.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use futures_util::future::{join_all, try_join_all};
use handler_kit::table::dynamodb::failure;
use sensors::windows::{StreamKey, StreamState, WindowKey, WindowState};

use super::{EXPIRES_AT, ITEM, Query, RETENTION, SENSOR_ID, batch_get, conditional_put, key, state_of, transact};
use crate::error::StoreFailure;
use crate::keys;
use crate::save::{self, Saved};
use crate::windows::{Due, WindowStore, entries};

use crate::{DUE_INDEX, DUE_SHARDS};

const DUE_SHARD: &str = "dueShard";
const DUE_AT: &str = "dueAt";

/// The shard of `stream` in [`DUE_INDEX`]: FNV-1a of sensor and metric, so every writer and
/// reader agrees without configuration.
fn due_shard(sensor_id: &str, metric: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in sensor_id.bytes().chain([b'#']).chain(metric.bytes()) {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash % DUE_SHARDS
}

/// Streams and windows in a DynamoDB table (see [`crate::dynamodb`] for its items).
#[derive(Debug, Clone)]
pub struct DynamoWindowStore {
    client: Client,
    table: String,
    transactions_at_once: usize,
}

impl DynamoWindowStore {
    /// The streams and windows in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            transactions_at_once: super::TRANSACTIONS_AT_ONCE,
        }
    }

    /// The same store, sending at most `n` of a save's transactions at once. moto (5.2.5)
    /// undoes a cancelled transaction by restoring a copy of the whole table taken when it
    /// began (`transact_write_items` in `moto/dynamodb/models/__init__.py`), which also
    /// undoes transactions that went through meanwhile: on moto, send one at a time.
    /// DynamoDB isolates transactions item by item and needs no such limit.
    #[must_use]
    pub fn with_transactions_at_once(mut self, n: usize) -> Self {
        self.transactions_at_once = n.max(1);
        self
    }

    /// The latest closed window of `stream`, reading its windows newest first a page at a time:
    /// the windows newer than it are open, and the stream lists every open one, so the first
    /// page (one more than the open windows) holds it; later pages are read only if the stream
    /// item was behind.
    async fn last_closed(&self, stream: &StreamState) -> Result<Option<WindowState>, StoreFailure> {
        const OPERATION: &str = "read the last closed window";
        let prefix = keys::windows_of(&stream.metric);
        let page = i32::try_from(stream.open_windows.len() + 1).unwrap_or(i32::MAX);
        let query = Query {
            operation: OPERATION,
            sensor_id: &stream.sensor_id,
            prefix: &prefix,
            newest_first: true,
            page: Some(page),
            active_only: false,
        };
        let mut last = None;
        query
            .run(&self.client, &self.table, |item| {
                let window: WindowState = state_of(OPERATION, &self.table, item, window_sequence)?;
                if window.closed {
                    last = Some(window);
                    return Ok(ControlFlow::Break(()));
                }
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(last)
    }
}

impl DynamoWindowStore {
    /// The streams of one shard of [`DUE_INDEX`] due at `now`.
    async fn due_in(
        &self,
        operation: &'static str,
        shard: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<StreamKey>, StoreFailure> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("#shard = :shard AND #dueAt <= :now")
            .expression_attribute_names("#shard", DUE_SHARD)
            .expression_attribute_names("#dueAt", DUE_AT)
            .expression_attribute_values(":shard", AttributeValue::S(shard.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp_millis().to_string()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| failure(operation, &e))?;
        let streams = items.iter().filter_map(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            let metric = text(ITEM)?.strip_prefix(keys::STREAM)?;
            Some(StreamKey {
                sensor_id: text(SENSOR_ID)?.clone(),
                metric: metric.to_owned(),
            })
        });
        Ok(streams.collect())
    }
}

fn stream_sequence(state: &mut StreamState) -> &mut u64 {
    &mut state.sequence
}

fn window_sequence(state: &mut WindowState) -> &mut u64 {
    &mut state.sequence
}

impl WindowStore for DynamoWindowStore {
    async fn load(
        &self,
        streams: &[StreamKey],
        windows: &[WindowKey],
    ) -> Result<(Vec<StreamState>, Vec<WindowState>), StoreFailure> {
        const OPERATION: &str = "load windows";
        let streams = streams
            .iter()
            .filter_map(|s| Some((s.sensor_id.as_str(), keys::stream(&s.sensor_id, &s.metric)?)));
        let windows = windows
            .iter()
            .filter_map(|w| Some((w.sensor_id.as_str(), keys::window(&w.sensor_id, &w.metric, w.start)?)));
        let wanted: BTreeSet<(&str, String)> = streams.chain(windows).collect();
        if wanted.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let keys = wanted
            .into_iter()
            .map(|(sensor_id, item)| key(sensor_id, item))
            .collect();
        let items = batch_get(&self.client, &self.table, OPERATION, keys, true).await?;
        let (mut streams, mut windows) = (Vec::new(), Vec::new());
        for item in &items {
            let sort_key = item.get(ITEM).and_then(|v| v.as_s().ok()).map_or("", String::as_str);
            if sort_key.starts_with(keys::STREAM) {
                streams.push(state_of(OPERATION, &self.table, item, stream_sequence)?);
            } else {
                windows.push(state_of(OPERATION, &self.table, item, window_sequence)?);
            }
        }
        streams.sort_by(|a, b| (&a.sensor_id, &a.metric).cmp(&(&b.sensor_id, &b.metric)));
        windows.sort_by(|a, b| (&a.sensor_id, &a.metric, a.start).cmp(&(&b.sensor_id, &b.metric, b.start)));
        Ok((streams, windows))
    }

    async fn save(&self, streams: &[StreamState], windows: &[WindowState]) -> Result<Saved, StoreFailure> {
        const OPERATION: &str = "save windows";
        let entries = entries(OPERATION, streams, windows)?;
        let plan = save::plan(OPERATION, &entries)?;
        // `entries` are the streams', then the windows', in order.
        let (of_streams, of_windows) = entries.split_at(streams.len());
        let mut puts = Vec::with_capacity(entries.len());
        for (entry, stream) in of_streams.iter().zip(streams) {
            let due = stream.due_at.map(|at| {
                [
                    (
                        DUE_SHARD,
                        AttributeValue::S(due_shard(&stream.sensor_id, &stream.metric).to_string()),
                    ),
                    (DUE_AT, AttributeValue::N(at.timestamp_millis().to_string())),
                ]
            });
            puts.push(conditional_put(
                &self.table,
                OPERATION,
                entry,
                due.into_iter().flatten(),
            )?);
        }
        for (entry, window) in of_windows.iter().zip(windows) {
            let expires = window.end.timestamp().saturating_add_unsigned(RETENTION.as_secs());
            let ttl = (EXPIRES_AT, AttributeValue::N(expires.to_string()));
            puts.push(conditional_put(&self.table, OPERATION, entry, Some(ttl))?);
        }
        Ok(transact(&self.client, OPERATION, puts, plan, self.transactions_at_once).await)
    }

    /// One Query per shard of [`DUE_INDEX`], side by side, page by page; a shard that fails is
    /// named in [`Due::unread`] and the others are read.
    async fn due(&self, now: DateTime<Utc>) -> Result<Due, StoreFailure> {
        const OPERATION: &str = "read the due streams";
        let shards = (0..DUE_SHARDS).map(|shard| self.due_in(OPERATION, shard, now));
        let mut due = Due::default();
        for read in join_all(shards).await {
            match read {
                Ok(streams) => due.streams.extend(streams),
                Err(failure) => due.unread.push(failure),
            }
        }
        due.streams.sort();
        Ok(due)
    }

    async fn streams_of(&self, sensor_id: &str) -> Result<Vec<StreamState>, StoreFailure> {
        const OPERATION: &str = "read streams";
        let mut streams = Vec::new();
        if !sensors::catalogue::is_name(sensor_id) {
            return Ok(streams);
        }
        let query = Query {
            operation: OPERATION,
            sensor_id,
            prefix: keys::STREAM,
            newest_first: false,
            page: None,
            active_only: false,
        };
        query
            .run(&self.client, &self.table, |item| {
                streams.push(state_of(OPERATION, &self.table, item, stream_sequence)?);
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(streams)
    }

    async fn last_closed_windows(&self, sensor_id: &str) -> Result<Vec<WindowState>, StoreFailure> {
        let streams = self.streams_of(sensor_id).await?;
        let last = try_join_all(streams.iter().map(|stream| self.last_closed(stream))).await?;
        Ok(last.into_iter().flatten().collect())
    }
}

//! The event store on DynamoDB (feature `dynamodb`).
//!
//! Table: partition key `stream` (S, `<source>#<subject>`), sort key `position` (S). Each item
//! also holds `id`, `type`, `source`, `day` (the event time's UTC day and the event's shard,
//! `2026-11-30#3`), `typeDay` (`<type>#<day>#<shard>`), `at` (`<event time>#<id>`),
//! `archivedAt` and `envelope` (the whole envelope as JSON text, as it arrived). Two global
//! secondary indexes, both projecting every attribute (a replay needs the whole envelope
//! without a second read):
//!
//! | read | served by |
//! |---|---|
//! | one stream, in order | `Query stream = :s` on the table (sort key = position) |
//! | every event in `[from, to)` | `by-time` (`day`, `at`): `Query day = :d AND at BETWEEN` per day and shard |
//! | one type in `[from, to)` | `by-type` (`typeDay`, `at`): one `Query` per day and shard |
//!
//! A day's events are spread over [`crate::event::SHARDS`] partitions by id, so neither a busy
//! day nor a busy type is one hot partition key (about 1,000 writes a second each, and the
//! sort key only grows, so DynamoDB cannot split it); a range of N days costs N x SHARDS
//! queries (plus pages), merged by time. An append is one conditional `PutItem` that returns
//! the item holding the position when the condition fails, so a duplicate and a conflict are
//! told apart without a second call. Index reads are eventually consistent: an event archived
//! a moment ago may not be in a time-range read yet.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use envelope::Envelope;
use handler_kit::table::dynamodb::{Item, failure};

use crate::event::{StoredEvent, days_between, shards_of, time_key};
use crate::store::{Appended, EventStore, StoreFailure, sort_by_time};

/// The time-range index.
pub const BY_TIME: &str = "by-time";
/// The type-and-time-range index.
pub const BY_TYPE: &str = "by-type";

/// The store in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoEventStore {
    client: Client,
    table: String,
}

impl DynamoEventStore {
    /// The store in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Every item a query gives, page after page. `#name` in `condition` stands for each
    /// attribute of `names`, `:name` for each value of `values`.
    async fn query(
        &self,
        operation: &'static str,
        index: Option<&str>,
        condition: &str,
        names: &[&str],
        values: &[(&str, String)],
    ) -> Result<Vec<StoredEvent>, StoreFailure> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(condition);
        for name in names {
            request = request.expression_attribute_names(format!("#{name}"), *name);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(format!(":{name}"), AttributeValue::S(value.clone()));
        }
        let items = request
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| failure(operation, &e))?;
        items.iter().map(from_item).collect()
    }

    /// The events of index `index` whose partition attribute `key` is `partition(shard)` for
    /// every shard of every day of `[from, to)`, by time then id.
    async fn by_day(
        &self,
        operation: &'static str,
        index: &str,
        key: &str,
        partition: impl Fn(&str) -> String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredEvent>, StoreFailure> {
        // `at` is `<time>#<id>`: the key of an event at `from` sorts above `from`, that of an
        // event at `to` above `to`, so BETWEEN the two times is exactly [from, to).
        let condition = format!("#{key} = :{key} AND #at BETWEEN :from AND :to");
        let mut found = Vec::new();
        for day in days_between(from, to) {
            for shard in shards_of(&day) {
                let values = [(key, partition(&shard)), ("from", time_key(from)), ("to", time_key(to))];
                found.append(
                    &mut self
                        .query(operation, Some(index), &condition, &[key, "at"], &values)
                        .await?,
                );
            }
        }
        sort_by_time(&mut found);
        Ok(found)
    }
}

fn text(item: &Item, name: &str) -> Result<String, StoreFailure> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreFailure::permanent(
            "read event",
            format!("the stored item has no text attribute `{name}`"),
        )),
    }
}

fn from_item(item: &Item) -> Result<StoredEvent, StoreFailure> {
    let stream = text(item, "stream")?;
    let position = text(item, "position")?;
    let unreadable = |what: &str, reason: String| {
        StoreFailure::permanent("read event", format!("{stream} at {position}: {what}: {reason}"))
    };
    let envelope: Envelope<serde_json::Value> =
        serde_json::from_str(&text(item, "envelope")?).map_err(|e| unreadable("envelope", e.to_string()))?;
    let archived_at = DateTime::parse_from_rfc3339(&text(item, "archivedAt")?)
        .map_err(|e| unreadable("archivedAt", e.to_string()))?
        .with_timezone(&Utc);
    Ok(StoredEvent {
        stream,
        position,
        envelope,
        archived_at,
    })
}

fn to_item(event: &StoredEvent) -> Result<Item, StoreFailure> {
    let metadata = &event.envelope.metadata;
    let envelope = serde_json::to_string(&event.envelope)
        .map_err(|e| StoreFailure::permanent("append", format!("the envelope cannot be written: {e}")))?;
    let day = event.day_shard();
    let s = |value: String| AttributeValue::S(value);
    Ok(HashMap::from([
        ("stream".to_owned(), s(event.stream.clone())),
        ("position".to_owned(), s(event.position.clone())),
        ("id".to_owned(), s(metadata.id.to_string())),
        ("type".to_owned(), s(metadata.event_type.clone())),
        ("source".to_owned(), s(metadata.source.clone())),
        ("typeDay".to_owned(), s(format!("{}#{day}", metadata.event_type))),
        ("day".to_owned(), s(day)),
        ("at".to_owned(), s(event.at())),
        ("archivedAt".to_owned(), s(time_key(event.archived_at))),
        ("envelope".to_owned(), s(envelope)),
    ]))
}

impl EventStore for DynamoEventStore {
    async fn append(&self, event: &StoredEvent) -> Result<Appended, StoreFailure> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(event)?))
            .condition_expression("attribute_not_exists(#position)")
            .expression_attribute_names("#position", "position")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Appended::Added),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(taken)) => {
                    let stored_id = taken.item().map(|item| text(item, "id")).transpose()?.ok_or_else(|| {
                        StoreFailure::permanent(
                            "append",
                            "the conditional put failed without returning the item holding the position",
                        )
                    })?;
                    Ok(if stored_id == event.envelope.metadata.id.to_string() {
                        Appended::AlreadyThere
                    } else {
                        Appended::Conflict { stored_id }
                    })
                }
                _ => Err(failure("append", &err)),
            },
        }
    }

    async fn stream(&self, stream: &str) -> Result<Vec<StoredEvent>, StoreFailure> {
        self.query(
            "read stream",
            None,
            "#stream = :stream",
            &["stream"],
            &[("stream", stream.to_owned())],
        )
        .await
    }

    async fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<StoredEvent>, StoreFailure> {
        self.by_day("read time range", BY_TIME, "day", str::to_owned, from, to)
            .await
    }

    async fn of_type(
        &self,
        event_type: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredEvent>, StoreFailure> {
        let partition = |day: &str| format!("{event_type}#{day}");
        self.by_day("read type in time range", BY_TYPE, "typeDay", partition, from, to)
            .await
    }

    async fn all_from(&self, source: &str) -> Result<Vec<StoredEvent>, StoreFailure> {
        // The whole history is read, so a scan costs what it must; filtered by source.
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#source = :source")
            .expression_attribute_names("#source", "source")
            .expression_attribute_values(":source", AttributeValue::S(source.to_owned()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| failure("read all", &e))?;
        items.iter().map(from_item).collect()
    }
}

//! The sensor catalogue in a DynamoDB table.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use handler_kit::table::dynamodb::failure;
use sensors::catalogue::{Catalogue, Sensor, is_name};

use super::{Item, SENSOR_ID, batch_get, batch_write};
use crate::catalogue::{SensorCatalogue, checked};
use crate::error::StoreFailure;

/// The attribute holding a sensor's catalogue item as JSON.
const SENSOR: &str = "sensor";

/// The sensor catalogue in a DynamoDB table (see [`crate::dynamodb`] for its items).
#[derive(Debug, Clone)]
pub struct DynamoSensorCatalogue {
    client: Client,
    table: String,
}

impl DynamoSensorCatalogue {
    /// The catalogue in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The sensors of `items`; an item that does not read is named among the unreadable, with
    /// why, and the others are read.
    fn catalogue_of(&self, items: &[Item]) -> Catalogue {
        let mut sensors = Vec::with_capacity(items.len());
        let mut unreadable = Vec::new();
        for item in items {
            match self.sensor_of(item) {
                Ok(sensor) => sensors.push(sensor),
                Err(failure) => {
                    let id = item
                        .get(SENSOR_ID)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    tracing::warn!(sensor = id, reason = %failure, "a catalogue item does not read; its sensor's records are parked");
                    unreadable.push((id, failure.to_string()));
                }
            }
        }
        unreadable
            .into_iter()
            .fold(Catalogue::new(sensors), |catalogue, (id, why)| {
                catalogue.with_unreadable(id, why)
            })
    }

    fn sensor_of(&self, item: &Item) -> Result<Sensor, StoreFailure> {
        const OPERATION: &str = "read sensors";
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let id = text(SENSOR_ID).map_or("?", String::as_str);
        let json = text(SENSOR).ok_or_else(|| {
            StoreFailure::permanent(
                OPERATION,
                format!("sensor '{id}' in table {}: no `{SENSOR}` string", self.table),
            )
        })?;
        let unreadable = |why: String| {
            StoreFailure::permanent(
                OPERATION,
                format!(
                    "sensor '{id}' in table {}: {why}; load a corrected catalogue file with sensor-catalogue",
                    self.table
                ),
            )
        };
        let value = serde_json::from_str(json).map_err(|e| unreadable(format!("not JSON: {e}")))?;
        let sensor = Sensor::from_item(&value).map_err(|errors| {
            let named: Vec<String> = errors.iter().map(ToString::to_string).collect();
            unreadable(named.join("; "))
        })?;
        if sensor.sensor_id != id {
            return Err(unreadable(format!("its item names sensor '{}'", sensor.sensor_id)));
        }
        Ok(sensor)
    }
}

impl SensorCatalogue for DynamoSensorCatalogue {
    async fn sensors(&self, ids: &[String]) -> Result<Catalogue, StoreFailure> {
        // Only names can be keys (an empty string would fail the whole call), and each key once.
        let ids: BTreeSet<&str> = ids.iter().map(String::as_str).filter(|id| is_name(id)).collect();
        if ids.is_empty() {
            return Ok(Catalogue::default());
        }
        let keys = ids
            .into_iter()
            .map(|id| HashMap::from([(SENSOR_ID.to_owned(), AttributeValue::S(id.to_owned()))]))
            .collect();
        let items = batch_get(&self.client, &self.table, "read sensors", keys, false).await?;
        Ok(self.catalogue_of(&items))
    }

    async fn all(&self) -> Result<Catalogue, StoreFailure> {
        let items = self
            .client
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| failure("read sensors", &e))?;
        Ok(self.catalogue_of(&items))
    }

    async fn put(&self, sensors: &[Sensor]) -> Result<(), StoreFailure> {
        const OPERATION: &str = "put sensors";
        let mut requests = Vec::with_capacity(sensors.len());
        for (id, sensor) in checked(OPERATION, sensors)? {
            let item = HashMap::from([
                (SENSOR_ID.to_owned(), AttributeValue::S(id.to_owned())),
                (SENSOR.to_owned(), AttributeValue::S(sensor.to_item().to_string())),
            ]);
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreFailure::permanent(OPERATION, e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        batch_write(&self.client, &self.table, OPERATION, requests).await
    }
}

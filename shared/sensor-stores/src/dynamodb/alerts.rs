//! Alert periods in a DynamoDB table.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use sensors::alerts::{AlertState, PeriodKey};

use super::{ACTIVE, EXPIRES_AT, Query, RETENTION, batch_get, conditional_put, key, state_of, transact};
use crate::alerts::{AlertStore, entries};
use crate::error::StoreFailure;
use crate::keys;
use crate::save::{self, Saved};

/// Alert periods in a DynamoDB table (see [`crate::dynamodb`] for its items).
#[derive(Debug, Clone)]
pub struct DynamoAlertStore {
    client: Client,
    table: String,
    transactions_at_once: usize,
}

impl DynamoAlertStore {
    /// The alert periods in `table`.
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
}

fn sequence(state: &mut AlertState) -> &mut u64 {
    &mut state.sequence
}

impl AlertStore for DynamoAlertStore {
    async fn load(&self, periods: &[PeriodKey]) -> Result<Vec<AlertState>, StoreFailure> {
        const OPERATION: &str = "load alert periods";
        let wanted: BTreeSet<(&str, String)> = periods
            .iter()
            .filter_map(|p| Some((p.sensor_id.as_str(), keys::period(&p.sensor_id, &p.metric, p.start)?)))
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let keys = wanted
            .into_iter()
            .map(|(sensor_id, item)| key(sensor_id, item))
            .collect();
        let items = batch_get(&self.client, &self.table, OPERATION, keys, true).await?;
        let mut found = items
            .iter()
            .map(|item| state_of(OPERATION, &self.table, item, sequence))
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by(|a, b| (&a.sensor_id, &a.metric, a.period_start).cmp(&(&b.sensor_id, &b.metric, b.period_start)));
        Ok(found)
    }

    async fn save(&self, periods: &[AlertState]) -> Result<Saved, StoreFailure> {
        const OPERATION: &str = "save alert periods";
        let entries = entries(OPERATION, periods)?;
        let plan = save::plan(OPERATION, &entries)?;
        let mut puts = Vec::with_capacity(entries.len());
        for (entry, period) in entries.iter().zip(periods) {
            // Kept for RETENTION after its latest window (its windows are in order of start).
            let latest = period.windows.last().map_or(period.period_start, |w| w.window_start);
            let expires = latest.timestamp().saturating_add_unsigned(RETENTION.as_secs());
            let more = [
                (EXPIRES_AT, AttributeValue::N(expires.to_string())),
                (ACTIVE, AttributeValue::Bool(period.active.is_some())),
            ];
            puts.push(conditional_put(&self.table, OPERATION, entry, more)?);
        }
        Ok(transact(&self.client, OPERATION, puts, plan, self.transactions_at_once).await)
    }

    async fn open_alerts(&self, sensor_id: &str) -> Result<Vec<AlertState>, StoreFailure> {
        const OPERATION: &str = "read open alerts";
        let mut open = Vec::new();
        if !sensors::catalogue::is_name(sensor_id) {
            return Ok(open);
        }
        let query = Query {
            operation: OPERATION,
            sensor_id,
            prefix: keys::PERIOD,
            newest_first: false,
            page: None,
            active_only: true,
        };
        query
            .run(&self.client, &self.table, |item| {
                open.push(state_of(OPERATION, &self.table, item, sequence)?);
                Ok(ControlFlow::Continue(()))
            })
            .await?;
        Ok(open)
    }
}

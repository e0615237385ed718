//! raise-alert: anomalies grouped in fixed suppression periods per (sensor, metric). The
//! first anomalous window of a period triggers `AlertTriggered` (its id derived from sensor,
//! metric and period: one alert per period, whatever the order of arrival); later anomalies of
//! the period fold into it; when revisions leave the period with no anomalous window,
//! `AlertResolved`. Alerts go to the alerts topic with `severity`, `site` and `sensorId`
//! attributes, so a subscriber can filter. State: one item per period, read and written once
//! per batch.

use std::collections::BTreeSet;

use envelope::{Envelope, Registry};
use handler_kit::aggregate::{BatchHandler, Decision};
use handler_kit::config::ConfigError;
use handler_kit::{Function, HandlerError, Setting, Topic, Trigger};
use sensor_stores::{
    AlertStore, AlertStorePort, SENSOR_ALERTS_TABLE, SENSOR_CATALOGUE_TABLE, Saved, SensorCatalogue,
    SensorCataloguePort,
};
use sensors::alerts::{AlertBatch, AlertSettings, AlertState, Alerts};
use sensors::events::{AlertEvent, AnomalyCleared, AnomalyDetected, AnomalyEvent};
use serde_json::Value;

/// The length of a suppression period.
pub const SUPPRESS_SECONDS: Setting =
    Setting::value("SUPPRESS_SECONDS", "the length of an alert's suppression period").optional();

/// The message attributes subscribers filter alerts on: `severity`, `site`, `sensorId`.
pub fn attributes(alert: &Envelope<Value>) -> Vec<(String, String)> {
    ["severity", "site", "sensorId"]
        .into_iter()
        .filter_map(|name| Some((name.to_owned(), alert.data.get(name)?.as_str()?.to_owned())))
        .collect()
}

/// raise-alert, declared once: SQS in, alerts to `ALERTS_TOPIC_ARN`.
pub const FUNCTION: Function<Topic> = Function {
    name: "raise-alert",
    trigger: Trigger::Sqs,
    schedule: None,
    outputs: Topic {
        variable: "ALERTS_TOPIC_ARN",
        attributes,
        personal: false,
    },
    settings: &[
        SENSOR_CATALOGUE_TABLE.calls(&["dynamodb:BatchGetItem"]),
        // Periods by key and open alerts by sensor; one transaction of conditional Puts.
        SENSOR_ALERTS_TABLE.calls(&["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"]),
        SUPPRESS_SECONDS,
    ],
    idempotent: false,
};

/// The function's one composition root, on any platform.
pub fn build<P: SensorCataloguePort + AlertStorePort>(
    platform: &P,
) -> Result<RaiseAlert<sensor_stores::CachedCatalogue<P::Catalogue>, P::Alerts>, ConfigError> {
    let suppress_seconds = platform
        .env()
        .parsed(SUPPRESS_SECONDS.variable, AlertSettings::default().suppress_seconds)?;
    let alerts = Alerts::new(AlertSettings { suppress_seconds }).map_err(|e| ConfigError::Malformed {
        name: SUPPRESS_SECONDS.variable.to_owned(),
        value: suppress_seconds.to_string(),
        reason: e.to_string(),
    })?;
    Ok(RaiseAlert {
        catalogue: sensor_stores::cached_catalogue(platform)?,
        store: platform.alert_store(&platform.setting(&SENSOR_ALERTS_TABLE)?)?,
        alerts,
    })
}

/// Decides alerts over batches of anomalies.
pub struct RaiseAlert<C, A> {
    catalogue: C,
    store: A,
    alerts: Alerts,
}

impl<C: SensorCatalogue, A: AlertStore> RaiseAlert<C, A> {
    /// The store, e.g. to inspect an in-memory one.
    pub fn store(&self) -> &A {
        &self.store
    }
}

impl<C: SensorCatalogue, A: AlertStore> BatchHandler for RaiseAlert<C, A> {
    type Pending = Vec<AlertState>;

    fn event_types(&self) -> Registry {
        Registry::new()
            .register::<AnomalyDetected>()
            .register::<AnomalyCleared>()
    }

    async fn decide(&self, events: Vec<Envelope<Value>>) -> Result<Decision<Self::Pending>, HandlerError> {
        let mut records: Vec<Result<(), HandlerError>> = Vec::with_capacity(events.len());
        let mut anomalies = Vec::new();
        let mut positions = Vec::new();
        for event in events {
            match AnomalyEvent::from_envelope(event) {
                Ok(anomaly) => {
                    positions.push(records.len());
                    anomalies.push(anomaly);
                    records.push(Ok(()));
                }
                Err(err) => records.push(Err(err.into())),
            }
        }
        let ids: Vec<String> = anomalies
            .iter()
            .map(|a| a.sensor_id().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let catalogue = self.catalogue.sensors(&ids).await?;
        let keys = self.alerts.plan(&anomalies);
        let periods = self.store.load(&keys).await?;
        let outcome = self
            .alerts
            .apply(
                &catalogue,
                AlertBatch {
                    events: &anomalies,
                    periods,
                },
            )
            .map_err(|e| HandlerError::permanent("alert-state", e))?;
        for (position, disposition) in positions.into_iter().zip(&outcome.dispositions) {
            if let Some(reason) = disposition.parked_reason() {
                records[position] = Err(HandlerError::permanent(reason, disposition.to_string()));
            }
        }
        // A replayed anomaly moves its period's state as it did the first time, but no one is
        // alerted again: an alert goes out only for a period a live anomaly of the batch moved
        // (an alert's correlation id is its period's alert id).
        let live: Vec<AnomalyEvent> = anomalies
            .iter()
            .filter(|a| a.metadata().replay.is_none())
            .cloned()
            .collect();
        let live_alerts: BTreeSet<String> = self
            .alerts
            .plan(&live)
            .into_iter()
            .map(|key| AlertState::new(key).alert_id().to_string())
            .collect();
        let outputs = outcome
            .events
            .iter()
            .filter(|alert| live_alerts.contains(&alert.metadata().correlation_id))
            .map(AlertEvent::to_untyped)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Decision {
            records,
            outputs,
            pending: outcome.periods,
        })
    }

    /// Alerts are decided by anomalies alone: time decides nothing here.
    async fn tick(&self, _now: chrono::DateTime<chrono::Utc>) -> Result<Decision<Self::Pending>, HandlerError> {
        Ok(Decision {
            records: Vec::new(),
            outputs: Vec::new(),
            pending: Vec::new(),
        })
    }

    async fn commit(&self, periods: Self::Pending) -> Result<(), HandlerError> {
        if periods.is_empty() {
            return Ok(());
        }
        match self.store.save(&periods).await? {
            Saved::Written => Ok(()),
            Saved::Conflict => Err(HandlerError::transient(
                "alert-conflict",
                "another invocation wrote these periods first; the batch is decided again",
            )),
        }
    }
}

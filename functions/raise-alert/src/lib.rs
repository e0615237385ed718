//! raise-alert: anomalies grouped in fixed suppression periods per (sensor, metric). The
//! first anomalous window of a period triggers `AlertTriggered` (its id derived from sensor,
//! metric and period: one alert per period, whatever the order of arrival); later anomalies of
//! the period fold into it; when revisions leave the period with no anomalous window,
//! `AlertResolved`. Alerts go to the alerts topic with `severity`, `site` and `sensorId`
//! attributes, so a subscriber can filter; the severity is `critical` when the window's mean
//! is outside its band by more than a quarter of the band's width. State: one item per period
//! in `SENSOR_ALERTS_TABLE` (its windows, its alert, its outbox), read and written once per
//! batch. Its queue is FIFO with one message group, so batches run one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use envelope::{Envelope, Registry};
use handler_kit::aggregate::{BatchHandler, Instant, Settled};
use handler_kit::backoff::AFTER_CONFLICT;
use handler_kit::config::ConfigError;
use handler_kit::trigger::SqsBatches;
use handler_kit::{Clock, Function, HandlerError, Setting, Topic};
use sensor_stores::{
    AlertStore, AlertStorePort, SENSOR_ALERTS_TABLE, SENSOR_CATALOGUE_TABLE, SensorCatalogue, SensorCataloguePort,
};
use sensors::alerts::{AlertBatch, AlertSettings, AlertState, Alerts, PeriodKey, Unsent};
use sensors::events::{AnomalyCleared, AnomalyDetected, AnomalyEvent};
use sensors::windows::StreamKey;
use serde_json::Value;
use uuid::Uuid;

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
pub const FUNCTION: Function<SqsBatches, Topic> = Function {
    name: "raise-alert",
    trigger: SqsBatches { schedule: None },
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
        clock: platform.clock(),
    })
}

/// How long past the point where it stops settling an invocation holds the alerts it
/// committed: its publish and the clearing of its outbox end before its deadline, which is
/// less than this after.
const HOLD_PAST_DEADLINE_SECONDS: i64 = 5;

/// Decides alerts over batches of anomalies.
pub struct RaiseAlert<C, A> {
    catalogue: C,
    store: A,
    alerts: Alerts,
    clock: Arc<dyn Clock>,
}

/// The outbox entries of the alerts a settle handed out: the period, the event's id.
pub type Sent = Vec<(PeriodKey, Uuid)>;

impl<C: SensorCatalogue, A: AlertStore> RaiseAlert<C, A> {
    /// raise-alert over `catalogue` and `store`, with `settings`, reading `clock`.
    pub fn new(
        catalogue: C,
        store: A,
        settings: AlertSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, sensors::SettingsError> {
        Ok(Self {
            catalogue,
            store,
            alerts: Alerts::new(settings)?,
            clock,
        })
    }

    /// The store, e.g. to inspect an in-memory one.
    pub fn store(&self) -> &A {
        &self.store
    }

    /// One attempt over `anomalies`: read, apply, save. Per anomaly its record (none when its
    /// stream must be tried again), and the alerts to send: those this attempt committed, and
    /// those of the periods it read that no invocation holds any more.
    async fn attempt(
        &self,
        anomalies: &[AnomalyEvent],
        now: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    ) -> Result<(Vec<Option<Result<(), HandlerError>>>, Vec<(PeriodKey, Envelope<Value>)>), HandlerError> {
        let ids: Vec<String> = anomalies
            .iter()
            .map(|a| a.sensor_id().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let catalogue = self.catalogue.sensors(&ids).await?;
        let keys = self.alerts.plan(anomalies);
        let loaded = self.store.load(&keys).await?;
        let mut outcome = self
            .alerts
            .apply(
                &catalogue,
                AlertBatch {
                    events: anomalies,
                    periods: loaded.clone(),
                },
            )
            .map_err(|e| HandlerError::permanent("alert-state", e))?;
        // A replayed anomaly moves its period's state as it did the first time, but no one is
        // alerted again: an alert goes in the outbox only for a period a live anomaly of the
        // batch moved (an alert's correlation id is its period's alert id).
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
        let mut committing = BTreeSet::new();
        for alert in &outcome.events {
            if !live_alerts.contains(&alert.metadata().correlation_id) {
                continue;
            }
            let event = alert.to_untyped()?;
            if let Some(period) = outcome
                .periods
                .iter_mut()
                .find(|p| p.alert_id().to_string() == alert.metadata().correlation_id)
            {
                committing.insert(event.metadata.id);
                period.outbox.push(Unsent {
                    event,
                    held_until: hold_until,
                });
            }
        }
        let saved = self.store.save(&outcome.periods).await?;
        let stream = |key: &PeriodKey| StreamKey {
            sensor_id: key.sensor_id.clone(),
            metric: key.metric.clone(),
        };
        // The periods as they stand now: as written by this attempt, or as read.
        let written: BTreeSet<PeriodKey> = outcome.periods.iter().map(AlertState::key).collect();
        let standing = outcome
            .periods
            .iter()
            .filter(|p| saved.wrote(&stream(&p.key())))
            .chain(loaded.iter().filter(|p| !written.contains(&p.key())));
        let mut outbox = Vec::new();
        let mut held = BTreeSet::new();
        for period in standing {
            for unsent in &period.outbox {
                if committing.contains(&unsent.event.metadata.id) || unsent.held_until <= now {
                    outbox.push((period.key(), unsent.event.clone()));
                } else {
                    held.insert(stream(&period.key()));
                }
            }
        }
        let records = anomalies
            .iter()
            .zip(&outcome.dispositions)
            .map(|(anomaly, disposition)| {
                let key = StreamKey {
                    sensor_id: anomaly.sensor_id().to_owned(),
                    metric: anomaly.metric().to_owned(),
                };
                if saved.conflicts.contains(&key) {
                    return None;
                }
                Some(match (saved.failed.get(&key), disposition.parked_reason()) {
                    (Some(failure), _) => Err(failure.clone().into()),
                    (None, Some(reason)) => Err(HandlerError::permanent(reason, disposition.to_string())),
                    // Another invocation is sending an alert of this stream's periods: if it
                    // dies, this record's return after its deadline sends it.
                    (None, None) if held.contains(&key) => Err(HandlerError::transient(
                        "alert-held",
                        "another invocation is sending an alert of this period; the record comes back after its deadline",
                    )),
                    (None, None) => Ok(()),
                })
            })
            .collect();
        Ok((records, outbox))
    }
}

impl<C: SensorCatalogue, A: AlertStore> BatchHandler for RaiseAlert<C, A> {
    type Sent = Sent;

    fn event_types(&self) -> Registry {
        Registry::new()
            .register::<AnomalyDetected>()
            .register::<AnomalyCleared>()
    }

    /// Reads, applies and saves the batch's periods; a stream another invocation wrote first is
    /// read and applied again, up to [`AFTER_CONFLICT`]`.attempts` times and starting no attempt after `by`.
    ///
    /// A replayed anomaly of a window older than [`sensor_stores::RETENTION`] changes nothing:
    /// its period's state has expired, and taking it again would open an alert that no later
    /// revision can ever resolve.
    async fn settle(&self, events: Vec<Envelope<Value>>, by: Instant) -> Result<Settled<Sent>, HandlerError> {
        let mut records: Vec<Result<(), HandlerError>> = Vec::with_capacity(events.len());
        let mut anomalies = Vec::new();
        let mut positions = Vec::new();
        let retention = chrono::Duration::from_std(sensor_stores::RETENTION).unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let oldest = now - retention;
        for event in events {
            match AnomalyEvent::from_envelope(event) {
                Ok(anomaly) if anomaly.metadata().replay.is_some() && anomaly.metadata().time < oldest => {
                    tracing::info!(
                        id = %anomaly.metadata().id,
                        "a replayed anomaly older than the alerts' retention; skipped"
                    );
                    records.push(Ok(()));
                }
                Ok(anomaly) => {
                    positions.push(records.len());
                    anomalies.push(anomaly);
                    records.push(Ok(()));
                }
                Err(err) => records.push(Err(err.into())),
            }
        }
        let mut todo: Vec<usize> = (0..anomalies.len()).collect();
        let mut outputs: BTreeMap<Uuid, (PeriodKey, Envelope<Value>)> = BTreeMap::new();
        // What this invocation commits, it holds until a little past its deadline: by then it
        // has sent it, or died.
        let remaining = chrono::Duration::from_std(by.saturating_duration_since(Instant::now())).unwrap_or_default();
        let hold_until = now + remaining + chrono::Duration::seconds(HOLD_PAST_DEADLINE_SECONDS);
        let salt = anomalies
            .iter()
            .map(|a| a.metadata().id.as_u64_pair().0)
            .fold(0x811c_9dc5_u64, |hash, x| (hash ^ x).wrapping_mul(0x0100_0000_01b3));
        for attempt in 1..=AFTER_CONFLICT.attempts {
            if attempt > 1 {
                AFTER_CONFLICT.wait_salted(attempt - 1, salt).await;
            }
            let batch: Vec<AnomalyEvent> = todo.iter().map(|&i| anomalies[i].clone()).collect();
            let (decided, outbox) = match self.attempt(&batch, now, hold_until).await {
                Ok(done) => done,
                Err(err) if attempt > 1 => {
                    let reason = err.to_string();
                    for &i in &todo {
                        records[positions[i]] = Err(HandlerError::classified(err.class(), err.kind(), reason.clone()));
                    }
                    todo.clear();
                    break;
                }
                Err(err) => return Err(err),
            };
            for (key, event) in outbox {
                outputs.insert(event.metadata.id, (key, event));
            }
            let mut again = Vec::new();
            for (&i, record) in todo.iter().zip(decided) {
                match record {
                    Some(record) => records[positions[i]] = record,
                    None => again.push(i),
                }
            }
            todo = again;
            if todo.is_empty() || Instant::now() >= by {
                break;
            }
        }
        for i in todo {
            records[positions[i]] = Err(HandlerError::transient(
                "alert-conflict",
                format!(
                    "other invocations wrote the periods of '{}' '{}' first, {} times or until the deadline",
                    anomalies[i].sensor_id(),
                    anomalies[i].metric(),
                    AFTER_CONFLICT.attempts
                ),
            ));
        }
        let (sent, outputs): (Sent, Vec<Envelope<Value>>) =
            outputs.into_iter().map(|(id, (key, event))| ((key, id), event)).unzip();
        Ok(Settled { records, outputs, sent })
    }

    /// Alerts are decided by anomalies alone: time decides nothing here.
    async fn tick(&self, _now: chrono::DateTime<chrono::Utc>, _by: Instant) -> Result<Settled<Sent>, HandlerError> {
        Ok(Settled::nothing())
    }

    /// Clears the sent alerts from their periods' outboxes, written on condition; a period
    /// written meanwhile is read again, a few times, then left (its alerts go out again, under
    /// the same ids).
    async fn sent(&self, sent: Sent) -> Result<(), HandlerError> {
        let mut pending: BTreeMap<PeriodKey, Vec<Uuid>> = BTreeMap::new();
        for (key, id) in sent {
            pending.entry(key).or_default().push(id);
        }
        for _ in 0..AFTER_CONFLICT.attempts {
            if pending.is_empty() {
                break;
            }
            let keys: Vec<PeriodKey> = pending.keys().cloned().collect();
            let mut changed = Vec::new();
            for mut period in self.store.load(&keys).await? {
                let ids = pending.get(&period.key()).map(Vec::as_slice).unwrap_or_default();
                let mut any = false;
                for id in ids {
                    any |= period.sent(*id);
                }
                if any {
                    period.sequence += 1;
                    changed.push(period);
                }
            }
            let saved = self.store.save(&changed).await?;
            pending.retain(|key, _| {
                saved.conflicts.contains(&StreamKey {
                    sensor_id: key.sensor_id.clone(),
                    metric: key.metric.clone(),
                })
            });
        }
        Ok(())
    }
}

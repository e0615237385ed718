//! detect-anomaly: readings into event-time windows per (sensor, metric), a whole batch per
//! decision. A window closes when its stream's watermark passes its end, or when the clock is
//! well past it for a sensor gone quiet (the scheduled tick); a closed window outside its band
//! is `AnomalyDetected`, and a late reading within the horizon revises it (the next
//! revision, or `AnomalyCleared`). A reading too late for its window, or for no known sensor,
//! is parked with its reason. State: one item per window and one per stream, read and written
//! once per batch.

use std::collections::BTreeSet;
use std::sync::Arc;

use envelope::{Envelope, Location, Registry};
use handler_kit::aggregate::{BatchHandler, Decision};
use handler_kit::config::ConfigError;
use handler_kit::{Bus, Clock, Function, HandlerError, Setting, Trigger};
use sensor_stores::{
    SENSOR_CATALOGUE_TABLE, SENSOR_WINDOWS_TABLE, Saved, SensorCatalogue, SensorCataloguePort, WindowStore,
    WindowStorePort,
};
use sensors::events::SensorReadingReceived;
use sensors::windows::{Batch, Reading, StreamKey, StreamState, WindowKey, WindowSettings, WindowState, Windows};
use serde_json::Value;

/// `WINDOW_SECONDS` and the other window settings.
pub const SETTINGS: [Setting; 4] = [
    Setting::value("WINDOW_SECONDS", "the length of a window").optional(),
    Setting::value(
        "ALLOWED_LATENESS_SECONDS",
        "how late a reading may be before its window closes",
    )
    .optional(),
    Setting::value(
        "IDLE_SECONDS",
        "how long a quiet sensor's window waits past its lateness",
    )
    .optional(),
    Setting::value("LATE_HORIZON_SECONDS", "how long a closed window takes revisions").optional(),
];

/// detect-anomaly, declared once: SQS in (with a tick every minute), events to the bus.
pub const FUNCTION: Function<Bus> = Function {
    name: "detect-anomaly",
    trigger: Trigger::Sqs,
    schedule: Some("rate(1 minute)"),
    outputs: Bus,
    settings: &[
        // The catalogue through its cache (BatchGetItem), the tick's walk over it (Scan).
        SENSOR_CATALOGUE_TABLE.calls(&["dynamodb:BatchGetItem", "dynamodb:Scan"]),
        // One read of the batch's streams, more windows by key, one transaction of
        // conditional Puts (authorised as PutItem).
        SENSOR_WINDOWS_TABLE.calls(&["dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"]),
        SETTINGS[0],
        SETTINGS[1],
        SETTINGS[2],
        SETTINGS[3],
    ],
    idempotent: false,
};

/// The function's one composition root, on any platform.
pub fn build<P: SensorCataloguePort + WindowStorePort>(
    platform: &P,
) -> Result<DetectAnomaly<sensor_stores::CachedCatalogue<P::Catalogue>, P::Windows>, ConfigError> {
    let env = platform.env();
    let defaults = WindowSettings::default();
    let settings = WindowSettings {
        window_seconds: env.parsed(SETTINGS[0].variable, defaults.window_seconds)?,
        allowed_lateness_seconds: env.parsed(SETTINGS[1].variable, defaults.allowed_lateness_seconds)?,
        idle_seconds: env.parsed(SETTINGS[2].variable, defaults.idle_seconds)?,
        late_horizon_seconds: env.parsed(SETTINGS[3].variable, defaults.late_horizon_seconds)?,
    };
    let windows = Windows::new(settings).map_err(|e| ConfigError::Malformed {
        name: SETTINGS[0].variable.to_owned(),
        value: settings.window_seconds.to_string(),
        reason: e.to_string(),
    })?;
    Ok(DetectAnomaly {
        catalogue: sensor_stores::cached_catalogue(platform)?,
        store: platform.window_store(&platform.setting(&SENSOR_WINDOWS_TABLE)?)?,
        windows,
        clock: platform.clock(),
    })
}

/// How many sensors' streams the tick reads at once.
const TICK_QUERIES: usize = 16;

/// Decides windows over batches of readings.
pub struct DetectAnomaly<C, W> {
    catalogue: C,
    store: W,
    windows: Windows,
    clock: Arc<dyn Clock>,
}

/// What a decision writes once its events went out.
#[derive(Debug)]
pub struct Pending {
    streams: Vec<StreamState>,
    windows: Vec<WindowState>,
}

impl<C: SensorCatalogue, W: WindowStore> DetectAnomaly<C, W> {
    /// The store, e.g. to inspect an in-memory one.
    pub fn store(&self) -> &W {
        &self.store
    }

    /// Reads the states `readings` touch (streams and windows, in one read when the guess
    /// holds), applies.
    async fn decide_readings(
        &self,
        readings: &[Reading],
        extra_streams: Vec<StreamState>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<sensors::windows::WindowOutcome, HandlerError> {
        let ids: Vec<String> = readings
            .iter()
            .map(|r| r.sensor_id.clone())
            .chain(extra_streams.iter().map(|s| s.sensor_id.clone()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let catalogue = self.catalogue.sensors(&ids).await?;
        let keys: Vec<StreamKey> = readings
            .iter()
            .map(|r| StreamKey {
                sensor_id: r.sensor_id.clone(),
                metric: r.metric.clone(),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // One read for the streams and the windows the batch most likely needs: the
        // readings' own windows and the one before each (the window a reading's watermark
        // usually closes). Only windows the plan names beyond those cost a second read.
        let own = self
            .windows
            .plan(&catalogue, readings, &[], now)
            .map_err(|e| HandlerError::permanent("window-state", e))?;
        let width = chrono::Duration::seconds(i64::from(self.windows.settings().window_seconds));
        let guessed: Vec<WindowKey> = own
            .iter()
            .flat_map(|key| {
                let before = WindowKey {
                    start: key.start - width,
                    ..key.clone()
                };
                [key.clone(), before]
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (mut streams, mut windows) = self.store.load(&keys, &guessed).await?;
        for stream in extra_streams {
            if !streams.iter().any(|s| s.key() == stream.key()) {
                streams.push(stream);
            }
        }
        let planned = self
            .windows
            .plan(&catalogue, readings, &streams, now)
            .map_err(|e| HandlerError::permanent("window-state", e))?;
        let missing: Vec<WindowKey> = planned
            .iter()
            .filter(|key| guessed.binary_search(key).is_err())
            .cloned()
            .collect();
        if !missing.is_empty() {
            let (_, more) = self.store.load(&[], &missing).await?;
            windows.extend(more);
        }
        // Guessed windows the plan does not name stay as they are.
        windows.retain(|window| planned.binary_search(&window.key()).is_ok());
        let outcome = self
            .windows
            .apply(
                &catalogue,
                Batch {
                    readings,
                    streams: &streams,
                    windows,
                    now,
                },
            )
            .map_err(|e| HandlerError::permanent("window-state", e))?;
        Ok(outcome)
    }

    fn decision(
        outcome: sensors::windows::WindowOutcome,
        records: Vec<Result<(), HandlerError>>,
    ) -> Result<Decision<Pending>, HandlerError> {
        let outputs = outcome
            .events
            .iter()
            .map(sensors::events::AnomalyEvent::to_untyped)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Decision {
            records,
            outputs,
            pending: Pending {
                streams: outcome.streams,
                windows: outcome.windows,
            },
        })
    }
}

impl<C: SensorCatalogue, W: WindowStore> BatchHandler for DetectAnomaly<C, W> {
    type Pending = Pending;

    fn event_types(&self) -> Registry {
        Registry::new().register::<SensorReadingReceived>()
    }

    async fn decide(&self, events: Vec<Envelope<Value>>) -> Result<Decision<Pending>, HandlerError> {
        let mut records: Vec<Result<(), HandlerError>> = Vec::with_capacity(events.len());
        let mut readings = Vec::new();
        let mut positions = Vec::new();
        for event in events {
            match event.into_typed::<SensorReadingReceived>(&Location::root()) {
                Ok(typed) => {
                    positions.push(records.len());
                    readings.push(Reading::from_event(&typed));
                    records.push(Ok(()));
                }
                Err(err) => records.push(Err(err.into())),
            }
        }
        let outcome = self.decide_readings(&readings, Vec::new(), self.clock.now()).await?;
        for (position, disposition) in positions.into_iter().zip(&outcome.dispositions) {
            if let Some(reason) = disposition.parked_reason() {
                records[position] = Err(HandlerError::permanent(reason, disposition.to_string()));
            }
        }
        Self::decision(outcome, records)
    }

    /// Closes the windows of streams gone quiet: every stream of every sensor whose first
    /// open window's idle close time has passed.
    async fn tick(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Decision<Pending>, HandlerError> {
        let sensors = self.catalogue.all().await?;
        // One Query per sensor, TICK_QUERIES at a time: a catalogue of thousands fits the
        // function's timeout.
        let ids: Vec<&str> = sensors.sensors().map(|s| s.sensor_id.as_str()).collect();
        let mut due = Vec::new();
        for chunk in ids.chunks(TICK_QUERIES) {
            let streams = futures_util::future::try_join_all(chunk.iter().map(|id| self.store.streams_of(id))).await?;
            due.extend(
                streams
                    .into_iter()
                    .flatten()
                    .filter(|s| s.idle_close_at(self.windows.settings()).is_some_and(|at| at <= now)),
            );
        }
        let outcome = self.decide_readings(&[], due, now).await?;
        Self::decision(outcome, Vec::new())
    }

    async fn commit(&self, pending: Pending) -> Result<(), HandlerError> {
        match self.store.save(&pending.streams, &pending.windows).await {
            Ok(Saved::Written) => Ok(()),
            Ok(Saved::Conflict) => Err(HandlerError::transient(
                "window-conflict",
                "another invocation wrote these windows first; the batch is decided again",
            )),
            Err(e) => Err(e.into()),
        }
    }
}

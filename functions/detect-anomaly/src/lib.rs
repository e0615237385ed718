//! detect-anomaly: readings into event-time windows per (sensor, metric), a whole batch per
//! decision. A window closes when its stream's watermark passes its end, or when the clock is
//! well past it for a sensor gone quiet (the scheduled tick); a closed window outside its band
//! is `AnomalyDetected`, and a late reading within the horizon revises it (the next
//! revision, or `AnomalyCleared`). A reading that cannot count is parked with its reason
//! (`too-late`, `unknown-sensor-or-metric`, `catalogue-item-unreadable`, `time-out-of-range`,
//! `window-full`, `stream-state-missing-window`). The windows' settings ([`SETTINGS`]:
//! `WINDOW_SECONDS`, `ALLOWED_LATENESS_SECONDS`, `IDLE_SECONDS`, `LATE_HORIZON_SECONDS`,
//! `DELIVERY_GRACE_SECONDS`) are read once at cold start.
//!
//! State, in `SENSOR_WINDOWS_TABLE`: one item per window (its readings' times, at most 20,000,
//! stored as the gaps between them) and one per stream (watermark, open windows, outbox). A
//! batch makes one read (its streams with the readings' windows and the ones before) and one
//! conditional transaction per stream; the tick queries the `Due` index; the catalogue is read
//! through a 60 s cache. How it stays right with many writers: `functions/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use envelope::{Envelope, Location, Registry};
use handler_kit::aggregate::{BatchHandler, Instant, Settled};
use handler_kit::backoff::AFTER_CONFLICT;
use handler_kit::config::ConfigError;
use handler_kit::trigger::SqsBatches;
use handler_kit::{Bus, Clock, Function, HandlerError, Setting};
use sensor_stores::{
    DUE_INDEX, SENSOR_CATALOGUE_TABLE, SENSOR_WINDOWS_TABLE, SensorCatalogue, SensorCataloguePort, WindowStore,
    WindowStorePort,
};
use sensors::catalogue::Catalogue;
use sensors::events::{AnomalyEvent, SensorReadingReceived};
use sensors::windows::{
    Batch, Disposition, Reading, StreamKey, WindowKey, WindowOutcome, WindowSettings, Windows, outbox_entry,
};
use serde_json::Value;

/// `WINDOW_SECONDS` and the other window settings.
pub const SETTINGS: [Setting; 5] = [
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
    Setting::value(
        "DELIVERY_GRACE_SECONDS",
        "how long a reading's time waits before it moves the watermark",
    )
    .optional(),
];

/// detect-anomaly, declared once: SQS in (with a tick every minute), events to the bus.
pub const FUNCTION: Function<SqsBatches, Bus> = Function {
    name: "detect-anomaly",
    trigger: SqsBatches {
        schedule: Some("rate(1 minute)"),
    },
    outputs: Bus {
        sources: &[sensors::events::SOURCE],
    },
    settings: &[
        // The catalogue through its cache (BatchGetItem): the sensors of a batch, or of the
        // streams the tick finds due.
        SENSOR_CATALOGUE_TABLE.calls(&["dynamodb:BatchGetItem"]),
        // One read of the batch's streams, more windows by key, a transaction of conditional
        // Puts per stream (authorised as PutItem); the tick's Query of the due index.
        SENSOR_WINDOWS_TABLE
            .calls(&["dynamodb:BatchGetItem", "dynamodb:PutItem"])
            .index(DUE_INDEX, &["dynamodb:Query"]),
        SETTINGS[0],
        SETTINGS[1],
        SETTINGS[2],
        SETTINGS[3],
        SETTINGS[4],
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
        delivery_grace_seconds: env.parsed(SETTINGS[4].variable, defaults.delivery_grace_seconds)?,
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

/// How many due streams the tick settles in one go (one read of their states, one of their
/// windows, a transaction each): a part that fails is skipped this minute, the rest go on.
const TICK_CHUNK: usize = 100;

/// Decides windows over batches of readings.
pub struct DetectAnomaly<C, W> {
    catalogue: C,
    store: W,
    windows: Windows,
    clock: Arc<dyn Clock>,
}

/// The outbox entries of the events a settle handed out: stream, window start, revision.
pub type Sent = Vec<(StreamKey, DateTime<Utc>, u32)>;

/// What settling a set of readings (and due streams) came to.
struct Round {
    /// Per reading, in order.
    records: Vec<Result<(), HandlerError>>,
    /// The events of the streams written (and of their outboxes).
    events: Vec<AnomalyEvent>,
}

impl<C: SensorCatalogue, W: WindowStore> DetectAnomaly<C, W> {
    /// detect-anomaly over `catalogue` and `store`, with `settings`, reading `clock`.
    pub fn new(
        catalogue: C,
        store: W,
        settings: WindowSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, sensors::SettingsError> {
        Ok(Self {
            catalogue,
            store,
            windows: Windows::new(settings)?,
            clock,
        })
    }

    /// The store, e.g. to inspect an in-memory one.
    pub fn store(&self) -> &W {
        &self.store
    }

    /// Reads the states `readings` and the `due` streams touch (streams and windows, in one
    /// read when the guess holds), applies.
    async fn decide_readings(
        &self,
        readings: &[Reading],
        due: &[StreamKey],
        now: DateTime<Utc>,
    ) -> Result<(Catalogue, WindowOutcome), HandlerError> {
        let keys: Vec<StreamKey> = readings
            .iter()
            .map(stream_of)
            .chain(due.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let ids: Vec<String> = keys
            .iter()
            .map(|k| k.sensor_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let catalogue = self.catalogue.sensors(&ids).await?;
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
        let (streams, mut windows) = self.store.load(&keys, &guessed).await?;
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
        Ok((catalogue, outcome))
    }

    /// Reads, applies and saves `readings` and the `due` streams; a stream another invocation
    /// wrote first is read and applied again, up to [`AFTER_CONFLICT`]`.attempts` times and starting no attempt
    /// after `by`. Only the readings of streams that still could not be written come back.
    async fn settle_readings(
        &self,
        readings: &[Reading],
        replayed: &[bool],
        mut due: Vec<StreamKey>,
        now: DateTime<Utc>,
        by: Instant,
    ) -> Result<Round, HandlerError> {
        let mut records: Vec<Option<Result<(), HandlerError>>> = readings.iter().map(|_| None).collect();
        let mut todo: Vec<usize> = (0..readings.len()).collect();
        let mut events = Vec::new();
        // What sets this batch's backoff apart from its rivals': FNV-1a of what it holds.
        let salt = readings
            .iter()
            .flat_map(|r| r.id.as_bytes().to_vec())
            .chain(due.iter().flat_map(|k| k.sensor_id.bytes().chain(k.metric.bytes())))
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
            });
        for attempt in 1..=AFTER_CONFLICT.attempts {
            if attempt > 1 {
                AFTER_CONFLICT.wait_salted(attempt - 1, salt).await;
            }
            let batch: Vec<Reading> = todo.iter().map(|&i| readings[i].clone()).collect();
            let tried = async {
                let (catalogue, outcome) = self.decide_readings(&batch, &due, now).await?;
                let saved = self.store.save(&outcome.streams, &outcome.windows).await?;
                Ok::<_, HandlerError>((catalogue, outcome, saved))
            };
            let (catalogue, outcome, saved) = match tried.await {
                Ok(done) => done,
                // Nothing of this attempt was written; what earlier attempts wrote stands.
                Err(err) if attempt > 1 => {
                    let reason = err.to_string();
                    for &i in &todo {
                        records[i] = Some(Err(HandlerError::classified(err.class(), err.kind(), reason.clone())));
                    }
                    todo.clear();
                    break;
                }
                Err(err) => return Err(err),
            };
            for (key, start) in &outcome.broken {
                tracing::warn!(
                    sensor = key.sensor_id,
                    metric = key.metric,
                    window = %sensors::time::utc(*start),
                    "the stream lists an open window that is not stored; its readings are parked"
                );
            }
            let mut again = Vec::new();
            for (&i, disposition) in todo.iter().zip(&outcome.dispositions) {
                let key = stream_of(&readings[i]);
                if saved.conflicts.contains(&key) {
                    again.push(i);
                    continue;
                }
                records[i] = Some(match saved.failed.get(&key) {
                    Some(failure) => Err(failure.clone().into()),
                    None => self.record(&readings[i], *disposition, replayed[i], &catalogue),
                });
            }
            events.extend(
                outcome
                    .events
                    .into_iter()
                    .filter(|event| outbox_entry(event).is_some_and(|(key, _, _)| saved.wrote(&key))),
            );
            for (key, failure) in &saved.failed {
                tracing::warn!(sensor = key.sensor_id, metric = key.metric, reason = %failure, "a stream was not written");
            }
            due.retain(|key| saved.conflicts.contains(key));
            todo = again;
            if (todo.is_empty() && due.is_empty()) || Instant::now() >= by {
                break;
            }
        }
        for i in todo {
            records[i] = Some(Err(HandlerError::transient(
                "window-conflict",
                format!(
                    "other invocations wrote stream '{}' '{}' first, {} times or until the deadline; the \
                     reading comes back",
                    readings[i].sensor_id, readings[i].metric, AFTER_CONFLICT.attempts
                ),
            )));
        }
        if !due.is_empty() {
            tracing::warn!(
                streams = due.len(),
                "due streams other invocations kept writing; the next tick takes them"
            );
        }
        Ok(Round {
            records: records.into_iter().map(|r| r.unwrap_or(Ok(()))).collect(),
            events,
        })
    }

    /// What becomes of a reading its stream's write took.
    fn record(
        &self,
        reading: &Reading,
        disposition: Disposition,
        replayed: bool,
        catalogue: &Catalogue,
    ) -> Result<(), HandlerError> {
        let Some(reason) = disposition.parked_reason() else {
            return Ok(());
        };
        // A replayed reading too late for its window was decided when it first came (the
        // archive holds it): nothing is lost, so it is acknowledged rather than parked, and a
        // replay of yesterday does not set off the parking alarm.
        if replayed && matches!(disposition, Disposition::TooLate { .. }) {
            tracing::info!(sensor = reading.sensor_id, %disposition, "a replayed reading too late to count; skipped");
            return Ok(());
        }
        // The reason, never the reading's data (it is logged): the parked message keeps them.
        let message = match (disposition, catalogue.unreadable(&reading.sensor_id)) {
            (Disposition::CatalogueUnreadable, Some(why)) => {
                format!("its sensor's catalogue item cannot be read: {why}")
            }
            _ => disposition.to_string(),
        };
        Err(HandlerError::permanent(reason, message))
    }

    /// What a settle hands the kit: `records`, and `events` to publish with their outbox
    /// entries to clear once they went out.
    fn settled(records: Vec<Result<(), HandlerError>>, events: &[AnomalyEvent]) -> Result<Settled<Sent>, HandlerError> {
        let outputs = events
            .iter()
            .map(AnomalyEvent::to_untyped)
            .collect::<Result<Vec<_>, _>>()?;
        let sent = events.iter().filter_map(outbox_entry).collect();
        Ok(Settled { records, outputs, sent })
    }
}

/// A reading's stream.
fn stream_of(reading: &Reading) -> StreamKey {
    StreamKey {
        sensor_id: reading.sensor_id.clone(),
        metric: reading.metric.clone(),
    }
}

impl<C: SensorCatalogue, W: WindowStore> BatchHandler for DetectAnomaly<C, W> {
    type Sent = Sent;

    fn event_types(&self) -> Registry {
        Registry::new().register::<SensorReadingReceived>()
    }

    async fn settle(&self, events: Vec<Envelope<Value>>, by: Instant) -> Result<Settled<Sent>, HandlerError> {
        let mut records: Vec<Result<(), HandlerError>> = Vec::with_capacity(events.len());
        let (mut readings, mut replayed, mut positions) = (Vec::new(), Vec::new(), Vec::new());
        for event in events {
            match event.into_typed::<SensorReadingReceived>(&Location::root()) {
                Ok(typed) => {
                    positions.push(records.len());
                    replayed.push(typed.metadata.replay.is_some());
                    readings.push(Reading::from_event(&typed));
                    records.push(Ok(()));
                }
                Err(err) => records.push(Err(err.into())),
            }
        }
        let round = self
            .settle_readings(&readings, &replayed, Vec::new(), self.clock.now(), by)
            .await?;
        for (position, record) in positions.into_iter().zip(round.records) {
            records[position] = record;
        }
        Self::settled(records, &round.events)
    }

    /// Closes the windows of streams gone quiet and sends what outboxes still hold: the
    /// streams the store's index says are due, a part at a time. A part that cannot be read or
    /// written now is skipped (the next tick finds it due still); the rest go on.
    async fn tick(&self, now: DateTime<Utc>, by: Instant) -> Result<Settled<Sent>, HandlerError> {
        let due = self.store.due(now).await?;
        for failure in &due.unread {
            tracing::warn!(reason = %failure, "part of the due index was not read; its streams wait for the next tick");
        }
        let mut events = Vec::new();
        for part in due.streams.chunks(TICK_CHUNK) {
            if Instant::now() >= by {
                tracing::warn!("the tick ran out of time; the streams left wait for the next one");
                break;
            }
            match self.settle_readings(&[], &[], part.to_vec(), now, by).await {
                Ok(round) => events.extend(round.events),
                Err(err) => {
                    tracing::warn!(streams = part.len(), reason = %err, "a part of the due streams was skipped");
                }
            }
        }
        Self::settled(Vec::new(), &events)
    }

    /// Clears the outbox entries of what went out: each stream read, its entries removed (a
    /// later revision committed since stays), written on condition; a stream written by
    /// another invocation meanwhile is read again, a few times, then left (its entries go out
    /// again, under the same ids).
    async fn sent(&self, sent: Sent) -> Result<(), HandlerError> {
        let mut pending: BTreeMap<StreamKey, Vec<(DateTime<Utc>, u32)>> = BTreeMap::new();
        for (key, start, revision) in sent {
            pending.entry(key).or_default().push((start, revision));
        }
        for _ in 0..AFTER_CONFLICT.attempts {
            if pending.is_empty() {
                break;
            }
            let keys: Vec<StreamKey> = pending.keys().cloned().collect();
            let (streams, _) = self.store.load(&keys, &[]).await?;
            let mut changed = Vec::new();
            for mut stream in streams {
                let entries = pending.get(&stream.key()).map(Vec::as_slice).unwrap_or_default();
                let mut any = false;
                for &(start, revision) in entries {
                    any |= stream.sent(start, revision, self.windows.settings());
                }
                if any {
                    stream.sequence += 1;
                    changed.push(stream);
                }
            }
            let saved = self.store.save(&changed, &[]).await?;
            pending.retain(|key, _| saved.conflicts.contains(key));
        }
        Ok(())
    }
}

//! Event-time tumbling windows per (sensor, metric), with watermarks, idle closing, late
//! revisions, and the reference computation they must agree with.
//!
//! - A reading falls in the window of `window_seconds` (aligned to UTC) that holds its event
//!   time in UTC, whatever offset the time was written with.
//! - A stream is one (sensor, metric). Its **watermark** is the largest event time it has seen
//!   (never past the clock that counted it) minus `allowed_lateness_seconds`: no reading older
//!   than that is expected any more. Capping by the clock means one reading from a device whose
//!   clock runs fast cannot close the windows whose readings are still on their way. An event
//!   time moves the watermark only once it has waited out `delivery_grace_seconds` of the clock
//!   ([`StreamState::settled_max`]): readings sent together (a device's backlog in one request)
//!   reach the function in any order and in several invocations at once, and none of them may
//!   close a window whose readings are still being delivered.
//! - A window **closes** when the watermark reaches its end, or, for a sensor gone quiet, when
//!   the clock is past its end plus the allowed lateness plus `idle_seconds` plus the stream's
//!   **lag** (how far its latest event time ran behind the clock: a slow device clock or a
//!   backlog on the way), so a stream's idle close goes by its own arrival delays. On close, a
//!   mean outside the band gives [`AnomalyDetected`] revision 1; inside, nothing.
//! - A reading for a closed window, up to `late_horizon_seconds` after the window's end (as
//!   the watermark goes), **revises** it: when the verdict or an anomalous window's figures
//!   change, the next revision is published ([`AnomalyDetected`], or [`AnomalyCleared`] when the
//!   window is back inside). A reading whose window ended more than the horizon before the
//!   watermark is [`Disposition::TooLate`]: the caller parks it.
//! - A window keeps the event times of the readings it counted ([`ReadingTimes`], at most
//!   [`MAX_WINDOW_READINGS`]): a duplicate is never counted twice. Sums are exact
//!   ([`crate::stats`]): verdicts do not depend on the order readings arrive in.
//! - **Outbox.** Every event `apply` returns is backed by the states it returns: a new revision
//!   is put in its stream's outbox ([`StreamState::outbox`]) in the same write, the caller
//!   publishes only after that write, and clears the entry once published
//!   ([`StreamState::sent`]). A batch or tick that reads a stream with entries left (its
//!   publisher failed, or its invocation died) sends them again, under the same ids.
//!
//! State is plain serializable data, one item per window ([`WindowState`]) and one per stream
//! ([`StreamState`]), and the API is batch-shaped so a function touches each item at most twice
//! per batch (one read, one conditional write on `sequence`):
//!
//! ```text
//! let keys = windows.plan(&catalogue, &readings, &streams, now);  // streams: read by key
//! let stored = store.get(keys);                                    // the windows that exist
//! let outcome = windows.apply(&catalogue, Batch { readings: &readings, streams: &streams, windows: stored, now })?;
//! store.put(outcome.streams, outcome.windows); publish(outcome.events); park(TooLate dispositions);
//! for each event published: stream.sent(window, revision) and write the stream
//! ```
//!
//! The scheduled tick is the same call with no readings and the streams that are due
//! ([`StreamState::due_at`]: an idle close or an outbox entry).
//!
//! Within a batch, readings are taken as a set: too-late is judged against the watermark as it
//! was before the batch, and windows close after every reading of the batch is counted, as if
//! the batch had arrived in event-time order.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use envelope::Envelope;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::{Band, Catalogue};
use crate::error::{SettingsError, StateError};
use crate::events::{AnomalyCleared, AnomalyDetected, AnomalyEvent, Direction, SensorReadingReceived, window_event_id};
use crate::stats::{Figures, Stats, is_countable, outside};
use crate::time::{at_millis, floor, millis, utc};
use envelope::EventType;

/// How windows are cut and when they close, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowSettings {
    /// The length of a window (`WINDOW_SECONDS`, default 60).
    pub window_seconds: u32,
    /// How far behind the latest reading of a stream a reading may be and still be counted
    /// before its window closes (`ALLOWED_LATENESS_SECONDS`, default 120).
    pub allowed_lateness_seconds: u32,
    /// How long after its end plus the allowed lateness the clock closes a window of a quiet
    /// sensor (`IDLE_SECONDS`, default 120).
    pub idle_seconds: u32,
    /// How long after a window's end (as the watermark goes) a late reading still revises it
    /// (`LATE_HORIZON_SECONDS`, default 3600).
    pub late_horizon_seconds: u32,
    /// How long the clock waits before a reading's event time moves the watermark
    /// (`DELIVERY_GRACE_SECONDS`, default 60): readings sent together reach the function out
    /// of order and in several invocations at once (a standard queue keeps no order), so a
    /// window closes only once what was sent with the reading that passed it had time to
    /// arrive.
    #[serde(default = "default_delivery_grace")]
    pub delivery_grace_seconds: u32,
}

fn default_delivery_grace() -> u32 {
    60
}

impl Default for WindowSettings {
    fn default() -> Self {
        Self {
            window_seconds: 60,
            allowed_lateness_seconds: 120,
            idle_seconds: 120,
            late_horizon_seconds: 3600,
            delivery_grace_seconds: default_delivery_grace(),
        }
    }
}

/// A reading as the windows count it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Its id: the same for every copy of the reading ([`crate::events::reading_id`]).
    pub id: Uuid,
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// Its event time.
    pub time: DateTime<Utc>,
    /// Its value.
    pub value: f64,
}

impl Reading {
    /// The reading an event records; its id is the envelope's (derived by the API from
    /// sensor, metric and time).
    pub fn from_event(event: &Envelope<SensorReadingReceived>) -> Self {
        Self {
            id: event.metadata.id,
            sensor_id: event.data.sensor_id.clone(),
            metric: event.data.metric.clone(),
            time: event.metadata.time,
            value: event.data.value,
        }
    }
}

/// A (sensor, metric) stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamKey {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
}

/// One window of one stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowKey {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The window's start (UTC).
    pub start: DateTime<Utc>,
}

/// What a store keeps per stream: how far its event time has gone, and which of its windows
/// are still open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamState {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The largest event time counted, to the millisecond; none before the first reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_event_time: Option<DateTime<Utc>>,
    /// The largest event time that moves the watermark: one counted at least the delivery
    /// grace ago (by the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_max: Option<DateTime<Utc>>,
    /// A larger event time counted since, waiting out the delivery grace: when the clock first
    /// saw it, and the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settling: Option<Settling>,
    /// The starts of the windows not yet closed.
    #[serde(default)]
    pub open_windows: BTreeSet<DateTime<Utc>>,
    /// The outbox: windows whose latest revision (by start, the revision) is committed but not
    /// known to have gone out. Every batch or tick that reads the stream sends them again
    /// (same ids), until a publish that succeeded clears them ([`StreamState::sent`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outbox: BTreeMap<DateTime<Utc>, u32>,
    /// When the clock last counted a reading of the stream: its windows do not close by the
    /// clock until it has been quiet for the delivery grace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_arrival: Option<DateTime<Utc>>,
    /// How far, in milliseconds, the stream's event time ran behind the clock when its latest
    /// event time was counted (a slow device clock, or readings held up on their way): the
    /// clock closes its quiet windows that much later. At most the late horizon.
    #[serde(default)]
    pub lag_ms: i64,
    /// When the tick must look at the stream: its first open window's idle close, or soon
    /// when its outbox holds something; none when neither. What a store indexes the due
    /// streams by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// How many times this state was written: a store writes on condition that the stored
    /// one is one less.
    #[serde(default)]
    pub sequence: u64,
}

/// An event time waiting out the delivery grace before it moves the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settling {
    /// When the clock first saw it.
    pub since: DateTime<Utc>,
    /// The event time.
    pub max: DateTime<Utc>,
}

/// How long after a commit an outbox entry waits for its own invocation to send it before the
/// tick sends it (then twice, under the same id).
const OUTBOX_GRACE_MS: i64 = 60_000;

impl StreamState {
    /// A stream that has seen nothing yet.
    pub fn new(sensor_id: impl Into<String>, metric: impl Into<String>) -> Self {
        Self {
            sensor_id: sensor_id.into(),
            metric: metric.into(),
            max_event_time: None,
            settled_max: None,
            settling: None,
            last_arrival: None,
            open_windows: BTreeSet::new(),
            outbox: BTreeMap::new(),
            lag_ms: 0,
            due_at: None,
            sequence: 0,
        }
    }

    /// Its key.
    pub fn key(&self) -> StreamKey {
        StreamKey {
            sensor_id: self.sensor_id.clone(),
            metric: self.metric.clone(),
        }
    }

    /// The largest settled event time minus the allowed lateness: what windows close by.
    pub fn watermark(&self, settings: &WindowSettings) -> Option<DateTime<Utc>> {
        let lateness = i64::from(settings.allowed_lateness_seconds) * 1000;
        self.settled_max.map(|t| at_millis(millis(t) - lateness))
    }

    /// When the clock closes its first open window if no reading comes (the end of that
    /// window plus the allowed lateness, the idle time and the stream's lag, and not before
    /// the stream has been quiet for the delivery grace).
    pub fn idle_close_at(&self, settings: &WindowSettings) -> Option<DateTime<Utc>> {
        let ms = Ms::of(settings);
        let quiet = self.last_arrival.map_or(i64::MIN, |at| millis(at) + ms.grace);
        self.open_windows
            .first()
            .map(|start| at_millis((millis(*start) + ms.window + ms.lateness + ms.idle + self.lag_ms).max(quiet)))
    }

    /// Revision `revision` of the window starting at `start` went out: its outbox entry is
    /// done, unless a later revision has been committed since. Whether anything changed (then
    /// write the state, with the next sequence).
    pub fn sent(&mut self, start: DateTime<Utc>, revision: u32, settings: &WindowSettings) -> bool {
        if self.outbox.get(&start) != Some(&revision) {
            return false;
        }
        self.outbox.remove(&start);
        if self.outbox.is_empty() {
            // (The clock only matters for an outbox entry.)
            self.refresh_due(settings, i64::MIN);
        }
        true
    }

    fn refresh_due(&mut self, settings: &WindowSettings, now: i64) {
        // An open window may close when the event time waiting out its grace settles.
        let settles = self
            .settling
            .filter(|_| !self.open_windows.is_empty())
            .map(|s| at_millis(millis(s.since) + i64::from(settings.delivery_grace_seconds) * 1000));
        let idle = match (self.idle_close_at(settings), settles) {
            (Some(idle), Some(settles)) => Some(idle.min(settles)),
            (idle, settles) => idle.or(settles),
        };
        self.due_at = if self.outbox.is_empty() {
            idle
        } else {
            let soon = at_millis(now.saturating_add(OUTBOX_GRACE_MS));
            Some(idle.map_or(soon, |idle| idle.min(soon)))
        };
    }
}

/// The outbox entry an anomaly event publishes: its stream, window start and revision.
pub fn outbox_entry(event: &AnomalyEvent) -> Option<(StreamKey, DateTime<Utc>, u32)> {
    let start = crate::time::parse(event.window_start()).ok()?;
    let stream = StreamKey {
        sensor_id: event.sensor_id().to_owned(),
        metric: event.metric().to_owned(),
    };
    Some((stream, start, event.revision()))
}

/// A verdict as last published for a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The side of the band published; none for [`AnomalyCleared`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The figures published.
    pub figures: Figures,
}

/// What a store keeps per window: the readings it counted, their figures, and what was
/// published about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The window's start (UTC).
    pub start: DateTime<Utc>,
    /// The window's end, exclusive.
    pub end: DateTime<Utc>,
    /// The band the window is judged against: the catalogue's when its first reading was
    /// counted, so a window's verdicts do not change with a catalogue edit mid-window.
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// The readings counted, by their event times.
    pub readings: ReadingTimes,
    /// Their count, exact sum, min and max.
    pub stats: Stats,
    /// Whether the window has closed (its verdict given).
    #[serde(default)]
    pub closed: bool,
    /// The last revision published (0: none).
    #[serde(default)]
    pub revision: u32,
    /// The verdict last published, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
    /// How many times this state was written: a store writes on condition that the stored
    /// one is one less.
    #[serde(default)]
    pub sequence: u64,
}

impl WindowState {
    /// Its key.
    pub fn key(&self) -> WindowKey {
        WindowKey {
            sensor_id: self.sensor_id.clone(),
            metric: self.metric.clone(),
            start: self.start,
        }
    }

    /// Its figures and where they stand against its band, now.
    pub fn verdict(&self) -> Verdict {
        let figures = self.stats.figures();
        Verdict {
            figures,
            low: self.low,
            high: self.high,
            direction: outside(figures.mean, self.low, self.high),
        }
    }

    /// Publishes the verdict if it differs from the last published: the next revision, or
    /// nothing.
    fn decide(&mut self) -> Option<AnomalyEvent> {
        let verdict = self.verdict();
        let figures = verdict.figures;
        let changed = match (verdict.direction, self.published) {
            (
                Some(now),
                Some(Published {
                    direction: Some(was),
                    figures: then,
                }),
            ) => now != was || figures != then,
            (Some(_), _) => true,
            (None, Some(Published { direction: Some(_), .. })) => true,
            (None, _) => false,
        };
        if !changed {
            return None;
        }
        self.revision += 1;
        self.published = Some(Published {
            direction: verdict.direction,
            figures,
        });
        self.event()
    }

    /// The event of its latest revision, as published (none before the first): what an
    /// outbox sends again.
    pub fn event(&self) -> Option<AnomalyEvent> {
        let published = self.published.filter(|_| self.revision > 0)?;
        let figures = published.figures;
        let (start, end) = (utc(self.start), utc(self.end));
        Some(match published.direction {
            Some(direction) => AnomalyEvent::Detected(Envelope::with_id(
                window_event_id(
                    AnomalyDetected::TYPE,
                    &self.sensor_id,
                    &self.metric,
                    self.start,
                    self.revision,
                ),
                self.sensor_id.clone(),
                self.end,
                AnomalyDetected {
                    sensor_id: self.sensor_id.clone(),
                    metric: self.metric.clone(),
                    window_start: start,
                    window_end: end,
                    count: figures.count,
                    mean: figures.mean,
                    min: figures.min,
                    max: figures.max,
                    low: self.low,
                    high: self.high,
                    direction,
                    revision: self.revision,
                },
            )),
            None => AnomalyEvent::Cleared(Envelope::with_id(
                window_event_id(
                    AnomalyCleared::TYPE,
                    &self.sensor_id,
                    &self.metric,
                    self.start,
                    self.revision,
                ),
                self.sensor_id.clone(),
                self.end,
                AnomalyCleared {
                    sensor_id: self.sensor_id.clone(),
                    metric: self.metric.clone(),
                    window_start: start,
                    window_end: end,
                    count: figures.count,
                    mean: figures.mean,
                    min: figures.min,
                    max: figures.max,
                    low: self.low,
                    high: self.high,
                    revision: self.revision,
                },
            )),
        })
    }
}

/// The most readings one window keeps: about 333 a second in a 60 s window, and at most about
/// 100 KB of its item for any window up to a day, well inside DynamoDB's 400 KB per item. A
/// reading beyond it is parked ([`Disposition::WindowFull`]), never counted unseen.
pub const MAX_WINDOW_READINGS: usize = 20_000;

/// The readings a window counted, as their event times in milliseconds from its start, sorted.
///
/// A reading's id is derived from its sensor, metric and time ([`crate::events::reading_id`]),
/// so within a window two readings with one time are copies of one reading: keeping the times
/// keeps every copy uncounted, exactly, at a few bytes a reading (stored as the gaps between
/// them) rather than 39 for an id.
///
/// A window written before times were kept holds its readings' ids (a JSON array of UUID
/// strings): they are read into [`Self::ids`] and still keep their copies uncounted, and the
/// readings counted since are kept as times; both are written back (the gaps, then the ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadingTimes {
    offsets: Vec<u64>,
    ids: BTreeSet<Uuid>,
}

impl ReadingTimes {
    fn of(offset: u64) -> Self {
        Self {
            offsets: vec![offset],
            ids: BTreeSet::new(),
        }
    }

    /// Whether the reading at `offset` with `id` was counted.
    fn holds(&self, offset: u64, id: Uuid) -> bool {
        self.offsets.binary_search(&offset).is_ok() || self.ids.contains(&id)
    }

    /// Adds the reading at `offset`; whether it was not there.
    fn insert(&mut self, offset: u64) -> bool {
        match self.offsets.binary_search(&offset) {
            Ok(_) => false,
            Err(at) => {
                self.offsets.insert(at, offset);
                true
            }
        }
    }

    /// The ids of readings counted before times were kept.
    pub fn ids(&self) -> &BTreeSet<Uuid> {
        &self.ids
    }

    /// How many readings.
    pub fn len(&self) -> usize {
        self.offsets.len() + self.ids.len()
    }

    /// None yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Serialize for ReadingTimes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        let mut last = 0;
        for &offset in &self.offsets {
            seq.serialize_element(&(offset - last))?;
            last = offset;
        }
        for id in &self.ids {
            seq.serialize_element(id)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ReadingTimes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let items = Vec::<serde_json::Value>::deserialize(deserializer)?;
        let mut times = Self::default();
        let mut at: u64 = 0;
        for (i, item) in items.into_iter().enumerate() {
            match item {
                serde_json::Value::Number(gap) => {
                    let gap = gap
                        .as_u64()
                        .ok_or_else(|| D::Error::custom(format!("reading {i}: {gap} is not a whole number of ms")))?;
                    if !times.offsets.is_empty() && gap == 0 {
                        return Err(D::Error::custom(format!("reading {i} repeats the time before it")));
                    }
                    if !times.ids.is_empty() {
                        return Err(D::Error::custom(format!("reading {i}: a time after the ids")));
                    }
                    at = at
                        .checked_add(gap)
                        .ok_or_else(|| D::Error::custom(format!("reading {i} is past the end of time")))?;
                    times.offsets.push(at);
                }
                serde_json::Value::String(id) => {
                    let id = Uuid::parse_str(&id)
                        .map_err(|e| D::Error::custom(format!("reading {i}: '{id}' is not a reading id: {e}")))?;
                    times.ids.insert(id);
                }
                other => {
                    return Err(D::Error::custom(format!(
                        "reading {i}: {other} is neither a gap in ms nor a reading id"
                    )));
                }
            }
        }
        Ok(times)
    }
}

/// A window's figures against its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Count, mean, min, max.
    pub figures: Figures,
    /// The band's lower limit.
    pub low: f64,
    /// The band's upper limit.
    pub high: f64,
    /// Outside the band, which side; inside, none.
    pub direction: Option<Direction>,
}

/// What became of one reading of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Counted in its window.
    Counted,
    /// Its window had already counted it.
    Duplicate,
    /// Its window ended more than the late horizon before the stream's watermark: park it.
    TooLate {
        /// Its window's end.
        window_end: DateTime<Utc>,
        /// The stream's watermark when it arrived.
        watermark: DateTime<Utc>,
    },
    /// Its sensor or metric is not in the catalogue: park it.
    Unknown,
    /// Its sensor's catalogue item is stored but cannot be read ([`Catalogue::unreadable`]
    /// says why): park it.
    CatalogueUnreadable,
    /// Its value is not finite, or too large to count: park it.
    Uncountable,
    /// Its time is before 1970 or after 9999: park it (its window could not be stored).
    TimeOutOfRange,
    /// Its window already keeps [`MAX_WINDOW_READINGS`]: park it (the window's item could not
    /// be stored with it).
    WindowFull {
        /// Its window's start.
        start: DateTime<Utc>,
    },
    /// Its stream's stored state lists an open window whose item is not stored (windows expire
    /// after days, streams never): the stream cannot go on until repaired; park it.
    StateMissing {
        /// The start of the window the stream lists but the store lacks.
        start: DateTime<Utc>,
    },
}

impl Disposition {
    /// The reason to park the reading with, for those that cannot be counted ever.
    pub fn parked_reason(&self) -> Option<&'static str> {
        match self {
            Self::Counted | Self::Duplicate => None,
            Self::TooLate { .. } => Some("too-late"),
            Self::Unknown => Some("unknown-sensor-or-metric"),
            Self::CatalogueUnreadable => Some("catalogue-item-unreadable"),
            Self::Uncountable => Some("uncountable-value"),
            Self::TimeOutOfRange => Some("time-out-of-range"),
            Self::WindowFull { .. } => Some("window-full"),
            Self::StateMissing { .. } => Some("stream-state-missing-window"),
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Counted => f.write_str("counted"),
            Self::Duplicate => f.write_str("already counted"),
            Self::TooLate { window_end, watermark } => write!(
                f,
                "its window ended at {}, more than the late horizon before the watermark {}",
                utc(*window_end),
                utc(*watermark)
            ),
            Self::Unknown => f.write_str("its sensor or metric is not in the catalogue"),
            Self::CatalogueUnreadable => f.write_str("its sensor's catalogue item is stored but cannot be read"),
            Self::Uncountable => f.write_str("its value is not a finite number of magnitude at most 1e300"),
            Self::TimeOutOfRange => f.write_str("its time is outside the years 1970 to 9999"),
            Self::WindowFull { start } => write!(
                f,
                "its window starting {} already keeps {MAX_WINDOW_READINGS} readings, the most one stored window holds",
                utc(*start)
            ),
            Self::StateMissing { start } => write!(
                f,
                "its stream's state lists the open window starting {} (item window#<metric>#{}), which is not stored: \
                 the window expired or was deleted; repair the stream item",
                utc(*start),
                utc(*start)
            ),
        }
    }
}

/// A batch of readings and the stored states of what they touch.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The readings, in any order, duplicates allowed.
    pub readings: &'a [Reading],
    /// The stored state of each stream of the readings that has one (and, for the tick, of the
    /// streams to close idle windows of).
    pub streams: &'a [StreamState],
    /// The stored state of each window [`Windows::plan`] named that exists.
    pub windows: Vec<WindowState>,
    /// The clock, for closing windows of quiet sensors.
    pub now: DateTime<Utc>,
}

/// What a batch changed.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowOutcome {
    /// What became of each reading, in batch order.
    pub dispositions: Vec<Disposition>,
    /// The stream states to write (changed ones only), by key.
    pub streams: Vec<StreamState>,
    /// The window states to write (changed ones only), by key.
    pub windows: Vec<WindowState>,
    /// The events to publish once the states are written, by sensor, metric and window: this
    /// batch's new revisions and what the streams' outboxes still held.
    pub events: Vec<AnomalyEvent>,
    /// The streams left as they were because their state lists an open window the store
    /// lacks, with that window's start.
    pub broken: Vec<(StreamKey, DateTime<Utc>)>,
}

/// The windowing of every stream, with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    settings: WindowSettings,
    ms: Ms,
}

/// The settings in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ms {
    window: i64,
    lateness: i64,
    idle: i64,
    horizon: i64,
    grace: i64,
}

impl Ms {
    fn of(settings: &WindowSettings) -> Self {
        let ms = |seconds: u32| i64::from(seconds) * 1000;
        Self {
            window: ms(settings.window_seconds),
            lateness: ms(settings.allowed_lateness_seconds),
            idle: ms(settings.idle_seconds),
            horizon: ms(settings.late_horizon_seconds),
            grace: ms(settings.delivery_grace_seconds),
        }
    }

    /// Whether a window of `stream` ending at `end` closes when the clock reads `now`: by its
    /// settled watermark, or by the clock once the stream has been quiet for the delivery
    /// grace and the clock, less the stream's lag, is past the end by the lateness and idle.
    fn closes(&self, end: i64, stream: &Stream<'_>, now: i64) -> bool {
        let by_watermark = stream.settled.is_some_and(|max| max - self.lateness >= end);
        let quiet = stream
            .last_arrival
            .is_none_or(|at| now >= at.saturating_add(self.grace));
        by_watermark || (quiet && now.saturating_sub(stream.lag) >= end + self.lateness + self.idle)
    }
}

/// Where a reading goes.
#[derive(Debug, Clone, Copy)]
enum Route<'c> {
    Window { stream: usize, start: i64, band: &'c Band },
    Refused(Disposition),
}

/// A stream of the batch: given, or met in the readings.
struct Stream<'a> {
    sensor_id: &'a str,
    metric: &'a str,
    given: Option<&'a StreamState>,
    before: Option<i64>,
    after: Option<i64>,
    /// The event time that moves its watermark after the batch (see [`StreamState::settled_max`]).
    settled: Option<i64>,
    /// The event time waiting out the grace after the batch: since, time.
    settling: Option<(i64, i64)>,
    /// Its lag after the batch.
    lag: i64,
    /// When the clock last counted a reading of it, after the batch.
    last_arrival: Option<i64>,
}

impl Stream<'_> {
    /// Its open windows (as stored) that close in this batch: the earliest
    /// [`MAX_CLOSES_PER_BATCH`], so a stream's states always fit one transaction; the rest
    /// close in the next batch or tick.
    fn closing(&self, ms: &Ms, now: i64) -> impl Iterator<Item = i64> + '_ {
        let ms = *ms;
        self.given
            .into_iter()
            .flat_map(|s| &s.open_windows)
            .map(|start| millis(*start))
            .filter(move |start| ms.closes(start + ms.window, self, now))
            .take(MAX_CLOSES_PER_BATCH)
    }

    /// The windows of its outbox, by start.
    fn outbox(&self) -> impl Iterator<Item = i64> + '_ {
        self.given
            .into_iter()
            .flat_map(|s| s.outbox.keys())
            .map(|start| millis(*start))
    }
}

/// The most open windows of one stream a batch or tick closes: with the windows a batch's
/// readings touch, a stream's states stay within one transaction (100 items, 4 MB).
pub const MAX_CLOSES_PER_BATCH: usize = 40;

/// The batch's readings sent to their streams and windows.
struct Routed<'a> {
    streams: Vec<Stream<'a>>,
    index: HashMap<(&'a str, &'a str), usize>,
    routes: Vec<Route<'a>>,
}

impl Windows {
    /// Windows with `settings`, if they can work: each duration at least a second for the window,
    /// the others any.
    pub fn new(settings: WindowSettings) -> Result<Self, SettingsError> {
        if settings.window_seconds == 0 {
            return Err(SettingsError {
                setting: "WINDOW_SECONDS",
                value: 0,
                reason: "a window lasts at least 1 second",
            });
        }
        Ok(Self {
            settings,
            ms: Ms::of(&settings),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &WindowSettings {
        &self.settings
    }

    /// The start and end of the window that holds `time`.
    pub fn window_of(&self, time: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = floor(millis(time), self.ms.window);
        (at_millis(start), at_millis(start + self.ms.window))
    }

    /// The windows `apply` needs the stored state of, for these readings and stream states at
    /// `now`: the windows the readings fall in, the open windows that close, and the windows
    /// of the streams' outboxes. By key.
    pub fn plan(
        &self,
        catalogue: &Catalogue,
        readings: &[Reading],
        streams: &[StreamState],
        now: DateTime<Utc>,
    ) -> Result<Vec<WindowKey>, StateError> {
        let now = millis(now);
        let routed = self.route(catalogue, readings, streams, now)?;
        let mut wanted: HashSet<(usize, i64)> = HashSet::new();
        for route in &routed.routes {
            if let Route::Window { stream, start, .. } = route {
                wanted.insert((*stream, *start));
            }
        }
        for (i, stream) in routed.streams.iter().enumerate() {
            wanted.extend(
                stream
                    .closing(&self.ms, now)
                    .chain(stream.outbox())
                    .map(|start| (i, start)),
            );
        }
        let mut keys: Vec<WindowKey> = wanted
            .into_iter()
            .map(|(i, start)| WindowKey {
                sensor_id: routed.streams[i].sensor_id.to_owned(),
                metric: routed.streams[i].metric.to_owned(),
                start: at_millis(start),
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Counts the batch's readings, closes the windows whose time has come, revises closed
    /// windows that late readings changed, and says what to write and publish: the events of
    /// this batch's new revisions and of the streams' outboxes, every one of them in the
    /// outbox of the stream state to write, so that nothing goes out that is not committed
    /// first.
    ///
    /// A stream whose state lists an open window the store lacks is left as it is: its
    /// readings are [`Disposition::StateMissing`] and it is named in
    /// [`WindowOutcome::broken`]; the batch's other streams go on.
    pub fn apply(&self, catalogue: &Catalogue, batch: Batch<'_>) -> Result<WindowOutcome, StateError> {
        let Batch {
            readings,
            streams,
            windows,
            now,
        } = batch;
        let now = millis(now);
        let routed = self.route(catalogue, readings, streams, now)?;

        // The windows passed, by stream and start.
        let mut slots: Vec<Slot> = Vec::with_capacity(windows.len() + readings.len().min(64));
        let mut at: HashMap<(usize, i64), usize> = HashMap::with_capacity(slots.capacity());
        for window in windows {
            let key = (window.sensor_id.as_str(), window.metric.as_str());
            let Some(&stream) = routed.index.get(&key) else {
                return Err(StateError::Stray {
                    sensor_id: window.sensor_id,
                    metric: window.metric,
                    start: utc(window.start),
                });
            };
            if at.insert((stream, millis(window.start)), slots.len()).is_some() {
                return Err(StateError::Repeated {
                    what: format!(
                        "window {} of '{}' '{}'",
                        utc(window.start),
                        window.sensor_id,
                        window.metric
                    ),
                });
            }
            slots.push(Slot {
                was_closed: window.closed,
                state: window,
                stream,
                created: false,
                counted: 0,
                closing: false,
            });
        }

        // A stream that lists an open window the store lacks cannot be decided: the first
        // such window, per stream.
        let broken: Vec<Option<i64>> = routed
            .streams
            .iter()
            .enumerate()
            .map(|(i, stream)| {
                stream
                    .closing(&self.ms, now)
                    .find(|start| !at.contains_key(&(i, *start)))
            })
            .collect();

        // Every reading into its window.
        let mut dispositions = Vec::with_capacity(readings.len());
        for (reading, route) in readings.iter().zip(&routed.routes) {
            let &Route::Window { stream, start, band } = route else {
                if let Route::Refused(refused) = route {
                    dispositions.push(*refused);
                }
                continue;
            };
            if let Some(missing) = broken[stream] {
                dispositions.push(Disposition::StateMissing {
                    start: at_millis(missing),
                });
                continue;
            }
            let offset = (millis(reading.time) - start).unsigned_abs();
            let disposition = match at.get(&(stream, start)) {
                Some(&slot) => slots[slot].count(offset, reading),
                None => {
                    at.insert((stream, start), slots.len());
                    slots.push(Slot::open(reading, offset, stream, start, self.ms.window, band));
                    Disposition::Counted
                }
            };
            dispositions.push(disposition);
        }

        // Close what the watermark or the clock has passed, earliest first.
        slots.retain(|slot| broken[slot.stream].is_none());
        slots.sort_by_key(|slot| (slot.stream, slot.state.start));
        let mut open: Vec<BTreeSet<DateTime<Utc>>> = routed
            .streams
            .iter()
            .map(|s| s.given.map(|g| g.open_windows.clone()).unwrap_or_default())
            .collect();
        let mut closes = vec![0_usize; routed.streams.len()];
        for slot in &mut slots {
            if slot.state.closed {
                // Closed in the store: whatever the stream listed, it is not open.
                open[slot.stream].remove(&slot.state.start);
                continue;
            }
            let stream = &routed.streams[slot.stream];
            let end = millis(slot.state.end);
            // The clock closes windows of sensors gone quiet, so only windows that were open
            // before this batch: one this batch's readings open waits for the watermark (or
            // the next tick), or a device uploading in bursts would get verdicts on part of a
            // window.
            let clock = if slot.created { i64::MIN } else { now };
            if closes[slot.stream] < MAX_CLOSES_PER_BATCH && self.ms.closes(end, stream, clock) {
                closes[slot.stream] += 1;
                slot.closing = true;
                open[slot.stream].remove(&slot.state.start);
            } else {
                open[slot.stream].insert(slot.state.start);
            }
        }

        // Verdicts: at close, and for closed windows that counted late readings; and what the
        // outboxes still hold.
        let mut outbox: Vec<BTreeMap<DateTime<Utc>, u32>> = routed
            .streams
            .iter()
            .map(|s| s.given.map(|g| g.outbox.clone()).unwrap_or_default())
            .collect();
        let mut events = Vec::new();
        let mut changed_windows = Vec::new();
        for mut slot in slots {
            let decide = slot.closing || (slot.was_closed && slot.counted > 0);
            if slot.closing {
                slot.state.closed = true;
            }
            if decide && slot.state.decide().is_some() {
                outbox[slot.stream].insert(slot.state.start, slot.state.revision);
            }
            if let Some(revision) = outbox[slot.stream].get_mut(&slot.state.start) {
                // The window's state is what is committed: its latest revision is what to send.
                *revision = slot.state.revision;
                events.extend(slot.state.event());
            }
            if slot.created || slot.counted > 0 || slot.closing {
                slot.state.sequence += 1;
                changed_windows.push(slot.state);
            }
        }
        changed_windows.sort_by(|a, b| (&a.sensor_id, &a.metric, a.start).cmp(&(&b.sensor_id, &b.metric, b.start)));
        events.sort_by(|a, b| {
            (a.sensor_id(), a.metric(), a.metadata().time).cmp(&(b.sensor_id(), b.metric(), b.metadata().time))
        });

        let mut changed_streams = Vec::new();
        let mut broken_streams = Vec::new();
        for (i, (stream, (open, mut outbox))) in routed.streams.iter().zip(open.into_iter().zip(outbox)).enumerate() {
            if let Some(missing) = broken[i] {
                broken_streams.push((
                    StreamKey {
                        sensor_id: stream.sensor_id.to_owned(),
                        metric: stream.metric.to_owned(),
                    },
                    at_millis(missing),
                ));
                continue;
            }
            // An outbox window the store no longer has (expired) has nothing left to send.
            outbox.retain(|start, _| at.contains_key(&(i, millis(*start))));
            let max_event_time = stream.after.map(at_millis);
            let settled_max = stream.settled.map(at_millis);
            let last_arrival = stream.last_arrival.map(at_millis);
            let settling = stream.settling.map(|(since, max)| Settling {
                since: at_millis(since),
                max: at_millis(max),
            });
            let mut state = match stream.given {
                Some(given)
                    if given.max_event_time == max_event_time
                        && given.settled_max == settled_max
                        && given.settling == settling
                        && given.last_arrival == last_arrival
                        && given.open_windows == open
                        && given.outbox == outbox
                        && given.lag_ms == stream.lag =>
                {
                    continue;
                }
                Some(given) => given.clone(),
                None => StreamState::new(stream.sensor_id, stream.metric),
            };
            state.max_event_time = max_event_time;
            state.settled_max = settled_max;
            state.settling = settling;
            state.last_arrival = last_arrival;
            state.open_windows = open;
            state.outbox = outbox;
            state.lag_ms = stream.lag;
            state.refresh_due(&self.settings, now);
            state.sequence += 1;
            changed_streams.push(state);
        }
        changed_streams.sort_by(|a, b| (&a.sensor_id, &a.metric).cmp(&(&b.sensor_id, &b.metric)));

        Ok(WindowOutcome {
            dispositions,
            streams: changed_streams,
            windows: changed_windows,
            events,
            broken: broken_streams,
        })
    }

    /// Sends each reading to its stream and window, or refuses it; and how far each stream's
    /// event time goes with the batch.
    ///
    /// A stream's event time goes no further than the clock (`now`): one reading from a
    /// device whose clock runs fast cannot move the watermark past readings still on their
    /// way. Its lag is how far its latest event time runs behind the clock.
    fn route<'a>(
        &self,
        catalogue: &'a Catalogue,
        readings: &'a [Reading],
        streams: &'a [StreamState],
        now: i64,
    ) -> Result<Routed<'a>, StateError> {
        let mut routed = Routed {
            streams: Vec::with_capacity(streams.len()),
            index: HashMap::with_capacity(streams.len()),
            routes: Vec::with_capacity(readings.len()),
        };
        for given in streams {
            let before = given.max_event_time.map(millis);
            let key = (given.sensor_id.as_str(), given.metric.as_str());
            if routed.index.insert(key, routed.streams.len()).is_some() {
                return Err(StateError::Repeated {
                    what: format!("stream '{}' '{}'", given.sensor_id, given.metric),
                });
            }
            routed.streams.push(Stream {
                sensor_id: key.0,
                metric: key.1,
                given: Some(given),
                before,
                after: before,
                settled: given.settled_max.map(millis),
                settling: given.settling.map(|s| (millis(s.since), millis(s.max))),
                lag: given.lag_ms,
                last_arrival: given.last_arrival.map(millis),
            });
        }
        // Readings of one stream usually come together: the last one's stream and band is
        // the next one's too, without hashing.
        let mut last: Option<(&str, &str, usize, &Band)> = None;
        for reading in readings {
            if !is_countable(reading.value) {
                routed.routes.push(Route::Refused(Disposition::Uncountable));
                continue;
            }
            if !crate::time::is_reading_time(reading.time) {
                routed.routes.push(Route::Refused(Disposition::TimeOutOfRange));
                continue;
            }
            let (sensor_id, metric) = (reading.sensor_id.as_str(), reading.metric.as_str());
            let (stream, band) = match last {
                Some((s, m, stream, band)) if s == sensor_id && m == metric => (stream, band),
                _ => {
                    let Some(band) = catalogue.band(sensor_id, metric) else {
                        let refused = if catalogue.unreadable(sensor_id).is_some() {
                            Disposition::CatalogueUnreadable
                        } else {
                            Disposition::Unknown
                        };
                        routed.routes.push(Route::Refused(refused));
                        continue;
                    };
                    let next = routed.streams.len();
                    let stream = *routed.index.entry((sensor_id, metric)).or_insert(next);
                    if stream == next {
                        routed.streams.push(Stream {
                            sensor_id,
                            metric,
                            given: None,
                            before: None,
                            after: None,
                            settled: None,
                            settling: None,
                            lag: 0,
                            last_arrival: None,
                        });
                    }
                    last = Some((sensor_id, metric, stream, band));
                    (stream, band)
                }
            };
            let time = millis(reading.time);
            let start = floor(time, self.ms.window);
            let state = &mut routed.streams[stream];
            if let Some(watermark) = state.before.map(|max| max - self.ms.lateness)
                && start + self.ms.window + self.ms.horizon < watermark
            {
                routed.routes.push(Route::Refused(Disposition::TooLate {
                    window_end: at_millis(start + self.ms.window),
                    watermark: at_millis(watermark),
                }));
                continue;
            }
            let capped = time.min(now);
            state.after = Some(state.after.map_or(capped, |max| max.max(capped)));
            state.last_arrival = Some(now);
            routed.routes.push(Route::Window { stream, start, band });
        }
        for stream in &mut routed.streams {
            if stream.after > stream.before
                && let Some(after) = stream.after
            {
                stream.lag = now.saturating_sub(after).clamp(0, self.ms.horizon);
            }
            // What waited out its grace moves the watermark; what is newer starts waiting.
            // (Promoted again at once, so a grace of 0 is no wait.)
            let grace = self.ms.grace;
            let promote = |stream: &mut Stream<'_>| {
                if let Some((since, max)) = stream.settling
                    && now.saturating_sub(since) >= grace
                {
                    stream.settled = stream.settled.max(Some(max));
                    stream.settling = None;
                }
            };
            promote(stream);
            if stream.after > stream.settled
                && stream.settling.is_none()
                && let Some(after) = stream.after
            {
                stream.settling = Some((now, after));
            }
            promote(stream);
        }
        Ok(routed)
    }
}

/// A window being worked on.
struct Slot {
    state: WindowState,
    stream: usize,
    /// Opened by this batch.
    created: bool,
    /// Closed before this batch.
    was_closed: bool,
    /// Readings counted by this batch.
    counted: u32,
    /// Closes in this batch.
    closing: bool,
}

impl Slot {
    fn open(reading: &Reading, offset: u64, stream: usize, start: i64, length: i64, band: &Band) -> Self {
        Self {
            state: WindowState {
                sensor_id: reading.sensor_id.clone(),
                metric: reading.metric.clone(),
                start: at_millis(start),
                end: at_millis(start + length),
                low: band.low,
                high: band.high,
                readings: ReadingTimes::of(offset),
                stats: Stats::of(reading.value),
                closed: false,
                revision: 0,
                published: None,
                sequence: 0,
            },
            stream,
            created: true,
            was_closed: false,
            counted: 1,
            closing: false,
        }
    }

    fn count(&mut self, offset: u64, reading: &Reading) -> Disposition {
        let readings = &mut self.state.readings;
        if readings.holds(offset, reading.id) {
            return Disposition::Duplicate;
        }
        if readings.len() >= MAX_WINDOW_READINGS {
            return Disposition::WindowFull {
                start: self.state.start,
            };
        }
        readings.insert(offset);
        self.state.stats.add(reading.value);
        self.counted += 1;
        Disposition::Counted
    }
}

/// The verdict of every window over the full set of `readings`, as if every one arrived before
/// its window closed: the reference the windows must agree with, whatever the order and
/// copies of arrival within the allowed lateness. Readings the windows would refuse
/// (unknown, uncountable) are left out; so is nothing else.
pub fn final_verdicts(
    settings: &WindowSettings,
    catalogue: &Catalogue,
    readings: &[Reading],
) -> BTreeMap<WindowKey, Verdict> {
    let ms = Ms::of(settings);
    let mut seen = HashSet::new();
    let mut windows: BTreeMap<WindowKey, (Stats, f64, f64)> = BTreeMap::new();
    for reading in readings {
        let Some(band) = catalogue.band(&reading.sensor_id, &reading.metric) else {
            continue;
        };
        if !is_countable(reading.value) || !seen.insert(reading.id) {
            continue;
        }
        let key = WindowKey {
            sensor_id: reading.sensor_id.clone(),
            metric: reading.metric.clone(),
            start: at_millis(floor(millis(reading.time), ms.window.max(1))),
        };
        windows
            .entry(key)
            .and_modify(|(stats, _, _)| stats.add(reading.value))
            .or_insert_with(|| (Stats::of(reading.value), band.low, band.high));
    }
    windows
        .into_iter()
        .map(|(key, (stats, low, high))| {
            let figures = stats.figures();
            let verdict = Verdict {
                figures,
                low,
                high,
                direction: outside(figures.mean, low, high),
            };
            (key, verdict)
        })
        .collect()
}

//! Alerts: the anomalies of a (sensor, metric) grouped in fixed suppression periods of
//! `suppress_seconds` aligned to UTC, one alert per period.
//!
//! The first anomalous window of a period triggers [`AlertTriggered`] (its id derived from
//! sensor, metric and period, so whatever the order of arrival there is one alert per period);
//! later anomalies of the period fold into it. When revisions leave the period with no
//! anomalous window, [`AlertResolved`]. Each period's state knows the latest revision of each of
//! its windows, so a stale or repeated anomaly event changes nothing, and the severity and local
//! time are those of the window that triggered the alert.
//!
//! The API is batch-shaped like the windows': [`Alerts::plan`] names the periods a batch of
//! anomaly events touches, [`Alerts::apply`] takes their stored states and returns the states
//! to write and the events to publish.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use envelope::{Envelope, EventType};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::{Catalogue, Sensor};
use crate::error::{SettingsError, StateError};
use crate::events::{
    AlertEvent, AlertResolved, AlertTriggered, AnomalyEvent, Direction, Severity, alert_event_id, alert_id,
};
use crate::time::{at_millis, floor, local, millis, utc};
use crate::windows::{Verdict, WindowKey};

/// How alerts are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertSettings {
    /// The length of a suppression period (`SUPPRESS_SECONDS`, default 900).
    pub suppress_seconds: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self { suppress_seconds: 900 }
    }
}

/// One suppression period of one (sensor, metric).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodKey {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The period's start (UTC).
    pub start: DateTime<Utc>,
}

/// A window of a period as its latest revision says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowMark {
    /// The window's start.
    pub window_start: DateTime<Utc>,
    /// The latest revision applied.
    pub revision: u32,
    /// Outside its band: which side, with the mean and band; back inside: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<Anomaly>,
}

/// An anomalous window's mean against its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    /// Which side.
    pub direction: Direction,
    /// The window's mean.
    pub mean: f64,
    /// The band's lower limit.
    pub low: f64,
    /// The band's upper limit.
    pub high: f64,
}

/// An alert event in a period's outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unsent {
    /// The event, as it goes out.
    pub event: Envelope<serde_json::Value>,
    /// Until when the invocation that committed it is sending it (its deadline): another
    /// invocation that reads it before then leaves it to that one (and retries its own
    /// record, so that if the sender died the entry is sent after this time). Two invocations
    /// holding one record (a throttled invocation outliving its visibility timeout) so tell
    /// an alert once, not twice.
    pub held_until: DateTime<Utc>,
}

/// What a store keeps per period: its windows' latest revisions and the alert, if active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The period's start (UTC).
    pub period_start: DateTime<Utc>,
    /// The windows of the period anomaly events spoke of, by start.
    #[serde(default)]
    pub windows: Vec<WindowMark>,
    /// The alert as triggered, while it is not resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<AlertTriggered>,
    /// How many times the alert was triggered (a period whose anomaly was cleared can turn
    /// anomalous again); numbers the events' ids.
    #[serde(default)]
    pub triggered: u32,
    /// How many times the alert was resolved.
    #[serde(default)]
    pub resolved: u32,
    /// The outbox: alert events committed with this state but not known to have gone out.
    /// A batch that reads the period sends those no invocation holds any more (same ids),
    /// until a publish that succeeded clears them ([`AlertState::sent`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<Unsent>,
    /// How many times this state was written: a store writes on condition that the stored
    /// one is one less.
    #[serde(default)]
    pub sequence: u64,
}

impl AlertState {
    /// A period nothing was said of yet.
    pub fn new(key: PeriodKey) -> Self {
        Self {
            sensor_id: key.sensor_id,
            metric: key.metric,
            period_start: key.start,
            windows: Vec::new(),
            active: None,
            triggered: 0,
            resolved: 0,
            outbox: Vec::new(),
            sequence: 0,
        }
    }

    /// The event `id` went out: it leaves the outbox. Whether anything changed (then write
    /// the state, with the next sequence).
    pub fn sent(&mut self, id: Uuid) -> bool {
        let before = self.outbox.len();
        self.outbox.retain(|unsent| unsent.event.metadata.id != id);
        self.outbox.len() != before
    }

    /// Its key.
    pub fn key(&self) -> PeriodKey {
        PeriodKey {
            sensor_id: self.sensor_id.clone(),
            metric: self.metric.clone(),
            start: self.period_start,
        }
    }

    /// The period's alert id.
    pub fn alert_id(&self) -> Uuid {
        alert_id(&self.sensor_id, &self.metric, self.period_start)
    }

    /// Its earliest window that is anomalous now.
    pub fn first_anomaly(&self) -> Option<(DateTime<Utc>, Anomaly)> {
        self.windows.iter().find_map(|w| w.anomaly.map(|a| (w.window_start, a)))
    }

    /// Records `mark` unless a revision as recent of its window is known; whether it did.
    fn record(&mut self, mark: WindowMark) -> bool {
        match self
            .windows
            .binary_search_by_key(&mark.window_start, |w| w.window_start)
        {
            Ok(i) if self.windows[i].revision >= mark.revision => false,
            Ok(i) => {
                self.windows[i] = mark;
                true
            }
            Err(i) => {
                self.windows.insert(i, mark);
                true
            }
        }
    }
}

/// What became of one anomaly event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDisposition {
    /// Recorded in its period.
    Applied,
    /// A revision as recent of its window was already recorded (a duplicate, or out of order).
    Stale,
    /// Its `windowStart` is not an RFC 3339 time: park it.
    Invalid(String),
    /// Its sensor is not in the catalogue (no site, no time zone): park it.
    UnknownSensor,
    /// Its sensor's catalogue item is stored but cannot be read (why): park it.
    UnreadableSensor(String),
}

impl AlertDisposition {
    /// The reason to park the event with, for those that can never be applied.
    pub fn parked_reason(&self) -> Option<&'static str> {
        match self {
            Self::Applied | Self::Stale => None,
            Self::Invalid(_) => Some("invalid-window-start"),
            Self::UnknownSensor => Some("unknown-sensor"),
            Self::UnreadableSensor(_) => Some("catalogue-item-unreadable"),
        }
    }
}

impl fmt::Display for AlertDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Applied => f.write_str("applied"),
            Self::Stale => f.write_str("a revision as recent of its window was already applied"),
            Self::Invalid(reason) => write!(f, "windowStart: {reason}"),
            Self::UnknownSensor => f.write_str("its sensor is not in the catalogue"),
            Self::UnreadableSensor(why) => write!(f, "its sensor's catalogue item cannot be read: {why}"),
        }
    }
}

/// A batch of anomaly events and the stored states of the periods they touch.
#[derive(Debug, Clone)]
pub struct AlertBatch<'a> {
    /// The events, in any order, duplicates allowed.
    pub events: &'a [AnomalyEvent],
    /// The stored state of each period [`Alerts::plan`] named that exists.
    pub periods: Vec<AlertState>,
}

/// What a batch changed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOutcome {
    /// What became of each event, in batch order.
    pub dispositions: Vec<AlertDisposition>,
    /// The period states to write (changed ones only), by key.
    pub periods: Vec<AlertState>,
    /// The alert events to publish, by sensor, metric and period.
    pub events: Vec<AlertEvent>,
}

/// The alerting of every stream, with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alerts {
    settings: AlertSettings,
}

impl Alerts {
    /// Alerts with `settings`, if they can work: a period lasts at least a second.
    pub fn new(settings: AlertSettings) -> Result<Self, SettingsError> {
        if settings.suppress_seconds == 0 {
            return Err(SettingsError {
                setting: "SUPPRESS_SECONDS",
                value: 0,
                reason: "a suppression period lasts at least 1 second",
            });
        }
        Ok(Self { settings })
    }

    /// The settings.
    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// The start of the period that holds `time`.
    pub fn period_of(&self, time: DateTime<Utc>) -> DateTime<Utc> {
        at_millis(floor(millis(time), i64::from(self.settings.suppress_seconds) * 1000))
    }

    fn period_key(&self, event: &AnomalyEvent) -> Result<(PeriodKey, DateTime<Utc>), String> {
        let window_start = crate::time::parse(event.window_start())?;
        let key = PeriodKey {
            sensor_id: event.sensor_id().to_owned(),
            metric: event.metric().to_owned(),
            start: self.period_of(window_start),
        };
        Ok((key, window_start))
    }

    /// The periods `apply` needs the stored state of, by key.
    pub fn plan(&self, events: &[AnomalyEvent]) -> Vec<PeriodKey> {
        let mut keys: Vec<PeriodKey> = events
            .iter()
            .filter_map(|e| self.period_key(e).ok().map(|(key, _)| key))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Records each event's window in its period, then triggers the alert of a period that
    /// has an anomalous window and no alert, and resolves the alert of one that has none.
    pub fn apply(&self, catalogue: &Catalogue, batch: AlertBatch<'_>) -> Result<AlertOutcome, StateError> {
        let AlertBatch { events, periods } = batch;
        let mut slots: Vec<(AlertState, bool, DateTime<Utc>)> = Vec::with_capacity(periods.len());
        let mut at: HashMap<PeriodKey, usize> = HashMap::with_capacity(periods.len());
        for state in periods {
            if at.insert(state.key(), slots.len()).is_some() {
                return Err(StateError::Repeated {
                    what: format!(
                        "period {} of '{}' '{}'",
                        utc(state.period_start),
                        state.sensor_id,
                        state.metric
                    ),
                });
            }
            slots.push((state, false, DateTime::<Utc>::MIN_UTC));
        }
        let mut dispositions = Vec::with_capacity(events.len());
        for event in events {
            let (key, window_start) = match self.period_key(event) {
                Ok(found) => found,
                Err(reason) => {
                    dispositions.push(AlertDisposition::Invalid(reason));
                    continue;
                }
            };
            if catalogue.sensor(&key.sensor_id).is_none() {
                dispositions.push(match catalogue.unreadable(&key.sensor_id) {
                    Some(why) => AlertDisposition::UnreadableSensor(why.to_owned()),
                    None => AlertDisposition::UnknownSensor,
                });
                continue;
            }
            let slot = *at.entry(key).or_insert_with_key(|key| {
                slots.push((AlertState::new(key.clone()), false, DateTime::<Utc>::MIN_UTC));
                slots.len() - 1
            });
            let anomaly = match event {
                AnomalyEvent::Detected(e) => Some(Anomaly {
                    direction: e.data.direction,
                    mean: e.data.mean,
                    low: e.data.low,
                    high: e.data.high,
                }),
                AnomalyEvent::Cleared(_) => None,
            };
            let mark = WindowMark {
                window_start,
                revision: event.revision(),
                anomaly,
            };
            let (state, changed, latest) = &mut slots[slot];
            if state.record(mark) {
                *changed = true;
                *latest = (*latest).max(event.metadata().time);
                dispositions.push(AlertDisposition::Applied);
            } else {
                dispositions.push(AlertDisposition::Stale);
            }
        }

        slots.retain(|(_, changed, _)| *changed);
        slots.sort_by(|(a, ..), (b, ..)| {
            (&a.sensor_id, &a.metric, a.period_start).cmp(&(&b.sensor_id, &b.metric, b.period_start))
        });
        let mut events_out = Vec::new();
        let mut changed_periods = Vec::with_capacity(slots.len());
        for (mut state, _, latest) in slots {
            let alert_id = state.alert_id();
            match (state.first_anomaly(), state.active.take()) {
                (Some((window_start, anomaly)), None) => {
                    // Checked above: every period that changed has a catalogued sensor.
                    if let Some(sensor) = catalogue.sensor(&state.sensor_id) {
                        state.triggered += 1;
                        let triggered = alert_of(&state, sensor, window_start, anomaly);
                        let id = alert_event_id(AlertTriggered::TYPE, alert_id, state.triggered);
                        let envelope = Envelope::with_id(id, state.sensor_id.clone(), window_start, triggered.clone())
                            .with_correlation_id(alert_id.to_string());
                        events_out.push(AlertEvent::Triggered(envelope));
                        state.active = Some(triggered);
                    }
                }
                (None, Some(active)) => {
                    state.resolved += 1;
                    let resolved = AlertResolved {
                        alert_id: active.alert_id,
                        sensor_id: active.sensor_id,
                        metric: active.metric,
                        site: active.site,
                        severity: active.severity,
                        direction: active.direction,
                        window_start: active.window_start,
                        local_time: active.local_time,
                        mean: active.mean,
                        low: active.low,
                        high: active.high,
                    };
                    let id = alert_event_id(AlertResolved::TYPE, alert_id, state.resolved);
                    let envelope = Envelope::with_id(id, state.sensor_id.clone(), latest, resolved)
                        .with_correlation_id(alert_id.to_string());
                    events_out.push(AlertEvent::Resolved(envelope));
                }
                (Some((window_start, anomaly)), Some(active))
                    if crate::time::parse(&active.window_start).is_ok_and(|told| window_start < told) =>
                {
                    // Told once, from the first anomalous window to arrive. When an earlier
                    // window of the period turns out anomalous, what the period says of its
                    // alert (a status read, the AlertResolved to come) moves to that window,
                    // so it names the period's earliest anomaly whatever the arrival order.
                    state.active = Some(match catalogue.sensor(&state.sensor_id) {
                        Some(sensor) => alert_of(&state, sensor, window_start, anomaly),
                        None => active,
                    });
                }
                (_, active) => state.active = active,
            }
            state.sequence += 1;
            changed_periods.push(state);
        }
        Ok(AlertOutcome {
            dispositions,
            periods: changed_periods,
            events: events_out,
        })
    }
}

/// The alert of `state`'s period, told from its window starting at `window_start`.
fn alert_of(state: &AlertState, sensor: &Sensor, window_start: DateTime<Utc>, anomaly: Anomaly) -> AlertTriggered {
    AlertTriggered {
        alert_id: state.alert_id().to_string(),
        sensor_id: state.sensor_id.clone(),
        metric: state.metric.clone(),
        site: sensor.site.clone(),
        severity: severity(anomaly.mean, anomaly.low, anomaly.high),
        direction: anomaly.direction,
        window_start: utc(window_start),
        local_time: local(window_start, sensor.timezone),
        mean: anomaly.mean,
        low: anomaly.low,
        high: anomaly.high,
    }
}

/// `Critical` when `mean` is outside the band `low..=high` by more than a quarter of the band's
/// width, else `Warning`.
pub fn severity(mean: f64, low: f64, high: f64) -> Severity {
    let outside_by = if mean > high {
        mean - high
    } else if mean < low {
        low - mean
    } else {
        0.0
    };
    if outside_by > (high - low) / 4.0 {
        Severity::Critical
    } else {
        Severity::Warning
    }
}

/// An alert as the reference computation expects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedAlert {
    /// The period's alert id.
    pub alert_id: Uuid,
    /// Its earliest anomalous window: the one that triggers the alert when anomaly events
    /// reach the alerts in the order the windows publish them.
    pub window_start: DateTime<Utc>,
}

/// The alert of every period that has an anomalous window among `verdicts` (as
/// [`crate::windows::final_verdicts`] gives them): the reference the alerts must agree with.
pub fn final_alerts(
    settings: &AlertSettings,
    verdicts: &BTreeMap<WindowKey, Verdict>,
) -> BTreeMap<PeriodKey, ExpectedAlert> {
    let period = i64::from(settings.suppress_seconds.max(1)) * 1000;
    let mut alerts = BTreeMap::new();
    // Keys in order: the first anomalous window of a period met is its earliest.
    for (window, verdict) in verdicts {
        if verdict.direction.is_none() {
            continue;
        }
        let start = at_millis(floor(millis(window.start), period));
        let key = PeriodKey {
            sensor_id: window.sensor_id.clone(),
            metric: window.metric.clone(),
            start,
        };
        alerts.entry(key).or_insert_with(|| ExpectedAlert {
            alert_id: alert_id(&window.sensor_id, &window.metric, start),
            window_start: window.start,
        });
    }
    alerts
}

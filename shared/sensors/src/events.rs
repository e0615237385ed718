//! The sensors domain's events: past tense, versioned, declared once here, and the ids derived
//! for them.
//!
//! All come from source `iot.sensors`, with the sensor's id as `metadata.subject`. Times in
//! the data are RFC 3339 in UTC (`Z`), except `localTime`, which is for people.
//!
//! Payloads tolerate additions: a field a newer producer adds is ignored on read, never an
//! error. What a version promises is its JSON Schema in `events/schemas/iot.sensors/`, kept
//! current and backward compatible by `tests/schemas.rs`; a breaking change is a new version
//! with an upcaster.
//!
//! Ids are derived from what they identify (UUIDv5 in [`NAMESPACE`]), never drawn at random:
//! a device that sends a reading twice, or a function that runs a batch twice, produces the same
//! ids, and every consumer absorbs the second copy.

use chrono::{DateTime, Utc};
use envelope::{Envelope, EnvelopeError, EventType, Location, Metadata};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The source of every sensors event.
pub const SOURCE: &str = "iot.sensors";

/// The namespace of every id derived here; fixed forever, or every derived id changes.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x1b7e_4c2d_8f90_5a36_9c4e_d2a1_7f3b_6e05);

/// A sensor measured something. The event time is the reading's own time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SensorReadingReceived {
    /// The sensor, as in the catalogue.
    pub sensor_id: String,
    /// What was measured, e.g. `temperature`.
    pub metric: String,
    /// The measured value: a finite number.
    pub value: f64,
    /// Its unit, the one the catalogue gives the metric, e.g. `C`.
    pub unit: String,
}

/// Which side of its band a window's mean is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Above `high`.
    Above,
    /// Below `low`.
    Below,
}

/// How far outside its band an alert's mean is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Outside the band by at most a quarter of its width.
    Warning,
    /// Outside the band by more than a quarter of its width.
    Critical,
}

/// A closed window's mean is outside its band (revision 1), or a late reading changed the
/// figures or verdict of a window (the next revision). The event time is the window's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyDetected {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The window's start, RFC 3339 UTC.
    pub window_start: String,
    /// The window's end (exclusive), RFC 3339 UTC.
    pub window_end: String,
    /// How many distinct readings the window counted.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// The band's lower limit (inside).
    pub low: f64,
    /// The band's upper limit (inside).
    pub high: f64,
    /// Which side of the band the mean is on.
    pub direction: Direction,
    /// 1 for the verdict at close, +1 for each later one of the same window.
    pub revision: u32,
}

/// A window published as anomalous is back inside its band after late readings. The event
/// time is the window's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyCleared {
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The window's start, RFC 3339 UTC.
    pub window_start: String,
    /// The window's end (exclusive), RFC 3339 UTC.
    pub window_end: String,
    /// How many distinct readings the window counted.
    pub count: u64,
    /// Their mean, now inside the band.
    pub mean: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// The band's lower limit (inside).
    pub low: f64,
    /// The band's upper limit (inside).
    pub high: f64,
    /// The revision after the one that said the window was anomalous.
    pub revision: u32,
}

/// The first anomalous window of a suppression period raised an alert (one per period, sensor
/// and metric). The event time is the window's start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertTriggered {
    /// The alert: derived from sensor, metric and period ([`alert_id`]).
    pub alert_id: String,
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The sensor's site.
    pub site: String,
    /// How far outside its band the window's mean is.
    pub severity: Severity,
    /// Which side of the band.
    pub direction: Direction,
    /// The anomalous window's start, RFC 3339 UTC.
    pub window_start: String,
    /// The window's start on the site's clocks, with the offset in force then:
    /// `2026-03-29T03:15:00+02:00`.
    pub local_time: String,
    /// The window's mean.
    pub mean: f64,
    /// The band's lower limit.
    pub low: f64,
    /// The band's upper limit.
    pub high: f64,
}

/// Late readings left the period of an alert without any anomalous window: the alert, as the
/// period last recorded it, is resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertResolved {
    /// The alert resolved.
    pub alert_id: String,
    /// The sensor.
    pub sensor_id: String,
    /// The metric.
    pub metric: String,
    /// The sensor's site.
    pub site: String,
    /// The severity of the alert's window.
    pub severity: Severity,
    /// The direction of the alert's window.
    pub direction: Direction,
    /// The alert's window: the period's earliest anomalous window known before it cleared
    /// (the one that triggered it, unless an earlier one turned anomalous later), RFC 3339 UTC.
    pub window_start: String,
    /// That start on the site's clocks, with the offset in force then.
    pub local_time: String,
    /// That window's mean.
    pub mean: f64,
    /// The band's lower limit.
    pub low: f64,
    /// The band's upper limit.
    pub high: f64,
}

macro_rules! version_one {
    ($($event:ident),* $(,)?) => {$(
        impl EventType for $event {
            const TYPE: &'static str = stringify!($event);
            const VERSION: u32 = 1;
            const SOURCE: &'static str = SOURCE;
        }
    )*};
}

/// Something to do with every sensors event type, e.g. generating its JSON Schema.
pub trait EventTypeVisitor {
    /// Called once per event type.
    fn visit<E: EventType + JsonSchema>(&mut self);
}

/// Declares the list of every sensors event type once, for the registry and the schemas.
macro_rules! catalogue {
    ($($event:ident),* $(,)?) => {
        version_one!($($event),*);

        /// Every sensors event type, for consumers that read them all (archive, tooling).
        pub fn registry() -> envelope::Registry {
            envelope::Registry::new()$(.register::<$event>())*
        }

        /// Calls `visitor` with every sensors event type, in a fixed order.
        pub fn visit_all<V: EventTypeVisitor>(visitor: &mut V) {
            $(visitor.visit::<$event>();)*
        }
    };
}
catalogue!(
    SensorReadingReceived,
    AnomalyDetected,
    AnomalyCleared,
    AlertTriggered,
    AlertResolved
);

/// A UUIDv5 in [`NAMESPACE`] of `kind` and `parts`, each length-prefixed so no two lists of
/// parts give the same name.
fn derived(kind: &str, parts: &[&[u8]]) -> Uuid {
    let mut name = Vec::with_capacity(64);
    for part in std::iter::once(kind.as_bytes()).chain(parts.iter().copied()) {
        name.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        name.extend_from_slice(part);
    }
    Uuid::new_v5(&NAMESPACE, &name)
}

/// The id of a reading: of its sensor, metric and time in whole UTC milliseconds, whatever
/// offset the time was written with. A reading sent twice has one id.
pub fn reading_id(sensor_id: &str, metric: &str, time: DateTime<Utc>) -> Uuid {
    let millis = time.timestamp_millis().to_be_bytes();
    derived("reading", &[sensor_id.as_bytes(), metric.as_bytes(), &millis])
}

/// The id of an alert: of its sensor, metric and suppression period's start.
pub fn alert_id(sensor_id: &str, metric: &str, period_start: DateTime<Utc>) -> Uuid {
    let millis = period_start.timestamp_millis().to_be_bytes();
    derived("alert", &[sensor_id.as_bytes(), metric.as_bytes(), &millis])
}

/// The id of the event of type `event_type` that publishes revision `revision` of a window.
pub fn window_event_id(
    event_type: &str,
    sensor_id: &str,
    metric: &str,
    window_start: DateTime<Utc>,
    revision: u32,
) -> Uuid {
    let millis = window_start.timestamp_millis().to_be_bytes();
    let revision = revision.to_be_bytes();
    derived(
        event_type,
        &[sensor_id.as_bytes(), metric.as_bytes(), &millis, &revision],
    )
}

/// The id of the `occurrence`-th (from 1) event of type `event_type` about alert `alert_id`.
pub fn alert_event_id(event_type: &str, alert_id: Uuid, occurrence: u32) -> Uuid {
    derived(event_type, &[alert_id.as_bytes(), &occurrence.to_be_bytes()])
}

/// The envelope of a reading: its derived id ([`reading_id`]) as id and correlation id, the
/// sensor as subject, the reading's time as event time.
pub fn reading_event(reading: SensorReadingReceived, time: DateTime<Utc>) -> Envelope<SensorReadingReceived> {
    let id = reading_id(&reading.sensor_id, &reading.metric, time);
    let subject = reading.sensor_id.clone();
    Envelope::with_id(id, subject, time, reading)
}

/// An anomaly event as the windows decide it and the alerts read it.
#[derive(Debug, Clone, PartialEq)]
pub enum AnomalyEvent {
    /// See [`AnomalyDetected`].
    Detected(Envelope<AnomalyDetected>),
    /// See [`AnomalyCleared`].
    Cleared(Envelope<AnomalyCleared>),
}

impl AnomalyEvent {
    /// Types an envelope of either type; another type or a schema violation is an error
    /// naming the field.
    pub fn from_envelope(envelope: Envelope<Value>) -> Result<Self, EnvelopeError> {
        let at = Location::root();
        match envelope.metadata.event_type.as_str() {
            AnomalyDetected::TYPE => envelope.into_typed(&at).map(Self::Detected),
            AnomalyCleared::TYPE => envelope.into_typed(&at).map(Self::Cleared),
            other => Err(EnvelopeError::UnknownType {
                at: at.field("metadata.type"),
                event_type: other.to_owned(),
                known: "AnomalyDetected and AnomalyCleared".into(),
            }),
        }
    }

    /// The envelope's metadata.
    pub fn metadata(&self) -> &Metadata {
        match self {
            Self::Detected(e) => &e.metadata,
            Self::Cleared(e) => &e.metadata,
        }
    }

    /// The sensor.
    pub fn sensor_id(&self) -> &str {
        match self {
            Self::Detected(e) => &e.data.sensor_id,
            Self::Cleared(e) => &e.data.sensor_id,
        }
    }

    /// The metric.
    pub fn metric(&self) -> &str {
        match self {
            Self::Detected(e) => &e.data.metric,
            Self::Cleared(e) => &e.data.metric,
        }
    }

    /// The window's start, as written.
    pub fn window_start(&self) -> &str {
        match self {
            Self::Detected(e) => &e.data.window_start,
            Self::Cleared(e) => &e.data.window_start,
        }
    }

    /// The window's revision.
    pub fn revision(&self) -> u32 {
        match self {
            Self::Detected(e) => e.data.revision,
            Self::Cleared(e) => e.data.revision,
        }
    }

    /// The envelope with its data as JSON, as it travels.
    pub fn to_untyped(&self) -> Result<Envelope<Value>, EnvelopeError> {
        match self {
            Self::Detected(e) => e.to_untyped(),
            Self::Cleared(e) => e.to_untyped(),
        }
    }
}

/// An alert event as the alerts decide it.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// See [`AlertTriggered`].
    Triggered(Envelope<AlertTriggered>),
    /// See [`AlertResolved`].
    Resolved(Envelope<AlertResolved>),
}

impl AlertEvent {
    /// The envelope's metadata.
    pub fn metadata(&self) -> &Metadata {
        match self {
            Self::Triggered(e) => &e.metadata,
            Self::Resolved(e) => &e.metadata,
        }
    }

    /// The alert's id.
    pub fn alert_id(&self) -> &str {
        match self {
            Self::Triggered(e) => &e.data.alert_id,
            Self::Resolved(e) => &e.data.alert_id,
        }
    }

    /// The envelope with its data as JSON, as it travels.
    pub fn to_untyped(&self) -> Result<Envelope<Value>, EnvelopeError> {
        match self {
            Self::Triggered(e) => e.to_untyped(),
            Self::Resolved(e) => e.to_untyped(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse;

    #[test]
    fn given_one_reading_written_with_two_offsets_then_it_has_one_id() {
        let kathmandu = parse("2026-11-23T08:00:30.125+05:45").unwrap();
        let utc = parse("2026-11-23T02:15:30.125Z").unwrap();
        assert_eq!(
            reading_id("s-1", "temperature", kathmandu),
            reading_id("s-1", "temperature", utc)
        );
        assert_eq!(reading_id("s-1", "temperature", utc).get_version_num(), 5);
    }

    #[test]
    fn given_another_sensor_metric_or_millisecond_then_the_reading_id_differs() {
        let t = parse("2026-11-23T02:15:30Z").unwrap();
        let later = parse("2026-11-23T02:15:30.001Z").unwrap();
        let ids = [
            reading_id("s-1", "temperature", t),
            reading_id("s-2", "temperature", t),
            reading_id("s-1", "humidity", t),
            reading_id("s-1", "temperature", later),
            // Length prefixes: moving a character from the sensor to the metric is another name.
            reading_id("s-1t", "emperature", t),
        ];
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn derived_ids_are_stable_across_releases() {
        // Changing the namespace or the name layout would give every reading a new id, and a
        // device's retry would be counted twice across the release.
        let t = parse("2026-11-23T02:15:30Z").unwrap();
        assert_eq!(
            reading_id("s-1", "temperature", t).to_string(),
            "1e8c3311-eca5-5f84-9b89-b969d3f69fbc"
        );
        assert_eq!(
            NAMESPACE.to_string(),
            "1b7e4c2d-8f90-5a36-9c4e-d2a17f3b6e05",
            "the namespace of derived ids never changes"
        );
    }

    #[test]
    fn given_a_reading_then_its_envelope_has_the_derived_id_the_sensor_and_its_time() {
        let time = parse("2026-11-23T08:00:30+05:45").unwrap();
        let reading = SensorReadingReceived {
            sensor_id: "s-1".into(),
            metric: "temperature".into(),
            value: 21.5,
            unit: "C".into(),
        };
        let event = reading_event(reading, time);
        assert_eq!(event.metadata.id, reading_id("s-1", "temperature", time));
        assert_eq!(
            (event.metadata.subject.as_str(), event.metadata.source.as_str()),
            ("s-1", SOURCE)
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["metadata"]["time"], "2026-11-23T02:15:30Z");
        assert_eq!(json["data"]["sensorId"], "s-1");
    }

    #[test]
    fn given_a_payload_with_a_field_added_by_a_newer_producer_then_it_is_still_read() {
        let data = serde_json::json!({ "sensorId": "s-1", "metric": "temperature", "value": 1.5, "unit": "C",
                                       "battery": 0.93 });
        let reading: SensorReadingReceived = serde_json::from_value(data).unwrap();
        assert_eq!(reading.value, 1.5);
    }

    #[test]
    fn the_registry_knows_every_type_at_version_1() {
        let registry = registry();
        for name in [
            "SensorReadingReceived",
            "AnomalyDetected",
            "AnomalyCleared",
            "AlertTriggered",
            "AlertResolved",
        ] {
            assert_eq!(registry.current_version(name), Some(1), "{name}");
        }
    }
}

//! Readings as an API receives them (`POST /readings` with `{"readings": [...]}`), checked
//! against the catalogue and the receiving clock: each valid one becomes the event that records
//! it, each invalid one is refused by its index and field, so a client learns every problem at
//! once and resends only what was refused.
//!
//! A reading is `{"sensorId", "metric", "value", "unit", "time"}`, `time` in RFC 3339 with any
//! offset. Fields a newer client adds are ignored.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use envelope::Envelope;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::catalogue::{Catalogue, Sensor};
use crate::events::{SensorReadingReceived, reading_event};
use crate::stats::MAX_MAGNITUDE;

/// The most readings one request may carry.
pub const MAX_READINGS: usize = 500;
/// The largest request body, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The longest text field of a reading (sensor id, metric, unit, time), in bytes: an error
/// names what it refuses, so what it may quote is bounded too.
pub const MAX_TEXT_BYTES: usize = 128;
/// How far after the receiving clock a reading's time may be (clocks drift).
pub const MAX_AHEAD: TimeDelta = TimeDelta::minutes(5);

/// A request over a limit (HTTP 413): nothing in it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "exceeded")]
pub enum LimitExceeded {
    /// The body is larger than [`MAX_BODY_BYTES`].
    BodyTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// More readings than [`MAX_READINGS`].
    TooManyReadings {
        /// How many.
        count: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BodyTooLarge { bytes, limit } => {
                write!(
                    f,
                    "the body is {bytes} bytes, over the limit of {limit}: send fewer readings per request"
                )
            }
            Self::TooManyReadings { count, limit } => {
                write!(f, "{count} readings, over the limit of {limit} per request: split them")
            }
        }
    }
}

/// The limits of one request: its body's size in bytes and the number of readings it carries.
pub fn check_limits(body_bytes: usize, readings: usize) -> Result<(), LimitExceeded> {
    if body_bytes > MAX_BODY_BYTES {
        return Err(LimitExceeded::BodyTooLarge {
            bytes: body_bytes,
            limit: MAX_BODY_BYTES,
        });
    }
    if readings > MAX_READINGS {
        return Err(LimitExceeded::TooManyReadings {
            count: readings,
            limit: MAX_READINGS,
        });
    }
    Ok(())
}

/// The readings of a request body `{"readings": [...]}`, or why the body is not one (HTTP 400).
/// The limits are checked separately ([`check_limits`]).
pub fn readings_of(body: &Value) -> Result<&[Value], ReadingRefusal> {
    let refused = |message: &str| ReadingRefusal {
        index: None,
        field: "readings".into(),
        message: message.into(),
    };
    match body.get("readings") {
        Some(Value::Array(readings)) if !readings.is_empty() => Ok(readings),
        Some(Value::Array(_)) => Err(refused("must hold at least one reading")),
        _ => Err(refused(
            "required: a list of readings {sensorId, metric, value, unit, time}",
        )),
    }
}

/// One refused field of one reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadingRefusal {
    /// The reading's index in the request; none when the request itself is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field of the reading (`unit`; empty when the reading is not an object), or of the
    /// request (`readings`).
    pub field: String,
    /// What is wrong, for the person who sent it.
    pub message: String,
}

impl ReadingRefusal {
    fn at(index: usize, field: &str, message: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The refused field's path in the request: `readings[3].unit`.
    pub fn path(&self) -> String {
        match self.index {
            Some(i) if self.field.is_empty() => format!("readings[{i}]"),
            Some(i) => format!("readings[{i}].{}", self.field),
            None => self.field.clone(),
        }
    }
}

impl fmt::Display for ReadingRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path(), self.message)
    }
}

/// A reading accepted, as the event that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Its index in the request.
    pub index: usize,
    /// The event to publish: id derived from sensor, metric and time; event time the reading's.
    pub event: Envelope<SensorReadingReceived>,
}

/// What became of a request's readings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// The valid readings, in request order.
    pub accepted: Vec<Accepted>,
    /// Every problem of the others, in request order, then field order.
    pub refused: Vec<ReadingRefusal>,
}

/// Checks each reading against the catalogue and the receiving clock `now`: the sensor and
/// its metric must be catalogued, the unit the metric's, the value a finite number (of
/// magnitude at most 10^300), and the time RFC 3339 with an offset, at most [`MAX_AHEAD`]
/// after `now`.
pub fn check_readings(readings: &[Value], catalogue: &Catalogue, now: DateTime<Utc>) -> Checked {
    let mut checked = Checked::default();
    for (index, reading) in readings.iter().enumerate() {
        let before = checked.refused.len();
        let Some(fields) = reading.as_object() else {
            checked.refused.push(ReadingRefusal {
                index: Some(index),
                field: String::new(),
                message: "a reading is an object {sensorId, metric, value, unit, time}".into(),
            });
            continue;
        };
        let accepted = check_reading(index, fields, catalogue, now, &mut checked.refused);
        if let Some(event) = accepted.filter(|_| checked.refused.len() == before) {
            checked.accepted.push(Accepted { index, event });
        }
    }
    checked
}

fn check_reading(
    index: usize,
    fields: &Map<String, Value>,
    catalogue: &Catalogue,
    now: DateTime<Utc>,
    refused: &mut Vec<ReadingRefusal>,
) -> Option<Envelope<SensorReadingReceived>> {
    let text = |field: &str, refused: &mut Vec<ReadingRefusal>| match fields.get(field) {
        Some(Value::String(s)) if s.len() > MAX_TEXT_BYTES => {
            let message = format!("is {} bytes; at most {MAX_TEXT_BYTES}", s.len());
            refused.push(ReadingRefusal::at(index, field, message));
            None
        }
        Some(Value::String(s)) => Some(s.as_str()),
        _ => {
            refused.push(ReadingRefusal::at(index, field, "required: a string"));
            None
        }
    };
    let sensor = text("sensorId", refused).and_then(|id| {
        let found = catalogue.sensor(id);
        if found.is_none() {
            refused.push(ReadingRefusal::at(
                index,
                "sensorId",
                format!("no sensor '{id}' in the catalogue"),
            ));
        }
        found
    });
    let metric = text("metric", refused);
    let unit = text("unit", refused);
    if let (Some(sensor), Some(metric)) = (sensor, metric) {
        check_metric_and_unit(index, sensor, metric, unit, refused);
    }
    let value = match fields.get("value") {
        Some(Value::Number(n)) => n.as_f64().filter(|v| crate::stats::is_countable(*v)),
        _ => None,
    };
    if value.is_none() {
        refused.push(ReadingRefusal::at(
            index,
            "value",
            format!("required: a finite number of magnitude at most {MAX_MAGNITUDE:e}"),
        ));
    }
    let time = text("time", refused).and_then(|written| match crate::time::parse(written) {
        Ok(time) if time - now > MAX_AHEAD => {
            refused.push(ReadingRefusal::at(
                index,
                "time",
                format!(
                    "'{written}' is more than {} minutes after the time it was received ({})",
                    MAX_AHEAD.num_minutes(),
                    crate::time::utc(now)
                ),
            ));
            None
        }
        Ok(time) if !crate::time::is_reading_time(time) => {
            refused.push(ReadingRefusal::at(
                index,
                "time",
                format!("'{written}' is outside the years 1970 to 9999"),
            ));
            None
        }
        Ok(time) => Some(time),
        Err(message) => {
            refused.push(ReadingRefusal::at(index, "time", message));
            None
        }
    });
    let reading = SensorReadingReceived {
        sensor_id: sensor?.sensor_id.clone(),
        metric: metric?.to_owned(),
        value: value?,
        unit: unit?.to_owned(),
    };
    Some(reading_event(reading, time?))
}

fn check_metric_and_unit(
    index: usize,
    sensor: &Sensor,
    metric: &str,
    unit: Option<&str>,
    refused: &mut Vec<ReadingRefusal>,
) {
    let Some(band) = sensor.band(metric) else {
        let known: Vec<&str> = sensor.metrics.keys().map(String::as_str).collect();
        refused.push(ReadingRefusal::at(
            index,
            "metric",
            format!(
                "sensor '{}' does not measure '{metric}'; it measures {}",
                sensor.sensor_id,
                known.join(", ")
            ),
        ));
        return;
    };
    if let Some(unit) = unit
        && unit != band.unit
    {
        refused.push(ReadingRefusal::at(
            index,
            "unit",
            format!(
                "'{unit}' is not the unit of '{metric}' at sensor '{}': send it in '{}'",
                sensor.sensor_id, band.unit
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::reading_id;
    use serde_json::json;

    fn catalogue() -> Catalogue {
        Catalogue::from_json(&json!([
            { "sensorId": "s-kolkata-1", "site": "kolkata-plant", "timezone": "Asia/Kolkata",
              "metrics": { "temperature": { "low": 15, "high": 35, "unit": "C" },
                           "humidity": { "low": 20, "high": 80, "unit": "%" } } }
        ]))
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        crate::time::parse("2026-11-23T09:00:00Z").unwrap()
    }

    fn reading() -> Value {
        json!({ "sensorId": "s-kolkata-1", "metric": "temperature", "value": 21.5, "unit": "C",
                "time": "2026-11-23T14:29:30+05:30", "firmware": "added by a newer client" })
    }

    fn paths(refused: &[ReadingRefusal]) -> Vec<String> {
        refused.iter().map(ReadingRefusal::path).collect()
    }

    #[test]
    fn given_a_valid_reading_then_it_becomes_its_event_with_the_derived_id_and_utc_time() {
        let checked = check_readings(&[reading()], &catalogue(), now());
        assert_eq!(checked.refused, []);
        let event = &checked.accepted[0].event;
        let time = crate::time::parse("2026-11-23T08:59:30Z").unwrap();
        assert_eq!(event.metadata.time, time);
        assert_eq!(event.metadata.id, reading_id("s-kolkata-1", "temperature", time));
        assert_eq!((event.data.value, event.data.unit.as_str()), (21.5, "C"));
    }

    #[test]
    fn given_bad_readings_then_each_refusal_is_named_by_index_and_field() {
        let mut unknown_sensor = reading();
        unknown_sensor["sensorId"] = json!("s-nowhere");
        let mut unknown_metric = reading();
        unknown_metric["metric"] = json!("pressure");
        let mut wrong_unit = reading();
        wrong_unit["unit"] = json!("F");
        let mut not_a_number = reading();
        not_a_number["value"] = json!("NaN");
        let mut no_offset = reading();
        no_offset["time"] = json!("2026-11-23T14:29:30");
        let mut ahead = reading();
        ahead["time"] = json!("2026-11-23T09:05:00.001Z");
        let mut just_in_time = reading();
        just_in_time["time"] = json!("2026-11-23T14:35:00+05:30");
        let readings = [
            reading(),
            unknown_sensor,
            unknown_metric,
            wrong_unit,
            not_a_number,
            no_offset,
            ahead,
            just_in_time,
            json!(42),
        ];
        let checked = check_readings(&readings, &catalogue(), now());
        assert_eq!(
            paths(&checked.refused),
            [
                "readings[1].sensorId",
                "readings[2].metric",
                "readings[3].unit",
                "readings[4].value",
                "readings[5].time",
                "readings[6].time",
                "readings[8]"
            ]
        );
        let accepted: Vec<usize> = checked.accepted.iter().map(|a| a.index).collect();
        assert_eq!(accepted, [0, 7], "5 minutes ahead is still accepted");
        let messages: Vec<&str> = checked.refused.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages[0], "no sensor 's-nowhere' in the catalogue");
        assert_eq!(
            messages[1],
            "sensor 's-kolkata-1' does not measure 'pressure'; it measures humidity, temperature"
        );
        assert_eq!(
            messages[2],
            "'F' is not the unit of 'temperature' at sensor 's-kolkata-1': send it in 'C'"
        );
        assert!(
            messages[4].contains("not an RFC 3339 time with an offset"),
            "{}",
            messages[4]
        );
        assert!(messages[5].contains("more than 5 minutes after"), "{}", messages[5]);
    }

    #[test]
    fn given_a_text_over_its_limit_then_it_is_refused_without_being_quoted() {
        let mut long = reading();
        long["sensorId"] = json!("s".repeat(MAX_TEXT_BYTES + 1));
        let checked = check_readings(&[long], &catalogue(), now());
        assert_eq!(paths(&checked.refused), ["readings[0].sensorId"]);
        assert_eq!(checked.refused[0].message, "is 129 bytes; at most 128");
    }

    #[test]
    fn given_a_time_before_1970_then_it_is_refused_naming_time() {
        let mut ancient = reading();
        ancient["time"] = json!("0000-01-01T00:00:30+01:00");
        let checked = check_readings(&[ancient], &catalogue(), now());
        assert_eq!(paths(&checked.refused), ["readings[0].time"]);
        assert!(checked.refused[0].message.contains("outside the years 1970 to 9999"));
    }

    #[test]
    fn given_a_reading_with_several_problems_then_each_is_named() {
        let bad = json!({ "sensorId": "s-kolkata-1", "metric": "humidity", "unit": "C", "time": 5 });
        let checked = check_readings(&[bad], &catalogue(), now());
        assert_eq!(
            paths(&checked.refused),
            ["readings[0].unit", "readings[0].value", "readings[0].time"]
        );
        assert!(checked.accepted.is_empty());
    }

    #[test]
    fn given_values_that_cannot_be_counted_then_they_are_refused() {
        let catalogue = catalogue();
        let fields = reading().as_object().unwrap().clone();
        for value in [f64::NAN, f64::INFINITY, 1e301] {
            let mut refused = Vec::new();
            let mut with = fields.clone();
            // serde_json turns a non-finite float into null; a Rust caller may still build one.
            with.insert(
                "value".into(),
                serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
            );
            assert!(check_reading(0, &with, &catalogue, now(), &mut refused).is_none());
            assert_eq!(paths(&refused), ["readings[0].value"], "{value}");
        }
    }

    #[test]
    fn given_requests_over_the_limits_then_they_are_refused_before_any_reading_is_read() {
        assert_eq!(check_limits(MAX_BODY_BYTES, MAX_READINGS), Ok(()));
        assert_eq!(
            check_limits(MAX_BODY_BYTES + 1, 1),
            Err(LimitExceeded::BodyTooLarge {
                bytes: MAX_BODY_BYTES + 1,
                limit: MAX_BODY_BYTES
            })
        );
        let too_many = check_limits(1000, MAX_READINGS + 1).unwrap_err();
        assert_eq!(
            too_many.to_string(),
            "501 readings, over the limit of 500 per request: split them"
        );
    }

    #[test]
    fn given_a_body_without_readings_then_the_request_is_refused_naming_readings() {
        assert_eq!(readings_of(&json!({ "readings": [reading()] })).unwrap().len(), 1);
        for body in [
            json!({}),
            json!({ "readings": [] }),
            json!({ "readings": {} }),
            json!([]),
        ] {
            assert_eq!(readings_of(&body).unwrap_err().path(), "readings", "{body}");
        }
    }
}

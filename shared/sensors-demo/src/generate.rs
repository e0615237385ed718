//! The sensors scenario: readings from every sensor of a catalogue for a stretch of virtual
//! time, sent to sensor-api the way devices in many time zones send them: each reading's time
//! written in its site's offset, most of them promptly, some out of order, some twice, some
//! late, a few beyond the horizon. What was sent is kept beside the scenario, so a run can be
//! checked against a computation over all of it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use emulator::scenario::{HttpRequest, Input, Scenario, Step};
use sensors::catalogue::{Band, Catalogue};
use sensors::events::reading_id;
use sensors::windows::Reading;
use serde_json::{Value, json};

/// How a reading travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// A second or two after it was taken.
    Prompt,
    /// Overtaken by later readings, within the allowed lateness.
    OutOfOrder,
    /// Sent twice.
    Twice,
    /// After its window closed, within the late horizon: it revises the window.
    Late,
    /// After the horizon: parked as too late.
    TooLate,
}

/// A reading as generated: what it is and how it travels.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The reading (its id as sensor-api derives it).
    pub reading: Reading,
    /// Its unit.
    pub unit: String,
    /// How it travels.
    pub fate: Fate,
    /// When it arrives (and, if twice, when its copy does), in virtual ms after the start.
    pub arrivals: Vec<i64>,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Virtual time zero (a daylight saving change inside the run shows in local times).
    pub start: DateTime<Utc>,
    /// Minutes of readings.
    pub minutes: i64,
    /// Seed of every random choice.
    pub seed: u64,
    /// One device goes offline from minute 20 to minute 30 and then uploads what it buffered,
    /// a reading every 2 s, in one request (see `backlog` in this module).
    pub backlog: bool,
}

/// A reading sensor-api must refuse, and the field it must name.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The site whose request carries it.
    pub site: String,
    /// When it arrives, in virtual ms after the start.
    pub arrival: i64,
    /// The reading as sent.
    pub reading: Value,
    /// The field of the reading a refusal names (`unit`, `metric`, `time`).
    pub field: &'static str,
}

/// A scenario and what it sends.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The requests to sensor-api.
    pub scenario: Scenario,
    /// Every valid reading, in generation order.
    pub sent: Vec<Sent>,
    /// The invalid readings among them, which sensor-api refuses.
    pub refused: Vec<Refused>,
}

/// Readings of every metric of every sensor of `catalogue`, every 10 to 30 s for
/// `plan.minutes`: 10% out of order within the allowed lateness, 5% twice, 2% late within the
/// horizon, and the first readings of three streams beyond it. Some minutes run above or
/// below the band; one stream's anomaly is cleared by a late reading. And one invalid reading
/// per sensor, for sensor-api to refuse.
pub fn generate(catalogue: &Catalogue, plan: Plan) -> Generated {
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let end = plan.minutes * 60_000;
    let mut sent = Vec::new();
    let mut too_late_left = 3;
    let mut cleared_by_late = false;
    for sensor in catalogue.sensors() {
        for (metric, band) in &sensor.metrics {
            // Up to two minutes above (true) or below (false) the band.
            let mut anomalous: BTreeMap<i64, bool> = BTreeMap::new();
            for _ in 0..2 {
                if rng.u32(0..100) < 40 {
                    anomalous.insert(rng.i64(5..plan.minutes - 5), rng.bool());
                }
            }
            let mut t = rng.i64(0..10_000);
            let mut first = true;
            while t < end {
                let minute = t / 60_000;
                let value = match anomalous.get(&minute) {
                    Some(true) => band.high + width(band) * (0.05 + rng.f64() * 0.5),
                    Some(false) => band.low - width(band) * (0.05 + rng.f64() * 0.5),
                    None => centre(band) + width(band) * (rng.f64() - 0.5) * 0.3,
                };
                let fate = if first && too_late_left > 0 {
                    too_late_left -= 1;
                    Fate::TooLate
                } else {
                    match rng.u32(0..100) {
                        0..10 => Fate::OutOfOrder,
                        10..15 => Fate::Twice,
                        15..17 => Fate::Late,
                        _ => Fate::Prompt,
                    }
                };
                first = false;
                sent.push(reading(
                    sensor.sensor_id.as_str(),
                    metric,
                    band,
                    plan,
                    t,
                    round(value),
                    fate,
                    end,
                    &mut rng,
                ));
                t += rng.i64(10_000..=30_000);
            }
            if !cleared_by_late {
                cleared_by_late = true;
                sent.extend(cleared_by_a_late_reading(
                    &sensor.sensor_id,
                    metric,
                    band,
                    plan,
                    &mut rng,
                ));
            }
        }
    }
    let refused = invalid_readings(catalogue, plan, &mut rng);
    if plan.backlog {
        backlog(catalogue, plan, &mut sent);
    }
    Generated {
        scenario: Scenario {
            start: Some(plan.start),
            ..requests(catalogue, &sent, &refused)
        },
        sent,
        refused,
    }
}

/// One invalid reading per sensor, at a random time, of one of the kinds devices get wrong:
/// a wrong unit, a metric the sensor does not measure, a time without an offset, a time 10
/// minutes ahead of the clock.
fn invalid_readings(catalogue: &Catalogue, plan: Plan, rng: &mut fastrand::Rng) -> Vec<Refused> {
    let mut out = Vec::new();
    for (index, sensor) in catalogue.sensors().enumerate() {
        let Some((metric, band)) = sensor.metrics.iter().next() else {
            continue;
        };
        let arrival = rng.i64(60_000..plan.minutes * 60_000);
        let taken = plan.start + Duration::milliseconds(arrival - 1_000);
        let local = sensors::time::local(taken, sensor.timezone);
        let mut reading = json!({
            "sensorId": sensor.sensor_id,
            "metric": metric,
            "value": round(centre(band)),
            "unit": band.unit,
            "time": local,
        });
        let field = match index % 4 {
            0 => {
                reading["unit"] = json!("furlongs");
                "unit"
            }
            1 => {
                reading["metric"] = json!("radiation");
                "metric"
            }
            2 => {
                // The wall-clock time with its offset cut off: ambiguous, so refused.
                reading["time"] = json!(local.get(..19).unwrap_or(&local));
                "time"
            }
            _ => {
                let ahead = plan.start + Duration::milliseconds(arrival + 600_000);
                reading["time"] = json!(sensors::time::utc(ahead));
                "time"
            }
        };
        out.push(Refused {
            site: sensor.site.clone(),
            arrival,
            reading,
            field,
        });
    }
    out
}

fn width(band: &Band) -> f64 {
    band.high - band.low
}

fn centre(band: &Band) -> f64 {
    (band.low + band.high) / 2.0
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[allow(clippy::too_many_arguments)] // one reading's every coordinate
fn reading(
    sensor_id: &str,
    metric: &str,
    band: &Band,
    plan: Plan,
    at: i64,
    value: f64,
    fate: Fate,
    end: i64,
    rng: &mut fastrand::Rng,
) -> Sent {
    let time = plan.start + Duration::milliseconds(at);
    let prompt = at + rng.i64(200..2_000);
    let arrivals = match fate {
        Fate::Prompt => vec![prompt],
        Fate::OutOfOrder => vec![at + rng.i64(10_000..100_000)],
        Fate::Twice => vec![prompt, prompt + rng.i64(1_000..60_000)],
        Fate::Late => vec![at + rng.i64(300_000..1_500_000)],
        // After every other reading: the stream's watermark is then past the horizon.
        Fate::TooLate => vec![end + 120_000 + rng.i64(0..30_000)],
    };
    Sent {
        reading: Reading {
            id: reading_id(sensor_id, metric, time),
            sensor_id: sensor_id.to_owned(),
            metric: metric.to_owned(),
            time,
            value,
        },
        unit: band.unit.clone(),
        fate,
        arrivals,
    }
}

/// When the backlog starts and ends, in virtual ms.
const BACKLOG: std::ops::Range<i64> = 20 * 60_000..30 * 60_000;

/// A busy device back from ten minutes offline: one stream's readings of minutes 20 to 30,
/// one every 2 s with two minutes out of its band, all in one request 3 s after it is back
/// (its usual readings of that stretch never went out). Its 300 readings reach detect-anomaly
/// as some 30 batches at once, each moving the stream's watermark and closing windows whose
/// readings other batches hold: many writers on one stream. Drawn from its own generator, so
/// the scenario without a backlog is unchanged.
fn backlog(catalogue: &Catalogue, plan: Plan, sent: &mut Vec<Sent>) {
    let mut rng = fastrand::Rng::with_seed(plan.seed ^ 0xbac1_0900);
    let sensors: Vec<_> = catalogue.sensors().collect();
    if sensors.is_empty() || plan.minutes * 60_000 < BACKLOG.end + 5 * 60_000 {
        return;
    }
    let sensor = sensors[rng.usize(..sensors.len())];
    let Some((metric, band)) = sensor.metrics.iter().next() else {
        return;
    };
    let offline = |s: &Sent| {
        let at = (s.reading.time - plan.start).num_milliseconds();
        s.reading.sensor_id == sensor.sensor_id && s.reading.metric == *metric && BACKLOG.contains(&at)
    };
    sent.retain(|s| !offline(s));
    let first = BACKLOG.start / 60_000;
    let above = rng.i64(first..first + 5);
    let below = rng.i64(first + 5..first + 10);
    for at in BACKLOG.step_by(2_000) {
        let minute = at / 60_000;
        let value = if minute == above {
            band.high + width(band) * (0.05 + rng.f64() * 0.5)
        } else if minute == below {
            band.low - width(band) * (0.05 + rng.f64() * 0.5)
        } else {
            centre(band) + width(band) * (rng.f64() - 0.5) * 0.3
        };
        let at = at + rng.i64(0..1_000);
        let mut reading = reading(
            &sensor.sensor_id,
            metric,
            band,
            plan,
            at,
            round(value),
            Fate::Late,
            0,
            &mut rng,
        );
        reading.arrivals = vec![BACKLOG.end + 3_000];
        sent.push(reading);
    }
}

/// Minute 3 of a stream slightly above its band (an anomaly), then a reading of that minute
/// far below, arriving 10 minutes later: the window's revision clears it.
fn cleared_by_a_late_reading(
    sensor_id: &str,
    metric: &str,
    band: &Band,
    plan: Plan,
    rng: &mut fastrand::Rng,
) -> Vec<Sent> {
    let base = 3 * 60_000 + 1_000;
    let mut out: Vec<Sent> = [0, 7_000]
        .iter()
        .map(|offset| {
            let value = round(band.high + width(band) * 0.05);
            let mut sent = reading(
                sensor_id,
                metric,
                band,
                plan,
                base + offset,
                value,
                Fate::Prompt,
                0,
                rng,
            );
            sent.arrivals = vec![base + offset + 500];
            sent
        })
        .collect();
    let mut late = reading(
        sensor_id,
        metric,
        band,
        plan,
        base + 14_000,
        round(band.low),
        Fate::Late,
        0,
        rng,
    );
    late.arrivals = vec![base + 600_000];
    out.push(late);
    out
}

/// The readings as requests to sensor-api: per site, what arrives in the same 5 s goes in one
/// `POST /readings` at the end of those 5 s, each reading's time written in its site's zone.
fn requests(catalogue: &Catalogue, sent: &[Sent], refused: &[Refused]) -> Scenario {
    const BUCKET: i64 = 5_000;
    let mut buckets: BTreeMap<(i64, String), Vec<Value>> = BTreeMap::new();
    for item in sent {
        let Some(sensor) = catalogue.sensor(&item.reading.sensor_id) else {
            continue;
        };
        let time = sensors::time::local(item.reading.time, sensor.timezone);
        for arrival in &item.arrivals {
            let bucket = (arrival / BUCKET + 1) * BUCKET;
            buckets.entry((bucket, sensor.site.clone())).or_default().push(json!({
                "sensorId": item.reading.sensor_id,
                "metric": item.reading.metric,
                "value": item.reading.value,
                "unit": item.unit,
                "time": time,
            }));
        }
    }
    for item in refused {
        let bucket = (item.arrival / BUCKET + 1) * BUCKET;
        buckets
            .entry((bucket, item.site.clone()))
            .or_default()
            .push(item.reading.clone());
    }
    let steps = buckets
        .into_iter()
        .map(|((at, site), readings)| Step {
            at,
            label: Some(format!("POST /readings {site}")),
            input: Input::Http(HttpRequest {
                function: "sensor-api".to_owned(),
                method: "POST".to_owned(),
                path: "/readings".to_owned(),
                headers: BTreeMap::new(),
                body: Some(json!({ "readings": readings })),
            }),
        })
        .collect();
    Scenario { start: None, steps }
}

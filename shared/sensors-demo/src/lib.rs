//! The sensors domain on the local cloud: its functions bundled ([`Sensors`]), the scenario of
//! readings from sites in many time zones ([`generate`](mod@generate)), and the invariants a run must keep:
//! every window's final verdict is the one a computation over all its readings gives, every
//! period with an anomaly has one alert, and every reading is counted, refused naming its field, or parked as too late.
//!
//! The demo (`make demo`, after the orders) plays [`DEMO_MINUTES`] of readings from the 24 sensors
//! of `events/sensors/catalogue.json` (14 sites in 12 time zones) through sensor-api: 10% out of
//! order, 5% twice, 2% late, a few beyond the late horizon, across Europe's change to summer
//! time. It prints per sensor a one-line chart of its windows against its band with the alerts
//! marked, the alerts with their sites' local times, and the invariants; [`story`] tells its
//! anomalies, revisions and alerts as they happen. Its size is fixed:
//! `--size` sizes only the orders demo.
//!
//! [`Domain::outcome`] plays the demo's scenario file without faults (`localcloud play
//! --outcome`): [`expected`] writes the checked run as the JSON the end-to-end harness compares
//! a deployment with; a file other than the generated scenario is refused ([`NotGenerated`]).

pub mod error;
pub mod expected;
pub mod generate;
pub mod story;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use chrono::{DateTime, TimeZone, Utc};
use emulator::cloud::{CloudOptions, LocalCloud, clock_text};
use emulator::domain::{DemoOptions, DemoReport, DemoRun, Domain, DomainError, DomainFuture, ScenarioOutcome, Story};
use emulator::faults::Faults;
use emulator::functions::FunctionCatalogue;
use emulator::scenario::Scenario;
use emulator::topology::Topology;
use handler_kit::local::{self, Registration};
use sensors::alerts::{AlertSettings, final_alerts};
use sensors::catalogue::Catalogue;
use sensors::windows::{Verdict, WindowKey, WindowSettings, final_verdicts};
use serde_json::Value;

pub use crate::error::NotGenerated;
pub use crate::expected::expected_json;
use crate::generate::{Fate, Generated, Plan, generate};

/// The sensor catalogue the demo and the scenario files use (the items of the deployed table).
pub const CATALOGUE: &str = include_str!("../../../events/sensors/catalogue.json");

/// The sensors of [`CATALOGUE`].
pub fn demo_catalogue() -> Result<Catalogue, String> {
    let items: Value = serde_json::from_str(CATALOGUE).map_err(|e| format!("sensor catalogue: {e}"))?;
    Catalogue::from_json(&items).map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
}

/// The sensors functions, each from its crate's declaration and builder.
pub fn functions() -> Vec<Registration> {
    vec![
        local::http(&sensor_api::FUNCTION, sensor_api::build),
        local::batches(&detect_anomaly::FUNCTION, detect_anomaly::build),
        local::batches(&raise_alert::FUNCTION, raise_alert::build),
    ]
}

/// The demo's start: 2026-03-29T00:30:00Z, so the run crosses the daylight saving change of
/// Europe (01:00Z): alerts of Berlin and London show their offsets change.
pub fn demo_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).single().unwrap_or_default()
}

/// The scenario variant in which a busy device uploads ten minutes of buffered readings at once.
pub const BACKLOG: &str = "backlog";

/// Minutes of readings in the demo: a little over the late horizon, so a few readings can
/// arrive beyond it.
pub const DEMO_MINUTES: i64 = 65;

/// The sensors domain, as the local cloud's CLI bundles it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sensors;

impl Domain for Sensors {
    fn name(&self) -> &'static str {
        "sensors"
    }

    fn story(&self) -> Box<dyn Story> {
        // Without its catalogue (a test of the bundled file fails first), the story tells
        // times in UTC alone.
        Box::new(story::SensorStories::new(
            demo_catalogue().unwrap_or_else(|_| Catalogue::new([])),
        ))
    }

    fn sources(&self) -> &'static [&'static str] {
        &[sensors::events::SOURCE]
    }

    fn samples(&self) -> &'static str {
        "sensors"
    }

    fn functions(&self) -> Vec<Registration> {
        functions()
    }

    fn event_types(&self) -> envelope::Registry {
        sensors::registry()
    }

    fn invariants(&self) -> &'static [&'static str] {
        &[
            "every window's last published verdict is the computation over all its counted readings",
            "no anomaly event id goes out twice with different data",
            "every period with an anomaly is alerted, unless its anomaly is dead-lettered by faults alone",
            "no alert is told twice unless a fault hit the invocation that told it",
            "every reading is counted, or parked as too late when sent beyond the horizon",
            "every invalid reading is refused naming its field, and no valid one",
        ]
    }

    fn variants(&self) -> &'static [&'static str] {
        &[BACKLOG]
    }

    /// The campaign's runs are the demo's 65 minutes of readings: the scenario plans some
    /// readings to arrive beyond the late horizon, which a shorter run would not reach.
    fn simulation_size(&self) -> usize {
        usize::try_from(DEMO_MINUTES).unwrap_or(0)
    }

    fn simulation(
        &self,
        template: &Path,
        options: DemoOptions,
        functions: &FunctionCatalogue,
    ) -> Result<Box<dyn DemoRun>, DomainError> {
        let failed = |source: String| DomainError::failed(self.name(), "demo", source);
        let mut site = Site::new_with(template, &options, functions).map_err(failed)?;
        let scenario = site.generated.scenario.clone();
        site.play(&scenario).map_err(failed)?;
        Ok(Box::new(site))
    }

    /// The demo's scenario, seed 1, with no faults: the file must be the scenario the site
    /// generates (its invariants judge each reading by its generated fate), or it is refused.
    fn outcome<'a>(
        &'a self,
        template: &'a Path,
        scenario: &'a Scenario,
        functions: &'a FunctionCatalogue,
        watch: &'a dyn Fn(&mut LocalCloud),
    ) -> DomainFuture<'a, ScenarioOutcome> {
        Box::pin(async move {
            let failed = |source: String| DomainError::failed(self.name(), "outcome", source);
            let mut site = Site::new(template, 1, Faults::none(), DEMO_MINUTES, functions).map_err(failed)?;
            watch(&mut site.cloud);
            site.ensure_generated(scenario)
                .map_err(|e| DomainError::failed(self.name(), "outcome", e))?;
            site.play(scenario).map_err(failed)?;
            let checked = site.settle().await;
            Ok(ScenarioOutcome {
                json: expected_json(&checked),
                report: DemoReport {
                    summary: summary(&site, &checked),
                    view: view(&site, &checked),
                    violations: checked.violations,
                },
            })
        })
    }

    fn demo(
        &self,
        template: &Path,
        options: DemoOptions,
        functions: &FunctionCatalogue,
    ) -> Result<Box<dyn DemoRun>, DomainError> {
        self.simulation(
            template,
            DemoOptions {
                size: usize::try_from(DEMO_MINUTES).unwrap_or(0),
                ..options
            },
            functions,
        )
    }
}

/// A run of the sensors scenario on a local cloud, with what it sent.
pub struct Site {
    cloud: LocalCloud,
    catalogue: Catalogue,
    generated: Generated,
    /// Minutes of readings and the seed it generated them with (what [`NotGenerated`] names).
    plan: (i64, u64),
}

impl Site {
    /// The scenario of `minutes` of readings from every sensor of the catalogue, on the
    /// template at `template`, scheduled and ready to run.
    pub fn open(
        template: &Path,
        seed: u64,
        faults: emulator::faults::Faults,
        minutes: i64,
        functions: &FunctionCatalogue,
    ) -> Result<Self, String> {
        let mut site = Self::new(template, seed, faults, minutes, functions)?;
        let scenario = site.generated.scenario.clone();
        site.play(&scenario)?;
        Ok(site)
    }

    /// The cloud with its catalogue loaded and the scenario generated, but nothing scheduled:
    /// [`Site::play`] schedules the requests (the generated ones, or the same read from a file).
    pub fn new(
        template: &Path,
        seed: u64,
        faults: emulator::faults::Faults,
        minutes: i64,
        functions: &FunctionCatalogue,
    ) -> Result<Self, String> {
        let options = DemoOptions {
            size: usize::try_from(minutes).unwrap_or(0),
            seed,
            faults,
            replay: None,
            variant: None,
        };
        Self::new_with(template, &options, functions)
    }

    /// As [`Site::new`], with `options.size` minutes of readings, replaying `options.replay`'s
    /// choices instead of drawing from the seed when given (the seed still makes the
    /// scenario), and with a device's backlog when `options.variant` is `backlog`.
    pub fn new_with(template: &Path, options: &DemoOptions, functions: &FunctionCatalogue) -> Result<Self, String> {
        let (seed, faults, replay) = (options.seed, options.faults, options.replay.clone());
        let minutes = i64::try_from(options.size).map_err(|_| "size out of range".to_owned())?;
        let backlog = match options.variant.as_deref() {
            None => false,
            Some(BACKLOG) => true,
            Some(other) => {
                return Err(format!(
                    "the sensors scenario has no variant {other} (there is: {BACKLOG})"
                ));
            }
        };
        let items: Value = serde_json::from_str(CATALOGUE).map_err(|e| format!("sensor catalogue: {e}"))?;
        let catalogue = demo_catalogue()?;
        let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
        let start = demo_start();
        let mut cloud = LocalCloud::new(
            topology,
            CloudOptions {
                seed,
                faults,
                start,
                schedules_until: (minutes + 15) * 60_000,
                replay,
            },
            functions,
        )
        .map_err(|e| e.to_string())?;
        let rows = items.as_array().cloned().unwrap_or_default();
        cloud.load_table("SensorCatalogueTable", &rows)?;
        cloud.keep_emitted();
        let generated = generate(
            &catalogue,
            Plan {
                start,
                minutes,
                seed,
                backlog,
            },
        );
        Ok(Self {
            cloud,
            catalogue,
            generated,
            plan: (minutes, seed),
        })
    }

    /// `scenario` is the one the site generated, or where it first differs: the invariants
    /// judge each reading by the fate the generator gave it, so they can judge no other.
    pub fn ensure_generated(&self, scenario: &Scenario) -> Result<(), NotGenerated> {
        let generated = &self.generated.scenario;
        let difference = if scenario.start != generated.start {
            format!(
                "it starts at {}, the generated one at {}",
                scenario
                    .start
                    .map_or("no stated instant".to_owned(), sensors::time::utc),
                generated
                    .start
                    .map_or("no stated instant".to_owned(), sensors::time::utc)
            )
        } else if let Some(step) = (0..scenario.steps.len().max(generated.steps.len()))
            .find(|&i| scenario.steps.get(i) != generated.steps.get(i))
        {
            format!(
                "step {} differs; it has {} steps, the generated one {}",
                step + 1,
                scenario.steps.len(),
                generated.steps.len()
            )
        } else {
            return Ok(());
        };
        let (minutes, seed) = self.plan;
        Err(NotGenerated {
            minutes,
            seed,
            difference,
        })
    }

    /// What the scenario sends: its requests and every reading's fate.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }

    /// Schedules `scenario`'s inputs. The invariants judge the readings by the generated
    /// fates, so `scenario` must be the generated one ([`Site::ensure_generated`] checks a
    /// scenario file).
    pub fn play(&mut self, scenario: &emulator::scenario::Scenario) -> Result<(), String> {
        scenario.schedule(&mut self.cloud)
    }

    /// The cloud.
    pub fn cloud(&self) -> &LocalCloud {
        &self.cloud
    }

    /// Runs until nothing is left to do, then checks the invariants.
    pub async fn settle(&mut self) -> Checked {
        self.cloud.run(i64::MAX).await;
        self.check()
    }

    fn check(&self) -> Checked {
        let mut checked = Checked::default();
        let emitted = self.cloud.emitted();
        // What the bus says of each window: its latest revision.
        let mut published: BTreeMap<WindowKey, (u64, Value)> = BTreeMap::new();
        // Each event id with the data it first carried: consumers absorb a repeated id as a
        // duplicate, so an id carrying other data later leaves them with the first.
        let mut first_data: HashMap<String, Value> = HashMap::new();
        for item in emitted {
            let event = &item.event;
            if !matches!(
                event.get("detail-type").and_then(Value::as_str),
                Some("AnomalyDetected" | "AnomalyCleared")
            ) {
                continue;
            }
            let Some(key) = window_of(event) else {
                continue;
            };
            let data = &event["detail"]["data"];
            let revision = data["revision"].as_u64().unwrap_or(0);
            let id = event["detail"]["metadata"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            match first_data.get(&id) {
                None => {
                    first_data.insert(id, data.clone());
                }
                Some(first) if first != data => {
                    let differ: Vec<String> = ["count", "mean", "min", "max", "direction"]
                        .iter()
                        .filter(|field| first[**field] != data[**field])
                        .map(|field| format!("{field} {} then {}", first[*field], data[*field]))
                        .collect();
                    checked.violations.push(format!(
                        "{} {} window {}: {} revision {revision} ({id}) went out twice with different data ({}): consumers keep the first",
                        key.sensor_id,
                        key.metric,
                        sensors::time::utc(key.start),
                        event["detail-type"].as_str().unwrap_or_default(),
                        differ.join(", ")
                    ));
                }
                Some(_) => {}
            }
            let entry = published.entry(key).or_insert((0, Value::Null));
            if revision >= entry.0 {
                *entry = (revision, event.clone());
            }
        }
        // Alerts as the topic sent them: id -> (times, any send at risk of a repeat, message).
        let mut alerts: BTreeMap<String, (usize, bool, Value)> = BTreeMap::new();
        for notification in self.cloud.notifications() {
            let Ok(message) = serde_json::from_str::<Value>(&notification.message.body) else {
                continue;
            };
            if message["metadata"]["type"] != "AlertTriggered" {
                continue;
            }
            let id = message["data"]["alertId"].as_str().unwrap_or_default().to_owned();
            let entry = alerts.entry(id).or_insert((0, false, message));
            entry.0 += 1;
            entry.1 |= notification.at_risk;
        }
        // Parked readings (too late, or refused by the windows).
        let mut parked: HashMap<String, String> = HashMap::new();
        for queue in self.cloud.queues() {
            for message in queue.messages() {
                let Some(kind) = message.sent.attributes.get("parked-kind") else {
                    continue;
                };
                let body: Value = serde_json::from_str(&message.sent.body).unwrap_or(Value::Null);
                if let Some(id) = body.pointer("/detail/metadata/id").and_then(Value::as_str) {
                    parked.insert(id.to_owned(), kind.clone());
                }
            }
        }
        // Every reading counted, or parked as too late when it was sent beyond the horizon.
        let mut counted = Vec::new();
        let mut seen = BTreeSet::new();
        for sent in &self.generated.sent {
            if !seen.insert(sent.reading.id) {
                continue;
            }
            let parked_as = parked.get(&sent.reading.id.to_string());
            match (sent.fate, parked_as) {
                (Fate::TooLate, Some(kind)) if kind == "too-late" => {
                    checked.too_late += 1;
                    checked.too_late_ids.insert(sent.reading.id.to_string());
                }
                (Fate::TooLate, other) => checked.violations.push(format!(
                    "{} {} at {}: sent beyond the horizon, but {}",
                    sent.reading.sensor_id,
                    sent.reading.metric,
                    sensors::time::utc(sent.reading.time),
                    other.map_or("not parked".to_owned(), |k| format!("parked as {k}"))
                )),
                (_, Some(kind)) => checked.violations.push(format!(
                    "{} {} at {}: parked as {kind}",
                    sent.reading.sensor_id,
                    sent.reading.metric,
                    sensors::time::utc(sent.reading.time)
                )),
                (_, None) => counted.push(sent.reading.clone()),
            }
        }
        checked.readings = seen.len();
        self.check_refusals(&mut checked);
        // Final verdicts against a computation over every counted reading.
        let verdicts = final_verdicts(&WindowSettings::default(), &self.catalogue, &counted);
        for (key, verdict) in &verdicts {
            let last = published.get(key).map(|(_, e)| e);
            let ok = match (verdict.direction, last) {
                (None, None) => true,
                (None, Some(event)) => event["detail-type"] == "AnomalyCleared",
                (Some(direction), Some(event)) => {
                    event["detail-type"] == "AnomalyDetected"
                        && event["detail"]["data"]["direction"] == serde_json::to_value(direction).unwrap_or_default()
                        && event["detail"]["data"]["count"].as_u64() == Some(verdict.figures.count)
                }
                (Some(_), None) => false,
            };
            if !ok {
                checked.violations.push(format!(
                    "{} {} window {}: final verdict {:?}, but the bus last said {}",
                    key.sensor_id,
                    key.metric,
                    sensors::time::utc(key.start),
                    verdict.direction,
                    last.map_or("nothing".to_owned(), |e| e["detail-type"].to_string())
                ));
            }
        }
        checked.anomalous = verdicts.values().filter(|v| v.direction.is_some()).count();
        checked.revised = published.values().filter(|(revision, _)| *revision > 1).count();
        checked.revisions = published
            .iter()
            .map(|(key, (revision, _))| (key.clone(), *revision))
            .collect();
        // One alert per period with an anomaly; none told twice.
        let expected = final_alerts(&AlertSettings::default(), &verdicts);
        let expected_ids: BTreeSet<String> = expected.values().map(|a| a.alert_id.to_string()).collect();
        let raised: BTreeSet<String> = alerts.keys().cloned().collect();
        // An anomaly dead-lettered because every receive of it failed to an injected fault is
        // kept where AWS keeps it (a DLQ, to redrive): its period may rightly be unalerted.
        let dead_by_faults = self.alerts_dead_by_faults();
        for missing in expected_ids.difference(&raised) {
            if dead_by_faults.contains(missing) {
                checked.alerts_dead_by_faults += 1;
                continue;
            }
            checked
                .violations
                .push(format!("alert {missing}: a period with an anomaly was never alerted"));
        }
        checked.expected_alerts = expected_ids;
        // Told twice only where a fault hit the invocation that told it (a crash, a failed or
        // slow call: its outbox may not have been cleared, so the alert went out again; standard
        // SNS cannot deduplicate; subscribers can, by the alert's id).
        for (id, (times, at_risk, _)) in &alerts {
            match (*times, *at_risk) {
                (1, _) => {}
                (times, true) => checked.alerts_repeated_by_crash += times - 1,
                (times, false) => checked.violations.push(format!(
                    "alert {id} told {times} times, with no fault in the invocation that told it"
                )),
            }
        }
        checked.alerts = alerts.into_values().map(|(_, _, message)| message).collect();
        checked.alerts.sort_by(|a, b| {
            a["data"]["windowStart"]
                .as_str()
                .cmp(&b["data"]["windowStart"].as_str())
        });
        checked.verdicts = verdicts;
        checked
    }
}

/// The window an anomaly event (as EventBridge carries it) speaks of.
fn window_of(event: &Value) -> Option<WindowKey> {
    let data = &event["detail"]["data"];
    Some(WindowKey {
        sensor_id: data["sensorId"].as_str()?.to_owned(),
        metric: data["metric"].as_str()?.to_owned(),
        start: data["windowStart"]
            .as_str()
            .and_then(|t| sensors::time::parse(t).ok())?,
    })
}

impl Site {
    /// The alert ids of the periods whose anomaly events sit in a dead-letter queue, every
    /// receive of which failed to an injected fault.
    fn alerts_dead_by_faults(&self) -> BTreeSet<String> {
        let Ok(alerts) = sensors::alerts::Alerts::new(sensors::alerts::AlertSettings::default()) else {
            return BTreeSet::new();
        };
        let mut ids = BTreeSet::new();
        for queue in self
            .cloud
            .queues()
            .filter(|q| q.config().logical_id.contains("DeadLetter"))
        {
            for message in queue.messages() {
                if !self.cloud.failed_only_by_faults(&message.id) {
                    continue;
                }
                let Ok(body) = serde_json::from_str::<Value>(&message.sent.body) else {
                    continue;
                };
                let Some(key) = window_of(&body) else {
                    continue;
                };
                let period = alerts.period_of(key.start);
                ids.insert(sensors::events::alert_id(&key.sensor_id, &key.metric, period).to_string());
            }
        }
        ids
    }

    /// Every invalid reading refused, naming its field; no valid one refused.
    fn check_refusals(&self, checked: &mut Checked) {
        let mut named: BTreeMap<String, usize> = BTreeMap::new();
        for exchange in self.cloud.exchanges() {
            let Ok(response) = &exchange.response else {
                continue;
            };
            let Some(body) = response["body"]
                .as_str()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
            else {
                continue;
            };
            for refusal in body["refusals"].as_array().into_iter().flatten() {
                let field = refusal["field"].as_str().unwrap_or_default();
                let field = field.rsplit('.').next().unwrap_or(field);
                *named.entry(field.to_owned()).or_default() += 1;
            }
        }
        let mut expected: BTreeMap<String, usize> = BTreeMap::new();
        for refused in &self.generated.refused {
            *expected.entry(refused.field.to_owned()).or_default() += 1;
        }
        checked.refused = named.values().sum();
        if named != expected {
            checked.violations.push(format!(
                "sensor-api refused readings naming {named:?}; the scenario sent invalid ones of {expected:?}"
            ));
        }
        checked.refused_by_field = named;
    }
}

/// What a sensors run came to.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Distinct readings sent.
    pub readings: usize,
    /// Readings parked as too late.
    pub too_late: usize,
    /// Their envelope ids (the readings sent beyond the horizon and parked as such).
    pub too_late_ids: BTreeSet<String>,
    /// Invalid readings refused by sensor-api, each naming its field.
    pub refused: usize,
    /// The refusals by the field they named (its last segment: `unit`), as sensor-api wrote them.
    pub refused_by_field: BTreeMap<String, usize>,
    /// Windows anomalous in the end.
    pub anomalous: usize,
    /// Windows whose verdict was revised by a late reading.
    pub revised: usize,
    /// The last revision the bus carried of each window with an anomaly event.
    pub revisions: BTreeMap<WindowKey, u64>,
    /// The final verdict of every window.
    pub verdicts: BTreeMap<WindowKey, Verdict>,
    /// The alerts triggered (their messages).
    pub alerts: Vec<Value>,
    /// The alert ids the final verdicts call for: one per period with an anomaly.
    pub expected_alerts: BTreeSet<String>,
    /// Alerts told again because a fault hit the invocation that told them.
    pub alerts_repeated_by_crash: usize,
    /// Periods unalerted because their anomaly is in a dead-letter queue, every receive of it
    /// failed to an injected fault.
    pub alerts_dead_by_faults: usize,
    /// Invariants that do not hold.
    pub violations: Vec<String>,
}

impl DemoRun for Site {
    fn cloud_mut(&mut self) -> &mut LocalCloud {
        &mut self.cloud
    }

    fn finish(&mut self) -> Pin<Box<dyn Future<Output = DemoReport> + '_>> {
        Box::pin(async move {
            let checked = self.settle().await;
            DemoReport {
                summary: summary(self, &checked),
                view: view(self, &checked),
                violations: checked.violations,
            }
        })
    }

    fn scenario(&self) -> emulator::scenario::Scenario {
        self.generated.scenario.clone()
    }
}

/// The run as the run page plots it: each site's time zone; per stream its band and every
/// window's final figures and verdict, the last revision the bus carried of it, and whether an
/// alert's period begins there; the alerts.
pub fn view(site: &Site, checked: &Checked) -> Value {
    let alerted: BTreeSet<(&str, &str, &str)> = checked
        .alerts
        .iter()
        .filter_map(|a| {
            let data = &a["data"];
            Some((
                data["sensorId"].as_str()?,
                data["metric"].as_str()?,
                data["windowStart"].as_str()?,
            ))
        })
        .collect();
    let mut streams: BTreeMap<(&str, &str), Vec<Value>> = BTreeMap::new();
    for (key, verdict) in &checked.verdicts {
        let start = sensors::time::utc(key.start);
        streams
            .entry((&key.sensor_id, &key.metric))
            .or_default()
            .push(serde_json::json!({
                "start": start,
                "mean": verdict.figures.mean,
                "count": verdict.figures.count,
                "min": verdict.figures.min,
                "max": verdict.figures.max,
                "direction": verdict.direction,
                "revision": checked.revisions.get(key).copied().unwrap_or(0),
                "alerted": alerted.contains(&(key.sensor_id.as_str(), key.metric.as_str(), start.as_str())),
            }));
    }
    let mut sites: BTreeMap<&str, &str> = BTreeMap::new();
    let streams: Vec<Value> = streams
        .into_iter()
        .map(|((sensor, metric), windows)| {
            let found = site.catalogue.sensor(sensor);
            let band = site.catalogue.band(sensor, metric);
            if let Some(found) = found {
                sites.insert(&found.site, found.timezone.name());
            }
            serde_json::json!({
                "sensor": sensor,
                "site": found.map(|s| s.site.as_str()),
                "metric": metric,
                "unit": band.map(|b| b.unit.as_str()),
                "low": band.map(|b| b.low),
                "high": band.map(|b| b.high),
                "windows": windows,
            })
        })
        .collect();
    serde_json::json!({
        "sites": sites.iter().map(|(site, zone)| serde_json::json!({ "site": site, "timezone": zone })).collect::<Vec<_>>(),
        "streams": streams,
        "alerts": checked.alerts.iter().map(|a| a["data"].clone()).collect::<Vec<_>>(),
    })
}

/// The run in a few lines: per stream a chart of its windows against its band (`_` below,
/// `-` inside, `^` above, `.` no reading; `!` where an alert's period begins), the alerts with
/// their sites' local times, and the invariants.
pub fn summary(site: &Site, checked: &Checked) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== Sensors summary after {} of virtual time ==",
        clock_text(site.cloud.now())
    );
    let alert_windows: BTreeSet<(String, String, String)> = checked
        .alerts
        .iter()
        .map(|a| {
            let data = &a["data"];
            (
                data["sensorId"].as_str().unwrap_or_default().to_owned(),
                data["metric"].as_str().unwrap_or_default().to_owned(),
                data["windowStart"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut streams: BTreeMap<(String, String), Vec<(&WindowKey, &Verdict)>> = BTreeMap::new();
    for (key, verdict) in &checked.verdicts {
        streams
            .entry((key.sensor_id.clone(), key.metric.clone()))
            .or_default()
            .push((key, verdict));
    }
    let _ = writeln!(
        out,
        "Windows per stream (_ below, - inside, ^ above the band; ! an alert):"
    );
    for ((sensor, metric), windows) in &streams {
        let chart: String = windows
            .iter()
            .map(|(key, verdict)| {
                let alerted = alert_windows.contains(&(sensor.clone(), metric.clone(), sensors::time::utc(key.start)));
                match (alerted, verdict.direction) {
                    (true, _) => '!',
                    (false, Some(sensors::events::Direction::Above)) => '^',
                    (false, Some(sensors::events::Direction::Below)) => '_',
                    (false, None) => '-',
                }
            })
            .collect();
        let _ = writeln!(out, "  {sensor:<18} {metric:<11} {chart}");
    }
    let _ = writeln!(
        out,
        "Alerts ({}, {} told again after a fault in the invocation that told them, {} held in a dead-letter queue by faults alone):",
        checked.alerts.len(),
        checked.alerts_repeated_by_crash,
        checked.alerts_dead_by_faults
    );
    for alert in &checked.alerts {
        let data = &alert["data"];
        let _ = writeln!(
            out,
            "  {} {:<8} {} {} {}: mean {:.2} outside {:.2}..{:.2} (local {})",
            data["windowStart"].as_str().unwrap_or_default(),
            data["severity"].as_str().unwrap_or_default(),
            data["site"].as_str().unwrap_or_default(),
            data["sensorId"].as_str().unwrap_or_default(),
            data["metric"].as_str().unwrap_or_default(),
            data["mean"].as_f64().unwrap_or(f64::NAN),
            data["low"].as_f64().unwrap_or(f64::NAN),
            data["high"].as_f64().unwrap_or(f64::NAN),
            data["localTime"].as_str().unwrap_or_default()
        );
    }
    let _ = writeln!(
        out,
        "Readings: {} sent, {} refused naming their field, {} parked as too late; windows: {}, {} anomalous, {} revised",
        checked.readings,
        checked.refused,
        checked.too_late,
        checked.verdicts.len(),
        checked.anomalous,
        checked.revised
    );
    if checked.violations.is_empty() {
        let _ = writeln!(
            out,
            "Invariants hold: every window's final verdict is the computation over all its readings, every period with an anomaly alerted once but where a fault hit the invocation that told it, no anomaly revision sent with two contents, every reading counted, refused naming its field, or parked as too late."
        );
    } else {
        let _ = writeln!(out, "INVARIANTS VIOLATED ({}):", checked.violations.len());
        for violation in checked.violations.iter().take(50) {
            let _ = writeln!(out, "  - {violation}");
        }
    }
    out
}

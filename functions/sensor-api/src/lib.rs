//! sensor-api: the HTTP producer of readings behind a Lambda Function URL.
//!
//! - `POST /readings`: `{"readings": [...]}`, at most 500 readings and 1 MiB (413 over). Each
//!   reading `{sensorId, metric, value, unit, time}` is checked against the catalogue; the
//!   valid ones are published as `SensorReadingReceived` (id derived from sensor, metric and
//!   time: a resend changes nothing), the others refused, each named by index and field. 202
//!   with the counts and the refusals when any reading was accepted, 400 when none.
//! - `GET /sensors/{id}`: the sensor's status: its last reading's time per metric in UTC and in
//!   the site's time, its last closed window per metric, its open alerts.
//!
//! Behind a Function URL with IAM auth; readings go out in PutEvents of at most 10 entries. It
//! reads the catalogue, the windows and the alerts tables, and writes none.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use handler_kit::config::ConfigError;
use handler_kit::http::{HttpHandler, Request, json_response, problem};
use handler_kit::publish::Publisher;
use handler_kit::trigger::FunctionUrl;
use handler_kit::{Bus, Clock, Function, PublishesTo};
use sensor_stores::{
    AlertStore, AlertStorePort, SENSOR_ALERTS_TABLE, SENSOR_CATALOGUE_TABLE, SENSOR_WINDOWS_TABLE, SensorCatalogue,
    SensorCataloguePort, WindowStore, WindowStorePort,
};
use sensors::readings::{check_limits, check_readings, readings_of};
use serde_json::{Value, json};

/// sensor-api, declared once: Function URL requests in, readings to the bus.
pub const FUNCTION: Function<FunctionUrl, Bus> = Function {
    name: "sensor-api",
    trigger: FunctionUrl,
    outputs: Bus {
        sources: &[sensors::events::SOURCE],
    },
    settings: &[
        SENSOR_CATALOGUE_TABLE.calls(&["dynamodb:BatchGetItem"]),
        // A sensor's status: its windows and its open alerts.
        SENSOR_WINDOWS_TABLE.calls(&["dynamodb:Query"]),
        SENSOR_ALERTS_TABLE.calls(&["dynamodb:Query"]),
    ],
    idempotent: false,
};

/// The API as built on a platform.
pub type SensorApiOn<P> = SensorApi<
    <P as PublishesTo<Bus>>::Publisher,
    sensor_stores::CachedCatalogue<<P as SensorCataloguePort>::Catalogue>,
    <P as WindowStorePort>::Windows,
    <P as AlertStorePort>::Alerts,
>;

/// The function's one composition root, on any platform.
pub fn build<P>(platform: &P) -> Result<SensorApiOn<P>, ConfigError>
where
    P: PublishesTo<Bus> + SensorCataloguePort + WindowStorePort + AlertStorePort,
{
    Ok(SensorApi {
        publisher: platform.publisher(&FUNCTION.outputs)?,
        catalogue: sensor_stores::cached_catalogue(platform)?,
        windows: platform.window_store(&platform.setting(&SENSOR_WINDOWS_TABLE)?)?,
        alerts: platform.alert_store(&platform.setting(&SENSOR_ALERTS_TABLE)?)?,
        clock: platform.clock(),
    })
}

/// The sensors API over its ports.
pub struct SensorApi<P, C, W, A> {
    publisher: P,
    catalogue: C,
    windows: W,
    alerts: A,
    clock: Arc<dyn Clock>,
}

/// An answer: status and JSON body.
type Answer = (u16, Value);

fn unavailable(what: &str, err: &dyn std::fmt::Display) -> Answer {
    tracing::error!(error = %err, "{what} unavailable");
    (
        503,
        problem(
            503,
            "Service Unavailable",
            format!("{what} is unavailable; retry shortly"),
        ),
    )
}

impl<P: Publisher, C: SensorCatalogue, W: WindowStore, A: AlertStore> SensorApi<P, C, W, A> {
    /// The publisher, e.g. to inspect an in-memory one.
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// Answers one request.
    pub async fn answer(&self, request: &Request) -> Answer {
        match (request.method.as_str(), request.segments().as_slice()) {
            ("POST", ["readings"]) => self.receive(&request.body).await,
            ("GET", ["sensors", id]) => self.status(id).await,
            (_, ["readings"] | ["sensors", _]) => (
                405,
                problem(
                    405,
                    "Method Not Allowed",
                    format!("{} {} is not served", request.method, request.path),
                ),
            ),
            _ => (
                404,
                problem(404, "Not Found", format!("no resource at {}", request.path)),
            ),
        }
    }

    async fn receive(&self, body: &[u8]) -> Answer {
        if let Err(limit) = check_limits(body.len(), 0) {
            return (413, problem(413, "Payload Too Large", limit.to_string()));
        }
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(parsed) => parsed,
            Err(err) => {
                return (
                    400,
                    problem(400, "Bad Request", format!("the body is not valid JSON: {err}")),
                );
            }
        };
        let readings = match readings_of(&parsed) {
            Ok(readings) => readings,
            Err(refusal) => return (400, problem(400, "Bad Request", refusal.to_string())),
        };
        if let Err(limit) = check_limits(body.len(), readings.len()) {
            return (413, problem(413, "Payload Too Large", limit.to_string()));
        }
        let ids: Vec<String> = readings
            .iter()
            .filter_map(|r| r.get("sensorId").and_then(Value::as_str).map(str::to_owned))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let catalogue = match self.catalogue.sensors(&ids).await {
            Ok(catalogue) => catalogue,
            Err(err) => return unavailable("the sensor catalogue", &err),
        };
        let checked = check_readings(readings, &catalogue, self.clock.now());
        let refused: Vec<Value> = checked
            .refused
            .iter()
            .map(|r| json!({ "index": r.index, "field": r.path(), "message": r.message }))
            .collect();
        if checked.accepted.is_empty() {
            let mut body = problem(
                400,
                "Bad Request",
                format!("none of the {} readings was accepted", readings.len()),
            );
            // The same keys as a 202's, so a client reads refusals one way.
            body["accepted"] = json!(0);
            body["refused"] = json!(refused.len());
            body["refusals"] = Value::Array(refused);
            return (400, body);
        }
        let events = match checked
            .accepted
            .iter()
            .map(|a| a.event.to_untyped())
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(events) => events,
            Err(err) => return (500, problem(500, "Internal Server Error", err.to_string())),
        };
        if let Err(err) = self.publisher.publish(&events).await {
            return unavailable("the event bus", &err);
        }
        (
            202,
            json!({ "accepted": checked.accepted.len(), "refused": refused.len(), "refusals": refused }),
        )
    }

    async fn status(&self, sensor_id: &str) -> Answer {
        let catalogue = match self.catalogue.sensors(&[sensor_id.to_owned()]).await {
            Ok(catalogue) => catalogue,
            Err(err) => return unavailable("the sensor catalogue", &err),
        };
        let Some(sensor) = catalogue.sensor(sensor_id) else {
            return (404, problem(404, "Not Found", format!("no sensor {sensor_id}")));
        };
        let (streams, windows, alerts) = match (
            self.windows.streams_of(sensor_id).await,
            self.windows.last_closed_windows(sensor_id).await,
            self.alerts.open_alerts(sensor_id).await,
        ) {
            (Ok(s), Ok(w), Ok(a)) => (s, w, a),
            (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => return unavailable("the sensor's state", &err),
        };
        let last_readings: Vec<Value> = streams
            .iter()
            .filter_map(|s| {
                let at = s.max_event_time?;
                Some(json!({
                    "metric": s.metric,
                    "utc": sensors::time::utc(at),
                    "local": sensors::time::local(at, sensor.timezone),
                }))
            })
            .collect();
        let last_windows: Vec<Value> = windows
            .iter()
            .map(|w| {
                let verdict = w.verdict();
                json!({
                    "metric": w.metric,
                    "windowStart": sensors::time::utc(w.start),
                    "windowEnd": sensors::time::utc(w.end),
                    "count": verdict.figures.count,
                    "mean": verdict.figures.mean,
                    "direction": verdict.direction,
                    "revision": w.revision,
                })
            })
            .collect();
        let open: Vec<Value> = alerts
            .iter()
            .filter_map(|a| {
                a.active
                    .as_ref()
                    .map(|alert| serde_json::to_value(alert).unwrap_or_default())
            })
            .collect();
        (
            200,
            json!({
                "sensorId": sensor_id,
                "site": sensor.site,
                "timezone": sensor.timezone.name(),
                "lastReadings": last_readings,
                "lastClosedWindows": last_windows,
                "openAlerts": open,
            }),
        )
    }
}

impl<P: Publisher, C: SensorCatalogue, W: WindowStore, A: AlertStore> HttpHandler for SensorApi<P, C, W, A> {
    async fn handle(&self, request: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        let (status, body) = self.answer(&Request::from_function_url(&request)).await;
        json_response(status, &body, None)
    }
}

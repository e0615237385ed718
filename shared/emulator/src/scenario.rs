//! Scenarios as files: one JSON object per line, each an input at a virtual time offset. The
//! demo, the tests and a user's own cases run the same way (`localcloud play`).
//!
//! ```text
//! {"at": 0, "label": "place order 1", "http": {"function": "order-api", "method": "POST", "path": "/orders", "headers": {"idempotency-key": "k-1"}, "body": {"customerId": "c-1"}}}
//! {"at": "1.5s", "event": {"source": "shop.orders", "detail-type": "OrderPlaced", "detail": {"metadata": {}, "data": {}}}}
//! {"at": "2m", "message": {"queue": "ReserveInventoryQueue", "body": "not json"}}
//! ```
//!
//! - `at`: milliseconds, or a number with a unit (`250ms`, `1.5s`, `2m`, `1h`).
//! - `http`: a request to a function's URL (by crate name or logical id); `body` is a JSON
//!   value (sent as its JSON text) or a string (sent as it is).
//! - `event`: PutEvents of one entry on `bus` (by name; the template's only custom bus if
//!   omitted).
//! - `message`: SendMessage to a queue, by logical id; `body` as for `http`.
//!
//! A line `// start: <RFC 3339>` names the virtual instant the scenario was written for (its
//! readings' times, its schedules): `localcloud play` starts the clock there unless `--start`
//! says otherwise.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloud::LocalCloud;
use crate::sqs::Outgoing;

/// One input of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// When, in virtual ms after the start.
    #[serde(with = "offset")]
    pub at: i64,
    /// A name for the input in the timeline and in what a test checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What arrives.
    #[serde(flatten)]
    pub input: Input,
}

/// What arrives from outside the template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    /// A request to a function's URL.
    Http(HttpRequest),
    /// An event put on a bus.
    Event(BusEvent),
    /// A message sent to a queue.
    Message(QueueMessage),
}

/// A request to a function's URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The function: crate name or logical id.
    pub function: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/orders`.
    pub path: String,
    /// Headers, by lowercase name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body: JSON, or text as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// An event put on a bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusEvent {
    /// The bus's name; the template's only custom bus if omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `detail`.
    pub detail: Value,
}

/// A message sent to a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMessage {
    /// The queue's logical id.
    pub queue: String,
    /// The body: JSON, or text as it is.
    pub body: Value,
    /// String message attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// FIFO: the message group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A scenario file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ScenarioError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// A scenario: its steps in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    /// The virtual instant it was written for (`// start: ...`), if it says.
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    /// The steps.
    pub steps: Vec<Step>,
}

/// The comment line naming a scenario's start.
const START: &str = "// start:";

impl Scenario {
    /// Reads JSON Lines; blank lines and lines starting with `//` are skipped.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let mut steps = Vec::new();
        let mut start = None;
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            let trimmed = line.trim();
            if let Some(instant) = trimmed.strip_prefix(START) {
                let parsed = chrono::DateTime::parse_from_rfc3339(instant.trim()).map_err(|err| ScenarioError {
                    line: line_number,
                    reason: format!("`{START}` needs an RFC 3339 instant such as 2026-03-29T00:30:00Z: {err}"),
                })?;
                start = Some(parsed.with_timezone(&chrono::Utc));
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with("//") {
                continue;
            }
            let mut deserializer = serde_json::Deserializer::from_str(trimmed);
            let step: Step = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| ScenarioError {
                line: line_number,
                reason: match err.path().to_string().as_str() {
                    "." | "" => err.inner().to_string(),
                    path => format!("at {path}: {}", err.inner()),
                },
            })?;
            steps.push(step);
        }
        Ok(Self { start, steps })
    }

    /// The scenario as JSON Lines, one step a line, after its `// start:` line if it has a start.
    pub fn to_jsonl(&self) -> String {
        let start = self.start.map(|start| {
            format!(
                "{START} {}\n",
                start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            )
        });
        start
            .into_iter()
            .chain(
                self.steps
                    .iter()
                    .map(|step| serde_json::to_string(step).unwrap_or_default() + "\n"),
            )
            .collect()
    }

    /// The time of the last step (0 for none).
    pub fn last_at(&self) -> i64 {
        self.steps.iter().map(|s| s.at).max().unwrap_or(0)
    }

    /// Schedules every step on `cloud`. A step naming what the template does not have is an
    /// error naming the step.
    pub fn schedule(&self, cloud: &mut LocalCloud) -> Result<(), String> {
        for (index, step) in self.steps.iter().enumerate() {
            let name = || step.label.clone().unwrap_or_else(|| format!("step {}", index + 1));
            match &step.input {
                Input::Http(request) => {
                    let function = cloud
                        .topology()
                        .functions
                        .values()
                        .find(|f| f.url && (f.spec.binary == request.function || f.spec.logical_id == request.function))
                        .map(|f| f.spec.logical_id.clone())
                        .ok_or_else(|| format!("{}: no function {} with a Function URL", name(), request.function))?;
                    let headers: Vec<(&str, &str)> =
                        request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let body = request.body.as_ref().map(text);
                    let payload = function_url_request(&request.method, &request.path, &headers, body.as_deref());
                    let label = step
                        .label
                        .clone()
                        .unwrap_or_else(|| format!("{} {}", request.method, request.path));
                    cloud.request(step.at, &function, payload, label);
                }
                Input::Event(event) => {
                    let bus = match &event.bus {
                        Some(bus) => bus.clone(),
                        None => only_custom_bus(cloud).ok_or_else(|| format!("{}: say which bus", name()))?,
                    };
                    cloud.put_event_at(step.at, &bus, &event.source, &event.detail_type, event.detail.clone());
                }
                Input::Message(message) => {
                    if cloud.queue(&message.queue).is_none() {
                        return Err(format!("{}: no queue {} in the template", name(), message.queue));
                    }
                    let outgoing = Outgoing {
                        body: text(&message.body),
                        attributes: message.attributes.clone(),
                        group_id: message.group.clone(),
                        ..Outgoing::default()
                    };
                    cloud.send_at(step.at, &message.queue, outgoing);
                }
            }
        }
        Ok(())
    }
}

/// A virtual time offset: ms, or a number with a unit (`250ms`, `1.5s`, `2m`, `1h`).
pub fn parse_offset(text: &str) -> Result<i64, String> {
    offset::parse(text)
}

/// A body: a JSON string is sent as its text, anything else as its JSON.
pub fn text(body: &Value) -> String {
    match body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn only_custom_bus(cloud: &LocalCloud) -> Option<String> {
    let custom: Vec<&str> = cloud
        .topology()
        .buses
        .values()
        .filter(|b| b.logical_id != "default")
        .map(|b| b.name.as_str())
        .collect();
    match custom.as_slice() {
        [only] => Some((*only).to_owned()),
        _ => None,
    }
}

/// A Function URL request (payload format 2.0), as Lambda delivers it.
pub fn function_url_request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut header_map = serde_json::Map::new();
    header_map.insert("content-type".into(), Value::from("application/json"));
    for (name, value) in headers {
        header_map.insert((*name).to_owned(), Value::from(*value));
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": header_map,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "localcloud",
            "domainName": "localcloud.lambda-url.local.on.aws",
            "domainPrefix": "localcloud",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "localcloud"},
            "requestId": "localcloud",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1_795_424_400_000_i64
        },
        "isBase64Encoded": false,
        "body": body,
    })
}

/// Virtual time offsets: milliseconds, or a number with a unit.
mod offset {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_json::Value;

    pub(super) fn serialize<S: Serializer>(at: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(*at)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(n) => n
                .as_i64()
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| serde::de::Error::custom("an offset is a whole number of ms, 0 or more")),
            Value::String(text) => parse(&text).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "an offset is ms or a text like \"1.5s\", found {other}"
            ))),
        }
    }

    /// `250ms`, `1.5s`, `2m`, `1h`.
    pub(super) fn parse(text: &str) -> Result<i64, String> {
        let text = text.trim();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("offset {text:?}: expected a number and a unit (ms, s, m, h)"))?;
        let per = match unit {
            "" | "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            other => return Err(format!("offset {text:?}: unit {other:?} is not ms, s, m or h")),
        };
        let ms = (value * per).round();
        if !(0.0..=9.0e15).contains(&ms) {
            return Err(format!("offset {text:?}: must be 0 or more"));
        }
        #[allow(clippy::cast_possible_truncation)] // bounded above
        Ok(ms as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_each_kind_of_input_then_it_reads_with_its_offset() {
        let scenario = Scenario::parse(
            r#"
// a comment
{"at": 0, "label": "order 1", "http": {"function": "order-api", "method": "POST", "path": "/orders", "body": {"a": 1}}}
{"at": "1.5s", "event": {"source": "s", "detail-type": "T", "detail": {}}}
{"at": "2m", "message": {"queue": "Q", "body": "not json"}}
"#,
        )
        .unwrap();
        let at: Vec<i64> = scenario.steps.iter().map(|s| s.at).collect();
        assert_eq!(at, [0, 1_500, 120_000]);
        assert_eq!(scenario.last_at(), 120_000);
        assert_eq!(Scenario::parse(&scenario.to_jsonl()).unwrap(), scenario, "round trip");
    }

    #[test]
    fn given_a_bad_line_then_the_error_names_the_line_and_the_field() {
        let err = Scenario::parse("{\"at\": 0, \"event\": {\"source\": \"s\", \"detail\": {}}}\n{\"at\": \"soon\"}")
            .unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.reason.contains("detail-type"), "{err}");
        let err =
            Scenario::parse("{\"at\": \"3 fortnights\", \"message\": {\"queue\": \"Q\", \"body\": 1}}").unwrap_err();
        assert!(err.reason.contains("unit"), "{err}");
        let err = Scenario::parse("{\"at\": 1, \"telegram\": {}}").unwrap_err();
        assert!(err.to_string().starts_with("line 1: "), "{err}");
    }

    #[test]
    fn given_a_start_line_then_the_scenario_carries_its_instant_and_writes_it_back() {
        let text = "// made for the sensors demo\n// start: 2026-03-29T01:30:00+01:00\n{\"at\": 0, \"message\": {\"queue\": \"Q\", \"body\": 1}}\n";
        let scenario = Scenario::parse(text).unwrap();
        assert_eq!(
            scenario.start.map(|s| s.to_rfc3339()),
            Some("2026-03-29T00:30:00+00:00".to_owned()),
            "stored as UTC"
        );
        let written = scenario.to_jsonl();
        assert!(written.starts_with("// start: 2026-03-29T00:30:00Z\n"), "{written}");
        assert_eq!(Scenario::parse(&written).unwrap(), scenario, "round trip");
        let err = Scenario::parse("// start: next tuesday\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.reason.contains("RFC 3339"), "{err}");
    }
}

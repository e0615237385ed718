//! Structured JSON logs with the ids that matter on every line, and CloudWatch EMF metrics.
//!
//! Each log line carries, through its spans: the function name, the Lambda request id and the
//! invocation's X-Ray trace id (the invocation span); inside a record, the record's message id,
//! event id, event type, correlation id and trace id (the record span): one search by either
//! id finds a flow's lines across functions. Payload data is never logged.
//!
//! The metrics are declared once, in [`METRICS`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envelope::{Decoded, TraceContext};
use tracing::Span;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::invocation::Invocation;
use crate::outcome::Outcome;

/// Installs the JSON log subscriber writing to stdout (CloudWatch Logs reads it). The level
/// comes from `LOG_LEVEL` (default `info`). Safe to call twice: the second call does nothing.
pub fn init_logging() {
    if subscriber(std::io::stdout).try_init().is_ok()
        && let Some(refused) = std::env::var("LOG_LEVEL").ok().filter(|v| level_named(v).is_none())
    {
        tracing::warn!(
            LOG_LEVEL = refused,
            "LOG_LEVEL is not a level (error, warn, info, debug, trace): logging at info"
        );
    }
}

/// The level `LOG_LEVEL` names (`error`, `warn`, `info`, `debug` or `trace`, in any case).
fn level_named(name: &str) -> Option<LevelFilter> {
    name.trim().parse().ok()
}

/// The JSON subscriber writing to `writer`; tests capture logs with it. A level, not
/// per-module directives: the directives' parser (`EnvFilter`) brings a regex engine, about a
/// tenth of every Lambda zip, and the functions never used more than a level.
pub fn subscriber<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    LevelFilter,
    W,
>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let level = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|name| level_named(&name))
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
}

/// The CloudWatch namespace of every function's metrics.
pub const NAMESPACE: &str = "ServerlessEvents";

/// A metric's unit, as EMF and CloudWatch name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// A duration.
    Milliseconds,
}

impl Unit {
    /// The unit's CloudWatch name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// A metric the kit emits, declared once: the emitting code, the docs table
/// ([`metrics_table`], in `functions/README.md`), the dashboard and the EMF test all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Its name in [`NAMESPACE`].
    pub name: &'static str,
    /// Its unit.
    pub unit: Unit,
    /// Its dimensions: `function` (the deployed name) on every one, then its own.
    pub dimensions: &'static [&'static str],
    /// What one data point means.
    pub meaning: &'static str,
}

/// The first invocation of an execution environment.
pub const COLD_START: Metric = Metric {
    name: "ColdStart",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "1 on the first invocation of an execution environment",
};
/// A record whose work is done (now, or before: a duplicate whose outputs went out).
pub const PROCESSED: Metric = Metric {
    name: "Processed",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "a record done (its work, or a duplicate's outputs sent)",
};
/// A record reported for retry.
pub const FAILED: Metric = Metric {
    name: "Failed",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "a record reported for retry (SQS redelivers it, then its DLQ takes it)",
};
/// A record parked, by the kind of its error.
pub const PARKED: Metric = Metric {
    name: "Parked",
    unit: Unit::Count,
    dimensions: &["function", "reason"],
    meaning: "a record parked on the parking queue; `reason` is its `parked-kind`",
};
/// A record not started, too close to the deadline.
pub const NOT_STARTED: Metric = Metric {
    name: "NotStarted",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "a record not started, too close to the deadline (retried)",
};
/// A record already handled.
pub const DUPLICATES: Metric = Metric {
    name: "Duplicates",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "a record whose event was already handled (redelivery, replay, redrive)",
};
/// A panic caught.
pub const PANICS: Metric = Metric {
    name: "Panics",
    unit: Unit::Count,
    dimensions: &["function"],
    meaning: "a panic caught (in a handler: its record retried; elsewhere: the invocation failed)",
};
/// How long one record took.
pub const RECORD_LATENCY: Metric = Metric {
    name: "RecordLatency",
    unit: Unit::Milliseconds,
    dimensions: &["function"],
    meaning: "time to process one record, claim to outcome",
};
/// An HTTP request answered, by status class.
pub const REQUESTS: Metric = Metric {
    name: "Requests",
    unit: Unit::Count,
    dimensions: &["function", "status"],
    meaning: "an HTTP request answered; `status` is `2xx`, `3xx`, `4xx` or `5xx`",
};
/// How long an HTTP request took.
pub const REQUEST_LATENCY: Metric = Metric {
    name: "RequestLatency",
    unit: Unit::Milliseconds,
    dimensions: &["function"],
    meaning: "time to answer one HTTP request",
};

/// Every metric the kit emits.
pub const METRICS: &[Metric] = &[
    COLD_START,
    PROCESSED,
    FAILED,
    PARKED,
    NOT_STARTED,
    DUPLICATES,
    PANICS,
    RECORD_LATENCY,
    REQUESTS,
    REQUEST_LATENCY,
];

/// The Markdown table of [`METRICS`] that `functions/README.md` embeds (a test keeps it current).
pub fn metrics_table() -> String {
    let mut table = format!(
        "Namespace `{NAMESPACE}`, in EMF on each function's log stream.\n\n| metric | unit | dimensions | one data point |\n|---|---|---|---|\n"
    );
    for metric in METRICS {
        let dimensions: Vec<String> = metric.dimensions.iter().map(|d| format!("`{d}`")).collect();
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            metric.name,
            metric.unit.name(),
            dimensions.join(", "),
            metric.meaning
        ));
    }
    table
}

tokio::task_local! {
    /// What the invocation being polled has measured. Lambda Managed Instances run several
    /// invocations at once in one process: a process-wide recorder flushed after each one
    /// hands one invocation's counts, and its request id, to another (Powertools for
    /// TypeScript and .NET both shipped that bug). Scoped to the invocation's future, the
    /// counts of its records (polled inside it) land in its own documents.
    static MEASURING: Arc<Mutex<Measured>>;
}

/// Runs `work` (one invocation) and returns what it measured. Outside such a scope (the local
/// cloud, unit tests) counting does nothing.
pub async fn measure<F: Future>(work: F) -> (F::Output, Measured) {
    let measured = Arc::new(Mutex::new(Measured::default()));
    let output = MEASURING.scope(Arc::clone(&measured), work).await;
    let measured = std::mem::take(&mut *measured.lock().unwrap_or_else(PoisonError::into_inner));
    (output, measured)
}

/// Adds `value` to the invocation's series of `metric` with `dimension`: counts add up, a
/// duration is one more value.
fn add(metric: &Metric, dimension: Dimension, value: f64) {
    let _outside_an_invocation = MEASURING.try_with(|measured| {
        let mut measured = measured.lock().unwrap_or_else(PoisonError::into_inner);
        let values = measured
            .series
            .entry((metric.name, dimension))
            .or_insert_with(|| Values {
                unit: metric.unit,
                values: Vec::new(),
            });
        match (metric.unit, values.values.first_mut()) {
            (Unit::Count, Some(sum)) => *sum += value,
            _ => values.values.push(value),
        }
    });
}

/// Adds one to `metric` (the function's dimension is added as the invocation's metrics are written).
pub(crate) fn count(metric: &Metric) {
    debug_assert_eq!(
        metric.dimensions,
        ["function"],
        "{} has dimensions of its own",
        metric.name
    );
    add(metric, None, 1.0);
}

/// Adds one to `metric` with its own dimension `(name, value)`.
fn count_by(metric: &Metric, dimension: (&'static str, String)) {
    debug_assert_eq!(metric.dimensions, ["function", dimension.0], "{}", metric.name);
    add(metric, Some(dimension), 1.0);
}

fn record_ms(metric: &Metric, took: Duration) {
    add(metric, None, took.as_secs_f64() * 1000.0);
}

/// The values of one series and their unit.
#[derive(Debug, Clone, PartialEq)]
struct Values {
    unit: Unit,
    values: Vec<f64>,
}

/// A metric's own dimension and its value, if it has one (`function` is every metric's).
type Dimension = Option<(&'static str, String)>;

/// What one invocation measured, by metric and its own dimension (if any).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Measured {
    series: BTreeMap<(&'static str, Dimension), Values>,
}

/// The most values of one metric in one EMF document (CloudWatch's limit).
const VALUES_PER_DOCUMENT: usize = 100;

impl Measured {
    /// The CloudWatch EMF documents of one invocation of `function`, one JSON line each: one
    /// per set of dimension values, a metric's values spread over more documents past
    /// CloudWatch's 100; each names the invocation's request id. A cold start adds
    /// [`COLD_START`] to the first.
    pub fn emf(&self, function: &str, request_id: &str, cold_start: bool, timestamp_ms: i64) -> Vec<String> {
        let mut groups: BTreeMap<&Dimension, Vec<(&'static str, &Values)>> = BTreeMap::new();
        let cold = Values {
            unit: COLD_START.unit,
            values: vec![1.0],
        };
        if cold_start {
            groups.entry(&None).or_default().push((COLD_START.name, &cold));
        }
        for ((name, dimension), values) in &self.series {
            groups.entry(dimension).or_default().push((name, values));
        }
        let mut documents = Vec::new();
        for (dimension, metrics) in groups {
            let longest = metrics.iter().map(|(_, v)| v.values.len()).max().unwrap_or(0);
            for chunk in 0..longest.div_ceil(VALUES_PER_DOCUMENT) {
                let mut document = serde_json::Map::new();
                let mut declared = Vec::new();
                for (name, values) in &metrics {
                    let Some(part) = values.values.chunks(VALUES_PER_DOCUMENT).nth(chunk) else {
                        continue;
                    };
                    declared.push(serde_json::json!({ "Name": name, "Unit": values.unit.name() }));
                    let value = match (values.unit, part) {
                        (Unit::Count, [sum]) => serde_json::json!(sum),
                        _ => serde_json::json!(part),
                    };
                    document.insert((*name).to_owned(), value);
                }
                let mut dimensions = vec!["function"];
                document.insert("function".to_owned(), function.into());
                if let Some((key, value)) = dimension {
                    dimensions.push(key);
                    document.insert((*key).to_owned(), value.as_str().into());
                }
                document.insert("RequestId".to_owned(), request_id.into());
                document.insert(
                    "_aws".to_owned(),
                    serde_json::json!({
                        "Timestamp": timestamp_ms,
                        "CloudWatchMetrics": [{
                            "Namespace": NAMESPACE,
                            "Dimensions": [dimensions],
                            "Metrics": declared,
                        }],
                    }),
                );
                documents.push(serde_json::Value::Object(document).to_string());
            }
        }
        documents
    }
}

/// The span of one invocation of `function`, in the trace Lambda gave it, if any.
pub fn invocation_span(function: &str, invocation: &Invocation) -> Span {
    let trace_id = invocation.trace.as_ref().and_then(TraceContext::xray_trace_id);
    tracing::info_span!(
        "invocation",
        function = function,
        request_id = invocation.request_id.as_str(),
        trace_id = trace_id.unwrap_or_default(),
        correlation_id = tracing::field::Empty,
    )
}

/// Names the correlation id of the invocation being served, on its span: an HTTP function
/// learns it from the request (`X-Correlation-Id`) or as it begins a flow, and every line it
/// logs after carries it. Outside an invocation span it does nothing.
pub fn record_correlation(correlation_id: &str) {
    Span::current().record("correlation_id", correlation_id);
}

/// The span of one record: its carrier id and, when it decoded, its event id, type,
/// correlation id and trace id (its own, or the carrier's X-Ray header's).
pub(crate) fn record_span(record: &Decoded) -> Span {
    let metadata = record.envelope.as_ref().ok().map(|e| &e.metadata);
    let trace_id = metadata
        .and_then(|m| m.trace.as_ref())
        .and_then(TraceContext::xray_trace_id);
    tracing::info_span!(
        "record",
        message_id = record.message_id.as_deref().unwrap_or_default(),
        event_id = metadata.map(|m| m.id.to_string()).unwrap_or_default(),
        event_type = metadata.map_or("", |m| m.event_type.as_str()),
        correlation_id = metadata.map_or("", |m| m.correlation_id.as_str()),
        trace_id = trace_id.unwrap_or_default(),
    )
}

/// Records how long a record took.
pub(crate) fn record_done(latency: Duration) {
    record_ms(&RECORD_LATENCY, latency);
}

/// Counts a batch's final outcomes (after parking: a record that could not be parked is
/// retried, and counted so), and logs one summary line.
pub(crate) fn batch_done(outcomes: &[Outcome]) {
    for outcome in outcomes {
        match outcome {
            Outcome::Produced { .. } | Outcome::Done | Outcome::Follows(_) => count(&PROCESSED),
            Outcome::Retry { .. } => count(&FAILED),
            Outcome::Park { kind, .. } => count_by(&PARKED, ("reason", kind.clone())),
            Outcome::NotStarted => count(&NOT_STARTED),
        }
    }
    let failed = outcomes.iter().filter(|o| o.is_failure()).count();
    tracing::info!(records = outcomes.len(), failed, "batch done");
}

/// Counts an HTTP request by its status class and records how long it took.
pub(crate) fn request_done(status: i64, latency: Duration) {
    let class = match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    count_by(&REQUESTS, ("status", class.to_owned()));
    record_ms(&REQUEST_LATENCY, latency);
}

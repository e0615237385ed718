//! Structured JSON logs with the ids that matter on every line, and CloudWatch EMF metrics.
//!
//! Each log line inside a record carries, through its spans: the Lambda request id (the
//! runtime's invocation span), the function name (the kit's span), and the record's message
//! id, event id, event type and correlation id. Payload data is never logged.

use std::time::Duration;

use envelope::Decoded;
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON log subscriber writing to stdout (CloudWatch Logs reads it). The level
/// comes from `LOG_LEVEL` (default `info`). Safe to call twice: the second call does nothing.
pub fn init_logging() {
    let _ = subscriber(std::io::stdout).try_init();
}

/// The JSON subscriber writing to `writer`; tests capture logs with it.
pub fn subscriber<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    EnvFilter,
    W,
>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_env("LOG_LEVEL").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
}

/// The span of one invocation of `function`.
pub fn invocation_span(function: &str, request_id: &str) -> Span {
    tracing::info_span!("invocation", function = function, request_id = request_id)
}

/// The span of one record: its carrier id and, when it decoded, its event id, type and correlation id.
pub(crate) fn record_span(record: &Decoded) -> Span {
    let metadata = record.envelope.as_ref().ok().map(|e| &e.metadata);
    tracing::info_span!(
        "record",
        message_id = record.message_id.as_deref().unwrap_or_default(),
        event_id = metadata.map(|m| m.id.to_string()).unwrap_or_default(),
        event_type = metadata.map_or("", |m| m.event_type.as_str()),
        correlation_id = metadata.map_or("", |m| m.correlation_id.as_str()),
    )
}

/// Counts a record's outcome and records its latency.
pub(crate) fn record_done(outcome: &'static str, latency: Duration) {
    let metric = match outcome {
        "processed" => "Processed",
        "parked" => "Parked",
        "not-started" => "NotStarted",
        _ => "Failed",
    };
    metrics::counter!(metric).increment(1);
    metrics::histogram!("RecordLatency").record(latency.as_secs_f64() * 1000.0);
}

/// One summary line per batch.
pub(crate) fn batch_done(failures: &[bool]) {
    let failed = failures.iter().filter(|f| **f).count();
    tracing::info!(records = failures.len(), failed, "batch done");
}

#[cfg(feature = "aws")]
/// The EMF metrics collector for `function` in `namespace`: dimension `function`, a
/// `ColdStart` metric on the first invocation, and the request id on every document. Metrics
/// are flushed to stdout after each invocation by [`crate::lambda`].
pub fn metrics(namespace: &str, function: &str) -> Result<&'static metrics_cloudwatch_embedded::Collector, String> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(namespace.to_owned())
        .with_dimension("function", function.to_owned())
        .lambda_cold_start_metric("ColdStart")
        .with_lambda_request_id("RequestId")
        .init()
        .map_err(|e| format!("cannot install the metrics collector: {e}"))?;
    // Descriptions go to the installed recorder, so only after `init`.
    metrics::describe_histogram!(
        "RecordLatency",
        metrics::Unit::Milliseconds,
        "time to process one record"
    );
    Ok(collector)
}

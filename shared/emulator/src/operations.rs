//! Alarms and a dashboard drawn from a template's own declarations: what an operator watches,
//! written into the template between [`BEGIN`] and [`END`] by `localcloud operations --update`.
//!
//! - Per function: `AWS/Lambda` `Errors`, `Throttles`, `Duration` against its `Timeout`, and
//!   `ConcurrentExecutions` against its ceiling (reserved concurrency, else the bound of the
//!   event source mappings feeding it, else a share of the account's pool).
//! - Per queue: the age of its oldest message, against the queue's own delivery policy (a queue
//!   a function reads: its receives before the DLQ times its visibility timeout; a queue no
//!   function reads: half its retention). Per dead-letter queue (and the parking queue): depth.
//! - Parked records by reason, a Metrics Insights alarm over the kit's `Parked` metric.
//! - One dashboard for the whole graph, the kit's metrics (namespace [`NAMESPACE`]) included.
//!
//! Every threshold is computed here from the loaded template, and the description of each alarm
//! says where its number comes from; the block is the same text for the same template.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::sqs::QueueConfig;
use handler_kit::observability::{
    COLD_START, DUPLICATES, FAILED, Metric, NOT_STARTED, PANICS, PARKED, PROCESSED, RECORD_LATENCY, REQUEST_LATENCY,
    REQUESTS,
};

use crate::topology::{Endpoint, Function, Topology};

/// The line before the generated block in the template's `Resources`.
pub const BEGIN: &str = "  # BEGIN generated operations (alarms, dashboard): `make graph` rewrites this block from the \
                         functions and queues above (localcloud operations --update infra/template.yaml); edit \
                         shared/emulator/src/operations.rs, not the block.";
/// The line after it.
pub const END: &str = "  # END generated operations";

/// The namespace of the handler kit's metrics (dimension `function`: the deployed name, as
/// Lambda sets `AWS_LAMBDA_FUNCTION_NAME`, so `${LogicalId}` in the dashboard's `!Sub`), each
/// metric declared once in [`handler_kit::observability::METRICS`].
pub use handler_kit::observability::NAMESPACE;

/// The kit's per-record metrics of a function fed by events, summed on the dashboard.
const RECORD_METRICS: [Metric; 4] = [PROCESSED, FAILED, NOT_STARTED, DUPLICATES];

/// The Metrics Insights query of parked records, one series per reason (the parking kind).
pub fn parked_by_reason() -> String {
    format!(
        "SELECT SUM({}) FROM SCHEMA({NAMESPACE}, {}) GROUP BY reason",
        PARKED.name,
        PARKED.dimensions.join(", ")
    )
}

/// The share of a function's timeout its p99 duration may reach before its alarm.
const DURATION_PERCENT: u64 = 80;
/// Lambda's default concurrency quota of an account in a region, shared by every function of
/// the account that reserves none.
/// <https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>
const ACCOUNT_CONCURRENCY: u64 = 1000;
/// The share of its part of the account's pool an unbounded function may reach before its alarm.
const SHARE_PERCENT: u64 = 80;

/// How an alarm evaluates: the period in seconds and how many of them in a row must breach.
const AT_ONCE: (u64, u64) = (60, 1);
const FIVE_MINUTES: (u64, u64) = (300, 1);
const FIFTEEN_MINUTES: (u64, u64) = (300, 3);

/// What a function's concurrency is held against.
enum Ceiling {
    /// A bound declared on the function or on every mapping feeding it.
    Declared { limit: u64, by: String },
    /// No bound: its share of what the bounded functions leave of the account's pool.
    Share { limit: u64, of: u64, among: usize },
}

/// What a queue is in the graph.
enum Role {
    /// Functions read it through event source mappings (their crates).
    Source(Vec<String>),
    /// Functions park records they can never process in it (their crates).
    Parking(Vec<String>),
    /// Where failures of others land: each phrase says whose.
    DeadLetter(Vec<String>),
    /// Delivered to, read by no function of the template.
    Unread,
}

/// The alarms and the dashboard of `topology`, as the lines between [`BEGIN`] and [`END`].
pub fn block(topology: &Topology) -> String {
    let mut out = String::new();
    let shares = Shares::of(topology);
    for function in topology.functions.values() {
        function_alarms(&mut out, topology, function, &shares.ceiling(topology, function));
    }
    for queue in topology.queues.values() {
        queue_alarms(&mut out, queue, &role(topology, queue));
    }
    if parkers(topology).next().is_some() {
        parked_alarm(&mut out);
    }
    dashboard(&mut out, topology, &shares);
    out
}

/// The generated block of `template` (the text between the marker lines), if it has one.
pub fn embedded(template: &str) -> Option<&str> {
    let (_, rest) = template.split_once(&format!("{BEGIN}\n"))?;
    rest.split_once(&format!("{END}\n")).map(|(block, _)| block)
}

/// `template` with `block` between its marker lines, if it has them.
pub fn embed(template: &str, block: &str) -> Option<String> {
    let (before, rest) = template.split_once(&format!("{BEGIN}\n"))?;
    let (_, after) = rest.split_once(&format!("{END}\n"))?;
    Some(format!("{before}{BEGIN}\n{block}{END}\n{after}"))
}

// ---------------------------------------------------------------------------------------------
// What the declarations say
// ---------------------------------------------------------------------------------------------

/// The concurrency the bounded functions hold, and how many are unbounded.
struct Shares {
    bounded: u64,
    unbounded: usize,
}

impl Shares {
    fn of(topology: &Topology) -> Self {
        let mut shares = Self {
            bounded: 0,
            unbounded: 0,
        };
        for function in topology.functions.values() {
            match declared_ceiling(topology, function) {
                Some((limit, _)) => shares.bounded += limit,
                None => shares.unbounded += 1,
            }
        }
        shares
    }

    fn ceiling(&self, topology: &Topology, function: &Function) -> Ceiling {
        match declared_ceiling(topology, function) {
            Some((limit, by)) => Ceiling::Declared { limit, by },
            None => {
                let left = ACCOUNT_CONCURRENCY.saturating_sub(self.bounded);
                let share = left / u64::try_from(self.unbounded.max(1)).unwrap_or(1);
                Ceiling::Share {
                    limit: (share * SHARE_PERCENT / 100).max(1),
                    of: share,
                    among: self.unbounded,
                }
            }
        }
    }
}

/// A function's declared bound: its `ReservedConcurrentExecutions`, else the sum of the
/// `MaximumConcurrency` of the event source mappings feeding it when every one has one.
fn declared_ceiling(topology: &Topology, function: &Function) -> Option<(u64, String)> {
    let id = &function.spec.logical_id;
    let reserved = topology
        .template
        .resource(id)
        .and_then(|r| r.property("ReservedConcurrentExecutions"))
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    if let Some(reserved) = reserved {
        return Some((reserved, "its ReservedConcurrentExecutions".to_owned()));
    }
    let mappings: Vec<_> = topology.mappings.iter().filter(|m| &m.function == id).collect();
    if mappings.is_empty() {
        return None;
    }
    let limits: Option<Vec<usize>> = mappings.iter().map(|m| m.maximum_concurrency).collect();
    let total: usize = limits?.iter().sum();
    let names: Vec<&str> = mappings.iter().map(|m| m.logical_id.as_str()).collect();
    Some((
        u64::try_from(total).unwrap_or(u64::MAX),
        format!("ScalingConfig.MaximumConcurrency of {}", names.join(" and ")),
    ))
}

/// The crates of the functions that park in a queue (`PARKING_QUEUE_URL`), with the queue's URL.
fn parkers(topology: &Topology) -> impl Iterator<Item = (&str, &str)> {
    topology.functions.values().filter_map(|f| {
        f.spec
            .environment
            .iter()
            .find(|(k, _)| k == "PARKING_QUEUE_URL")
            .map(|(_, url)| (f.spec.binary.as_str(), url.as_str()))
    })
}

fn role(topology: &Topology, queue: &QueueConfig) -> Role {
    let id = &queue.logical_id;
    let readers: Vec<String> = topology
        .mappings
        .iter()
        .filter(|m| &m.queue == id)
        .map(|m| topology.crate_of(&m.function).to_owned())
        .collect();
    if !readers.is_empty() {
        return Role::Source(readers);
    }
    let parked_by: Vec<String> = parkers(topology)
        .filter(|(_, url)| *url == queue.url)
        .map(|(binary, _)| binary.to_owned())
        .collect();
    if !parked_by.is_empty() {
        return Role::Parking(parked_by);
    }
    let mut of = Vec::new();
    for source in topology.queues.values() {
        if let Some((count, arn)) = &source.redrive
            && arn == &queue.arn
        {
            let who = topology
                .consumer_of(&source.logical_id)
                .map_or_else(|| source.logical_id.clone(), |f| topology.crate_of(f).to_owned());
            of.push(format!("{who} gave up on records after {count} receives"));
        }
    }
    let rules: BTreeSet<&str> = topology
        .rules
        .iter()
        .flat_map(|r| r.targets.iter().map(move |t| (r.logical_id.as_str(), t)))
        .chain(
            topology
                .schedules
                .iter()
                .flat_map(|r| r.targets.iter().map(move |t| (r.logical_id.as_str(), t))),
        )
        .filter(|(_, t)| t.dead_letter.as_deref() == Some(id.as_str()))
        .map(|(rule, _)| rule)
        .collect();
    if !rules.is_empty() {
        of.push(format!(
            "EventBridge gave up delivering an event to a rule's target after the rule's retries ({} \
             keep undeliverable events here)",
            plural(rules.len(), "rule", "rules")
        ));
    }
    for function in topology.functions.values() {
        if function.async_config.on_failure == Some(Endpoint::Queue(id.clone())) {
            of.push(format!(
                "Lambda gave up on an asynchronous invocation of {}",
                function.spec.binary
            ));
        }
    }
    for subscription in topology.template.of_kind("AWS::SNS::Subscription") {
        let dead = subscription.property_str("RedrivePolicy.deadLetterTargetArn");
        if dead == Some(queue.arn.as_str()) {
            let endpoint = subscription
                .property_str("Endpoint")
                .and_then(|e| topology.template.find(e))
                .map_or("its endpoint", |r| r.logical_id.as_str());
            of.push(format!(
                "SNS could not deliver {}'s messages to {endpoint}",
                subscription.logical_id
            ));
        }
    }
    if of.is_empty() {
        Role::Unread
    } else {
        Role::DeadLetter(of)
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

fn seconds(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}

/// A span of seconds for people: `300 s`, `7 days`.
fn span(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => plural(usize::try_from(s / 86_400).unwrap_or(0), "day", "days"),
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{s} s"),
    }
}

// ---------------------------------------------------------------------------------------------
// Alarms
// ---------------------------------------------------------------------------------------------

/// One `AWS::CloudWatch::Alarm` on one metric.
struct Alarm<'a> {
    id: String,
    description: String,
    namespace: &'a str,
    metric: &'a str,
    /// (dimension, YAML value).
    dimension: (&'a str, String),
    /// `Sum`, `Maximum`, or a percentile (`p99`, an extended statistic).
    statistic: &'a str,
    evaluation: (u64, u64),
    threshold: u64,
    /// Breaching at the threshold (`>=`) rather than above it (`>`).
    inclusive: bool,
}

impl Alarm<'_> {
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "  {}:", self.id);
        out.push_str("    Type: AWS::CloudWatch::Alarm\n    Properties:\n");
        let _ = writeln!(out, "      AlarmDescription: {}", quoted(&self.description));
        let _ = writeln!(out, "      Namespace: {}", self.namespace);
        let _ = writeln!(out, "      MetricName: {}", self.metric);
        let _ = writeln!(
            out,
            "      Dimensions:\n        - Name: {}\n          Value: {}",
            self.dimension.0, self.dimension.1
        );
        let statistic = if self.statistic.starts_with('p') {
            "ExtendedStatistic"
        } else {
            "Statistic"
        };
        let _ = writeln!(out, "      {statistic}: {}", self.statistic);
        let (period, periods) = self.evaluation;
        let _ = writeln!(out, "      Period: {period}\n      EvaluationPeriods: {periods}");
        let _ = writeln!(out, "      Threshold: {}", self.threshold);
        let comparison = if self.inclusive {
            "GreaterThanOrEqualToThreshold"
        } else {
            "GreaterThanThreshold"
        };
        let _ = writeln!(out, "      ComparisonOperator: {comparison}");
        out.push_str("      TreatMissingData: notBreaching\n\n");
    }
}

/// A YAML double-quoted scalar.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn function_alarms(out: &mut String, topology: &Topology, function: &Function, ceiling: &Ceiling) {
    let id = &function.spec.logical_id;
    let name = &function.spec.binary;
    let timeout = function.spec.timeout.as_secs();
    let fed = if function.url {
        "a request failed with no response (its caller sees a 502)"
    } else if topology.mappings.iter().any(|m| &m.function == id) {
        "a whole batch failed and returns to its queue (crash, panic out of the handler, out of memory)"
    } else {
        "an invocation failed"
    };
    let duration_ms = timeout * 1000 * DURATION_PERCENT / 100;
    let (limit, why) = match ceiling {
        Ceiling::Declared { limit, by } => (
            *limit,
            format!(
                "at its ceiling of {limit} ({by}) for 15 minutes: it works as fast as it is allowed \
                 and its queue's backlog grows; raise the bound or make each batch cheaper"
            ),
        ),
        Ceiling::Share { limit, of, among } => (
            *limit,
            format!(
                "above {limit} for 15 minutes, {SHARE_PERCENT}% of its share ({of}) of what the bounded \
                 functions leave of the account's default {ACCOUNT_CONCURRENCY} concurrent executions, \
                 split among the {among} unbounded ones: it declares no bound, and at this pace it \
                 starves the others into throttling"
            ),
        ),
    };
    // (alarm, metric, statistic, evaluation, threshold, breaching at it, description)
    let alarms = [
        (
            "Errors",
            "Errors",
            "Sum",
            FIVE_MINUTES,
            1,
            true,
            format!(
                "{name}: an invocation failed as a whole (Lambda Errors, timeouts included): {fed}. \
                 Records failed one by one are not errors: see the DLQ and parking alarms."
            ),
        ),
        (
            "Throttles",
            "Throttles",
            "Sum",
            FIVE_MINUTES,
            1,
            true,
            format!(
                "{name}: Lambda refused invocations for want of concurrency (the account's pool or a \
                 reserved limit is exhausted); queue-fed work waits and retries, HTTP callers get 429."
            ),
        ),
        (
            "Duration",
            "Duration",
            "p99",
            FIFTEEN_MINUTES,
            duration_ms,
            false,
            format!(
                "{name}: p99 duration above {duration_ms} ms, {DURATION_PERCENT}% of its {timeout} s \
                 Timeout (Globals included), for 15 minutes: close to timing out. A slow dependency \
                 (table, bus, KMS)?"
            ),
        ),
        (
            "Concurrency",
            "ConcurrentExecutions",
            "Maximum",
            FIFTEEN_MINUTES,
            limit,
            true,
            format!("{name}: ConcurrentExecutions {why}."),
        ),
    ];
    for (kind, metric, statistic, evaluation, threshold, inclusive, description) in alarms {
        Alarm {
            id: format!("{id}{kind}Alarm"),
            description,
            namespace: "AWS/Lambda",
            metric,
            dimension: ("FunctionName", format!("!Ref {id}")),
            statistic,
            evaluation,
            threshold,
            inclusive,
        }
        .write(out);
    }
}

/// The oldest-message age a queue's alarm allows, in seconds, and why.
fn age_limit(queue: &QueueConfig, role: &Role) -> (u64, String) {
    let retention = seconds(queue.retention_ms);
    match (role, &queue.redrive) {
        (Role::Source(readers), Some((count, _))) => {
            let visibility = seconds(queue.visibility_timeout_ms);
            let limit = u64::from(*count) * visibility;
            (
                limit,
                format!(
                    "a record is received {count} times at most (maxReceiveCount), {visibility} s \
                     (VisibilityTimeout) apart, before it moves to the DLQ, so one older than {} is \
                     waiting, not retrying: {} is not keeping up, or its event source mapping is disabled",
                    span(limit),
                    readers.join(" and ")
                ),
            )
        }
        _ => (
            retention / 2,
            format!(
                "half its retention ({}): SQS deletes a record {} after it was first sent (to its first \
                 queue, for a dead letter), so redrive or resubmit it before then",
                span(retention),
                span(retention)
            ),
        ),
    }
}

fn queue_alarms(out: &mut String, queue: &QueueConfig, role: &Role) {
    let id = &queue.logical_id;
    let dimension = || ("QueueName", format!("!GetAtt {id}.QueueName"));
    let (limit, why) = age_limit(queue, role);
    Alarm {
        id: format!("{id}AgeAlarm"),
        description: format!("{id}: its oldest message is older than {}, {why}.", span(limit)),
        namespace: "AWS/SQS",
        metric: "ApproximateAgeOfOldestMessage",
        dimension: dimension(),
        statistic: "Maximum",
        evaluation: FIVE_MINUTES,
        threshold: limit,
        inclusive: false,
    }
    .write(out);
    let (depth_id, description) = match role {
        Role::Parking(by) => (
            format!("{id}Alarm"),
            format!(
                "A function parked a record it can never process (see the record's reason); {} park here.",
                by.join(", ")
            ),
        ),
        Role::DeadLetter(of) => {
            let stem = id.strip_suffix("Queue").unwrap_or(id);
            let description = match of.as_slice() {
                [one] if one.contains(" gave up on records ") => format!("{one} (see its DLQ)."),
                [one] if one.starts_with("SNS ") => format!("{one} (see the subscription's DLQ)."),
                _ => format!("{} (see the queue's messages for the reason).", of.join("; ")),
            };
            (format!("{stem}Alarm"), description)
        }
        Role::Source(_) | Role::Unread => return,
    };
    Alarm {
        id: depth_id,
        description,
        namespace: "AWS/SQS",
        metric: "ApproximateNumberOfMessagesVisible",
        dimension: dimension(),
        statistic: "Maximum",
        evaluation: AT_ONCE,
        threshold: 1,
        inclusive: true,
    }
    .write(out);
}

fn parked_alarm(out: &mut String) {
    let _ = write!(
        out,
        "  ParkedRecordsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: {}
      Metrics:
        - Id: parked
          Expression: {}
          Period: 300
          ReturnData: true
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      TreatMissingData: notBreaching

",
        quoted(
            "Functions parked records in the last 5 minutes, one contributor per reason (the parking \
             kind, from the kit's Parked metric): fix the cause, then resubmit them by reason."
        ),
        quoted(&parked_by_reason())
    );
}

// ---------------------------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------------------------

/// A JSON string.
fn js(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// A metric of a widget: namespace, name, dimension pairs, then its options (JSON object text
/// or empty).
fn metric(namespace: &str, name: &str, dimensions: &[(&str, &str)], options: &str) -> String {
    let mut parts = vec![js(namespace), js(name)];
    for (key, value) in dimensions {
        parts.push(js(key));
        parts.push(js(value));
    }
    if !options.is_empty() {
        parts.push(options.to_owned());
    }
    format!("[{}]", parts.join(","))
}

/// A Metrics Insights query as a widget's metric; without a label, each series is named by
/// its group.
fn query(id: &str, sql: &str, label: Option<&str>) -> String {
    let label = label.map_or_else(String::new, |l| format!(",\"label\":{}", js(l)));
    format!(
        "[{{\"expression\":{},\"id\":{}{label},\"period\":300}}]",
        js(sql),
        js(id)
    )
}

/// Widgets laid out left to right, 24 units a row.
struct Grid {
    widgets: Vec<String>,
    x: u32,
    y: u32,
    row_height: u32,
}

impl Grid {
    fn place(&mut self, width: u32, height: u32, kind: &str, properties: &str) {
        if self.x + width > 24 {
            self.x = 0;
            self.y += self.row_height;
            self.row_height = 0;
        }
        self.widgets.push(format!(
            "{{\"type\":\"{kind}\",\"x\":{},\"y\":{},\"width\":{width},\"height\":{height},\"properties\":{properties}}}",
            self.x, self.y
        ));
        self.x += width;
        self.row_height = self.row_height.max(height);
    }

    /// A time series of `metrics` with `stat` over 5 minutes, and horizontal lines at `lines`.
    fn graph(&mut self, width: u32, title: &str, stat: &str, metrics: &[String], lines: &[(&str, u64)]) {
        let annotations = if lines.is_empty() {
            String::new()
        } else {
            let lines: Vec<String> = lines
                .iter()
                .map(|(label, value)| format!("{{\"label\":{},\"value\":{value}}}", js(label)))
                .collect();
            format!(",\"annotations\":{{\"horizontal\":[{}]}}", lines.join(","))
        };
        let properties = format!(
            "{{\"title\":{},\"view\":\"timeSeries\",\"region\":\"${{AWS::Region}}\",\"stat\":{},\"period\":300,\"metrics\":[{}]{annotations}}}",
            js(title),
            js(stat),
            metrics.join(",")
        );
        self.place(width, 6, "metric", &properties);
    }

    fn text(&mut self, markdown: &str) {
        self.place(24, 2, "text", &format!("{{\"markdown\":{}}}", js(markdown)));
    }
}

fn dashboard(out: &mut String, topology: &Topology, shares: &Shares) {
    let mut grid = Grid {
        widgets: Vec::new(),
        x: 0,
        y: 0,
        row_height: 0,
    };
    grid.text(
        "# ${AWS::StackName}: the event graph\nGenerated from infra/template.yaml by `localcloud operations`; \
         what each alarm means and what to do: infra/README.md (runbook).",
    );
    let roles: Vec<(&QueueConfig, Role)> = topology.queues.values().map(|q| (q, role(topology, q))).collect();
    let (sources, kept): (Vec<_>, Vec<_>) = roles.iter().partition(|(_, r)| matches!(r, Role::Source(_)));
    let metrics = |queues: &[&(&QueueConfig, Role)], name: &str| -> Vec<String> {
        queues
            .iter()
            .map(|(q, _)| {
                metric(
                    "AWS/SQS",
                    name,
                    &[("QueueName", &format!("${{{}.QueueName}}", q.logical_id))],
                    &format!("{{\"label\":{}}}", js(&q.logical_id)),
                )
            })
            .collect()
    };
    // The lowest threshold of a group's age alarms, drawn as a line.
    let age_line = |queues: &[&(&QueueConfig, Role)], label: &'static str| -> Vec<(&'static str, u64)> {
        queues
            .iter()
            .map(|(q, r)| age_limit(q, r).0)
            .min()
            .map(|s| (label, s))
            .into_iter()
            .collect()
    };
    let age = "ApproximateAgeOfOldestMessage";
    let depth = "ApproximateNumberOfMessagesVisible";
    let read = "Queues functions read";
    grid.graph(
        12,
        &format!("{read}: oldest message (s)"),
        "Maximum",
        &metrics(&sources, age),
        &age_line(&sources, "alarm"),
    );
    grid.graph(
        12,
        &format!("{read}: messages waiting"),
        "Maximum",
        &metrics(&sources, depth),
        &[],
    );
    let kept_title = "Dead-letter, parking and unread queues";
    grid.graph(
        8,
        &format!("{kept_title}: depth"),
        "Maximum",
        &metrics(&kept, depth),
        &[("alarm (dead-letter and parking)", 1)],
    );
    grid.graph(
        8,
        &format!("{kept_title}: oldest message (s)"),
        "Maximum",
        &metrics(&kept, age),
        &age_line(&kept, "alarm: half the retention"),
    );
    grid.graph(
        8,
        "Parked records by reason",
        "Sum",
        &[query("parked", &parked_by_reason(), None)],
        &[],
    );
    for function in topology.functions.values() {
        function_widgets(&mut grid, function, &shares.ceiling(topology, function));
    }
    let _ = write!(
        out,
        "  OperationsDashboard:
    Type: AWS::CloudWatch::Dashboard
    Properties:
      DashboardName: !Sub \"${{AWS::StackName}}-operations\"
      DashboardBody: !Sub |
        {{\"widgets\": [
        {}
        ]}}
",
        grid.widgets.join(",\n        ")
    );
}

fn function_widgets(grid: &mut Grid, function: &Function, ceiling: &Ceiling) {
    let id = &function.spec.logical_id;
    let name = function.spec.binary.as_str();
    // What the kit names the function in its metrics: its deployed name.
    let deployed = format!("${{{id}}}");
    let lambda = |metric_name: &str, options: &str| {
        metric(
            "AWS/Lambda",
            metric_name,
            &[("FunctionName", &format!("${{{id}}}"))],
            options,
        )
    };
    grid.graph(
        6,
        &format!("{name}: invocations, errors, throttles"),
        "Sum",
        &[lambda("Invocations", ""), lambda("Errors", ""), lambda("Throttles", "")],
        &[],
    );
    let timeout = function.spec.timeout.as_secs() * 1000;
    grid.graph(
        6,
        &format!("{name}: duration (ms)"),
        "p99",
        &[
            lambda("Duration", "{\"stat\":\"p50\",\"label\":\"p50\"}"),
            lambda("Duration", "{\"label\":\"p99\"}"),
            lambda("Duration", "{\"stat\":\"Maximum\",\"label\":\"max\"}"),
        ],
        &[("alarm (p99)", timeout * DURATION_PERCENT / 100), ("Timeout", timeout)],
    );
    let (limit, label) = match ceiling {
        Ceiling::Declared { limit, .. } => (*limit, "ceiling (alarm)"),
        Ceiling::Share { limit, .. } => (*limit, "alarm: share of the account's pool"),
    };
    grid.graph(
        6,
        &format!("{name}: concurrent executions"),
        "Maximum",
        &[lambda("ConcurrentExecutions", "")],
        &[(label, limit)],
    );
    let kit = |metric_name: &str, extra: &[(&str, &str)], options: &str| {
        let mut dimensions = vec![("function", deployed.as_str())];
        dimensions.extend_from_slice(extra);
        metric(NAMESPACE, metric_name, &dimensions, options)
    };
    let right =
        |stat: &str, label: &str| format!("{{\"stat\":{},\"label\":{},\"yAxis\":\"right\"}}", js(stat), js(label));
    let mut metrics = Vec::new();
    let title = if function.url {
        for status in ["2xx", "4xx", "5xx"] {
            metrics.push(kit(
                REQUESTS.name,
                &[("status", status)],
                &format!("{{\"label\":{}}}", js(status)),
            ));
        }
        metrics.push(kit(REQUEST_LATENCY.name, &[], &right("p99", "latency p99 (ms)")));
        format!("{name}: requests by status, latency")
    } else {
        for record_metric in RECORD_METRICS {
            metrics.push(kit(record_metric.name, &[], ""));
        }
        let parked = format!(
            "SELECT SUM({}) FROM SCHEMA({NAMESPACE}, function, reason) WHERE function = '{deployed}'",
            PARKED.name
        );
        metrics.push(query("parked", &parked, Some("Parked")));
        metrics.push(kit(RECORD_LATENCY.name, &[], &right("p99", "latency p99 (ms)")));
        format!("{name}: records, latency")
    };
    metrics.push(kit(PANICS.name, &[], ""));
    metrics.push(kit(COLD_START.name, &[], ""));
    grid.graph(6, &title, "Sum", &metrics, &[]);
}

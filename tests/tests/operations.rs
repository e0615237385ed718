//! infra/template.yaml can be operated: its generated block of alarms and dashboard is what
//! `localcloud operations` draws now, and, read from the template itself (not from the
//! generator), every function has its four alarms, every queue an alarm on the age of its oldest
//! message, every dead-letter queue (and the parking queue) one on its depth, parked records
//! one by reason, and the dashboard names every function, queue and metric of the kit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeSet;
use std::path::PathBuf;

use emulator::operations::{block, embedded};
use emulator::topology::Topology;
use sam_template::{Resource, Template};
use serde_json::Value;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml")
}

/// The template as CloudFormation deploys it, every intrinsic resolved.
fn loaded() -> Template {
    Template::load(&path(), &sam_template::Options::default()).unwrap()
}

/// The alarms of `template` on `namespace`/`metric` whose dimension `dimension` is `value`.
fn alarms_on<'a>(
    template: &'a Template,
    namespace: &str,
    metric: &str,
    dimension: &str,
    value: &str,
) -> Vec<&'a Resource> {
    template
        .of_kind("AWS::CloudWatch::Alarm")
        .filter(|a| a.property_str("Namespace") == Some(namespace) && a.property_str("MetricName") == Some(metric))
        .filter(|a| {
            a.property("Dimensions").and_then(Value::as_array).is_some_and(|d| {
                d.iter()
                    .any(|d| d["Name"] == dimension && d["Value"].as_str() == Some(value))
            })
        })
        .collect()
}

fn threshold(alarm: &Resource) -> f64 {
    alarm.property("Threshold").and_then(Value::as_f64).unwrap()
}

#[test]
fn the_template_embeds_the_current_alarms_and_dashboard() {
    let text = std::fs::read_to_string(path()).unwrap();
    let topology = Topology::load(&path(), &sam_template::Options::default()).unwrap();
    let current = embedded(&text).expect("infra/template.yaml has no generated operations block");
    assert!(
        current == block(&topology),
        "infra/template.yaml's alarms and dashboard are stale: run `make graph`"
    );
}

#[test]
fn every_function_has_alarms_on_errors_throttles_duration_against_its_timeout_and_concurrency() {
    let template = loaded();
    let functions: Vec<&Resource> = template.of_kind("AWS::Serverless::Function").collect();
    assert!(!functions.is_empty());
    for function in functions {
        let (id, name) = (&function.logical_id, function.physical_name.as_str());
        let on = |metric: &str| {
            let found = alarms_on(&template, "AWS/Lambda", metric, "FunctionName", name);
            assert_eq!(found.len(), 1, "{id}: one alarm on {metric}, found {}", found.len());
            found[0]
        };
        for metric in ["Errors", "Throttles"] {
            assert_eq!(threshold(on(metric)), 1.0, "{id}: the first {metric} alarms");
        }
        // The Timeout SAM deploys (Globals merged): the duration alarms before it is reached.
        let timeout_ms = function.property("Timeout").and_then(Value::as_f64).unwrap() * 1000.0;
        let duration = on("Duration");
        assert!(
            (0.0..timeout_ms).contains(&threshold(duration)),
            "{id}: duration alarm at {} ms, not below its {timeout_ms} ms timeout",
            threshold(duration)
        );
        assert!(
            duration
                .property_str("ExtendedStatistic")
                .is_some_and(|p| p.starts_with('p'))
                || duration.property_str("Statistic") == Some("Maximum"),
            "{id}: duration by a high percentile or the maximum"
        );
        // Bounded by the mappings feeding it: the alarm is at that bound.
        let limits: Option<Vec<f64>> = template
            .of_kind("AWS::Lambda::EventSourceMapping")
            .filter(|m| m.property_str("FunctionName") == Some(name))
            .map(|m| m.property("ScalingConfig.MaximumConcurrency").and_then(Value::as_f64))
            .collect();
        let concurrency = threshold(on("ConcurrentExecutions"));
        match limits {
            Some(limits) if !limits.is_empty() => assert_eq!(
                concurrency,
                limits.iter().sum::<f64>(),
                "{id}: concurrency alarm at its mappings' MaximumConcurrency"
            ),
            _ => assert!(concurrency >= 1.0, "{id}: concurrency alarm at a share of the account"),
        }
    }
}

/// The queues where failures of others land (redrive policies, rule targets' and subscriptions'
/// dead-letter configs, asynchronous invocations' on-failure destinations) and where functions
/// park records: their logical ids.
fn dead_letter_queues(template: &Template) -> BTreeSet<String> {
    let mut references: Vec<String> = Vec::new();
    for resource in template.resources.values() {
        let mut take = |path: &str| {
            if let Some(reference) = resource.property_str(path) {
                references.push(reference.to_owned());
            }
        };
        match resource.kind.as_str() {
            "AWS::SQS::Queue" => take("RedrivePolicy.deadLetterTargetArn"),
            "AWS::SNS::Subscription" => take("RedrivePolicy.deadLetterTargetArn"),
            "AWS::Lambda::EventInvokeConfig" => take("DestinationConfig.OnFailure.Destination"),
            "AWS::Serverless::Function" => take("Environment.Variables.PARKING_QUEUE_URL"),
            "AWS::Events::Rule" => {
                let targets = resource.property("Targets").and_then(Value::as_array).unwrap();
                for target in targets {
                    if let Some(arn) = target.pointer("/DeadLetterConfig/Arn").and_then(Value::as_str) {
                        references.push(arn.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    references
        .iter()
        .map(|r| template.find(r).unwrap_or_else(|| panic!("{r}: not a resource")))
        .filter(|r| r.is("AWS::SQS::Queue"))
        .map(|r| r.logical_id.clone())
        .collect()
}

#[test]
fn every_queue_has_an_age_alarm_before_its_retention_and_every_dead_letter_queue_a_depth_alarm() {
    let template = loaded();
    let dead_letters = dead_letter_queues(&template);
    for required in ["ParkingQueue", "UndeliveredEventsQueue"] {
        assert!(dead_letters.contains(required), "{required} among {dead_letters:?}");
    }
    let queues: Vec<&Resource> = template.of_kind("AWS::SQS::Queue").collect();
    for queue in &queues {
        let (id, name) = (&queue.logical_id, queue.physical_name.as_str());
        let age = alarms_on(&template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", name);
        assert_eq!(age.len(), 1, "{id}: one alarm on the age of its oldest message");
        // SQS's default retention is 4 days.
        let retention = queue
            .property("MessageRetentionPeriod")
            .and_then(Value::as_f64)
            .unwrap_or(345_600.0);
        assert!(
            threshold(age[0]) > 0.0 && threshold(age[0]) < retention,
            "{id}: alarms on age before SQS deletes the message ({retention} s)"
        );
        let depth = alarms_on(
            &template,
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            name,
        );
        if dead_letters.contains(id.as_str()) {
            assert_eq!(depth.len(), 1, "{id}: one alarm on its depth");
            assert_eq!(threshold(depth[0]), 1.0, "{id}: one message is enough");
            assert_eq!(
                depth[0].property_str("ComparisonOperator"),
                Some("GreaterThanOrEqualToThreshold"),
                "{id}"
            );
        }
    }
    assert!(
        dead_letters.len() < queues.len(),
        "queues functions read are not dead letters"
    );
}

#[test]
fn parked_records_alarm_by_reason_with_a_metrics_insights_query() {
    let template = loaded();
    let parked: Vec<&Resource> = template
        .of_kind("AWS::CloudWatch::Alarm")
        .filter(|a| {
            a.property("Metrics").and_then(Value::as_array).is_some_and(|m| {
                m.iter()
                    .any(|q| q["Expression"].as_str().is_some_and(|e| e.contains("(Parked)")))
            })
        })
        .collect();
    assert_eq!(parked.len(), 1, "one alarm on parked records");
    let expression = parked[0].property_str("Metrics.0.Expression").unwrap();
    assert!(
        expression.contains("FROM SCHEMA(ServerlessEvents, function, reason)")
            && expression.ends_with("GROUP BY reason"),
        "by reason, over every function: {expression}"
    );
}

#[test]
fn one_dashboard_names_every_function_queue_and_metric_of_the_kit() {
    let template = loaded();
    let dashboards: Vec<&Resource> = template.of_kind("AWS::CloudWatch::Dashboard").collect();
    assert_eq!(dashboards.len(), 1, "one dashboard for the whole graph");
    let body = dashboards[0].property_str("DashboardBody").unwrap();
    let parsed: Value = serde_json::from_str(body).expect("the dashboard body, resolved, is JSON");
    let widgets = parsed["widgets"].as_array().unwrap();
    for widget in widgets {
        let (x, width) = (widget["x"].as_u64().unwrap(), widget["width"].as_u64().unwrap());
        assert!(x + width <= 24, "a widget past the grid's 24 columns: {widget}");
    }
    let quoted = |name: &str| body.contains(&format!("\"{name}\""));
    for function in template.of_kind("AWS::Serverless::Function") {
        assert!(
            quoted(&function.physical_name),
            "{}: not on the dashboard",
            function.logical_id
        );
        // The kit names a function in its metrics by its deployed name (AWS_LAMBDA_FUNCTION_NAME).
        assert!(
            body.contains(&format!("\"function\",\"{}\"", function.physical_name)),
            "{}: its kit metrics (dimension function) not on the dashboard",
            function.logical_id
        );
    }
    for queue in template.of_kind("AWS::SQS::Queue") {
        assert!(
            quoted(&queue.physical_name),
            "{}: not on the dashboard",
            queue.logical_id
        );
    }
    for metric in handler_kit::observability::METRICS.iter().map(|m| m.name) {
        assert!(
            quoted(metric) || body.contains(&format!("({metric})")),
            "the kit's {metric} is not on the dashboard"
        );
    }
    assert!(body.contains("GROUP BY reason"), "parked records by reason");
}

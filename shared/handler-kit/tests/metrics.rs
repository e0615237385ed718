//! EMF metrics as CloudWatch reads them from the log stream, against their one declaration
//! (`observability::METRICS`), and each invocation's measured apart from those beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use common::*;
use handler_kit::observability::{self, METRICS, NAMESPACE};
use handler_kit::trigger::FunctionUrl;
use handler_kit::{Function, HttpHandler, Invocation, Nowhere};
use serde_json::{Value, json};

/// Answers 201, or 400 for a request without a body.
struct Api;
impl HttpHandler for Api {
    async fn handle(&self, request: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        let status = if request.body.is_some() { 201 } else { 400 };
        handler_kit::http::json_response(status, &json!({}), None)
    }
}

static API: Function<FunctionUrl, Nowhere> = Function {
    name: "order-api",
    trigger: FunctionUrl,
    outputs: Nowhere,
    settings: &[],
    idempotent: false,
};

/// A series: a metric's name and its dimensions with their values.
type Series = (String, Vec<(String, String)>);

/// Every data point of an invocation's documents by series, checking each document names its
/// metrics as declared and carries `request_id`.
fn points(documents: &[String], request_id: &str) -> BTreeMap<Series, Vec<f64>> {
    let mut points: BTreeMap<Series, Vec<f64>> = BTreeMap::new();
    for line in documents {
        let document: Value = serde_json::from_str(line).unwrap();
        assert_eq!(document["RequestId"], request_id, "{document}");
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE, "{document}");
        let dimensions: Vec<&str> = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            let declared = METRICS
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name} is emitted but not declared in METRICS: {document}"));
            assert_eq!(
                declared.dimensions,
                dimensions.as_slice(),
                "{name}'s dimensions: {document}"
            );
            let unit = metric["Unit"].as_str().unwrap_or("Count");
            assert_eq!(declared.unit.name(), unit, "{name}'s unit: {document}");
            let values = match &document[name] {
                Value::Array(values) => values.iter().map(|v| v.as_f64().unwrap()).collect(),
                value => vec![value.as_f64().unwrap()],
            };
            let key = dimensions
                .iter()
                .map(|d| ((*d).to_owned(), document[*d].as_str().unwrap().to_owned()))
                .collect();
            points.entry((name.to_owned(), key)).or_default().extend(values);
        }
    }
    points
}

fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(d, v)| ((*d).to_owned(), (*v).to_owned())).collect()
}

#[tokio::test]
async fn every_metric_emitted_is_declared_with_its_unit_and_dimensions() {
    // Everything one invocation could do, measured as one (the kit counts; Lambda's glue writes).
    let ((), measured) = observability::measure(async {
        let processor = processor();
        processor
            .process_sqs(&batch(&["o-ok", "o-ok2", "o-timeout", "o-invalid"]), &invocation())
            .await
            .unwrap();
        // The same batch again: the two done before are duplicates.
        processor
            .process_sqs(&batch(&["o-ok", "o-ok2"]), &invocation())
            .await
            .unwrap();
        let platform = local_platform();
        let api = handler_kit::dispatch::http(&platform, &API, Api);
        let mut request: LambdaFunctionUrlRequest = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../../events/orders/order-api/get-order.function-url.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let invocation = Invocation::with_remaining("req-9", Duration::from_secs(30));
        request.body = None;
        handler_kit::dispatch::invoke(&api, request.clone(), &invocation)
            .await
            .unwrap();
        request.body = Some("{}".into());
        handler_kit::dispatch::invoke(&api, request, &invocation).await.unwrap();
    })
    .await;
    let points = points(&measured.emf("reserve-inventory", "req-9", true, 0), "req-9");
    let function = [("function", "reserve-inventory")];
    let count = |name: &str, dimensions: &[(&str, &str)]| -> f64 {
        points
            .get(&(name.to_owned(), dims(dimensions)))
            .unwrap_or_else(|| panic!("no {name} {dimensions:?} in {points:?}"))
            .iter()
            .sum()
    };
    assert_eq!(count("Processed", &function), 4.0, "2, then the same 2 as duplicates");
    assert_eq!(count("Duplicates", &function), 2.0);
    assert_eq!(count("Failed", &function), 1.0);
    assert_eq!(
        count(
            "Parked",
            &[("function", "reserve-inventory"), ("reason", "invalid-order")]
        ),
        1.0,
        "parked by reason: {points:?}"
    );
    assert_eq!(
        points[&("RecordLatency".to_owned(), dims(&function))].len(),
        6,
        "a latency per record"
    );
    assert_eq!(
        count("Requests", &[("function", "reserve-inventory"), ("status", "4xx")]),
        1.0
    );
    assert_eq!(
        count("Requests", &[("function", "reserve-inventory"), ("status", "2xx")]),
        1.0
    );
    assert_eq!(points[&("RequestLatency".to_owned(), dims(&function))].len(), 2);
    assert_eq!(count("ColdStart", &function), 1.0);
}

/// Lambda Managed Instances run invocations side by side in one process: each one's documents
/// hold its own records' counts and its own request id, whichever thread polls it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_at_once_are_measured_apart() {
    let processor = std::sync::Arc::new(processor());
    let invocations = (0..8).map(|n| {
        let processor = std::sync::Arc::clone(&processor);
        tokio::spawn(async move {
            // Invocation n: n + 1 new orders, and one unreadable order when n is odd.
            let mut orders: Vec<String> = (0..=n).map(|k| format!("o-{n}-{k}")).collect();
            if n % 2 == 1 {
                orders.push("o-invalid".to_owned());
            }
            let orders: Vec<&str> = orders.iter().map(String::as_str).collect();
            let request_id = format!("req-{n}");
            let invocation = Invocation::with_remaining(request_id.clone(), Duration::from_secs(30));
            let (answer, measured) = observability::measure(processor.process_sqs(&batch(&orders), &invocation)).await;
            answer.unwrap();
            (
                n,
                points(&measured.emf("reserve-inventory", &request_id, false, 0), &request_id),
            )
        })
    });
    for joined in futures_util::future::join_all(invocations).await {
        let (n, points) = joined.unwrap();
        let function = dims(&[("function", "reserve-inventory")]);
        assert_eq!(
            points[&("Processed".to_owned(), function.clone())],
            vec![f64::from(n + 1)],
            "invocation {n}"
        );
        assert_eq!(
            points[&("RecordLatency".to_owned(), function)].len(),
            n as usize + 1 + n as usize % 2
        );
        let parked = points.get(&(
            "Parked".to_owned(),
            dims(&[("function", "reserve-inventory"), ("reason", "invalid-order")]),
        ));
        assert_eq!(parked.is_some(), n % 2 == 1, "invocation {n}: {points:?}");
    }
}

/// CloudWatch takes at most 100 values of a metric per document: more go in more documents,
/// and nothing is lost.
#[tokio::test]
async fn a_metric_past_100_values_spreads_over_documents() {
    let orders: Vec<String> = (0..250).map(|k| format!("o-{k}")).collect();
    let orders: Vec<&str> = orders.iter().map(String::as_str).collect();
    let ((), measured) = observability::measure(async {
        processor().process_sqs(&batch(&orders), &invocation()).await.unwrap();
    })
    .await;
    let documents = measured.emf("reserve-inventory", "req-1", false, 0);
    assert_eq!(documents.len(), 3, "{documents:?}");
    let points = points(&documents, "req-1");
    let function = dims(&[("function", "reserve-inventory")]);
    assert_eq!(points[&("RecordLatency".to_owned(), function.clone())].len(), 250);
    assert_eq!(points[&("Processed".to_owned(), function)], vec![250.0]);
}

#[test]
fn the_readme_documents_the_metrics_as_declared() {
    let readme = std::fs::read_to_string(format!("{}/../../functions/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let table = observability::metrics_table();
    assert!(
        readme.contains(&table),
        "functions/README.md's metrics table is not the declared one (observability::METRICS); it should read:\n\n{table}"
    );
}

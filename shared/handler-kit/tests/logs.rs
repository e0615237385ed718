//! The logs as CloudWatch receives them: JSON lines carrying the ids. In a test binary of its
//! own, because a thread-local subscriber shares tracing's callsite cache with concurrent tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod common;

use common::*;
use handler_kit::Invocation;
use handler_kit::testing::CapturedLogs;
use serde_json::Value;

/// The trace Lambda gave the invocation, and the one a record arrived in.
const LAMBDA_TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const RECORD_TRACE: &str = "Root=1-6759e988-bd862e3fe1be46a994272794;Parent=63995c3f42cd8ad8;Sampled=1";

#[tokio::test(flavor = "current_thread")]
async fn logs_are_json_lines_carrying_request_function_event_correlation_and_trace_ids_but_no_payload() {
    let captured = CapturedLogs::default();
    let _guard = captured.install();

    let processor = processor();
    let mut event = batch(&["o-ok", "o-timeout"]);
    // The first came through a traced publish (its AWSTraceHeader), the second through none.
    event.records[0]
        .attributes
        .insert("AWSTraceHeader".into(), RECORD_TRACE.into());
    let invocation =
        Invocation::with_remaining("req-42", std::time::Duration::from_secs(60)).in_trace(Some(LAMBDA_TRACE));
    let span = handler_kit::observability::invocation_span("reserve-inventory", &invocation);
    tracing::Instrument::instrument(processor.process_sqs(&event, &invocation), span)
        .await
        .unwrap();

    let text = captured.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let in_records: Vec<&Value> = lines.iter().filter(|l| l["span"]["name"] == "record").collect();
    assert!(in_records.len() >= 2, "{text}");
    for line in &in_records {
        let spans = line["spans"].as_array().unwrap();
        assert_eq!(spans[0]["request_id"], "req-42");
        assert_eq!(spans[0]["function"], "reserve-inventory");
        assert_eq!(spans[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        let record = &line["span"];
        let expected_trace = if record["message_id"] == "m-o-ok" {
            "1-6759e988-bd862e3fe1be46a994272794"
        } else {
            ""
        };
        assert_eq!(record["trace_id"], expected_trace, "{line}");
        assert!(record["message_id"].as_str().unwrap().starts_with("m-o-"));
        assert_eq!(record["event_type"], "OrderPlaced");
        assert_eq!(record["event_id"].as_str().unwrap().len(), 36);
        assert_eq!(record["correlation_id"], record["event_id"]);
    }
    let retried = in_records
        .iter()
        .find(|l| l["fields"]["message"].as_str().unwrap().contains("reported for retry"))
        .unwrap();
    assert_eq!(retried["level"], "WARN");
    assert!(!text.contains("order_id"), "payload data is not logged: {text}");
}

/// Logs one line per request.
struct Logging;
impl handler_kit::HttpHandler for Logging {
    async fn handle(
        &self,
        _: aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest,
    ) -> aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse {
        tracing::info!("answered");
        handler_kit::http::json_response(200, &serde_json::json!({}), None)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_http_functions_lines_carry_its_request_id_trace_id_and_the_requests_correlation_id() {
    static API: handler_kit::Function<handler_kit::trigger::FunctionUrl, handler_kit::Nowhere> =
        handler_kit::Function {
            name: "order-api",
            trigger: handler_kit::trigger::FunctionUrl,
            outputs: handler_kit::Nowhere,
            settings: &[],
            idempotent: false,
        };
    let captured = CapturedLogs::default();
    let _guard = captured.install();
    let api = handler_kit::dispatch::http(&local_platform(), &API, Logging);
    let mut request: aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../../events/orders/order-api/get-order.function-url.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    request
        .headers
        .insert("x-correlation-id", "checkout-7".parse().unwrap());
    let invocation =
        Invocation::with_remaining("req-7", std::time::Duration::from_secs(30)).in_trace(Some(LAMBDA_TRACE));
    handler_kit::dispatch::invoke(&api, request, &invocation).await.unwrap();

    let text = captured.text();
    let answered: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["fields"]["message"] == "answered")
        .unwrap_or_else(|| panic!("{text}"));
    let span = &answered["span"];
    assert_eq!(span["name"], "invocation");
    assert_eq!(span["request_id"], "req-7");
    assert_eq!(span["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(span["correlation_id"], "checkout-7");
}

//! The one invocation path, as the local cloud drives it: each trigger reads its payload once
//! into its own type and answers as Lambda expects; a payload of another shape is refused
//! with what was expected; a panic fails the invocation instead of the process; ticks reach
//! only a function with a schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use envelope::{Envelope, Registry};
use handler_kit::aggregate::Instant;
use handler_kit::local::{self, LocalFunction, Registration};
use handler_kit::trigger::{EventBridge, FunctionUrl, Sns, Sqs, SqsBatches};
use handler_kit::{BatchHandler, Function, HandlerError, HttpHandler, Nowhere, RecordHandler, Settled};
use serde_json::{Value, json};

mod common;
use common::local_platform as platform;

/// Knows no event type: every record is refused for good, so parked.
struct Refuse;
impl RecordHandler for Refuse {
    fn event_types(&self) -> Registry {
        Registry::new()
    }
    async fn handle(&self, _: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        Ok(Vec::new())
    }
}

static BY_SQS: Function<Sqs, Nowhere> = declared(Sqs);
static BY_RULE: Function<EventBridge, Nowhere> = declared(EventBridge);
static BY_TOPIC: Function<Sns, Nowhere> = declared(Sns);

const fn declared<T>(trigger: T) -> Function<T, Nowhere> {
    Function {
        name: "f",
        trigger,
        outputs: Nowhere,
        settings: &[],
        idempotent: true,
    }
}

fn built(registration: &Registration) -> Box<dyn LocalFunction> {
    registration.build(platform()).unwrap()
}

async fn invoke(function: &dyn LocalFunction, payload: Value) -> Result<Value, String> {
    function
        .invoke(payload, "request-1", None, Duration::from_secs(30))
        .await
}

fn sample(path: &str) -> Value {
    let path = format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn each_trigger_reads_its_own_payload_and_answers_as_lambda_expects() {
    let by_sqs = built(&local::records(&BY_SQS, |_| Ok(Refuse)));
    assert_eq!(
        invoke(&*by_sqs, sample("carriers/bad-json.sqs-eventbridge.json")).await,
        Ok(json!({ "batchItemFailures": [] })),
        "both records parked, none to retry"
    );
    let by_rule = built(&local::records(&BY_RULE, |_| Ok(Refuse)));
    assert_eq!(
        invoke(&*by_rule, sample("carriers/order-placed.eventbridge.json")).await,
        Ok(Value::Null)
    );
    let by_topic = built(&local::records(&BY_TOPIC, |_| Ok(Refuse)));
    assert_eq!(
        invoke(&*by_topic, sample("carriers/order-shipped.sns.json")).await,
        Ok(Value::Null)
    );
}

#[tokio::test]
async fn given_a_payload_of_another_trigger_then_it_is_refused_naming_what_was_expected() {
    let by_sqs = built(&local::records(&BY_SQS, |_| Ok(Refuse)));
    let err = invoke(&*by_sqs, sample("carriers/order-placed.eventbridge.json"))
        .await
        .unwrap_err();
    assert!(
        err.starts_with("payload is not an SQS event: missing field `Records`"),
        "{err}"
    );
    let by_rule = built(&local::records(&BY_RULE, |_| Ok(Refuse)));
    let err = invoke(&*by_rule, sample("carriers/order-shipped.sns.json"))
        .await
        .unwrap_err();
    assert!(
        err.starts_with("payload is not an EventBridge event: missing field"),
        "{err}"
    );
    let err = invoke(&*by_sqs, Value::from("nonsense")).await.unwrap_err();
    assert!(err.starts_with("payload is not an SQS event: invalid type"), "{err}");
}

/// Panics on every request.
struct Broken;
impl HttpHandler for Broken {
    async fn handle(&self, _: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        panic!("broken on purpose")
    }
}

#[tokio::test]
async fn given_a_function_that_panics_then_the_invocation_fails_and_the_process_lives() {
    static API: Function<FunctionUrl, Nowhere> = declared(FunctionUrl);
    let api = built(&local::http(&API, |_| Ok(Broken)));
    let request = sample("orders/order-api/get-order.function-url.json");
    let err = invoke(&*api, request.clone()).await.unwrap_err();
    assert_eq!(err, "the invocation panicked: broken on purpose");
    assert!(
        invoke(&*api, request).await.is_err(),
        "and the next invocation runs too"
    );
}

/// Counts its ticks.
#[derive(Default)]
struct Ticks(std::sync::atomic::AtomicUsize);
impl BatchHandler for Ticks {
    type Sent = ();
    fn event_types(&self) -> Registry {
        Registry::new()
    }
    async fn settle(&self, _: Vec<Envelope<Value>>, _: Instant) -> Result<Settled<()>, HandlerError> {
        Ok(Settled::nothing())
    }
    async fn tick(&self, _: chrono::DateTime<chrono::Utc>, _: Instant) -> Result<Settled<()>, HandlerError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Settled::nothing())
    }
    async fn sent(&self, (): ()) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[tokio::test]
async fn given_a_batch_function_then_only_a_scheduled_rules_tick_reaches_it_and_only_if_it_declares_one() {
    static SCHEDULED: Function<SqsBatches, Nowhere> = declared(SqsBatches {
        schedule: Some("rate(1 minute)"),
    });
    static UNSCHEDULED: Function<SqsBatches, Nowhere> = declared(SqsBatches { schedule: None });
    let tick = sample("sensors/detect-anomaly/scheduled-tick.eventbridge.json");

    let scheduled = built(&local::batches(&SCHEDULED, |_| Ok(Ticks::default())));
    assert_eq!(invoke(&*scheduled, tick.clone()).await, Ok(Value::Null));
    assert_eq!(
        invoke(&*scheduled, sample("carriers/bad-json.sqs-eventbridge.json")).await,
        Ok(json!({ "batchItemFailures": [] }))
    );
    let err = invoke(&*scheduled, sample("carriers/order-placed.eventbridge.json"))
        .await
        .unwrap_err();
    assert!(
        err.contains("from 'shop.orders' is not a scheduled rule's tick"),
        "{err}"
    );

    let unscheduled = built(&local::batches(&UNSCHEDULED, |_| Ok(Ticks::default())));
    let err = invoke(&*unscheduled, tick).await.unwrap_err();
    assert!(err.contains("declares no schedule"), "{err}");
}

/// Answers with the `traceparent` header it was handed.
struct EchoTrace;
impl HttpHandler for EchoTrace {
    async fn handle(&self, request: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        let traceparent = request.headers.get("traceparent").and_then(|v| v.to_str().ok());
        handler_kit::http::json_response(200, &json!({ "traceparent": traceparent }), None)
    }
}

#[tokio::test]
async fn an_http_request_goes_on_in_the_trace_lambda_gave_its_invocation() {
    static API: Function<FunctionUrl, Nowhere> = declared(FunctionUrl);
    let api = built(&local::http(&API, |_| Ok(EchoTrace)));
    let mut request = sample("orders/order-api/get-order.function-url.json");
    request["headers"]["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let traceparent = |response: Result<Value, String>| -> Value {
        serde_json::from_str::<Value>(response.unwrap()["body"].as_str().unwrap()).unwrap()["traceparent"].clone()
    };

    let xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let traced = api
        .invoke(request.clone(), "request-1", Some(xray), Duration::from_secs(30))
        .await;
    assert_eq!(
        traceparent(traced),
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        "X-Ray's trace, the one that shows this request, wins over the client's W3C header"
    );
    assert_eq!(
        traceparent(invoke(&*api, request).await),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "without X-Ray the client's header stays"
    );
}

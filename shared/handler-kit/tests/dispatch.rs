//! The one invocation path, as the local cloud drives it: each trigger reads its payload once
//! into its own type and answers as Lambda expects; a payload of another shape is refused
//! with what was expected; a panic fails the invocation instead of the process; ticks reach
//! only a function with a schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use envelope::{Envelope, Registry};
use handler_kit::aggregate::Instant;
use handler_kit::local::{self, LocalFunction, LocalPlatform, Outbox, Registration, World, env_of};
use handler_kit::trigger::{EventBridge, FunctionUrl, Sns, Sqs, SqsBatches};
use handler_kit::{BatchHandler, Function, HandlerError, HttpHandler, ManualClock, Nowhere, RecordHandler, Settled};
use serde_json::{Value, json};

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

fn platform() -> LocalPlatform {
    LocalPlatform::new(
        env_of(
            "f",
            &[
                ("PARKING_QUEUE_URL", "https://sqs.local/parking"),
                ("IDEMPOTENCY_TABLE", "idempotency"),
            ],
        ),
        Arc::new(ManualClock::new(chrono::Utc::now())),
        Arc::new(ports::NoFaults),
        Arc::default(),
        Outbox::default(),
        Arc::new(World {
            queues: [("https://sqs.local/parking".to_owned(), 256 * 1024)].into(),
            ..World::default()
        }),
    )
}

fn built(registration: &Registration) -> Box<dyn LocalFunction> {
    registration.build(platform()).unwrap()
}

async fn invoke(function: &dyn LocalFunction, payload: Value) -> Result<Value, String> {
    function.invoke(payload, "request-1", Duration::from_secs(30)).await
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

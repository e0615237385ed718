//! The AWS platform and the Lambda glue: one call in `main.rs` ([`serve_events`] or
//! [`serve_http`]) wires logging, the AWS adapters, the function's builder, the processor and
//! the runtime.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use idempotency::{Clock, DynamoDbStore, Store, SystemClock};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::aggregate::BatchHandler;
use crate::config::{ConfigError, Env};
use crate::function::{Bus, Function, Nowhere, Outputs, Setting, Topic, Trigger};
use crate::http::HttpHandler;
use crate::observability;
use crate::platform::{Platform, PublishesTo, batch_processor, processor};
use crate::processor::{Handler, Invocation, Processor};
use crate::publish::{EventBridgePublisher, InMemoryPublisher, Parking, Publisher, SnsPublisher, SqsParking};

/// What `main` returns when a function cannot start or serve.
pub use lambda_runtime::Error;

/// The CloudWatch namespace of every function's metrics.
pub const METRICS_NAMESPACE: &str = "ServerlessEvents";

/// The platform a function runs on in AWS: its environment and the SDK configuration, read
/// once at cold start.
#[derive(Debug, Clone)]
pub struct AwsPlatform {
    env: Env,
    config: SdkConfig,
}

impl AwsPlatform {
    /// Reads the environment and loads the AWS configuration (`AWS_ENDPOINT_URL` honoured).
    pub async fn load() -> Result<Self, ConfigError> {
        let env = Env::from_process();
        let mut loader = sdk_loader();
        if let Some(url) = env.optional("AWS_ENDPOINT_URL") {
            loader = loader.endpoint_url(url);
        }
        Ok(Self {
            config: loader.load().await,
            env,
        })
    }

    /// The shared SDK configuration, for a domain's adapters (`aws_sdk_dynamodb::Client::new`).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }
}

impl Platform for AwsPlatform {
    type Store = DynamoDbStore;
    type Parking = SqsParking;

    fn env(&self) -> &Env {
        &self.env
    }

    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }

    fn idempotency_store(&self, table: &str) -> DynamoDbStore {
        DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&self.config), table)
    }

    fn parking(&self, queue_url: &str) -> SqsParking {
        SqsParking::new(aws_sdk_sqs::Client::new(&self.config), queue_url)
    }
}

impl PublishesTo<Bus> for AwsPlatform {
    type Publisher = EventBridgePublisher;

    fn publisher(&self, outputs: &Bus) -> Result<EventBridgePublisher, ConfigError> {
        let bus = self.setting(&outputs.destination().unwrap_or(crate::function::EVENT_BUS_NAME))?;
        Ok(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&self.config),
            bus,
        ))
    }
}

impl PublishesTo<Topic> for AwsPlatform {
    type Publisher = SnsPublisher;

    fn publisher(&self, outputs: &Topic) -> Result<SnsPublisher, ConfigError> {
        let topic = self.setting(&Setting::topic(
            outputs.variable,
            "the SNS topic outputs are published to",
        ))?;
        Ok(SnsPublisher::new(aws_sdk_sns::Client::new(&self.config), topic).with_attributes(outputs.attributes))
    }
}

impl PublishesTo<Nowhere> for AwsPlatform {
    type Publisher = InMemoryPublisher;

    /// Nothing to publish to: an output would be a bug, refused (and parked) like a malformed entry.
    fn publisher(&self, _: &Nowhere) -> Result<InMemoryPublisher, ConfigError> {
        let refusing = InMemoryPublisher::new();
        refusing.refuse_all();
        Ok(refusing)
    }
}

/// The HTTPS client every SDK client shares: rustls on ring (smaller zips than the default
/// aws-lc), connecting on its first call.
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    SharedHttpClient::new(ConnectorOnFirstCall(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    ))
}

/// The SDK's HTTPS client builds its TLS connector, reading and parsing the system's root
/// certificates, as each SDK client is constructed: at cold start, once per client (3.5 ms of
/// ship-order's 7.7 ms init, measured with `bench/coldstart`). Wrapped, it builds it when the
/// first call needs it, and once: every SDK client shares this client and its connector cache.
#[derive(Debug)]
struct ConnectorOnFirstCall(SharedHttpClient);

impl HttpClient for ConnectorOnFirstCall {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The SDK configuration loader with the shared HTTPS client and bounded calls; it reads the
/// region, credentials and `AWS_ENDPOINT_URL` from the environment as usual.
///
/// Without timeouts a call that hangs would hold the invocation until Lambda kills it and the
/// whole batch returns. The processor bounds each phase by the deadline too; these bounds make
/// one slow connection cost an attempt, not the invocation.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(8))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(timeouts)
}

impl Invocation {
    /// The invocation described by Lambda's context.
    pub fn from_context(context: &Context) -> Self {
        // Lambda sends the deadline as epoch milliseconds; local emulators (`cargo lambda
        // watch`) send the milliseconds remaining instead. No real deadline is before 2001.
        const EPOCH_2001_MS: u128 = 978_307_200_000;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let deadline = u128::from(context.deadline);
        let remaining = if deadline < EPOCH_2001_MS {
            deadline
        } else {
            deadline.saturating_sub(now_ms)
        };
        Self::with_remaining(
            context.request_id.clone(),
            Duration::from_millis(u64::try_from(remaining).unwrap_or(u64::MAX)),
        )
    }
}

/// Runs an event-driven function on Lambda: logging, the platform, `build` (its one
/// composition root) once at cold start, the processor, then the runtime. A configuration
/// error stops the cold start with a log line naming the variable.
pub async fn serve_events<O, H, B>(function: &'static Function<O>, build: B) -> Result<(), lambda_runtime::Error>
where
    O: Outputs,
    AwsPlatform: PublishesTo<O>,
    H: Handler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    let (name, processor) = cold_start(|platform| processor(platform, function, build(platform)?)).await?;
    let trigger = function.trigger;
    tracing::info!(function = name, ?trigger, "cold start: initialised");
    let metrics = observability::metrics(METRICS_NAMESPACE, &name)?;
    let processor = Arc::new(processor);
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, move |event: LambdaEvent<Value>| {
        let processor = Arc::clone(&processor);
        let invocation = Invocation::from_context(&event.context);
        let span = observability::invocation_span(&name, &invocation.request_id);
        async move { dispatch(trigger, &processor, event.payload, &invocation).await }.instrument(span)
    })
    .await
}

/// Runs an aggregating function on Lambda: SQS batches, one decision each, and the ticks of
/// its scheduled rule; `build` once at cold start.
pub async fn serve_batch<O, H, B>(function: &'static Function<O>, build: B) -> Result<(), lambda_runtime::Error>
where
    O: Outputs,
    AwsPlatform: PublishesTo<O>,
    H: BatchHandler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    let (name, processor) = cold_start(|platform| batch_processor(platform, function, build(platform)?)).await?;
    tracing::info!(function = name, "cold start: initialised");
    let metrics = observability::metrics(METRICS_NAMESPACE, &name)?;
    let processor = Arc::new(processor);
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, move |event: LambdaEvent<Value>| {
        let processor = Arc::clone(&processor);
        let invocation = Invocation::from_context(&event.context);
        let span = observability::invocation_span(&name, &invocation.request_id);
        async move {
            if crate::local::is_scheduled_event(&event.payload) {
                processor.process_tick(chrono::Utc::now(), &invocation).await?;
                return Ok(Value::Null);
            }
            let sqs: SqsEvent = serde_json::from_value(event.payload)?;
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(processor.process_sqs(&sqs, &invocation).await?)?)
        }
        .instrument(span)
    })
    .await
}

/// Runs an HTTP function behind a Function URL on Lambda, `build` once at cold start.
pub async fn serve_http<O, H, B>(function: &'static Function<O>, build: B) -> Result<(), lambda_runtime::Error>
where
    O: Outputs,
    H: HttpHandler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    let handler = Arc::new(cold_start(build).await?);
    tracing::info!(function = function.name, "cold start: initialised");
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<LambdaFunctionUrlRequest>| {
            let handler = Arc::clone(&handler);
            async move { Ok::<_, lambda_runtime::Error>(handler.handle(event.payload).await) }
        },
    ))
    .await
}

/// The cold start every function shares: logging, the AWS platform, then `make` (the
/// function's builder, and its processor). A configuration error stops it with a log line
/// naming the variable.
async fn cold_start<T>(make: impl FnOnce(&AwsPlatform) -> Result<T, ConfigError>) -> Result<T, lambda_runtime::Error> {
    observability::init_logging();
    AwsPlatform::load()
        .await
        .and_then(|platform| make(&platform))
        .map_err(|err| {
            tracing::error!(error = %err, "configuration error");
            err.into()
        })
}

/// Reads the payload as the trigger delivers it; an SQS batch answers with its failed ids.
async fn dispatch<H: Handler, S: Store, P: Publisher, Q: Parking>(
    trigger: Trigger,
    processor: &Processor<H, S, P, Q>,
    payload: Value,
    invocation: &Invocation,
) -> Result<Value, lambda_runtime::Error> {
    match trigger {
        Trigger::Sqs => {
            let event: SqsEvent = serde_json::from_value(payload)?;
            let response: SqsBatchResponse = processor.process_sqs(&event, invocation).await?;
            Ok(serde_json::to_value(response)?)
        }
        Trigger::EventBridge => {
            let event: EventBridgeEvent<Value> = serde_json::from_value(payload)?;
            processor.process_eventbridge(event, invocation).await?;
            Ok(Value::Null)
        }
        Trigger::Sns => {
            let event: SnsEvent = serde_json::from_value(payload)?;
            processor.process_sns(&event, invocation).await?;
            Ok(Value::Null)
        }
        Trigger::FunctionUrl => Err("an HTTP function is served by serve_http, not serve_events".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandlerError;
    use crate::publish::{InMemoryParking, InMemoryPublisher};
    use envelope::{Envelope, Registry};
    use idempotency::{Idempotency, InMemoryStore};

    /// Accepts any event and emits nothing.
    struct Accept;
    impl Handler for Accept {
        fn event_types(&self) -> Registry {
            Registry::new()
        }
        async fn handle(&self, _: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
            Ok(Vec::new())
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/carriers/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn each_trigger_reads_its_payload_and_answers_as_lambda_expects() {
        // An empty registry knows no type: every record is refused for good, so parked.
        let processor = Processor::new(
            "f",
            Accept,
            Idempotency::new("f", InMemoryStore::new()),
            InMemoryPublisher::new(),
            InMemoryParking::new(),
        );
        let invocation = Invocation::with_remaining("r", Duration::from_secs(30));
        let sqs = sample("bad-json.sqs-eventbridge.json");
        let response = dispatch(Trigger::Sqs, &processor, sqs, &invocation).await.unwrap();
        assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
        assert_eq!(processor.parts().3.parked().len(), 2);

        let eventbridge = sample("order-placed.eventbridge.json");
        assert_eq!(
            dispatch(Trigger::EventBridge, &processor, eventbridge, &invocation)
                .await
                .unwrap(),
            Value::Null
        );
        let sns = sample("order-shipped.sns.json");
        assert_eq!(
            dispatch(Trigger::Sns, &processor, sns, &invocation).await.unwrap(),
            Value::Null
        );
        assert!(
            dispatch(Trigger::Sqs, &processor, Value::from("nonsense"), &invocation)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_deadline_comes_from_the_context() {
        let mut context = Context::default();
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
        context.deadline = u64::try_from(now_ms).unwrap() + 5_000;
        let remaining = Invocation::from_context(&context).deadline - tokio::time::Instant::now();
        assert!(
            remaining > Duration::from_millis(4_000) && remaining <= Duration::from_millis(5_000),
            "{remaining:?}"
        );
    }
}

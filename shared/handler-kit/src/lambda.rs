//! The Lambda glue: one call in `main.rs` wires logging, configuration, the AWS adapters, the
//! processor and the runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use idempotency::{DynamoDbStore, Idempotency, Store};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::config::{ConfigError, Env, KitConfig};
use crate::observability;
use crate::processor::{Handler, Invocation, Limits, Processor};
use crate::publish::{AttributesOf, EventBridgePublisher, Parking, Publisher, SnsPublisher, SqsParking};

/// The CloudWatch namespace of every function's metrics.
pub const METRICS_NAMESPACE: &str = "ServerlessEvents";

/// What a function's setup can use: its environment, the kit's settings and the AWS config.
#[derive(Debug, Clone)]
pub struct Aws {
    /// The environment, read once.
    pub env: Env,
    /// The kit's settings.
    pub kit: KitConfig,
    /// Shared AWS SDK configuration (with the endpoint override, if any).
    pub config: SdkConfig,
}

/// The HTTPS client every SDK client shares: rustls on ring (smaller zips than the default aws-lc).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
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

impl Aws {
    /// Reads the environment and loads the AWS configuration.
    pub async fn load() -> Result<Self, ConfigError> {
        let env = Env::from_process();
        let kit = KitConfig::from_env(&env)?;
        let mut loader = sdk_loader();
        if let Some(url) = &kit.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Ok(Self {
            config: loader.load().await,
            env,
            kit,
        })
    }
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

/// How events reach the function, which decides the payload and the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An SQS event source mapping with `ReportBatchItemFailures`: responds with the failed ids.
    Sqs,
    /// An EventBridge rule targeting the function directly.
    EventBridge,
    /// An SNS subscription with protocol `lambda`.
    Sns,
}

/// Where a function's outputs go. Each destination is its own type, so a function links only
/// the SDK client it publishes with (the zip stays small).
pub trait Outputs {
    /// The publisher it builds.
    type Publisher: Publisher + 'static;

    /// Builds the publisher from the environment.
    fn publisher(self, aws: &Aws) -> Result<Self::Publisher, ConfigError>;
}

/// Outputs go to the event bus named by `EVENT_BUS_NAME`.
#[derive(Debug, Clone, Copy)]
pub struct Bus;

impl Outputs for Bus {
    type Publisher = EventBridgePublisher;

    fn publisher(self, aws: &Aws) -> Result<EventBridgePublisher, ConfigError> {
        let bus = aws
            .env
            .required("EVENT_BUS_NAME", "the event bus outputs are published to")?;
        Ok(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&aws.config),
            bus,
        ))
    }
}

/// Outputs go to the SNS topic whose ARN is in the environment variable `variable`, with extra
/// message attributes for subscription filter policies.
#[derive(Debug, Clone, Copy)]
pub struct Topic {
    /// The variable holding the topic ARN.
    pub variable: &'static str,
    /// Extra attributes of each message.
    pub attributes: AttributesOf,
}

impl Outputs for Topic {
    type Publisher = SnsPublisher;

    fn publisher(self, aws: &Aws) -> Result<SnsPublisher, ConfigError> {
        let topic = aws
            .env
            .required(self.variable, "the SNS topic outputs are published to")?;
        Ok(SnsPublisher::new(aws_sdk_sns::Client::new(&aws.config), topic).with_attributes(self.attributes))
    }
}

/// Runs a function: `make` builds the handler from the environment once, at cold start;
/// outputs go where `outputs` says, idempotency records to `IDEMPOTENCY_TABLE`, parked
/// messages to `PARKING_QUEUE_URL`. A configuration error stops the cold start with a log line
/// naming the variable.
pub async fn run<O, H, F, Fut>(trigger: Trigger, outputs: O, make: F) -> Result<(), lambda_runtime::Error>
where
    O: Outputs,
    H: Handler + 'static,
    F: FnOnce(Aws) -> Fut,
    Fut: Future<Output = Result<H, ConfigError>>,
{
    observability::init_logging();
    let setup = async {
        let aws = Aws::load().await?;
        let publisher = outputs.publisher(&aws)?;
        let kit = aws.kit.clone();
        let config = aws.config.clone();
        let handler = make(aws).await?;
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), &kit.idempotency_table);
        let processor = Processor::new(
            &kit.function_name,
            handler,
            Idempotency::new(&kit.function_name, store).with_ttl(kit.idempotency_ttl),
            publisher,
            SqsParking::new(aws_sdk_sqs::Client::new(&config), &kit.parking_queue_url),
        )
        .with_limits(Limits {
            concurrency: kit.max_concurrency,
            deadline_margin: kit.deadline_margin,
        });
        Ok::<_, ConfigError>((kit.function_name, processor))
    };
    let (function, processor) = match setup.await {
        Ok(ready) => ready,
        Err(err) => {
            tracing::error!(error = %err, "configuration error");
            return Err(err.into());
        }
    };
    tracing::info!(function, ?trigger, "cold start: initialised");
    let metrics = observability::metrics(METRICS_NAMESPACE, &function)?;
    let processor = Arc::new(processor);
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, move |event: LambdaEvent<Value>| {
        let processor = Arc::clone(&processor);
        let invocation = Invocation::from_context(&event.context);
        let span = observability::invocation_span(&function, &invocation.request_id);
        async move { dispatch(trigger, &processor, event.payload, &invocation).await }.instrument(span)
    })
    .await
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HandlerError;
    use crate::publish::{InMemoryParking, InMemoryPublisher};
    use envelope::{Envelope, Registry};
    use idempotency::InMemoryStore;

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

//! The Lambda glue: one call in `main.rs` wires logging, configuration, the AWS adapters, the
//! processor and the runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use idempotency::{DynamoDbStore, Idempotency};
use lambda_runtime::{Context, LambdaEvent};
use tracing::Instrument;

use crate::config::{ConfigError, Env, KitConfig};
use crate::observability;
use crate::processor::{Handler, Invocation, Limits, Processor};
use crate::publish::{EventBridgePublisher, SqsParking};

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

impl Aws {
    /// Reads the environment and loads the AWS configuration.
    pub async fn load() -> Result<Self, ConfigError> {
        let env = Env::from_process();
        let kit = KitConfig::from_env(&env)?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let remaining = u128::from(context.deadline).saturating_sub(now_ms);
        Self::with_remaining(
            context.request_id.clone(),
            Duration::from_millis(u64::try_from(remaining).unwrap_or(u64::MAX)),
        )
    }
}

/// Runs an SQS-triggered function: `make` builds the handler from the environment once, at
/// cold start; outputs go to the bus in `EVENT_BUS_NAME`, idempotency records to
/// `IDEMPOTENCY_TABLE`, parked messages to `PARKING_QUEUE_URL`.
pub async fn run_sqs<H, F, Fut>(make: F) -> Result<(), lambda_runtime::Error>
where
    H: Handler + 'static,
    F: FnOnce(Aws) -> Fut,
    Fut: Future<Output = Result<H, ConfigError>>,
{
    observability::init_logging();
    let setup = async {
        let aws = Aws::load().await?;
        let bus = aws
            .env
            .required("EVENT_BUS_NAME", "the event bus outputs are published to")?;
        let kit = aws.kit.clone();
        let config = aws.config.clone();
        let handler = make(aws).await?;
        let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), &kit.idempotency_table);
        let processor = Processor::new(
            &kit.function_name,
            handler,
            Idempotency::new(&kit.function_name, store).with_ttl(kit.idempotency_ttl),
            EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus),
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
            // An init error: Lambda reports it and retries the cold start; the log says what to fix.
            tracing::error!(error = %err, "configuration error");
            return Err(err.into());
        }
    };
    let metrics = observability::metrics(METRICS_NAMESPACE, &function)?;
    let processor = Arc::new(processor);
    metrics_cloudwatch_embedded::lambda::handler::run(metrics, move |event: LambdaEvent<SqsEvent>| {
        let processor = Arc::clone(&processor);
        let invocation = Invocation::from_context(&event.context);
        let span = observability::invocation_span(&function, &invocation.request_id);
        async move {
            let response: SqsBatchResponse = processor.process_sqs(&event.payload, &invocation).await?;
            Ok::<_, lambda_runtime::Error>(response)
        }
        .instrument(span)
    })
    .await
}

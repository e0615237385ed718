//! The AWS platform and the Lambda glue: one call in `main.rs` ([`serve_records`],
//! [`serve_batches`] or [`serve_http`], whichever the function's trigger takes) wires logging,
//! the AWS adapters, the function's builder, its entry and the runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use idempotency::{Clock, DynamoDbStore, SystemClock};
use lambda_runtime::{Context, LambdaEvent};

use crate::aggregate::BatchHandler;
use crate::config::{ConfigError, Env};
use crate::dispatch::{self, Entry, PayloadOf, RecordTrigger};
use crate::function::{Bus, Function, Nowhere, Outputs, Setting, Topic};
use crate::http::HttpHandler;
use crate::invocation::Invocation;
use crate::observability;
use crate::platform::{Platform, PublishesTo};
use crate::publish::{EventBridgePublisher, InMemoryPublisher, SnsPublisher, SqsParking};
use crate::records::RecordHandler;
use crate::trigger::{FunctionUrl, SqsBatches, Trigger};

/// What `main` returns when a function cannot start or serve.
pub use lambda_runtime::Error;

/// The platform a function runs on in AWS: its environment and the SDK configuration, read
/// once at cold start.
#[derive(Debug, Clone)]
pub struct AwsPlatform {
    env: Env,
    config: SdkConfig,
    /// The one DynamoDB client of every table the function uses (idempotency and its ports'),
    /// built once, on first use (a function with no table builds none at cold start): a client
    /// per port rebuilt its configuration and runtime plugins each time.
    dynamodb: Arc<OnceLock<aws_sdk_dynamodb::Client>>,
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
            dynamodb: Arc::default(),
            env,
        })
    }

    /// The shared SDK configuration, for a domain's adapters (`aws_sdk_dynamodb::Client::new`).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The DynamoDB client every table of this platform is reached through.
    pub fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.config))
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
        DynamoDbStore::new(self.dynamodb().clone(), table)
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
        .in_trace(context.xray_trace_id.as_deref())
    }
}

/// Runs a function whose records are handled one by one (SQS, EventBridge or SNS) on Lambda;
/// `build` (its one composition root) once at cold start.
pub async fn serve_records<T, O, H, B>(function: &'static Function<T, O>, build: B) -> Result<(), Error>
where
    T: RecordTrigger,
    O: Outputs,
    AwsPlatform: PublishesTo<O>,
    H: RecordHandler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    serve(|platform| dispatch::records(platform, function, build(platform)?)).await
}

/// Runs a function whose SQS batches are taken whole (an aggregate), and the ticks of its
/// scheduled rule, on Lambda; `build` once at cold start.
pub async fn serve_batches<O, H, B>(function: &'static Function<SqsBatches, O>, build: B) -> Result<(), Error>
where
    O: Outputs,
    AwsPlatform: PublishesTo<O>,
    H: BatchHandler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    serve(|platform| dispatch::batches(platform, function, build(platform)?)).await
}

/// Runs an HTTP function behind a Function URL on Lambda, `build` once at cold start.
pub async fn serve_http<O, H, B>(function: &'static Function<FunctionUrl, O>, build: B) -> Result<(), Error>
where
    H: HttpHandler + 'static,
    B: FnOnce(&AwsPlatform) -> Result<H, ConfigError>,
{
    serve(|platform| Ok(dispatch::http(platform, function, build(platform)?))).await
}

/// What every entry point shares on Lambda: logging, the AWS platform and the entry at cold
/// start (a configuration error stops it with a log line naming the variable), then
/// [`run_entry`].
async fn serve<E: Entry>(make: impl FnOnce(&AwsPlatform) -> Result<E, ConfigError>) -> Result<(), Error> {
    observability::init_logging();
    let entry = AwsPlatform::load()
        .await
        .and_then(|platform| make(&platform))
        .map_err(|err| {
            tracing::error!(error = %err, "configuration error");
            Error::from(err)
        })?;
    tracing::info!(function = entry.name(), trigger = ?<E::Trigger as Trigger>::KIND, "cold start: initialised");
    run_entry(entry, write_to_stdout).await
}

/// Serves `entry`'s invocations from the Runtime API: each payload read once by the runtime
/// into the trigger's type and handed to [`dispatch::invoke`], its metrics measured apart and
/// handed to `emf` as it ends (CloudWatch reads them from stdout).
///
/// Several at once when Lambda sets `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances:
/// as many loops polling for work as it says), one at a time otherwise. What invocations share
/// is the entry, built once: its stores, publishers and caches are safe to share (`Entry` is
/// `Sync`), and an invocation's logs and metrics are its own (its span and its measuring scope
/// travel with its future, not with the process). The trace id comes from each invocation's
/// context: in that mode the runtime does not set `_X_AMZN_TRACE_ID`.
pub async fn run_entry<E: Entry>(entry: E, emf: fn(&[String])) -> Result<(), Error> {
    let entry = Arc::new(entry);
    let cold_start = Arc::new(AtomicBool::new(true));
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<PayloadOf<E>>| {
        let entry = Arc::clone(&entry);
        let cold_start = Arc::clone(&cold_start);
        async move {
            let invocation = Invocation::from_context(&event.context);
            let (result, measured) =
                observability::measure(dispatch::invoke(&*entry, event.payload, &invocation)).await;
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let first = cold_start.swap(false, Ordering::Relaxed);
            emf(&measured.emf(entry.name(), &invocation.request_id, first, now_ms));
            Ok::<_, Error>(result?)
        }
    });
    lambda_runtime::run_concurrent(service).await
}

/// Writes an invocation's EMF documents to stdout, whole lines under one lock: the log lines
/// of invocations running beside it never cut through them.
fn write_to_stdout(documents: &[String]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for document in documents {
        // Nothing to do if stdout is gone: Lambda would not read the metrics either.
        let _ = writeln!(out, "{document}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

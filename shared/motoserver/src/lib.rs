//! Test harness for adapter tests: a [moto](https://docs.getmoto.org) server in server mode on a
//! free loopback port, an AWS SDK configuration pointing at it, resources to test against, and
//! a log of the calls each client makes.
//!
//! `make test` installs moto into the project's `.venv`; the harness finds `moto_server` there,
//! or at `$MOTO_SERVER`, or on `PATH`.
//!
//! ```no_run
//! # async fn example() -> Result<(), motoserver::HarnessError> {
//! let moto = motoserver::shared()?;
//! let config = moto.sdk_config().await;
//! moto.create_table(&config, &motoserver::TableSpec::new("idempotency", "id").with_ttl("expiration")).await?;
//! # Ok(()) }
//! ```

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";

/// What can go wrong setting up the test environment; each message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// moto is not installed where the harness looks.
    #[error("moto_server not found ({looked}); run `make test`, which installs moto into .venv, or set MOTO_SERVER")]
    NotInstalled {
        /// Where the harness looked.
        looked: String,
    },
    /// The server process could not start or did not listen in time.
    #[error("moto_server did not start: {reason} (its log: {log})")]
    DidNotStart {
        /// What happened.
        reason: String,
        /// The server's log file.
        log: String,
    },
    /// Creating a test resource failed.
    #[error("could not create {resource}: {reason}")]
    Setup {
        /// The resource.
        resource: String,
        /// What the SDK said.
        reason: String,
    },
}

/// A running moto server. Dropping it stops it; [`shared`] gives one per test process.
#[derive(Debug)]
pub struct MotoServer {
    endpoint: String,
    watchdog: Child,
}

static SHARED: OnceLock<Result<MotoServer, String>> = OnceLock::new();

/// One server for the whole test process (starting moto takes a second or two). It stops
/// when the process ends: a watchdog shell beside it checks that the test process is alive.
/// Tests share it safely by using resource names of their own.
pub fn shared() -> Result<&'static MotoServer, HarnessError> {
    SHARED
        .get_or_init(|| MotoServer::start().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| HarnessError::DidNotStart {
            reason: reason.clone(),
            log: "see above".into(),
        })
}

impl MotoServer {
    /// Starts a server of its own on a free loopback port and waits until it listens.
    pub fn start() -> Result<Self, HarnessError> {
        let binary = find_moto()?;
        let port = free_port().map_err(|e| HarnessError::DidNotStart {
            reason: format!("no free loopback port: {e}"),
            log: String::new(),
        })?;
        let log_path = std::env::temp_dir().join(format!("moto-{port}.log"));
        let log = File::create(&log_path).map_err(|e| HarnessError::DidNotStart {
            reason: format!("cannot create its log: {e}"),
            log: log_path.display().to_string(),
        })?;
        let log_err = log.try_clone().map_err(|e| HarnessError::DidNotStart {
            reason: e.to_string(),
            log: log_path.display().to_string(),
        })?;
        // The watchdog ends moto when the test process is gone or when the watchdog is
        // told to stop, so no server outlives its tests, even after a panic or abort.
        let script = format!(
            "\"$0\" -H 127.0.0.1 -p {port} & moto=$!; trap 'kill $moto 2>/dev/null; exit 0' INT TERM EXIT; \
             while kill -0 {parent} 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 0.5; done",
            parent = std::process::id()
        );
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&binary)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| HarnessError::DidNotStart {
                reason: format!("cannot run {}: {e}", binary.display()),
                log: log_path.display().to_string(),
            })?;
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            let exited = server.watchdog.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(HarnessError::DidNotStart {
                    reason: if exited.is_some() {
                        "it exited".into()
                    } else {
                        "not listening after 60 s".into()
                    },
                    log: log_path.display().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SDK configuration for this server: test credentials, one region, short timeouts.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.endpoint).await
    }

    /// Creates a DynamoDB table (on-demand billing) as the template declares it.
    pub async fn create_table(&self, config: &SdkConfig, spec: &TableSpec) -> Result<(), HarnessError> {
        let client = aws_sdk_dynamodb::Client::new(config);
        let setup = |e: String| HarnessError::Setup {
            resource: format!("table {}", spec.name),
            reason: e,
        };
        let mut request = client
            .create_table()
            .table_name(&spec.name)
            .billing_mode(BillingMode::PayPerRequest);
        // An attribute's definition and its place in a key schema.
        let key = |name: &str, key_type: KeyType, scalar: ScalarAttributeType| {
            let definition = AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(scalar)
                .build()
                .map_err(|e| setup(e.to_string()))?;
            let element = KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| setup(e.to_string()))?;
            Ok::<_, HarnessError>((definition, element))
        };
        let keys = std::iter::once((&spec.partition_key, KeyType::Hash))
            .chain(spec.sort_key.as_ref().map(|k| (k, KeyType::Range)));
        for (name, key_type) in keys {
            let (definition, element) = key(name, key_type, ScalarAttributeType::S)?;
            request = request.attribute_definitions(definition).key_schema(element);
        }
        if let Some((index, partition, sort)) = &spec.index {
            let mut gsi = aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
                .index_name(index)
                .projection(
                    aws_sdk_dynamodb::types::Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::KeysOnly)
                        .build(),
                );
            for (name, key_type, scalar) in [
                (partition, KeyType::Hash, ScalarAttributeType::S),
                (sort, KeyType::Range, ScalarAttributeType::N),
            ] {
                let (definition, element) = key(name, key_type, scalar)?;
                request = request.attribute_definitions(definition);
                gsi = gsi.key_schema(element);
            }
            request = request.global_secondary_indexes(gsi.build().map_err(|e| setup(e.to_string()))?);
        }
        request
            .send()
            .await
            .map_err(|e| setup(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        if let Some(attribute) = &spec.ttl_attribute {
            let ttl = TimeToLiveSpecification::builder()
                .attribute_name(attribute)
                .enabled(true)
                .build()
                .map_err(|e| setup(e.to_string()))?;
            client
                .update_time_to_live()
                .table_name(&spec.name)
                .time_to_live_specification(ttl)
                .send()
                .await
                .map_err(|e| setup(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        }
        Ok(())
    }
}

impl MotoServer {
    /// Creates an SQS queue (FIFO when `name` ends with `.fifo`) and returns its URL.
    pub async fn create_queue(&self, config: &SdkConfig, name: &str) -> Result<String, HarnessError> {
        let client = aws_sdk_sqs::Client::new(config);
        let mut request = client.create_queue().queue_name(name);
        if name.ends_with(".fifo") {
            request = request.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let output = request.send().await.map_err(|e| HarnessError::Setup {
            resource: format!("queue {name}"),
            reason: aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
        })?;
        output.queue_url.ok_or_else(|| HarnessError::Setup {
            resource: format!("queue {name}"),
            reason: "no queue URL returned".into(),
        })
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the watchdog traps it and takes moto down with it.
        let _ = Command::new("kill").arg(self.watchdog.id().to_string()).status();
        let _ = self.watchdog.wait();
    }
}

/// SDK configuration whose endpoint refuses connections: a store or bus that cannot be reached.
/// One attempt and a short connect timeout keep such tests fast.
pub async fn unreachable_sdk_config() -> SdkConfig {
    // A port that was free a moment ago and has no listener now.
    let port = free_port().unwrap_or(9);
    sdk_config_for(&format!("http://127.0.0.1:{port}")).await
}

async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    // The same TLS stack the functions use (see handler_kit::lambda::http_client); plain HTTP
    // to moto does not touch it, but a client must be given once the default one is off.
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "motoserver"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await
}

/// A DynamoDB table's keys, as declared in the template (string keys).
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// Table name; make it unique per test.
    pub name: String,
    /// Partition key attribute.
    pub partition_key: String,
    /// Sort key attribute, if any.
    pub sort_key: Option<String>,
    /// TTL attribute, if any.
    pub ttl_attribute: Option<String>,
    /// A global secondary index, keys only: name, string partition key, number sort key.
    pub index: Option<(String, String, String)>,
}

impl TableSpec {
    /// A table with a string partition key.
    pub fn new(name: impl Into<String>, partition_key: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            partition_key: partition_key.into(),
            sort_key: None,
            ttl_attribute: None,
            index: None,
        }
    }

    /// With a keys-only global secondary index `name` on a string partition key and a number
    /// sort key.
    #[must_use]
    pub fn with_keys_only_index(
        mut self,
        name: impl Into<String>,
        partition_key: impl Into<String>,
        numeric_sort_key: impl Into<String>,
    ) -> Self {
        self.index = Some((name.into(), partition_key.into(), numeric_sort_key.into()));
        self
    }

    /// With a string sort key.
    #[must_use]
    pub fn with_sort_key(mut self, sort_key: impl Into<String>) -> Self {
        self.sort_key = Some(sort_key.into());
        self
    }

    /// With a TTL attribute.
    #[must_use]
    pub fn with_ttl(mut self, attribute: impl Into<String>) -> Self {
        self.ttl_attribute = Some(attribute.into());
        self
    }
}

/// Records the operation name of every request a client sends (each attempt counts), so tests
/// can assert how many calls an adapter makes. Add it with the client's `config::Builder::interceptor`.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<String>>>,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The operations sent since the last `take`, in order, and clears the log.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "unknown".to_owned(), |m| m.name().to_owned());
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(operation);
        Ok(())
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn find_moto() -> Result<PathBuf, HarnessError> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    let mut looked = Vec::new();
    if let Some(path) = std::env::var_os("MOTO_SERVER").map(PathBuf::from) {
        if path.is_file() {
            return Ok(path);
        }
        looked.push(format!("MOTO_SERVER={}", path.display()));
    }
    if venv.is_file() {
        return Ok(venv);
    }
    looked.push(venv.display().to_string());
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file());
    on_path.ok_or_else(|| {
        looked.push("PATH".into());
        HarnessError::NotInstalled {
            looked: looked.join(", "),
        }
    })
}

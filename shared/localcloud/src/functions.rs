//! The function registry: each function of the template (by its crate, `BuildProperties.Binary`)
//! mapped to its handler from the crate's library, built from the template's environment
//! variables with local adapters in place of the AWS ones, exactly where `main.rs` would put
//! the AWS ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use envelope::Registry;
use handler_kit::config::{ConfigError, Env, KitConfig};
use handler_kit::{Clock, Handler, Invocation, Limits, ManualClock, Processor};
use idempotency::{Idempotency, InMemoryStore};
use serde_json::{Value, json};

use crate::adapters::{
    Destination, Faulty, LedgerGateway, LocalParking, LocalPublisher, Outbox, SharedGateway, Tables,
};
use crate::faults::Dice;

/// A boxed invocation result: the response payload, or the function's error.
pub type Invoked<'a> = Pin<Box<dyn Future<Output = Result<Value, String>> + 'a>>;

/// A function running in process.
pub trait LocalFunction {
    /// Whether it consumes events of `event_type` (false for an HTTP function).
    fn consumes(&self, event_type: &str) -> bool;

    /// Runs one invocation on `payload`, as Lambda would deliver it.
    fn invoke<'a>(&'a self, payload: Value, request_id: &'a str, timeout: Duration) -> Invoked<'a>;
}

/// A function of the template, as the registry needs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Logical id.
    pub logical_id: String,
    /// Its deployed name (`FunctionName`), which scopes its idempotency records.
    pub name: String,
    /// The crate it is built from.
    pub binary: String,
    /// Its environment (Globals merged), as deployed.
    pub environment: Vec<(String, String)>,
    /// `Timeout`.
    pub timeout: Duration,
}

/// What the registry hands to every function.
#[derive(Debug, Clone)]
pub struct Wiring {
    /// Where sends go.
    pub outbox: Outbox,
    /// The tables.
    pub tables: Arc<Tables>,
    /// The dice for store faults.
    pub dice: Arc<Dice>,
    /// The payment gateway.
    pub gateway: Arc<LedgerGateway>,
    /// The virtual clock.
    pub clock: Arc<ManualClock>,
    /// Each queue's size limit, by URL.
    pub queue_limits: std::collections::HashMap<String, usize>,
    /// The names of the template's buses.
    pub buses: Vec<String>,
    /// The ARNs of the template's topics.
    pub topics: Vec<String>,
}

/// `value` of `variable` if `known` has it: a function configured to send where the template
/// has nothing is refused when it is built, not found out when its sends vanish.
fn known(variable: &str, value: String, known: &[String], what: &str) -> Result<String, ConfigError> {
    if known.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Malformed {
            name: variable.to_owned(),
            value,
            reason: format!("names no {what} of the template"),
        })
    }
}

/// A function the registry cannot build.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No handler for this crate.
    #[error("{function}: no local handler for crate '{binary}' (add it to localcloud's function registry)")]
    Unknown {
        /// Logical id.
        function: String,
        /// The crate.
        binary: String,
    },
    /// Its environment is incomplete or malformed.
    #[error("{function}: {source}")]
    Config {
        /// Logical id.
        function: String,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
}

/// The crates the registry can run.
pub const KNOWN: &[&str] = &[
    "order-api",
    "reserve-inventory",
    "process-payment",
    "release-inventory",
    "ship-order",
    "order-projection",
    "notify-customer",
];

/// The environment variable naming where a crate's function publishes (a bus name or a topic
/// ARN), or `None` if it publishes nothing.
pub fn publishes_to(binary: &str) -> Option<&'static str> {
    match binary {
        "order-projection" => None,
        "notify-customer" => Some("NOTIFICATIONS_TOPIC_ARN"),
        _ => Some("EVENT_BUS_NAME"),
    }
}

/// Builds the function of `spec`.
pub fn build(spec: &FunctionSpec, wiring: &Wiring) -> Result<Box<dyn LocalFunction>, RegistryError> {
    let config = |source| RegistryError::Config {
        function: spec.logical_id.clone(),
        source,
    };
    let env = Env::from_pairs(
        spec.environment
            .iter()
            .cloned()
            .chain([("AWS_LAMBDA_FUNCTION_NAME".to_owned(), spec.name.clone())]),
    );
    let clock: Arc<dyn Clock> = wiring.clock.clone();
    let bus = || -> Result<Destination, RegistryError> {
        let name = env
            .required("EVENT_BUS_NAME", "the event bus outputs are published to")
            .and_then(|name| known("EVENT_BUS_NAME", name, &wiring.buses, "event bus"))
            .map_err(config)?;
        Ok(Destination::Bus(name))
    };
    let table = |variable: &str, purpose: &str| env.required(variable, purpose).map_err(config);
    let inventory = || -> Result<_, RegistryError> {
        let name = table("INVENTORY_TABLE", "the DynamoDB table of stock per sku")?;
        Ok(Faulty::new(wiring.tables.inventory(&name), Arc::clone(&wiring.dice)))
    };
    let views = || -> Result<_, RegistryError> {
        let name = table("ORDERS_TABLE", "order-tracking views")?;
        Ok(Faulty::new(wiring.tables.views(&name), Arc::clone(&wiring.dice)))
    };
    let events = |handler, destination| -> Result<Box<dyn LocalFunction>, RegistryError> {
        Ok(Box::new(
            events_function(handler, destination, &env, wiring).map_err(config)?,
        ))
    };
    match spec.binary.as_str() {
        "order-api" => {
            let kit_ttl = Duration::from_secs(env.parsed("IDEMPOTENCY_TTL_SECONDS", 3600).map_err(config)?);
            let store = table("IDEMPOTENCY_TABLE", "idempotency records")?;
            let api = order_api::OrderApi::new(
                LocalPublisher::new(wiring.outbox.clone(), bus()?),
                Idempotency::new(
                    "order-api",
                    Faulty::new(wiring.tables.idempotency(&store), Arc::clone(&wiring.dice)),
                )
                .with_ttl(kit_ttl)
                .with_clock(clock.clone()),
                views()?,
                clock,
            );
            Ok(Box::new(HttpFunction(api)))
        }
        "reserve-inventory" => events(
            Box::new(reserve_inventory::ReserveInventory::new(inventory()?, clock)) as _,
            bus()?,
        ),
        "process-payment" => events(
            Box::new(process_payment::ProcessPayment::new(
                SharedGateway(Arc::clone(&wiring.gateway)),
                clock,
            )) as _,
            bus()?,
        ),
        "release-inventory" => events(
            Box::new(release_inventory::ReleaseInventory::new(inventory()?, clock)) as _,
            bus()?,
        ),
        "ship-order" => events(Box::new(ship_order::ShipOrder::new(clock)) as _, bus()?),
        "order-projection" => events(
            Box::new(order_projection::OrderProjection::new(views()?)) as _,
            // The projection publishes nothing; its main.rs still wires the bus.
            Destination::Bus(env.optional("EVENT_BUS_NAME").unwrap_or_default()),
        ),
        "notify-customer" => events(
            Box::new(notify_customer::NotifyCustomer::new(clock)) as _,
            Destination::Topic(
                known(
                    "NOTIFICATIONS_TOPIC_ARN",
                    table("NOTIFICATIONS_TOPIC_ARN", "the SNS topic outputs are published to")?,
                    &wiring.topics,
                    "topic",
                )
                .map_err(config)?,
                Some(notify_customer::attributes),
            ),
        ),
        other => Err(RegistryError::Unknown {
            function: spec.logical_id.clone(),
            binary: other.to_owned(),
        }),
    }
}

/// A handler of any crate, boxed so the registry can hold them together.
type BoxedHandler = Box<dyn DynHandler>;

/// What a boxed handler's `handle` returns.
type Handled<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<envelope::Envelope<Value>>, handler_kit::HandlerError>> + Send + 'a>>;

/// [`Handler`] without its generic future, so handlers of different crates fit one box.
trait DynHandler: Send + Sync {
    fn event_types(&self) -> Registry;
    fn handle(&self, event: envelope::Envelope<Value>) -> Handled<'_>;
}

impl<H: Handler> DynHandler for H {
    fn event_types(&self) -> Registry {
        Handler::event_types(self)
    }

    fn handle(&self, event: envelope::Envelope<Value>) -> Handled<'_> {
        Box::pin(Handler::handle(self, event))
    }
}

struct Boxed(BoxedHandler);

impl Handler for Boxed {
    fn event_types(&self) -> Registry {
        self.0.event_types()
    }

    async fn handle(
        &self,
        event: envelope::Envelope<Value>,
    ) -> Result<Vec<envelope::Envelope<Value>>, handler_kit::HandlerError> {
        self.0.handle(event).await
    }
}

/// An event-driven function: the kit's processor with local adapters, as `lambda::run` builds it.
struct EventsFunction {
    processor: Processor<Boxed, Faulty<InMemoryStore>, LocalPublisher, LocalParking>,
    registry: Registry,
}

fn events_function(
    handler: BoxedHandler,
    destination: Destination,
    env: &Env,
    wiring: &Wiring,
) -> Result<EventsFunction, ConfigError> {
    let kit = KitConfig::from_env(env)?;
    let parking_limit = *wiring
        .queue_limits
        .get(&kit.parking_queue_url)
        .ok_or_else(|| ConfigError::Malformed {
            name: "PARKING_QUEUE_URL".into(),
            value: kit.parking_queue_url.clone(),
            reason: "names no queue of the template".into(),
        })?;
    let registry = handler.event_types();
    let store = Faulty::new(
        wiring.tables.idempotency(&kit.idempotency_table),
        Arc::clone(&wiring.dice),
    )
    .with_crashes();
    let processor = Processor::new(
        &kit.function_name,
        Boxed(handler),
        Idempotency::new(&kit.function_name, store)
            .with_ttl(kit.idempotency_ttl)
            .with_clock(wiring.clock.clone()),
        LocalPublisher::new(wiring.outbox.clone(), destination).with_slow_calls(Arc::clone(&wiring.dice)),
        LocalParking::new(wiring.outbox.clone(), &kit.parking_queue_url, parking_limit),
    )
    .with_limits(Limits {
        concurrency: kit.max_concurrency,
        // The margin the function has in AWS: invocations take tokio time only where a fault
        // makes a call slow, and must then answer before the template's timeout as there.
        deadline_margin: kit.deadline_margin,
    });
    Ok(EventsFunction { processor, registry })
}

impl LocalFunction for EventsFunction {
    fn consumes(&self, event_type: &str) -> bool {
        self.registry.knows(event_type)
    }

    fn invoke<'a>(&'a self, payload: Value, request_id: &'a str, timeout: Duration) -> Invoked<'a> {
        Box::pin(async move {
            let invocation = Invocation::with_remaining(request_id, timeout);
            let source = payload
                .pointer("/Records/0/eventSource")
                .or_else(|| payload.pointer("/Records/0/EventSource"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let not_a = |what: &str, e: serde_json::Error| format!("payload is not {what}: {e}");
            match source.as_deref() {
                Some("aws:sqs") => {
                    let event: SqsEvent = serde_json::from_value(payload).map_err(|e| not_a("an SQS event", e))?;
                    let response = self
                        .processor
                        .process_sqs(&event, &invocation)
                        .await
                        .map_err(|e| e.to_string())?;
                    serde_json::to_value(response).map_err(|e| e.to_string())
                }
                Some("aws:sns") => {
                    let event: SnsEvent = serde_json::from_value(payload).map_err(|e| not_a("an SNS event", e))?;
                    self.processor
                        .process_sns(&event, &invocation)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Value::Null)
                }
                _ if payload.get("detail-type").is_some() => {
                    let event: EventBridgeEvent<Value> =
                        serde_json::from_value(payload).map_err(|e| not_a("an EventBridge event", e))?;
                    self.processor
                        .process_eventbridge(event, &invocation)
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(Value::Null)
                }
                _ => Err("payload is neither an SQS, SNS nor EventBridge event".to_owned()),
            }
        })
    }
}

/// An HTTP function behind a Function URL.
struct HttpFunction(
    order_api::OrderApi<LocalPublisher, Faulty<InMemoryStore>, Faulty<order_stores::InMemoryOrderViews>>,
);

impl LocalFunction for HttpFunction {
    fn consumes(&self, _event_type: &str) -> bool {
        false
    }

    fn invoke<'a>(&'a self, payload: Value, _request_id: &'a str, _timeout: Duration) -> Invoked<'a> {
        Box::pin(async move {
            let request: lambda_http::request::LambdaRequest = serde_json::from_value(payload)
                .map_err(|e| format!("payload is not a Function URL / API Gateway request: {e}"))?;
            let request: lambda_http::Request = request.into();
            let response = self
                .0
                .handle(&order_api::ApiRequest::from_http(&request))
                .await
                .into_http();
            let headers: serde_json::Map<String, Value> = response
                .headers()
                .iter()
                .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or_default())))
                .collect();
            let body = match response.body() {
                lambda_http::Body::Text(text) => text.clone(),
                lambda_http::Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => String::new(),
            };
            Ok(json!({
                "statusCode": response.status().as_u16(),
                "headers": headers,
                "body": body,
                "isBase64Encoded": false,
            }))
        })
    }
}

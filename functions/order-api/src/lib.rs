//! order-api: the HTTP producer behind a Lambda Function URL.
//!
//! - `POST /orders`: validates the order and publishes `OrderPlaced`; `202` with the order id.
//!   `400` with a problem-details body naming every invalid field; `413` over the body limit.
//!   With an `Idempotency-Key` header, a retried request gets the first response and places
//!   nothing twice; the same key with another body is `422`, and while the first request is
//!   still running, `409`.
//! - `GET /orders/{id}`: the order's tracking view, or `404`. With `?asOf=<RFC 3339>`: the
//!   view as it was at that instant (event time), folded from the order's stream in the event
//!   store with the projection's rule; `404` if nothing had happened to it by then.
//! - `GET /orders/{id}/history`: the order's stream, every event as it was sent, in order,
//!   personal fields (contact, address, payment token) redacted.
//!
//! The customer's name, email and shipping address and the payment token are sealed field by
//! field ([`FIELD_KEY`]) before `OrderPlaced` leaves: the bus and everything after it carry
//! ciphertext, and this function may seal but not open them.
//!
//! State: it reads `ORDERS_TABLE` (the present: the tracking views) and the order's stream in
//! `EVENT_STORE_TABLE` (the past), and keeps its responses by `Idempotency-Key`.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use envelope::{Envelope, Metadata, TraceContext};
use event_store::{EventStore, EventStorePort};
use field_crypto::{FieldCipher, KeyService};
use handler_kit::config::{ConfigError, Env};
use handler_kit::publish::Publisher;
use handler_kit::trigger::FunctionUrl;
use handler_kit::{Bus, Clock, FieldKeysPort, Function, HttpHandler, Platform, PublishesTo, Setting};
use idempotency::{Idempotency, IdempotencyError, Store};
use order_stores::{OrderViews, ViewsPort};
use orders::events::personal;
use orders::lifecycle::OrderView;
use orders::validation::validate_order;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long a request holds its `Idempotency-Key` if its invocation dies: the function's timeout
/// (10 s in the template) and a margin.
const HOLD: std::time::Duration = std::time::Duration::from_secs(15);

/// How long placing an order may wait for the bus: well inside the function's 10 s timeout,
/// so a slow bus is answered 503 (the client retries with the same key) rather than the
/// invocation being killed mid-request.
const PUBLISH_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest order body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Namespace of order ids derived from idempotency keys; fixed, or retries get new ids.
const ORDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3c0f_5b7e_2a19_4d86_b1e4_7f20_9a6c_d851);

/// An HTTP answer, as stored for idempotent retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// `Location`, for a created resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl ApiResponse {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            location: None,
        }
    }

    /// An RFC 9457 problem-details answer.
    fn problem(status: u16, title: &str, detail: impl Into<String>) -> Self {
        Self::json(status, handler_kit::http::problem(status, title, detail))
    }

    /// As the Function URL response Lambda returns.
    pub fn into_function_url(self) -> LambdaFunctionUrlResponse {
        handler_kit::http::json_response(self.status, &self.body, self.location.as_deref())
    }
}

/// The request parts the API reads, independent of the HTTP library.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/orders/o-1`.
    pub path: String,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// `X-Correlation-Id` header.
    pub correlation_id: Option<String>,
    /// `traceparent` header.
    pub traceparent: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The `asOf` query parameter.
    pub as_of: Option<String>,
}

impl ApiRequest {
    /// The parts of a Function URL request the API reads.
    pub fn from_function_url(request: &LambdaFunctionUrlRequest) -> Self {
        let as_of = request.query_string_parameters.get("asOf").cloned();
        let request = handler_kit::http::Request::from_function_url(request);
        let header = |name: &str| request.header(name).map(str::to_owned);
        Self {
            idempotency_key: header("idempotency-key"),
            correlation_id: header("x-correlation-id"),
            traceparent: header("traceparent"),
            method: request.method,
            path: request.path,
            body: request.body,
            as_of,
        }
    }
}

/// The order API over its ports.
pub struct OrderApi<P, S, V, E, K> {
    publisher: P,
    idempotency: Idempotency<S>,
    views: V,
    events: E,
    cipher: FieldCipher<K>,
    clock: Arc<dyn Clock>,
}

/// The order API's ports.
pub struct Ports<P, S, V, E, K> {
    /// Where `OrderPlaced` goes.
    pub publisher: P,
    /// Responses kept by `Idempotency-Key`.
    pub idempotency: Idempotency<S>,
    /// The tracking views: the present.
    pub views: V,
    /// The event store: the past.
    pub events: E,
    /// What seals personal fields.
    pub cipher: FieldCipher<K>,
}

impl<P: Publisher, S: Store, V: OrderViews, E: EventStore, K: KeyService> OrderApi<P, S, V, E, K> {
    /// An API over `ports`, with event times from `clock`.
    pub fn new(ports: Ports<P, S, V, E, K>, clock: Arc<dyn Clock>) -> Self {
        Self {
            publisher: ports.publisher,
            idempotency: ports.idempotency,
            views: ports.views,
            events: ports.events,
            cipher: ports.cipher,
            clock,
        }
    }

    /// The publisher, e.g. to inspect an in-memory one.
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// Answers one request.
    pub async fn handle(&self, request: &ApiRequest) -> ApiResponse {
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["orders"]) => self.place(request).await,
            ("GET", ["orders", id]) => match &request.as_of {
                None => self.track(id).await,
                Some(as_of) => self.track_as_of(id, as_of).await,
            },
            ("GET", ["orders", id, "history"]) => self.history(id).await,
            (_, ["orders"] | ["orders", _] | ["orders", _, "history"]) => ApiResponse::problem(
                405,
                "Method Not Allowed",
                format!("{} {} is not served", request.method, request.path),
            ),
            _ => ApiResponse::problem(404, "Not Found", format!("no resource at {}", request.path)),
        }
    }

    async fn track(&self, order_id: &str) -> ApiResponse {
        match self.views.get(order_id).await {
            Ok(Some(view)) => ApiResponse::json(200, serde_json::to_value(view).unwrap_or_default()),
            Ok(None) => ApiResponse::problem(404, "Not Found", format!("no order {order_id}")),
            Err(err) => {
                tracing::error!(error = %err, "order views unavailable");
                ApiResponse::problem(
                    503,
                    "Service Unavailable",
                    "order tracking is unavailable; retry shortly",
                )
            }
        }
    }

    /// The order's stream, or the answer when there is none to give.
    async fn stream(&self, order_id: &str) -> Result<Vec<event_store::StoredEvent>, ApiResponse> {
        let stream = event_store::stream_of(orders::events::SOURCE, order_id);
        match self.events.stream(&stream).await {
            Ok(events) if events.is_empty() => {
                Err(ApiResponse::problem(404, "Not Found", format!("no order {order_id}")))
            }
            Ok(events) => Ok(events),
            Err(err) => {
                tracing::error!(error = %err, "event store unavailable");
                Err(ApiResponse::problem(
                    503,
                    "Service Unavailable",
                    "order history is unavailable; retry shortly",
                ))
            }
        }
    }

    async fn track_as_of(&self, order_id: &str, as_of: &str) -> ApiResponse {
        // A `+` offset sent unencoded in a query string arrives as a space.
        let as_of = &as_of.replace(' ', "+");
        let instant = match chrono::DateTime::parse_from_rfc3339(as_of) {
            Ok(instant) => instant.with_timezone(&chrono::Utc),
            Err(err) => {
                return ApiResponse::problem(
                    400,
                    "Bad Request",
                    format!("asOf: '{as_of}' is not an RFC 3339 date-time with an offset ({err})"),
                );
            }
        };
        let stream = match self.stream(order_id).await {
            Ok(stream) => stream,
            Err(answer) => return answer,
        };
        let past = event_store::history::as_of(&stream, instant).map(|e| e.envelope.clone());
        match OrderView::fold(past) {
            Ok(Some(view)) => ApiResponse::json(200, serde_json::to_value(view).unwrap_or_default()),
            Ok(None) => ApiResponse::problem(404, "Not Found", format!("order {order_id} did not exist at {as_of}")),
            Err(err) => {
                tracing::error!(error = %err, order_id, "a stored event cannot be read");
                ApiResponse::problem(500, "Internal Server Error", format!("order {order_id}: {err}"))
            }
        }
    }

    async fn history(&self, order_id: &str) -> ApiResponse {
        match self.stream(order_id).await {
            Ok(stream) => {
                let events: Vec<Value> = stream
                    .iter()
                    .map(|e| {
                        let mut event = serde_json::to_value(&e.envelope).unwrap_or_default();
                        redact(&mut event["data"]);
                        json!({ "position": e.position, "archivedAt": e.archived_at, "event": event })
                    })
                    .collect();
                ApiResponse::json(200, json!({ "orderId": order_id, "events": events }))
            }
            Err(answer) => answer,
        }
    }

    async fn place(&self, request: &ApiRequest) -> ApiResponse {
        if request.body.len() > MAX_BODY_BYTES {
            return ApiResponse::problem(
                413,
                "Payload Too Large",
                format!(
                    "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    request.body.len()
                ),
            );
        }
        let order: Value = match serde_json::from_slice(&request.body) {
            Ok(order) => order,
            Err(err) => return ApiResponse::problem(400, "Bad Request", format!("the body is not valid JSON: {err}")),
        };
        let Some(key) = &request.idempotency_key else {
            return self
                .accept(request, Uuid::new_v4(), &order)
                .await
                .unwrap_or_else(|failure| failure);
        };
        if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return ApiResponse::problem(
                400,
                "Bad Request",
                "Idempotency-Key must be 1 to 128 visible ASCII characters",
            );
        }
        // The id comes from the key and the body: a key reused with another body, even after its
        // record expired, can never give a second order the first one's id.
        let hash = idempotency::PayloadHash::of(&order).map(|h| h.0).unwrap_or_default();
        let id = Uuid::new_v5(&ORDER_ID_NAMESPACE, format!("{key}\n{hash}").as_bytes());
        let outcome = self
            .idempotency
            .execute(key, &order, HOLD, || self.accept(request, id, &order))
            .await;
        match outcome {
            Ok(outcome) => outcome.into_result(),
            Err(IdempotencyError::Work(failure)) => failure,
            Err(IdempotencyError::PayloadMismatch { .. }) => ApiResponse::problem(
                422,
                "Unprocessable Content",
                "this Idempotency-Key was used with a different body",
            ),
            Err(IdempotencyError::InProgress { .. }) => ApiResponse::problem(
                409,
                "Conflict",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ),
            Err(err) => {
                tracing::error!(error = ?err, "idempotency store unavailable");
                ApiResponse::problem(
                    503,
                    "Service Unavailable",
                    "orders cannot be accepted right now; retry with the same Idempotency-Key",
                )
            }
        }
    }

    /// Validates and publishes. `Err` is an answer that must not be remembered (the order was
    /// not placed, so a retry should try again).
    async fn accept(&self, request: &ApiRequest, id: Uuid, order: &Value) -> Result<ApiResponse, ApiResponse> {
        let order_id = format!("o-{}", id.simple());
        let valid = match validate_order(&order_id, order) {
            Ok(valid) => valid,
            Err(errors) => {
                let mut problem =
                    ApiResponse::problem(400, "Bad Request", format!("{} invalid field(s)", errors.len()));
                problem.body["errors"] = serde_json::to_value(errors).unwrap_or_default();
                return Ok(problem);
            }
        };
        let placed = valid.seal(&self.cipher).await.map_err(|err| {
            // The error names the field, never its value. Not kept for the key: a retry may pass.
            tracing::error!(error = %err, "personal fields not sealed");
            let (status, title) = if err.is_transient() {
                (503, "Service Unavailable")
            } else {
                (500, "Internal Server Error")
            };
            ApiResponse::problem(
                status,
                title,
                "the order could not be placed; retry with the same Idempotency-Key",
            )
        })?;
        let event_id = Metadata::derived_id(id, "OrderPlaced", 0);
        let mut envelope = Envelope::with_id(event_id, &order_id, self.clock.now(), placed).with_sequence(1);
        if let Some(correlation_id) = &request.correlation_id {
            envelope = envelope.with_correlation_id(correlation_id.clone());
        }
        if let Some(traceparent) = &request.traceparent {
            envelope = envelope.with_trace(TraceContext {
                traceparent: traceparent.clone(),
                tracestate: None,
            });
        }
        if let Err(err) = envelope.metadata.validate(&envelope::Location::root().field("headers")) {
            return Ok(ApiResponse::problem(400, "Bad Request", err.to_string()));
        }
        let untyped = envelope
            .to_untyped()
            .map_err(|e| ApiResponse::problem(500, "Internal Server Error", e.to_string()))?;
        handler_kit::observability::record_correlation(&untyped.metadata.correlation_id);
        let published = tokio::time::timeout(PUBLISH_BUDGET, self.publisher.publish(std::slice::from_ref(&untyped)))
            .await
            .unwrap_or_else(|_| {
                Err(handler_kit::publish::PublishError {
                    total: 1,
                    failed: vec![handler_kit::publish::FailedEntry {
                        index: 0,
                        code: "Timeout".into(),
                        message: format!("not confirmed within {} s", PUBLISH_BUDGET.as_secs()),
                        permanent: false,
                    }],
                })
            });
        if let Err(err) = published {
            tracing::error!(error = %err, "OrderPlaced not published");
            return Err(ApiResponse::problem(
                503,
                "Service Unavailable",
                "the order could not be placed; retry with the same Idempotency-Key",
            ));
        }
        tracing::info!(order_id, event_id = %event_id, "order placed");
        Ok(ApiResponse {
            status: 202,
            body: json!({ "orderId": order_id, "status": "placed" }),
            location: Some(format!("/orders/{order_id}")),
        })
    }
}

impl<P: Publisher, S: Store, V: OrderViews, E: EventStore, K: KeyService> HttpHandler for OrderApi<P, S, V, E, K> {
    async fn handle(&self, request: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        OrderApi::handle(self, &ApiRequest::from_function_url(&request))
            .await
            .into_function_url()
    }
}

/// Fields a history never shows: personal ones, sealed (or in clear, from before sealing).
const SECRET_FIELDS: &[&str] = &["paymentToken", "contact", "shippingAddress"];

/// `data` with every secret field's value replaced, at any depth.
fn redact(data: &mut Value) {
    match data {
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                if SECRET_FIELDS.contains(&name.as_str()) {
                    *value = Value::String("(redacted)".to_owned());
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// The table of order-tracking views.
pub const ORDERS_TABLE: handler_kit::Setting =
    handler_kit::Setting::table("ORDERS_TABLE", "the DynamoDB table of order-tracking views");

/// order-api, declared once: Function URL requests in, `OrderPlaced` to the bus, views read
/// from `ORDERS_TABLE`, responses kept by `Idempotency-Key` in `IDEMPOTENCY_TABLE`.
pub const FUNCTION: Function<FunctionUrl, Bus> = Function {
    name: "order-api",
    trigger: FunctionUrl,
    outputs: Bus {
        sources: &[orders::events::SOURCE],
    },
    settings: &[
        ORDERS_TABLE.calls(&["dynamodb:GetItem"]),
        // One order's stream, for `?asOf=` and `/history`.
        EVENT_STORE_TABLE.calls(&["dynamodb:Query"]),
        // Its own: responses kept by Idempotency-Key.
        handler_kit::function::IDEMPOTENCY_TABLE,
        IDEMPOTENCY_TTL,
        FIELD_KEY,
    ],
    // Records are not what it handles; its idempotency table is among its settings.
    idempotent: false,
};

/// The event store, for the past: as-of views and histories.
pub const EVENT_STORE_TABLE: handler_kit::Setting = handler_kit::Setting::table(
    "EVENT_STORE_TABLE",
    "the event store (order streams, for asOf and history)",
);

/// How long a response answers a retried request with the same `Idempotency-Key`.
pub const IDEMPOTENCY_TTL: handler_kit::Setting =
    handler_kit::Setting::value("IDEMPOTENCY_TTL_SECONDS", "how long responses answer retried requests").optional();

/// The personal fields an order carries, each sealed for itself.
pub const SEALED_FIELDS: &[&str] = &[
    personal::CUSTOMER_NAME,
    personal::CUSTOMER_EMAIL,
    personal::SHIPPING_ADDRESS,
    personal::PAYMENT_TOKEN,
];

/// The key personal fields are sealed under: this function asks it for data keys, and may not
/// decrypt them.
pub const FIELD_KEY: Setting = Setting::key("FIELD_KEY_ID", "the KMS key personal fields are sealed under")
    .calls(&[field_crypto::GENERATE_DATA_KEY])
    .fields(SEALED_FIELDS);

/// The API as built on `P`.
pub type OrderApiOn<P> = OrderApi<
    <P as PublishesTo<Bus>>::Publisher,
    <P as Platform>::Store,
    <P as ViewsPort>::Views,
    <P as EventStorePort>::Events,
    <P as FieldKeysPort>::Keys,
>;

/// The function's one composition root, on any platform.
pub fn build<P: PublishesTo<Bus> + ViewsPort + EventStorePort + FieldKeysPort>(
    platform: &P,
) -> Result<OrderApiOn<P>, ConfigError> {
    let env: &Env = platform.env();
    let ttl = std::time::Duration::from_secs(env.parsed("IDEMPOTENCY_TTL_SECONDS", 3600)?);
    let store = platform.idempotency_store(&platform.setting(&handler_kit::function::IDEMPOTENCY_TABLE)?);
    let ports = Ports {
        publisher: platform.publisher(&FUNCTION.outputs)?,
        // Scoped by the crate's name: responses survive a redeploy that renames the function.
        idempotency: Idempotency::new(FUNCTION.name, store)
            .with_ttl(ttl)
            .with_clock(platform.clock()),
        views: platform.views(&platform.setting(&ORDERS_TABLE)?)?,
        events: platform.event_store(&platform.setting(&EVENT_STORE_TABLE)?)?,
        cipher: platform.field_cipher(&FIELD_KEY)?,
    };
    Ok(OrderApi::new(ports, platform.clock()))
}

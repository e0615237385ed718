//! order-api on its Function URL samples, with in-memory adapters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use event_store::{EventStore, InMemoryEventStore, StoredEvent};
use field_crypto::{FieldCipher, LocalKeys, LocalMasterKey};
use handler_kit::ManualClock;
use handler_kit::publish::InMemoryPublisher;
use idempotency::{Idempotency, InMemoryStore};
use order_api::{ApiRequest, MAX_BODY_BYTES, OrderApi, Ports};
use order_stores::{InMemoryOrderViews, OrderViews};
use orders::lifecycle::{Applied, OrderEvent, OrderView};
use serde_json::Value;

type Api = OrderApi<InMemoryPublisher, InMemoryStore, InMemoryOrderViews, InMemoryEventStore, LocalKeys>;

/// The cipher with the function's declared grants on a local master key.
fn cipher() -> FieldCipher<LocalKeys> {
    cipher_of_instance(0)
}

/// The cipher of Lambda instance `instance`: the same master key, data keys of its own.
fn cipher_of_instance(instance: u64) -> FieldCipher<LocalKeys> {
    let key = &order_api::FIELD_KEY;
    let master = Arc::new(LocalMasterKey::new("FieldKey").starting_at(instance << 32));
    FieldCipher::new(LocalKeys::new(master, "order-api", key.actions, key.fields))
}

fn api_over(
    idempotency: Idempotency<InMemoryStore>,
    views: InMemoryOrderViews,
    events: InMemoryEventStore,
    clock: Arc<ManualClock>,
) -> Api {
    let ports = Ports {
        publisher: InMemoryPublisher::new(),
        idempotency,
        views,
        events,
        cipher: cipher(),
    };
    OrderApi::new(ports, clock)
}

fn api() -> Api {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 4, 45, 0).unwrap()));
    api_over(
        Idempotency::new("order-api", InMemoryStore::new()),
        InMemoryOrderViews::new(),
        InMemoryEventStore::new(),
        clock,
    )
}

/// A small valid order body.
fn small_order() -> Vec<u8> {
    br#"{"customerId":"c-1","customerName":"Grace Hopper","customerEmail":"grace@example.com",
        "shippingAddress":{"line1":"1 Navy Way","city":"Arlington","postalCode":"22201","country":"US"},
        "currency":"EUR","lines":[{"sku":"SKU-LAMP","quantity":1,"unitPrice":1}],"total":1}"#
        .to_vec()
}

fn sample(name: &str) -> ApiRequest {
    let path = format!("{}/../../events/orders/order-api/{name}", env!("CARGO_MANIFEST_DIR"));
    let request = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    ApiRequest::from_function_url(&request)
}

#[tokio::test]
async fn given_a_valid_order_then_202_and_order_placed_is_published_once_however_often_it_is_retried() {
    let api = api();
    let request = sample("post-order.function-url.json");
    let first = api.handle(&request).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let order_id = first.body["orderId"].as_str().unwrap().to_owned();
    assert_eq!(first.location.as_deref(), Some(format!("/orders/{order_id}").as_str()));

    let retried = api.handle(&request).await;
    assert_eq!(
        retried, first,
        "a retry with the same Idempotency-Key gets the same answer"
    );
    let published = api.publisher().published();
    assert_eq!(published.len(), 1);
    let placed = &published[0];
    assert_eq!(
        (placed.metadata.event_type.as_str(), placed.metadata.sequence),
        ("OrderPlaced", Some(1))
    );
    assert_eq!(placed.data["orderId"], order_id.as_str());
    assert_eq!(placed.data["total"], 3399);
    // Every personal field is sealed: none of the request's personal values is on the bus.
    let request_body: Value = serde_json::from_slice(&request.body).unwrap();
    let published_text = placed.data.to_string();
    for field in ["customerName", "customerEmail", "paymentToken"] {
        let clear = request_body[field].as_str().unwrap();
        assert!(!published_text.contains(clear), "{field} in clear: {published_text}");
    }
    for part in request_body["shippingAddress"].as_object().unwrap().values() {
        assert!(!published_text.contains(part.as_str().unwrap()), "{part} in clear");
    }
    assert!(placed.data["customer"]["contact"]["email"]["ciphertext"].is_string());

    let mut other_body = request.clone();
    other_body.body = small_order();
    assert_eq!(api.handle(&other_body).await.status, 422);
}

#[tokio::test]
async fn given_invalid_fields_then_400_names_each_of_them() {
    let response = api().handle(&sample("post-order-invalid.function-url.json")).await;
    assert_eq!(response.status, 400);
    let fields: Vec<&str> = response.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "customerName",
            "customerEmail",
            "shippingAddress",
            "currency",
            "lines[0].quantity",
            "lines[1].sku",
            "lines[1].unitPrice"
        ]
    );
    let http = response.into_function_url();
    assert_eq!(http.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn given_a_body_over_the_limit_then_413_and_given_no_json_then_400() {
    let api = api();
    let mut request = sample("post-order.function-url.json");
    request.body = vec![b' '; MAX_BODY_BYTES + 1];
    assert_eq!(api.handle(&request).await.status, 413);
    request.body = b"{\"customerId\": ".to_vec();
    let response = api.handle(&request).await;
    assert_eq!(response.status, 400);
    assert!(response.body["detail"].as_str().unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn given_the_bus_is_down_then_503_and_a_retry_with_the_same_key_places_the_order() {
    let api = api();
    let request = sample("post-order.function-url.json");
    api.publisher().set_failing(true);
    assert_eq!(api.handle(&request).await.status, 503);
    api.publisher().set_failing(false);
    assert_eq!(
        api.handle(&request).await.status,
        202,
        "the failed attempt was not remembered"
    );
    assert_eq!(api.publisher().published().len(), 1);
}

#[tokio::test]
async fn given_a_retry_after_an_unconfirmed_publish_then_consumers_take_the_order_placed_again_for_a_duplicate() {
    // The first attempt's OrderPlaced went out, but its publish was not confirmed, so its
    // answer was not kept and the client retried: here, on another Lambda instance.
    let instance = |number: u64| {
        let ports = Ports {
            publisher: InMemoryPublisher::new(),
            idempotency: Idempotency::new("order-api", InMemoryStore::new()),
            views: InMemoryOrderViews::new(),
            events: InMemoryEventStore::new(),
            cipher: cipher_of_instance(number),
        };
        OrderApi::new(
            ports,
            Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 4, 45, 0).unwrap())),
        )
    };
    let request = sample("post-order.function-url.json");
    let (first, retry) = (instance(1), instance(2));
    assert_eq!(first.handle(&request).await.status, 202);
    assert_eq!(retry.handle(&request).await.status, 202);
    let (sent, sent_again) = (&first.publisher().published()[0], &retry.publisher().published()[0]);
    assert_eq!(sent.metadata.id, sent_again.metadata.id, "the same event");
    let order_id = sent.data["orderId"].as_str().unwrap();
    let token = |event: &envelope::Envelope<Value>| event.data["paymentToken"].clone();
    assert_ne!(token(sent), token(sent_again), "sealed anew");
    assert_eq!(token(sent)["subjectId"], order_id, "for its order");
    let hash = |event: &envelope::Envelope<Value>| {
        idempotency::PayloadHash::of_event(&event.metadata.event_type, event.metadata.version, &event.data).unwrap()
    };
    assert_eq!(hash(sent), hash(sent_again), "its consumers take it for a duplicate");

    // Another order's token in its place is another payload: never taken for a duplicate.
    let mut other_request = request.clone();
    other_request.idempotency_key = Some("another-checkout".into());
    assert_eq!(first.handle(&other_request).await.status, 202);
    let other = &first.publisher().published()[1];
    assert_ne!(other.data["orderId"], order_id);
    let mut swapped = sent_again.clone();
    swapped.data["paymentToken"] = token(other);
    assert_ne!(hash(&swapped), hash(sent));
}

#[tokio::test]
async fn get_answers_the_tracking_view_or_404() {
    let api = api();
    let views = InMemoryOrderViews::new();
    let placed: envelope::Envelope<Value> = serde_json::from_value(serde_json::json!({
        "metadata": { "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": "OrderPlaced", "version": 3, "source": "shop.orders",
                      "time": "2026-11-23T04:45:00Z", "subject": "o-1001", "sequence": 1, "correlationId": "c" },
        "data": { "orderId": "o-1001", "customer": { "id": "c-42" }, "currency": "EUR", "lines": [], "total": 0 } }))
    .unwrap();
    let (metadata, event) = OrderEvent::from_envelope(placed).unwrap();
    let Applied::Updated(view) = OrderView::apply(None, &metadata, &event).unwrap() else {
        panic!("a first event updates")
    };
    views.save_if_unchanged(&view, None).await.unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let api_with_view = api_over(
        Idempotency::new("order-api", InMemoryStore::new()),
        views,
        InMemoryEventStore::new(),
        clock,
    );

    let found = api_with_view.handle(&sample("get-order.function-url.json")).await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["status"], "placed");
    assert_eq!(
        api.handle(&sample("get-order-unknown.function-url.json")).await.status,
        404
    );
    let mut delete = sample("get-order.function-url.json");
    delete.method = "DELETE".into();
    assert_eq!(api.handle(&delete).await.status, 405);
}

#[tokio::test]
async fn a_key_reused_with_another_body_after_it_expired_never_reuses_the_first_orders_id() {
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 4, 45, 0).unwrap()));
    let idempotency = Idempotency::new("order-api", InMemoryStore::new()).with_clock(clock.clone());
    let api = api_over(
        idempotency,
        InMemoryOrderViews::new(),
        InMemoryEventStore::new(),
        clock.clone(),
    );
    let request = sample("post-order.function-url.json");
    let first = api.handle(&request).await;
    clock.advance(chrono::Duration::hours(2));
    let mut reused = request.clone();
    reused.body = small_order();
    let second = api.handle(&reused).await;
    assert_eq!(second.status, 202);
    assert_ne!(second.body["orderId"], first.body["orderId"]);
}

#[tokio::test]
async fn given_an_order_stream_when_asked_as_of_an_instant_then_the_view_then_and_the_history_lists_the_stream() {
    let events = InMemoryEventStore::new();
    let stream = std::fs::read(format!(
        "{}/../../events/orders/order-projection/order-events.sqs-eventbridge.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for record in envelope::Decoder::new().decode_slice(&stream).unwrap() {
        events
            .append(&StoredEvent::new(record.envelope.unwrap(), Utc::now()))
            .await
            .unwrap();
    }
    let api = api_over(
        Idempotency::new("order-api", InMemoryStore::new()),
        InMemoryOrderViews::new(),
        events,
        Arc::new(ManualClock::new(Utc::now())),
    );

    // Placed 04:40, reserved 04:50:01, paid 04:50:02.5, shipped 06:02: at 05:00 it was paid.
    let then = api.handle(&sample("get-order-as-of.function-url.json")).await;
    assert_eq!(then.status, 200, "{}", then.body);
    assert_eq!(then.body["status"], "paid");
    assert_eq!(then.body["timeline"].as_array().unwrap().len(), 3);
    assert!(then.body.get("tracking").is_none(), "not shipped yet");

    let mut before = sample("get-order-as-of.function-url.json");
    before.as_of = Some("2026-11-23T04:00:00Z".into());
    assert_eq!(api.handle(&before).await.status, 404, "nothing had happened yet");
    before.as_of = Some("yesterday".into());
    let bad = api.handle(&before).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["detail"].as_str().unwrap().contains("asOf"));

    let history = api.handle(&sample("get-order-history.function-url.json")).await;
    assert_eq!(history.status, 200);
    let types: Vec<&str> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["metadata"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderShipped"],
        "in stream order, once each"
    );
    let shown = history.body.to_string();
    assert!(!shown.contains("tok_"), "no payment token in a history: {shown}");
    assert!(shown.contains("(redacted)"));

    // An offset's `+` sent unencoded arrives as a space: still the same instant.
    let mut spaced = sample("get-order-as-of.function-url.json");
    spaced.as_of = Some("2026-11-23T06:00:00 01:00".into());
    let spaced = api.handle(&spaced).await;
    assert_eq!(spaced.status, 200, "{}", spaced.body);
    assert_eq!(spaced.body["status"], "paid");
}

//! What the API functions do with a Function URL request's body: order-api answering
//! `POST /orders` (base64-encoded or not, as Lambda may deliver it) with in-memory adapters,
//! and sensor-api's path for `POST /readings` up to its stores (limits, JSON, the readings'
//! shape, each reading checked against the sample catalogue). Every answer must be a status
//! Lambda can return.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine as _;
use chrono::{TimeZone, Utc};
use event_store::InMemoryEventStore;
use field_crypto::{FieldCipher, LocalKeys, LocalMasterKey};
use handler_kit::ManualClock;
use handler_kit::publish::InMemoryPublisher;
use idempotency::{Idempotency, InMemoryStore};
use order_api::{ApiRequest, FIELD_KEY, OrderApi, Ports};
use order_stores::InMemoryOrderViews;
use sensors::catalogue::Catalogue;
use sensors::readings::{check_limits, check_readings, readings_of};

const CATALOGUE: &str = include_str!("../../../../events/sensors/catalogue.json");

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 4, 45, 0).unwrap();
    let catalogue = Catalogue::from_json(&serde_json::from_str(CATALOGUE).unwrap()).unwrap();
    afl::fuzz!(|data: &[u8]| {
        let master = Arc::new(LocalMasterKey::new("FieldKey"));
        let ports = Ports {
            publisher: InMemoryPublisher::new(),
            idempotency: Idempotency::new("order-api", InMemoryStore::new()),
            views: InMemoryOrderViews::new(),
            events: InMemoryEventStore::new(),
            cipher: FieldCipher::new(LocalKeys::new(master, "order-api", FIELD_KEY.actions, FIELD_KEY.fields)),
        };
        let api = OrderApi::new(ports, Arc::new(ManualClock::new(now)));
        let encoded = data.first().is_some_and(|b| b % 2 == 1);
        let mut request = LambdaFunctionUrlRequest::default();
        request.request_context.http.method = Some("POST".to_owned());
        request.raw_path = Some("/orders".to_owned());
        request.body = Some(if encoded {
            base64::engine::general_purpose::STANDARD.encode(data)
        } else {
            String::from_utf8_lossy(data).into_owned()
        });
        request.is_base64_encoded = encoded;
        // Half the inputs go through the Idempotency-Key path too.
        if data.first().is_some_and(|b| b & 2 == 2) {
            request
                .headers
                .insert("idempotency-key", http::HeaderValue::from_static("fuzz-key"));
        }
        let answer = runtime.block_on(api.handle(&ApiRequest::from_function_url(&request)));
        assert!((200..600).contains(&answer.status), "status {}", answer.status);

        if check_limits(data.len(), 0).is_ok()
            && let Ok(body) = serde_json::from_slice::<serde_json::Value>(data)
            && let Ok(readings) = readings_of(&body)
            && check_limits(data.len(), readings.len()).is_ok()
        {
            let _ = check_readings(readings, &catalogue, now);
        }
    });
}

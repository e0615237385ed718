//! The sample payloads in `events/` are the shared truth: every good one decodes and survives
//! decode -> encode -> decode; every bad one fails with the documented error, at the documented place.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::path::{Path, PathBuf};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use envelope::encode::AwsContext;
use envelope::{Carrier, Decoded, Decoder, Envelope, EventType, Location, Registry, Upcaster};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The documented failure of each bad sample: (record, error kind, field path).
const BAD_SAMPLES: &[(&str, usize, &str, &str)] = &[
    (
        "bad-broken-inner.sqs-sns.json",
        0,
        "malformed-json",
        "Records[0].body > Message",
    ),
    (
        "bad-carrier-mismatch.eventbridge.json",
        0,
        "carrier-mismatch",
        "detail-type",
    ),
    ("bad-json.sqs-eventbridge.json", 1, "malformed-json", "Records[1].body"),
    (
        "bad-missing-type.sqs-eventbridge.json",
        0,
        "missing-field",
        "Records[0].body > detail.metadata.type",
    ),
    ("bad-oversize.sqs-envelope.json", 0, "too-large", "Records[0].body"),
    (
        "bad-time-without-offset.sqs-envelope.json",
        0,
        "invalid-field",
        "Records[0].body > metadata.time",
    ),
    (
        "bad-unknown-version.sqs-eventbridge.json",
        0,
        "unsupported-version",
        "Records[0].body > detail.metadata.version",
    ),
];

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

/// Every envelope-carrying sample: `events/**/<case>.<carrier>.json`. HTTP requests for
/// Function URLs (`*.function-url.json`), scheduled ticks (`scheduled-*`) and the sensor
/// catalogue carry no envelope and are tested by their function.
fn samples() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // JSON Schemas, table items, scenarios and their fault files: not payloads.
                if !matches!(name(&path), "schemas" | "tables" | "scenarios") {
                    walk(&path, found);
                }
            } else if path.extension().is_some_and(|e| e == "json")
                && !name(&path).ends_with(".function-url.json")
                && !name(&path).starts_with("scheduled-")
                && name(&path) != "catalogue.json"
            {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&events_dir(), &mut found);
    found.sort();
    assert!(
        found.len() >= 10,
        "expected the sample events in {}",
        events_dir().display()
    );
    found
}

fn name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap()
}

/// The carrier a sample's name promises: `<case>.<carrier>.json`.
fn carrier_of(path: &Path) -> Carrier {
    match name(path).rsplit('.').nth(1).unwrap() {
        "eventbridge" => Carrier::EventBridge,
        "sns" => Carrier::Sns,
        "sqs-eventbridge" => Carrier::SqsEventBridge,
        "sqs-sns" => Carrier::SqsSns,
        // Raw delivery puts the envelope itself in the body: no notification around it.
        "sqs-sns-raw" | "sqs-envelope" => Carrier::SqsEnvelope,
        "sqs-cloudevent" => Carrier::SqsCloudEvent,
        "cloudevent" => Carrier::CloudEvent,
        "envelope" => Carrier::Envelope,
        other => panic!("{}: unknown carrier '{other}' in the name", name(path)),
    }
}

fn is_bad(path: &Path) -> bool {
    name(path).starts_with("bad-")
}

// A consumer's view of the sample event types: what a domain crate declares.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
    customer_id: String,
    currency: String,
    lines: Vec<OrderLine>,
    total: u64,
}
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderLine {
    sku: String,
    quantity: u32,
    unit_price: u64,
}
impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 2;
    const SOURCE: &'static str = "shop.orders";
    const UPCASTERS: &'static [Upcaster] = &[order_placed_v1_to_v2];
}
/// v1 had `items: [{sku, qty, price}]` and no currency (all orders were in euro) or total.
fn order_placed_v1_to_v2(mut data: Value) -> Result<Value, String> {
    let items = data["items"].take();
    let items = items.as_array().ok_or("`items` must be an array")?;
    let mut total = 0;
    let mut lines = Vec::new();
    for item in items {
        let (quantity, price) = (item["qty"].as_u64(), item["price"].as_u64());
        let (Some(quantity), Some(price)) = (quantity, price) else {
            return Err("every item needs whole-number `qty` and `price`".into());
        };
        total += quantity * price;
        lines.push(json!({ "sku": item["sku"], "quantity": quantity, "unitPrice": price }));
    }
    Ok(json!({
        "orderId": data["orderId"], "customerId": data["customerId"],
        "currency": "EUR", "lines": lines, "total": total,
    }))
}

macro_rules! untyped_event {
    ($name:ident, $source:literal) => {
        #[derive(Debug, Serialize, Deserialize)]
        struct $name(Value);
        impl EventType for $name {
            const TYPE: &'static str = stringify!($name);
            const VERSION: u32 = 1;
            const SOURCE: &'static str = $source;
        }
    };
}
untyped_event!(InventoryReserved, "shop.inventory");
untyped_event!(OrderShipped, "shop.orders");
untyped_event!(SensorReadingRecorded, "iot.sensors");

fn registry() -> Registry {
    Registry::new()
        .register::<OrderPlaced>()
        .register::<InventoryReserved>()
        .register::<OrderShipped>()
        .register::<SensorReadingRecorded>()
}

fn decode(path: &Path, decoder: &Decoder) -> Vec<Decoded> {
    decoder
        .decode_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", name(path)))
}

#[test]
fn every_good_carrier_sample_decodes_with_the_consumers_registry() {
    let decoder = Decoder::with_registry(registry());
    let carriers = events_dir().join("carriers");
    for path in samples().iter().filter(|p| !is_bad(p) && p.starts_with(&carriers)) {
        let records = decode(path, &decoder);
        assert!(!records.is_empty(), "{}", name(path));
        for record in records {
            let envelope = record.envelope.unwrap_or_else(|e| panic!("{}: {e}", name(path)));
            assert_eq!(record.carrier, carrier_of(path), "{}", name(path));
            if let Some(id) = &record.message_id {
                assert!(!id.is_empty());
            }
            assert_eq!(
                envelope.metadata.version,
                match envelope.metadata.event_type.as_str() {
                    "OrderPlaced" => 2,
                    _ => 1,
                }
            );
        }
    }
}

#[test]
fn every_bad_sample_fails_with_the_documented_error_at_the_documented_place() {
    let decoder = Decoder::with_registry(registry());
    let bad: Vec<_> = samples().into_iter().filter(|p| is_bad(p)).collect();
    assert_eq!(
        bad.iter().map(|p| name(p)).collect::<Vec<_>>(),
        BAD_SAMPLES.iter().map(|b| b.0).collect::<Vec<_>>(),
        "every bad sample needs a documented failure in BAD_SAMPLES, and every entry a sample"
    );
    for (file, record, kind, path) in BAD_SAMPLES {
        let records = decode(&events_dir().join("carriers").join(file), &decoder);
        for decoded in &records {
            match &decoded.envelope {
                Err(err) if decoded.index == *record => {
                    assert_eq!(err.kind(), *kind, "{file}: {err}");
                    assert_eq!(err.location().path.trim_end_matches(" > "), *path, "{file}: {err}");
                    assert_eq!(
                        err.location().message_id,
                        decoded.message_id,
                        "{file}: names its record"
                    );
                    assert_eq!(err.class(), envelope::ErrorClass::Permanent);
                }
                Err(err) => panic!("{file}: record {} should decode: {err}", decoded.index),
                Ok(_) if decoded.index == *record => panic!("{file}: record {record} should fail with {kind}"),
                Ok(_) => {}
            }
        }
    }
}

#[test]
fn every_sample_survives_decode_encode_decode_in_its_own_carrier() {
    let decoder = Decoder::new();
    let aws = AwsContext::default();
    for path in samples() {
        let first = decode(&path, &decoder);
        let Some(carrier) = first.first().map(|d| d.carrier) else {
            continue;
        };
        let envelopes: Vec<Envelope<Value>> = first.into_iter().filter_map(|d| d.envelope.ok()).collect();
        if envelopes.is_empty() {
            continue;
        }
        let again: Vec<Envelope<Value>> = carrier
            .wrap(&envelopes, &aws)
            .unwrap()
            .into_iter()
            .flat_map(|payload| decoder.decode_value(payload).unwrap())
            .map(|d| {
                assert_eq!(d.carrier, carrier, "{}", name(&path));
                d.envelope.unwrap()
            })
            .collect();
        assert_eq!(again, envelopes, "{}", name(&path));
    }
}

#[test]
fn aws_shapes_of_every_sample_round_trip_through_aws_lambda_events_types() {
    fn round_trip<T: serde::de::DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(text: &[u8], file: &str) {
        let parsed: T = serde_json::from_slice(text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let reparsed: T = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, reparsed, "{file}");
    }
    for path in samples() {
        let text = std::fs::read(&path).unwrap();
        let file = name(&path);
        match file.rsplit('.').nth(1).unwrap() {
            "eventbridge" => round_trip::<EventBridgeEvent<Value>>(&text, file),
            "sns" => round_trip::<SnsEvent>(&text, file),
            carrier if carrier.starts_with("sqs") => round_trip::<SqsEvent>(&text, file),
            _ => {}
        }
    }
}

#[test]
fn the_same_event_reads_the_same_through_every_carrier() {
    let decoder = Decoder::new();
    let carriers = [
        "order-placed.eventbridge.json",
        "order-placed.envelope.json",
        "order-placed.sqs-eventbridge.json",
    ];
    let envelopes: Vec<Envelope<Value>> = carriers
        .iter()
        .map(|f| {
            decode(&events_dir().join("carriers").join(f), &decoder)
                .remove(0)
                .envelope
                .unwrap()
        })
        .collect();
    assert!(envelopes.windows(2).all(|w| w[0] == w[1]));
    // Event time was written with +05:30 and is kept in UTC, to the millisecond.
    assert_eq!(envelopes[0].metadata.time.to_rfc3339(), "2026-11-23T04:45:00.250+00:00");
}

#[test]
fn given_a_v1_sample_when_decoded_by_a_v2_consumer_then_it_is_upcast_and_typed() {
    let path = events_dir().join("carriers/order-placed-v1.sqs-eventbridge.json");
    let record = decode(&path, &Decoder::with_registry(registry())).remove(0);
    let order = record
        .envelope
        .unwrap()
        .into_typed::<OrderPlaced>(&Location::root())
        .unwrap();
    assert_eq!(order.metadata.version, 2);
    assert_eq!((order.data.currency.as_str(), order.data.total), ("EUR", 1250));
    assert_eq!(order.data.lines[0].quantity, 1);
}

#[test]
fn the_sqs_event_entry_point_keeps_message_ids_for_batch_failures() {
    let text = std::fs::read(events_dir().join("carriers/bad-json.sqs-eventbridge.json")).unwrap();
    let event: SqsEvent = serde_json::from_slice(&text).unwrap();
    let records = Decoder::new().decode_sqs(&event);
    let failed: Vec<_> = records
        .iter()
        .filter(|r| r.envelope.is_err())
        .map(|r| r.message_id.clone().unwrap())
        .collect();
    assert_eq!(failed, vec!["7e0a3b9c-8d1f-4c2b-af5a-4b3c2d1e0f9a".to_owned()]);
    assert_eq!(records.len(), 2);
}

#[test]
fn unrecognised_payloads_say_what_was_expected() {
    let err = Decoder::new().decode_slice(br#"{"hello": "world"}"#).unwrap_err();
    assert_eq!(err.kind(), "unrecognized-payload");
    assert!(err.to_string().contains("an SQS, SNS or EventBridge event"), "{err}");
    let err = Decoder::new().decode_slice(b"not json").unwrap_err();
    assert_eq!(err.kind(), "malformed-json");
    let err = Decoder::new()
        .decode_value(json!({ "Records": [{ "eventSource": "aws:kinesis" }] }))
        .unwrap_err();
    assert_eq!(err.location().path, "Records[0].eventSource");
}

//! Decoding a 10-record SQS batch of EventBridge-carried envelopes, the common case of every
//! consumer: from the raw payload text (what the runtime receives), and from the already
//! deserialised `SqsEvent` (what a handler receives from `lambda_runtime`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test or benchmark reports failure

use std::hint::black_box;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envelope::encode::AwsContext;
use envelope::{Carrier, Decoder, Envelope, EventType, Registry};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
    customer_id: String,
    currency: String,
    lines: Vec<Line>,
    total: u64,
}
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    sku: String,
    quantity: u32,
    unit_price: u64,
}
impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.orders";
}

fn batch() -> String {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let envelopes: Vec<_> = (0..10)
        .map(|i| {
            let order = OrderPlaced {
                order_id: format!("o-{i}"),
                customer_id: "c-42".into(),
                currency: "EUR".into(),
                lines: (0..3)
                    .map(|l| Line {
                        sku: format!("SKU-{l}"),
                        quantity: 1 + l,
                        unit_price: 1250,
                    })
                    .collect(),
                total: 7500,
            };
            Envelope::new(format!("o-{i}"), time, order)
                .with_sequence(1)
                .to_untyped()
                .unwrap()
        })
        .collect();
    Carrier::SqsEventBridge
        .wrap(&envelopes, &AwsContext::default())
        .unwrap()
        .remove(0)
        .to_string()
}

fn decode_batch(c: &mut Criterion) {
    let text = batch();
    let event: SqsEvent = serde_json::from_str(&text).unwrap();
    let plain = Decoder::new();
    let with_registry = Decoder::with_registry(Registry::new().register::<OrderPlaced>());
    assert!(
        plain
            .decode_slice(text.as_bytes())
            .unwrap()
            .iter()
            .all(|d| d.envelope.is_ok())
    );

    let mut group = c.benchmark_group("sqs-eventbridge-batch-of-10");
    group.throughput(Throughput::Elements(10));
    group.bench_function("from payload text", |b| {
        b.iter(|| plain.decode_slice(black_box(text.as_bytes())));
    });
    group.bench_function("from SqsEvent", |b| b.iter(|| plain.decode_sqs(black_box(&event))));
    group.bench_function("from SqsEvent, with registry", |b| {
        b.iter(|| with_registry.decode_sqs(black_box(&event)));
    });
    group.finish();
}

criterion_group!(benches, decode_batch);
criterion_main!(benches);

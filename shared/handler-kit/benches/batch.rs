//! A 10-record SQS batch through the whole kit path: decode, idempotency (in-memory store),
//! a trivial handler, one batched in-memory publish. Then the same with 20 ms of injected
//! latency on every store call, 10 records against 1: concurrency should keep the batch of
//! ten close to the time of one (goal: at most 1.5x). And how a payload is read: once into
//! its trigger's type (what the runtime does now), beside through a `Value` first (what it did
//! before the one invocation path), on the same batch bytes. And the path's floor: each record's
//! body read into its envelope and its payload hashed, nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // a panic is how a benchmark reports failure

// The allocator of the Lambda binaries (the `allocator` feature declares it for them).
#[cfg(not(feature = "allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use envelope::encode::AwsContext;
use envelope::{Carrier, Decoder, Envelope, EventType, Registry};
use handler_kit::publish::{InMemoryParking, InMemoryPublisher};
use handler_kit::{HandlerError, Invocation, RecordHandler, RecordProcessor};
use idempotency::{Idempotency, InMemoryStore, PayloadHash, PutOutcome, Record, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize)]
struct OrderPlaced {
    order_id: String,
}
impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.orders";
}

/// Emits one event per event: the least a real handler does.
struct Forward;
impl RecordHandler for Forward {
    fn event_types(&self) -> Registry {
        Registry::new().register::<OrderPlaced>()
    }
    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let placed = event.into_typed::<OrderPlaced>(&envelope::Location::root())?;
        let subject = placed.metadata.subject.clone();
        let next = Envelope::caused_by(&placed.metadata, 0, subject, placed.metadata.time, placed.data);
        Ok(vec![next.to_untyped()?])
    }
}

/// An in-memory store that answers after a network round trip's worth of delay.
struct SlowStore {
    inner: InMemoryStore,
    latency: Duration,
}
impl Store for SlowStore {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<PutOutcome, StoreError> {
        tokio::time::sleep(self.latency).await;
        self.inner.put_in_progress(record, now_ms).await
    }
    async fn complete(&self, record: &Record) -> Result<(), StoreError> {
        tokio::time::sleep(self.latency).await;
        self.inner.complete(record).await
    }
    async fn mark_delivered(&self, key: &str) -> Result<(), StoreError> {
        tokio::time::sleep(self.latency).await;
        self.inner.mark_delivered(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        tokio::time::sleep(self.latency).await;
        self.inner.delete(key).await
    }
    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        tokio::time::sleep(self.latency).await;
        self.inner.get(key).await
    }
}

fn batch(records: usize) -> SqsEvent {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let envelopes: Vec<_> = (0..records)
        .map(|i| {
            Envelope::new(
                format!("o-{i}"),
                time,
                OrderPlaced {
                    order_id: format!("o-{i}"),
                },
            )
            .to_untyped()
            .unwrap()
        })
        .collect();
    serde_json::from_value(
        Carrier::SqsEventBridge
            .wrap(&envelopes, &AwsContext::default())
            .unwrap()
            .remove(0),
    )
    .unwrap()
}

fn processor<S: Store>(store: S) -> RecordProcessor<Forward, S, InMemoryPublisher, InMemoryParking> {
    RecordProcessor::new(
        "bench",
        Forward,
        Idempotency::new("bench", store),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
}

fn kit_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let invocation = Invocation::with_remaining("bench", Duration::from_secs(3600));

    let mut group = c.benchmark_group("batch-of-10");
    group.throughput(Throughput::Elements(10));
    group.bench_function("decode + idempotency + handler + publish", |b| {
        b.iter_batched(
            || (processor(InMemoryStore::new()), batch(10)),
            |(processor, event)| {
                let response = runtime
                    .block_on(processor.process_sqs(black_box(&event), &invocation))
                    .unwrap();
                assert!(response.batch_item_failures.is_empty());
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();

    // The floor of that path: each record's body read into its envelope and its payload hashed
    // (the idempotency key's check), nothing else; `make bench-peers` reports the path as a
    // multiple of it.
    let decoder = Decoder::with_registry(Forward.event_types());
    let mut group = c.benchmark_group("floor-of-10");
    group.throughput(Throughput::Elements(10));
    group.bench_function("decode + payload hash", |b| {
        let event = batch(10);
        b.iter(|| {
            for record in decoder.decode_sqs(black_box(&event)) {
                let envelope = record.envelope.unwrap();
                let metadata = &envelope.metadata;
                black_box(PayloadHash::of_event(&metadata.event_type, metadata.version, &envelope.data).unwrap());
            }
        });
    });
    group.finish();

    let bytes = serde_json::to_vec(&batch(10)).unwrap();
    let mut group = c.benchmark_group("read-payload-of-10");
    group.throughput(Throughput::Elements(10));
    group.bench_function("once, into SqsEvent", |b| {
        b.iter(|| serde_json::from_slice::<SqsEvent>(black_box(&bytes)).unwrap());
    });
    group.bench_function("twice, Value then SqsEvent", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_slice(black_box(&bytes)).unwrap();
            serde_json::from_value::<SqsEvent>(value).unwrap()
        });
    });
    group.finish();

    let mut group = c.benchmark_group("store-latency-20ms");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    for records in [1, 10] {
        group.bench_function(format!("{records} records"), |b| {
            b.iter_batched(
                || {
                    let store = SlowStore {
                        inner: InMemoryStore::new(),
                        latency: Duration::from_millis(20),
                    };
                    (processor(store), batch(records))
                },
                |(processor, event)| runtime.block_on(processor.process_sqs(&event, &invocation)).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, kit_path);
criterion_main!(benches);

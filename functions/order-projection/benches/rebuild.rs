//! Rebuild throughput in memory: every order stream folded from the store into fresh views and
//! compared with the live ones. Goal: at least 200,000 events per second on one core.
//!
//! `cargo bench -p order-projection --bench rebuild`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a benchmark reports failure

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use envelope::Envelope;
use event_store::{EventStore, InMemoryEventStore, StoredEvent};
use order_stores::InMemoryOrderViews;
use orders::decisions::{self, PaymentOutcome, StockOutcome};
use orders::events::{InventoryReserved, OrderLine, OrderPlaced, PaymentCompleted};

const ORDERS: usize = 2_000;

/// Each order's happy path (placed, reserved, paid, shipped), as the steps decide them.
fn store() -> InMemoryEventStore {
    let store = InMemoryEventStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
    for n in 0..ORDERS {
        let order_id = format!("o-{n:06}");
        let at = start + Duration::seconds(n as i64);
        let placed = Envelope::new(
            &order_id,
            at,
            OrderPlaced {
                order_id: order_id.clone(),
                customer: orders::events::Customer {
                    id: format!("c-{}", n % 97),
                    contact: None,
                },
                currency: "EUR".into(),
                lines: vec![OrderLine {
                    sku: "SKU-RED-MUG".into(),
                    quantity: 2,
                    unit_price: 1250,
                }],
                total: 2500,
                shipping_address: None,
                payment_token: None,
            },
        )
        .with_sequence(1);
        let reserved = decisions::inventory_decided(&placed, StockOutcome::Reserved, at).unwrap();
        let typed = |e: &Envelope<serde_json::Value>| e.clone();
        let reserved_typed: Envelope<InventoryReserved> =
            typed(&reserved).into_typed(&envelope::Location::root()).unwrap();
        let paid = decisions::payment_decided(
            &reserved_typed,
            PaymentOutcome::Approved {
                payment_id: format!("pay-{n}"),
            },
            at,
        )
        .unwrap();
        let paid_typed: Envelope<PaymentCompleted> = paid.clone().into_typed(&envelope::Location::root()).unwrap();
        let shipped = decisions::shipment(&paid_typed, None, at).unwrap();
        for event in [placed.to_untyped().unwrap(), reserved, paid, shipped] {
            runtime.block_on(store.append(&StoredEvent::new(event, at))).unwrap();
        }
    }
    store
}

fn rebuild(c: &mut Criterion) {
    let store = store();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let live = InMemoryOrderViews::new();
    runtime
        .block_on(order_projection::rebuild(&store, &live, &InMemoryOrderViews::new()))
        .unwrap();
    let mut group = c.benchmark_group("rebuild");
    group.throughput(Throughput::Elements(store.len() as u64));
    group.sample_size(20);
    group.bench_function("order-projection, 2000 orders x 4 events, compared with live", |b| {
        b.iter(|| {
            let rebuilt = runtime
                .block_on(order_projection::rebuild(&store, &InMemoryOrderViews::new(), &live))
                .unwrap();
            assert!(rebuilt.differences.is_empty());
        });
    });
    group.finish();
}

criterion_group!(benches, rebuild);
criterion_main!(benches);

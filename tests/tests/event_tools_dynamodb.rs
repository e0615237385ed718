//! The `events` tool's replay on moto, through the real SDK: from the store (a table created as
//! the template declares it) back onto a bus whose rules route to queues, or to one rule's
//! targets only, with the original ids and the replay's name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use envelope::{Decoder, Envelope, Metadata};
use event_store::replay::Selection;
use event_store::{DynamoEventStore, EventStore, StoredEvent};
use serde_json::{Value, json};

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn event(n: u128, event_type: &str, subject: &str, time: &str, sequence: u64) -> StoredEvent {
    let metadata: Metadata = serde_json::from_value(json!({
        "id": uuid::Uuid::from_u128(n), "type": event_type, "version": 1, "source": "shop.orders",
        "time": time, "subject": subject, "sequence": sequence, "correlationId": "c-1",
    }))
    .unwrap();
    StoredEvent::new(
        Envelope {
            metadata,
            data: json!({"orderId": subject}),
        },
        Utc::now(),
    )
}

struct Stack {
    config: aws_config::SdkConfig,
    store: DynamoEventStore,
    bus: String,
    all_queue: String,
    told_queue: String,
}

/// A store with two orders' events; a bus with a rule for every order event and one for
/// shipped and failed orders, each to its own queue.
async fn stack() -> Stack {
    let n = RUNS.fetch_add(1, Ordering::SeqCst);
    let run = format!("{}-{n}", std::process::id());
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let table = format!("replay-events-{run}");
    let store = DynamoEventStore::new(
        system_tests::declared_table("EventStoreTable", &table, None).await,
        table,
    );
    for stored in [
        event(1, "OrderPlaced", "o-1", "2026-11-30T10:00:00Z", 1),
        event(2, "OrderShipped", "o-1", "2026-11-30T10:05:00Z", 4),
        event(3, "PaymentFailed", "o-2", "2026-11-30T10:02:00Z", 3),
    ] {
        store.append(&stored).await.unwrap();
    }
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus = format!("bus-{run}");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let mut queues = Vec::new();
    for (rule, pattern) in [
        ("AllOrders", json!({"source": ["shop.orders"]})),
        (
            "Told",
            json!({"source": ["shop.orders"], "detail-type": ["OrderShipped", "PaymentFailed"]}),
        ),
    ] {
        let url = moto.create_queue(&config, &format!("{rule}-{run}")).await.unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        events
            .put_rule()
            .name(rule)
            .event_bus_name(&bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("queue")
            .arn(arn)
            .build()
            .unwrap();
        events
            .put_targets()
            .rule(rule)
            .event_bus_name(&bus)
            .targets(target)
            .send()
            .await
            .unwrap();
        queues.push(url);
    }
    Stack {
        config,
        store,
        bus,
        told_queue: queues.pop().unwrap(),
        all_queue: queues.pop().unwrap(),
    }
}

/// The envelopes waiting in `queue`, as a consumer decodes them.
async fn received(config: &aws_config::SdkConfig, queue: &str) -> Vec<Envelope<Value>> {
    let messages = aws_sdk_sqs::Client::new(config)
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    messages
        .messages()
        .iter()
        .map(|m| {
            Decoder::new()
                .decode_slice(m.body().unwrap().as_bytes())
                .unwrap()
                .remove(0)
                .envelope
                .unwrap()
        })
        .collect()
}

fn ids(events: &[Envelope<Value>]) -> Vec<u128> {
    let mut ids: Vec<u128> = events.iter().map(|e| e.metadata.id.as_u128()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn given_a_stream_replayed_to_the_bus_then_every_rule_routes_it_with_original_ids_and_the_replay_marker() {
    let s = stack().await;
    let line = event_tools::replay(
        &s.config,
        &s.store,
        &Selection::Stream("shop.orders#o-1".into()),
        (&s.bus, None),
        "fix-1",
        None,
    )
    .await
    .unwrap();
    assert!(line.contains("2 events put on"), "{line}");
    let all = received(&s.config, &s.all_queue).await;
    assert_eq!(ids(&all), [1, 2]);
    assert!(all.iter().all(|e| e.metadata.replay.as_deref() == Some("fix-1")));
    assert_eq!(ids(&received(&s.config, &s.told_queue).await), [2]);
}

#[tokio::test]
async fn given_a_range_of_types_replayed_to_one_rule_then_only_its_queue_gets_what_its_pattern_matches() {
    let s = stack().await;
    let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
    let selection = Selection::Range {
        from: at("2026-11-30T00:00:00Z"),
        to: at("2026-12-01T00:00:00Z"),
        types: vec!["OrderPlaced".into(), "PaymentFailed".into()],
    };
    let line = event_tools::replay(&s.config, &s.store, &selection, (&s.bus, Some("Told")), "fix-2", None)
        .await
        .unwrap();
    assert!(line.contains("1 of 2 events matched rule Told"), "{line}");
    let told = received(&s.config, &s.told_queue).await;
    assert_eq!(ids(&told), [3]);
    assert_eq!(
        told[0].metadata.replay.as_deref(),
        Some("fix-2"),
        "from the event's replay-name"
    );
    assert!(
        received(&s.config, &s.all_queue).await.is_empty(),
        "the other rule's queue is left alone"
    );

    let missing = event_tools::replay(&s.config, &s.store, &selection, (&s.bus, Some("NoSuchRule")), "x", None)
        .await
        .unwrap_err();
    assert!(missing.contains("NoSuchRule"), "{missing}");

    // Events older than consumers remember are refused, and nothing is sent.
    let later = Some(at("2026-11-30T10:03:00Z"));
    let refused = event_tools::replay(&s.config, &s.store, &selection, (&s.bus, None), "old", later)
        .await
        .unwrap_err();
    assert!(refused.contains("2 of 2 events happened before"), "{refused}");
    assert!(received(&s.config, &s.all_queue).await.is_empty());
}

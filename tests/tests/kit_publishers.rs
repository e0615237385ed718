//! The publishers and parking against moto in server mode, through the real SDK clients:
//! call counts, partial failures, and what arrives at the other end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use chrono::{TimeZone, Utc};
use envelope::{Carrier, Decoder, Envelope, EventType, PutEventsEntry};
use handler_kit::publish::{
    EventBridgePublisher, ParkedMessage, Parking, Publisher, SnsPublisher, SqsParking, SqsPublisher,
};
use motoserver::{CallLog, MotoServer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

static NAMES: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::SeqCst)
    )
}

#[derive(Serialize, Deserialize)]
struct OrderShipped {
    order_id: String,
}
impl EventType for OrderShipped {
    const TYPE: &'static str = "OrderShipped";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.orders";
}

fn shipped(count: usize) -> Vec<Envelope<Value>> {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    (0..count)
        .map(|i| {
            let order = format!("o-{i}");
            Envelope::new(
                &order,
                time,
                OrderShipped {
                    order_id: order.clone(),
                },
            )
            .to_untyped()
            .unwrap()
        })
        .collect()
}

async fn moto() -> (&'static MotoServer, SdkConfig) {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    (moto, config)
}

async fn queue(moto: &MotoServer, config: &SdkConfig, name: &str) -> (String, String) {
    let url = moto.create_queue(config, name).await.unwrap();
    let attributes = aws_sdk_sqs::Client::new(config)
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    (url, arn)
}

/// Receives until `count` messages arrived (or 10 s passed), deleting nothing: queues are per test.
async fn receive(config: &SdkConfig, url: &str, count: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let client = aws_sdk_sqs::Client::new(config);
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while messages.len() < count && tokio::time::Instant::now() < deadline {
        let output = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .unwrap();
        messages.extend(output.messages.unwrap_or_default());
    }
    messages
}

/// The envelopes in received messages, through the same decoder the functions use.
fn decode(messages: &[aws_sdk_sqs::types::Message], carrier: Carrier) -> Vec<Envelope<Value>> {
    let bodies = messages
        .iter()
        .map(|m| (m.message_id().unwrap().to_owned(), m.body().unwrap().to_owned()));
    let event = envelope::encode::sqs_event("arn:aws:sqs:us-east-1:123456789012:q", "us-east-1", bodies, Utc::now());
    Decoder::new()
        .decode_sqs(&event)
        .into_iter()
        .map(|d| {
            assert_eq!(d.carrier, carrier);
            d.envelope.unwrap()
        })
        .collect()
}

fn sorted_ids(envelopes: &[Envelope<Value>]) -> Vec<String> {
    let mut ids: Vec<String> = envelopes.iter().map(|e| e.metadata.id.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn given_25_outputs_then_3_put_events_calls_and_every_event_reaches_the_rules_queue() {
    let (moto, config) = moto().await;
    let bus = unique("orders");
    let (url, arn) = queue(moto, &config, &unique("projection")).await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    events.create_event_bus().name(&bus).send().await.unwrap();
    events
        .put_rule()
        .name("all-order-events")
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["shop.orders"], "detail-type": ["OrderShipped"]}"#)
        .send()
        .await
        .unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("projection")
        .arn(arn)
        .build()
        .unwrap();
    events
        .put_targets()
        .rule("all-order-events")
        .event_bus_name(&bus)
        .targets(target)
        .send()
        .await
        .unwrap();

    let log = CallLog::new();
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let outputs = shipped(25);
    EventBridgePublisher::new(client, &bus).publish(&outputs).await.unwrap();

    assert_eq!(log.take(), ["PutEvents"; 3]);
    let delivered = decode(&receive(&config, &url, 25).await, Carrier::SqsEventBridge);
    assert_eq!(sorted_ids(&delivered), sorted_ids(&outputs));
}

#[tokio::test]
async fn given_one_malformed_entry_then_only_it_fails_and_a_permanent_failure_is_not_retried() {
    let (_, config) = moto().await;
    let bus = unique("orders");
    let log = CallLog::new();
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    client.create_event_bus().name(&bus).send().await.unwrap();
    let mut entries: Vec<PutEventsEntry> = shipped(3).iter().map(|e| e.to_put_events_entry().unwrap()).collect();
    entries[1].detail = "not json".into();
    log.take();

    let err = EventBridgePublisher::new(client, &bus)
        .put_entries(&entries)
        .await
        .unwrap_err();
    assert_eq!(err.total, 3);
    assert_eq!(err.failed.len(), 1);
    assert_eq!(
        (
            err.failed[0].index,
            err.failed[0].code.as_str(),
            err.failed[0].permanent
        ),
        (1, "MalformedDetail", true)
    );
    assert_eq!(log.take(), ["PutEvents"], "a malformed entry is not retried");
}

#[tokio::test]
async fn given_12_notifications_then_2_publish_batch_calls_and_subscribers_get_envelopes_with_filterable_attributes() {
    let (moto, config) = moto().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name(unique("customer-notifications"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, arn) = queue(moto, &config, &unique("notify-inbox")).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap();

    let log = CallLog::new();
    let client = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let outputs = shipped(12);
    let customer = |_: &Envelope<Value>| vec![("customerId".to_owned(), "c-42".to_owned())];
    SnsPublisher::new(client, &topic)
        .with_attributes(customer)
        .publish(&outputs)
        .await
        .unwrap();

    assert_eq!(log.take(), ["PublishBatch"; 2]);
    let messages = receive(&config, &url, 12).await;
    assert_eq!(sorted_ids(&decode(&messages, Carrier::SqsSns)), sorted_ids(&outputs));
    let notification: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(notification["MessageAttributes"]["type"]["Value"], "OrderShipped");
    assert_eq!(notification["MessageAttributes"]["customerId"]["Value"], "c-42");
}

#[tokio::test]
async fn given_queues_then_send_message_batch_chunks_by_10_and_fifo_groups_by_subject() {
    let (moto, config) = moto().await;
    let (url, _) = queue(moto, &config, &unique("standard")).await;
    let log = CallLog::new();
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let outputs = shipped(12);
    SqsPublisher::new(client.clone(), &url).publish(&outputs).await.unwrap();
    assert_eq!(log.take(), ["SendMessageBatch"; 2]);
    assert_eq!(
        sorted_ids(&decode(&receive(&config, &url, 12).await, Carrier::SqsEnvelope)),
        sorted_ids(&outputs)
    );

    let (fifo, _) = queue(moto, &config, &format!("{}.fifo", unique("ordered"))).await;
    let outputs = shipped(3);
    SqsPublisher::new(client, &fifo).publish(&outputs).await.unwrap();
    let messages = receive(&config, &fifo, 3).await;
    let delivered = decode(&messages, Carrier::SqsEnvelope);
    for (message, envelope) in messages.iter().zip(&delivered) {
        let group = &message.attributes().unwrap()[&MessageSystemAttributeName::MessageGroupId];
        assert_eq!(group, &envelope.metadata.subject);
    }
}

#[tokio::test]
async fn parked_messages_keep_their_original_body_and_carry_the_reason() {
    let (moto, config) = moto().await;
    let (url, _) = queue(moto, &config, &unique("parking")).await;
    let parked = ParkedMessage {
        function: "reserve-inventory".into(),
        message_id: Some("m-1".into()),
        body: "{\"detail-type\": \"OrderPlaced\", ".into(),
        kind: "malformed-json".into(),
        reason: "record 0 (message id 'm-1'), at `Records[0].body`: not valid JSON".into(),
        parked_from: Some("arn:aws:sqs:us-east-1:123456789012:reserve-inventory".into()),
    };
    SqsParking::new(aws_sdk_sqs::Client::new(&config), &url)
        .park(std::slice::from_ref(&parked))
        .await
        .unwrap();

    let messages = receive(&config, &url, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body().unwrap(), parked.body);
    let attribute = |name: &str| {
        messages[0].message_attributes().unwrap()[name]
            .string_value()
            .unwrap()
            .to_owned()
    };
    assert_eq!(attribute("parked-reason"), parked.reason);
    assert_eq!(attribute("parked-kind"), "malformed-json");
    assert_eq!(attribute("parked-by"), "reserve-inventory");
    assert_eq!(attribute("original-message-id"), "m-1");
    assert_eq!(
        attribute("parked-from"),
        "arn:aws:sqs:us-east-1:123456789012:reserve-inventory",
        "where a resubmit sends it back"
    );
}

/// `shipped(count)`, with these subjects in order.
fn shipped_about(subjects: &[&str]) -> Vec<Envelope<Value>> {
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    subjects
        .iter()
        .map(|subject| {
            Envelope::new(
                *subject,
                time,
                OrderShipped {
                    order_id: (*subject).to_owned(),
                },
            )
            .to_untyped()
            .unwrap()
        })
        .collect()
}

/// What SNS and SQS accept as a FIFO MessageGroupId or MessageDeduplicationId.
fn is_valid_fifo_id(id: &str) -> bool {
    (1..=128).contains(&id.chars().count())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
}

fn system_attribute(message: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> String {
    message.attributes().unwrap()[&name].clone()
}

#[tokio::test]
async fn given_a_bus_topic_and_queue_that_do_not_exist_yet_when_publishing_then_every_entry_is_retried_and_fails_transient()
 {
    let (moto, config) = moto().await;
    let missing_queue = format!("{}/123456789012/{}", moto.endpoint(), unique("not-deployed"));
    let topic = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("not-deployed"));
    let outputs = shipped(3);

    let log = CallLog::new();
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let failures = [
        EventBridgePublisher::new(events, unique("not-deployed"))
            .publish(&outputs)
            .await,
        SnsPublisher::new(sns, &topic).publish(&outputs).await,
        SqsPublisher::new(sqs, &missing_queue).publish(&outputs).await,
    ];

    for failure in failures {
        let err = failure.unwrap_err();
        assert_eq!(err.failed.len(), 3, "{err}");
        assert!(
            err.failed.iter().all(|f| !f.permanent),
            "a missing destination passes after a deploy: {err}"
        );
    }
    let mut calls = log.take();
    calls.sort();
    assert_eq!(
        calls,
        [["PublishBatch"; 4], ["PutEvents"; 4], ["SendMessageBatch"; 4]].concat(),
        "each is retried up to the default 4 attempts"
    );
}

#[tokio::test]
async fn given_a_10_message_call_refused_whole_for_one_oversized_message_then_only_it_is_refused_and_the_9_others_arrive()
 {
    let (_, config) = moto().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name(unique("small-messages"))
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mut outputs = shipped(10);
    outputs[6].data["order_id"] = Value::String("o".repeat(2000));

    let log = CallLog::new();
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .interceptor(log.clone())
            .build(),
    );
    let err = SqsPublisher::new(client, &url).publish(&outputs).await.unwrap_err();

    assert_eq!(err.failed.len(), 1, "{err}");
    assert_eq!((err.failed[0].index, err.failed[0].permanent), (6, true), "{err}");
    assert_eq!(
        log.take(),
        ["SendMessageBatch"; 11],
        "the refused call, then each message alone"
    );
    let mut sent = outputs;
    sent.remove(6);
    assert_eq!(
        sorted_ids(&decode(&receive(&config, &url, 9).await, Carrier::SqsEnvelope)),
        sorted_ids(&sent)
    );
}

#[tokio::test]
async fn given_fifo_destinations_and_subjects_they_would_refuse_as_group_ids_then_every_event_arrives_in_a_valid_group_of_its_own()
 {
    let (moto, config) = moto().await;
    // Over the 128 characters of a group id, within the 256 of a subject.
    let long = "o".repeat(200);
    let subjects = ["o-valid", "order 42", "ordre-été", long.as_str()];
    let outputs = shipped_about(&subjects);

    let (queue_url, _) = queue(moto, &config, &format!("{}.fifo", unique("ordered"))).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    SqsPublisher::new(sqs, &queue_url).publish(&outputs).await.unwrap();

    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name(format!("{}.fifo", unique("notifications")))
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (inbox, inbox_arn) = queue(moto, &config, &format!("{}.fifo", unique("inbox"))).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(inbox_arn)
        .send()
        .await
        .unwrap();
    SnsPublisher::new(sns, &topic).publish(&outputs).await.unwrap();

    for (url, carrier) in [(queue_url, Carrier::SqsEnvelope), (inbox, Carrier::SqsSns)] {
        let messages = receive(&config, &url, subjects.len()).await;
        let delivered = decode(&messages, carrier);
        assert_eq!(sorted_ids(&delivered), sorted_ids(&outputs), "{carrier:?}");
        let mut groups = Vec::new();
        for (message, envelope) in messages.iter().zip(&delivered) {
            let group = system_attribute(message, MessageSystemAttributeName::MessageGroupId);
            assert!(is_valid_fifo_id(&group), "{carrier:?}: {group}");
            if envelope.metadata.subject == "o-valid" {
                assert_eq!(group, "o-valid", "a valid subject is the group as is");
            }
            groups.push(group);
        }
        groups.sort();
        groups.dedup();
        assert_eq!(groups.len(), subjects.len(), "{carrier:?}: one group per subject");
    }
}

#[tokio::test]
async fn given_a_fifo_parking_queue_when_messages_without_a_message_id_are_parked_then_they_arrive_deduplicated_by_body()
 {
    let (moto, config) = moto().await;
    let (url, _) = queue(moto, &config, &format!("{}.fifo", unique("parking"))).await;
    let parked = |body: &str| ParkedMessage {
        function: "reserve-inventory".into(),
        message_id: None,
        body: body.into(),
        kind: "malformed-json".into(),
        reason: "not valid JSON".into(),
        parked_from: None,
    };
    SqsParking::new(aws_sdk_sqs::Client::new(&config), &url)
        .park(&[parked("{\"a\": "), parked("{\"b\": "), parked("{\"a\": ")])
        .await
        .unwrap();

    let messages = receive(&config, &url, 2).await;
    let mut bodies: Vec<&str> = messages.iter().map(|m| m.body().unwrap()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["{\"a\": ", "{\"b\": "]);
    let attributes = aws_sdk_sqs::Client::new(&config)
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attributes.attributes().unwrap()[&QueueAttributeName::ApproximateNumberOfMessages],
        "0",
        "the repeated body is the same parking, deduplicated"
    );
}

//! The local cloud's AWS semantics on the virtual clock, on small templates: rules to queues
//! and topics, SNS fan-out with filter policies and raw delivery, event source mapping batch
//! size and batching window, redrive after maxReceiveCount.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeMap;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::functions;
use emulator::sqs::Outgoing;
use emulator::topology::Topology;
use envelope::encode::AwsContext;
use envelope::{Carrier, Envelope, EventType, Registry};
use handler_kit::local::{self, Registration};
use handler_kit::trigger::{EventBridge, FunctionUrl, Sqs, SqsBatches};
use handler_kit::{Function, HandlerError, Nowhere, RecordHandler};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The emulator's own tests run a stub function, not a domain's: it reads `WorkArrived` and
/// does nothing with it.
#[derive(Debug, Serialize, Deserialize)]
struct WorkArrived {
    n: u64,
}
impl EventType for WorkArrived {
    const TYPE: &'static str = "WorkArrived";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "test.work";
}

/// Its work takes 50 ms of virtual time, so invocations the cloud runs at once overlap.
struct Stub;
impl RecordHandler for Stub {
    fn event_types(&self) -> Registry {
        Registry::new().register::<WorkArrived>()
    }
    async fn handle(&self, _: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(Vec::new())
    }
}

/// A function whose downstream is always unavailable: every invocation fails (transient).
struct Failing;
impl RecordHandler for Failing {
    fn event_types(&self) -> Registry {
        Registry::new().register::<WorkArrived>()
    }
    async fn handle(&self, _: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        Err(HandlerError::transient("Unavailable", "the downstream is unavailable"))
    }
}

static FAILING: Function<EventBridge, Nowhere> = Function {
    name: "failing",
    trigger: EventBridge,
    outputs: Nowhere,
    settings: &[],
    idempotent: true,
};

static STUB: Function<Sqs, Nowhere> = Function {
    name: "stub",
    trigger: Sqs,
    outputs: Nowhere,
    settings: &[],
    idempotent: true,
};

/// An API whose every answer takes 100 ms of virtual time.
struct SlowApi;
impl handler_kit::HttpHandler for SlowApi {
    async fn handle(
        &self,
        _: aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest,
    ) -> aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut response = aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse::default();
        response.status_code = 200;
        response
    }
}

static API: Function<FunctionUrl, Nowhere> = Function {
    name: "api",
    trigger: FunctionUrl,
    outputs: Nowhere,
    settings: &[],
    idempotent: false,
};

/// An aggregating function with a tick: each batch and each tick takes 100 ms.
struct Ticker;
impl handler_kit::BatchHandler for Ticker {
    type Sent = ();
    fn event_types(&self) -> Registry {
        Registry::new().register::<WorkArrived>()
    }
    async fn settle(
        &self,
        events: Vec<Envelope<Value>>,
        _: tokio::time::Instant,
    ) -> Result<handler_kit::Settled<()>, HandlerError> {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Ok(handler_kit::Settled {
            records: events.iter().map(|_| Ok(())).collect(),
            outputs: Vec::new(),
            sent: (),
        })
    }
    async fn tick(
        &self,
        _: chrono::DateTime<chrono::Utc>,
        by: tokio::time::Instant,
    ) -> Result<handler_kit::Settled<()>, HandlerError> {
        self.settle(Vec::new(), by).await
    }
    async fn sent(&self, (): ()) -> Result<(), HandlerError> {
        Ok(())
    }
}

static TICKER: Function<SqsBatches, Nowhere> = Function {
    name: "ticker",
    trigger: SqsBatches {
        schedule: Some("rate(1 minute)"),
    },
    outputs: Nowhere,
    settings: &[],
    idempotent: false,
};

fn registrations() -> Vec<Registration> {
    vec![
        local::records(&STUB, |_| Ok(Stub)),
        local::records(&FAILING, |_| Ok(Failing)),
        local::http(&API, |_| Ok(SlowApi)),
        local::batches(&TICKER, |_| Ok(Ticker)),
    ]
}

const HEADER: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        EVENT_BUS_NAME: !Ref Bus
        IDEMPOTENCY_TABLE: idempotency
        PARKING_QUEUE_URL: !Ref Parking
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: bus
  Parking:
    Type: AWS::SQS::Queue
"#;

fn cloud(resources: &str) -> LocalCloud {
    let template =
        sam_template::Template::from_yaml(&format!("{HEADER}{resources}"), &sam_template::Options::default()).unwrap();
    LocalCloud::new(
        Topology::from_template(template).unwrap(),
        CloudOptions::default(),
        &functions::FunctionCatalogue::new(registrations()),
    )
    .unwrap()
}

fn bodies(cloud: &LocalCloud, queue: &str) -> Vec<Value> {
    cloud
        .queue(queue)
        .unwrap()
        .messages()
        .map(|m| serde_json::from_str(&m.sent.body).unwrap_or(Value::String(m.sent.body.clone())))
        .collect()
}

fn message(body: Value, attributes: &[(&str, &str)]) -> Outgoing {
    Outgoing {
        body: body.to_string(),
        attributes: attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..Outgoing::default()
    }
}

const TOPIC: &str = r#"
  Topic:
    Type: AWS::SNS::Topic
  Raw:
    Type: AWS::SQS::Queue
  Wrapped:
    Type: AWS::SQS::Queue
  Everything:
    Type: AWS::SQS::Queue
  RawSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Raw.Arn
      RawMessageDelivery: true
      FilterPolicy:
        template: [order-shipped]
        customerId: [{"prefix": "c-"}]
  WrappedSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Wrapped.Arn
      FilterPolicyScope: MessageBody
      FilterPolicy: '{"data": {"country": [{"prefix": "D"}]}}'
  EverythingSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Everything.Arn
"#;

#[tokio::test(start_paused = true)]
async fn given_a_topic_then_each_subscription_gets_what_its_filter_policy_selects_raw_or_wrapped() {
    let mut cloud = cloud(TOPIC);
    let shipped_de = json!({"data": {"country": "DE"}});
    cloud.publish(
        "Topic",
        message(
            shipped_de.clone(),
            &[("template", "order-shipped"), ("customerId", "c-1")],
        ),
        "test",
    );
    cloud.publish(
        "Topic",
        message(
            json!({"data": {"country": "FR"}}),
            &[("template", "order-shipped"), ("customerId", "guest")],
        ),
        "test",
    );
    cloud.publish(
        "Topic",
        message(json!({"data": {"country": "DK"}}), &[("template", "payment-failed")]),
        "test",
    );
    cloud.run(60_000).await;

    // Raw delivery: the body as published; only the shipped notice of a customer passes.
    assert_eq!(bodies(&cloud, "Raw"), std::slice::from_ref(&shipped_de));
    let raw = cloud.queue("Raw").unwrap().messages().next().unwrap().sent.clone();
    assert_eq!(
        raw.attributes.get("template").map(String::as_str),
        Some("order-shipped")
    );
    // Body scope, not raw: an SNS notification envelope whose Message is the body.
    let wrapped = bodies(&cloud, "Wrapped");
    assert_eq!(wrapped.len(), 2, "DE and DK start with D");
    assert_eq!(wrapped[0]["Type"], "Notification");
    assert_eq!(
        serde_json::from_str::<Value>(wrapped[0]["Message"].as_str().unwrap()).unwrap(),
        shipped_de
    );
    assert!(wrapped[0]["TopicArn"].as_str().unwrap().ends_with(":local-Topic"));
    assert_eq!(wrapped[0]["MessageAttributes"]["template"]["Value"], "order-shipped");
    // No filter: everything.
    assert_eq!(bodies(&cloud, "Everything").len(), 3);
}

const RULES: &str = r#"
  Orders:
    Type: AWS::SQS::Queue
  BigOrders:
    Type: AWS::SQS::Queue
  Undelivered:
    Type: AWS::SQS::Queue
  OrdersRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [shop.orders]
        detail-type: [{"prefix": "Order"}]
      Targets:
        - Id: orders
          Arn: !GetAtt Orders.Arn
          DeadLetterConfig:
            Arn: !GetAtt Undelivered.Arn
  BigOrdersRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        detail:
          data:
            lines:
              sku: [SKU-RED-MUG]
              quantity: [{"numeric": [">=", 2]}]
      Targets:
        - Id: big
          Arn: !GetAtt BigOrders.Arn
          InputTransformer:
            InputPathsMap:
              order: $.detail.data.orderId
              kind: $.detail-type
            InputTemplate: '{"order": <order>, "says": "<kind> seen"}'
"#;

fn envelope(event_type: &str, data: Value) -> envelope::Envelope<Value> {
    let json = json!({
        "metadata": {
            "id": uuid::Uuid::new_v4(),
            "type": event_type,
            "version": 1,
            "source": "shop.orders",
            "time": "2026-11-23T10:10:00.250+05:30",
            "subject": "o-1",
            "correlationId": "c-1"
        },
        "data": data,
    });
    envelope::Envelope::from_json_value(json, &envelope::Location::root()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn given_rules_on_a_bus_then_each_event_reaches_the_queues_whose_patterns_match_transformed_if_asked() {
    let mut cloud = cloud(RULES);
    let lines = |sku: &str, quantity: u64| json!({"orderId": "o-1", "lines": [{"sku": "SKU-TEA", "quantity": 5}, {"sku": sku, "quantity": quantity}]});
    cloud.put_events("bus", vec![envelope("OrderPlaced", lines("SKU-RED-MUG", 2))], "test");
    cloud.put_events("bus", vec![envelope("OrderPlaced", lines("SKU-RED-MUG", 1))], "test");
    cloud.put_events("bus", vec![envelope("PaymentFailed", lines("SKU-BLUE", 9))], "test");
    cloud.run(60_000).await;
    let orders = bodies(&cloud, "Orders");
    assert_eq!(orders.len(), 2);
    assert!(
        orders
            .iter()
            .all(|e| e["detail-type"] == "OrderPlaced" && e["source"] == "shop.orders")
    );
    // Same array element: the mug with quantity 1 next to 5 teas does not match.
    assert_eq!(
        bodies(&cloud, "BigOrders"),
        [json!({"order": "o-1", "says": "OrderPlaced seen"})]
    );
    assert!(cloud.queue("Undelivered").unwrap().is_empty());
}

fn function(mapping: &str) -> String {
    format!(
        r#"
  Stub:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: stub
    Properties:
      FunctionName: stub
      CodeUri: ..
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt WorkDlq.Arn
        maxReceiveCount: 2
  WorkDlq:
    Type: AWS::SQS::Queue
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Work.Arn
      FunctionName: !Ref Stub
      FunctionResponseTypes: [ReportBatchItemFailures]
{mapping}"#
    )
}

/// A `WorkArrived` event, as a rule delivers it to the queue.
fn work_arrived() -> Outgoing {
    let work = Envelope::new("w-1", chrono::Utc::now(), WorkArrived { n: 1 })
        .to_untyped()
        .unwrap();
    let event: Value = Carrier::SqsEventBridge
        .wrap(&[work], &AwsContext::default())
        .unwrap()
        .remove(0);
    Outgoing::body(event["Records"][0]["body"].as_str().unwrap())
}

#[tokio::test(start_paused = true)]
async fn given_a_batching_window_then_a_partial_batch_waits_for_it_and_full_batches_go_at_once() {
    let mut cloud = cloud(&function(
        "      BatchSize: 10\n      MaximumBatchingWindowInSeconds: 2",
    ));
    for _ in 0..23 {
        cloud.send("Work", work_arrived());
    }
    cloud.run(1_000).await;
    assert_eq!(cloud.stats().records.get("stub"), Some(&20), "two full batches at once");
    assert_eq!(cloud.stats().invocations.get("stub"), Some(&2));
    cloud.run(1_999).await;
    assert_eq!(
        cloud.stats().records.get("stub"),
        Some(&20),
        "the rest waits for the window"
    );
    cloud.run(2_100).await;
    assert_eq!(cloud.stats().records.get("stub"), Some(&23));
    assert_eq!(cloud.stats().invocations.get("stub"), Some(&3));
    assert!(cloud.queue("Work").unwrap().is_empty());
}

/// `template` (from [`function`]) with the stub parking to a queue too small for what it
/// parks, and a cloud on it holding one record the stub cannot read: the record fails on
/// every receive, never dropped, so its receives show the template's delivery settings.
fn with_unparkable_record(template: &str) -> LocalCloud {
    let template = template
        .replace(
            "  WorkDlq:",
            "  TinyParking:\n    Type: AWS::SQS::Queue\n    Properties:\n      MaximumMessageSize: 1024\n  WorkDlq:",
        )
        .replace(
            "Properties:\n      FunctionName: stub",
            "Properties:\n      FunctionName: stub\n      Environment:\n        Variables:\n          PARKING_QUEUE_URL: !Ref TinyParking",
        );
    let mut cloud = cloud(&template);
    cloud.send(
        "Work",
        Outgoing::body(format!("{{\"not an event\": \"{}\"}}", "x".repeat(2000))),
    );
    cloud
}

#[tokio::test(start_paused = true)]
async fn given_a_record_that_keeps_failing_then_it_returns_after_each_visibility_timeout_and_then_goes_to_the_dlq() {
    // The stub cannot read this record and parks such records; this parking queue refuses
    // it (too large), so the record is retried, never dropped.
    let mut cloud = with_unparkable_record(&function("      BatchSize: 1"));
    let receives = |cloud: &LocalCloud| cloud.queue("Work").unwrap().messages().next().map(|m| m.receive_count);
    cloud.run(1_000).await;
    assert_eq!(receives(&cloud), Some(1));
    let id = cloud.queue("Work").unwrap().messages().next().unwrap().id.clone();
    assert!(
        cloud.failure_of(&id).unwrap().contains("batch item failure"),
        "{:?}",
        cloud.failure_of(&id)
    );
    cloud.run(59_999).await;
    assert_eq!(receives(&cloud), Some(1), "invisible for the 60 s visibility timeout");
    cloud.run(61_000).await;
    assert_eq!(receives(&cloud), Some(2));
    cloud.run(200_000).await;
    assert_eq!(receives(&cloud), None, "moved on the receive after the 2nd");
    let dead: Vec<_> = cloud.queue("WorkDlq").unwrap().messages().collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id, "SQS keeps the message id");
    assert!(dead[0].sent.body.starts_with("{\"not an event\""));
    assert!(cloud.queue("TinyParking").unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn given_a_fifo_queue_with_groups_in_flight_then_every_group_drains_in_order_and_the_run_ends() {
    let template = function("      BatchSize: 10").replace(
        "      VisibilityTimeout: 60\n",
        "      VisibilityTimeout: 60\n      FifoQueue: true\n      ContentBasedDeduplication: true\n",
    );
    let mut cloud = cloud(&template);
    let body = work_arrived().body;
    for index in 0..12 {
        let message = Outgoing {
            // Distinct bodies, or content-based deduplication keeps only the first.
            body: body.replacen('{', &format!("{{\"n\": {index}, "), 1),
            group_id: Some(format!("g{}", index % 3)),
            ..Outgoing::default()
        };
        cloud.send("Work", message);
    }
    cloud.run(10 * 60_000).await;
    assert!(cloud.is_idle(), "nothing left scheduled");
    assert!(cloud.queue("Work").unwrap().is_empty());
    assert_eq!(cloud.stats().records.get("stub"), Some(&12));
}

const TYPED: &str = r#"
  Topic:
    Type: AWS::SNS::Topic
  BigSpenders:
    Type: AWS::SQS::Queue
  Gifts:
    Type: AWS::SQS::Queue
  GoldOrders:
    Type: AWS::SQS::Queue
  BigSpendersSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt BigSpenders.Arn
      RawMessageDelivery: true
      FilterPolicy:
        total: [{"numeric": [">=", 100]}]
  GiftsSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Gifts.Arn
      FilterPolicy:
        tags: [gift]
  GoldOrdersSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt GoldOrders.Arn
      FilterPolicyScope: MessageBody
      FilterPolicy:
        order:
          customer:
            tier: [gold]
          total: [{"numeric": [">", 50]}]
"#;

/// A notification with a body, a `total` attribute of `total_type` and, if given, `tags` as a
/// `String.Array`.
fn typed(n: u64, tier: &str, body_total: u64, total_type: &str, total: &str, tags: Option<&str>) -> Outgoing {
    let message =
        Outgoing::body(json!({"n": n, "order": {"customer": {"tier": tier}, "total": body_total}}).to_string())
            .with_attribute("total", total_type, total);
    match tags {
        Some(tags) => message.with_attribute("tags", "String.Array", tags),
        None => message,
    }
}

/// The `n` of each notification in `queue` (raw or wrapped), in order.
fn numbers(cloud: &LocalCloud, queue: &str) -> Vec<u64> {
    let mut numbers: Vec<u64> = bodies(cloud, queue)
        .iter()
        .map(|b| match b.get("Message").and_then(Value::as_str) {
            Some(message) => serde_json::from_str::<Value>(message).unwrap()["n"].as_u64().unwrap(),
            None => b["n"].as_u64().unwrap(),
        })
        .collect();
    // Deliveries take a random latency each: the order they land in is not the test's.
    numbers.sort_unstable();
    numbers
}

#[tokio::test(start_paused = true)]
async fn given_typed_attributes_then_numeric_policies_match_numbers_string_arrays_match_an_element_and_types_are_delivered()
 {
    let mut cloud = cloud(TYPED);
    // 1: a Number over 100, tagged gift among others, a gold order over 50: everyone.
    cloud.publish(
        "Topic",
        typed(1, "gold", 120, "Number", "120", Some(r#"["fragile", "gift"]"#)),
        "test",
    );
    // 2: a Number under 100, tagged gift only, a gold order of 20.
    cloud.publish(
        "Topic",
        typed(2, "gold", 20, "Number", "99.5", Some(r#"["gift"]"#)),
        "test",
    );
    // 3: "120" as a String (numeric compares numbers only), no tags, a gold order of 60.
    cloud.publish("Topic", typed(3, "gold", 60, "String", "120", None), "test");
    // 4: a Number with a custom suffix keeps its base type; a silver order; not a gift.
    cloud.publish(
        "Topic",
        typed(4, "silver", 500, "Number.usd", "1e3", Some(r#"["fragile"]"#)),
        "test",
    );
    cloud.run(60_000).await;

    assert_eq!(numbers(&cloud, "BigSpenders"), [1, 4]);
    assert_eq!(numbers(&cloud, "Gifts"), [1, 2]);
    assert_eq!(
        numbers(&cloud, "GoldOrders"),
        [1, 3],
        "nested body policy: tier and total"
    );

    // Raw delivery keeps each attribute's data type on the SQS message.
    let raw = cloud
        .queue("BigSpenders")
        .unwrap()
        .messages()
        .find(|m| m.sent.body.starts_with(r#"{"n":1,"#))
        .unwrap()
        .sent
        .clone();
    assert_eq!(raw.attribute_type("total"), "Number");
    assert_eq!(raw.attribute_type("tags"), "String.Array");
    // Wrapped: SNS's JSON gives each attribute its Type.
    let gifts = bodies(&cloud, "Gifts");
    let wrapped = gifts
        .iter()
        .find(|b| b["Message"].as_str().unwrap().starts_with(r#"{"n":1,"#))
        .unwrap();
    assert_eq!(
        wrapped["MessageAttributes"]["total"],
        json!({"Type": "Number", "Value": "120"})
    );
    assert_eq!(
        wrapped["MessageAttributes"]["tags"],
        json!({"Type": "String.Array", "Value": r#"["fragile", "gift"]"#})
    );
}

fn load_error(resources: &str) -> String {
    let template =
        sam_template::Template::from_yaml(&format!("{HEADER}{resources}"), &sam_template::Options::default()).unwrap();
    Topology::from_template(template).unwrap_err().to_string()
}

#[test]
fn given_a_filter_policy_sns_would_refuse_then_loading_fails_naming_resource_property_and_sns_message() {
    let subscription = |properties: &str| {
        format!(
            r#"
  Topic:
    Type: AWS::SNS::Topic
  Inbox:
    Type: AWS::SQS::Queue
  InboxSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Inbox.Arn
{properties}"#
        )
    };
    assert_eq!(
        load_error(&subscription(
            "      FilterPolicy: '{\"a\": [1], \"b\": [2], \"c\": [3], \"d\": [4], \"e\": [5], \"f\": [6]}'"
        )),
        "InboxSubscription: Properties.FilterPolicy: Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"
    );
    // Nesting is for message bodies only.
    let nested = load_error(&subscription(
        "      FilterPolicy:\n        order:\n          tier: [gold]",
    ));
    assert_eq!(
        nested,
        "InboxSubscription: Properties.FilterPolicy: Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    );
    assert_eq!(
        load_error(&subscription(
            "      FilterPolicyScope: Body\n      FilterPolicy:\n        a: [x]"
        )),
        "InboxSubscription: Properties.FilterPolicyScope: Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either MessageBody or MessageAttributes"
    );
}

const RULE_TO_TOPIC: &str = r#"
  Topic:
    Type: AWS::SNS::Topic
  Big:
    Type: AWS::SQS::Queue
  Everything:
    Type: AWS::SQS::Queue
  BigSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Big.Arn
      FilterPolicyScope: MessageBody
      FilterPolicy:
        data:
          total: [{"numeric": [">", 100]}]
  EverythingSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Everything.Arn
  OrdersRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [shop.orders]
      Targets:
        - Id: topic
          Arn: !Ref Topic
          InputPath: $.detail
  SensorsRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [shop.sensors]
      Targets:
        - Id: everything
          Arn: !GetAtt Everything.Arn
"#;

#[test]
fn given_explain_when_routing_then_each_rule_and_subscription_that_does_not_take_the_event_says_why() {
    let template =
        sam_template::Template::from_yaml(&format!("{HEADER}{RULE_TO_TOPIC}"), &sam_template::Options::default())
            .unwrap();
    let topology = Topology::from_template(template).unwrap();
    let event = json!({"source": "shop.orders", "detail-type": "OrderPlaced", "detail": {"data": {"total": 12}}});
    let route = |explain| {
        emulator::route::route(&topology, event.to_string().as_bytes(), None, Registry::new(), explain)
            .unwrap()
            .remove(0)
    };
    let routed = route(true);
    assert_eq!(routed.routes, ["OrdersRule -> Topic"]);
    assert_eq!(
        routed.not_routed,
        [
            r#"OrdersRule -> Topic -> BigSubscription: filtered out: body.data.total: 12 is not in [>100]"#,
            r#"SensorsRule: no match: source: "shop.orders" is not "shop.sensors""#,
        ]
    );
    // Not asked: nothing explained.
    assert!(route(false).not_routed.is_empty());
}

#[tokio::test(start_paused = true)]
async fn given_a_scheduled_rule_then_it_fires_at_its_rate_until_the_horizon_and_the_run_ends() {
    let template = r#"
  Ticks:
    Type: AWS::SQS::Queue
  EveryMinute:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 minute)
      Targets:
        - Id: ticks
          Arn: !GetAtt Ticks.Arn
"#;
    let template =
        sam_template::Template::from_yaml(&format!("{HEADER}{template}"), &sam_template::Options::default()).unwrap();
    let options = CloudOptions {
        schedules_until: 5 * 60_000,
        ..CloudOptions::default()
    };
    let mut cloud = LocalCloud::new(
        Topology::from_template(template).unwrap(),
        options,
        &functions::FunctionCatalogue::default(),
    )
    .unwrap();
    cloud.run(i64::MAX).await;
    assert!(cloud.is_idle(), "a schedule stops at the horizon");
    let ticks = bodies(&cloud, "Ticks");
    assert_eq!(ticks.len(), 5, "minutes 1 to 5");
    assert!(
        ticks
            .iter()
            .all(|t| t["detail-type"] == "Scheduled Event" && t["source"] == "aws.events")
    );
    assert_eq!(ticks[0]["time"], "2026-11-23T09:01:00Z");
}

#[test]
fn given_a_schedule_aws_would_refuse_then_loading_names_the_rule_and_why() {
    for (expression, reason) in [
        ("rate(1 minutes)", "singular unit for 1"),
        ("rate(0 hours)", "above 0"),
        ("cron(0 12 * * ? *)", "cron schedules are not run locally"),
    ] {
        let template = format!(
            "{HEADER}  Tick:\n    Type: AWS::Events::Rule\n    Properties:\n      ScheduleExpression: {expression}\n"
        );
        let template = sam_template::Template::from_yaml(&template, &sam_template::Options::default()).unwrap();
        let err = Topology::from_template(template).unwrap_err().to_string();
        assert!(err.contains("Tick") && err.contains(reason), "{expression}: {err}");
    }
}

#[tokio::test(start_paused = true)]
async fn given_a_backlog_then_a_mapping_runs_batches_at_once_up_to_its_maximum_concurrency_and_no_more() {
    let peak = async |scaling: &str| {
        let mut cloud = cloud(&function(&format!("      BatchSize: 1\n{scaling}")));
        for _ in 0..40 {
            cloud.send("Work", work_arrived());
        }
        cloud.run(i64::MAX).await;
        assert_eq!(cloud.stats().records.get("stub"), Some(&40));
        assert!(cloud.queue("Work").unwrap().is_empty());
        cloud.stats().peak_concurrency["stub"]
    };
    assert_eq!(peak("      ScalingConfig:\n        MaximumConcurrency: 3").await, 3);
    assert_eq!(peak("      ScalingConfig:\n        MaximumConcurrency: 2").await, 2);
    // Without a cap, Lambda starts five batches at once when messages appear.
    assert_eq!(peak("").await, 5);
}

#[tokio::test(start_paused = true)]
async fn given_a_fifo_queue_then_one_batch_per_message_group_is_in_flight() {
    let template = function("      BatchSize: 1\n      ScalingConfig:\n        MaximumConcurrency: 10").replace(
        "  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n",
        "  Work:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n      ContentBasedDeduplication: true\n",
    ).replace("  WorkDlq:\n    Type: AWS::SQS::Queue\n", "  WorkDlq:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n");
    let peak = async |groups: usize| {
        let mut cloud = cloud(&template);
        for n in 0..12 {
            let mut message = work_arrived();
            message.body = message.body.replace("\"n\":1", &format!("\"n\":{n}"));
            message.group_id = Some(format!("g-{}", n % groups));
            cloud.send("Work", message);
        }
        cloud.run(i64::MAX).await;
        assert!(cloud.queue("Work").unwrap().is_empty());
        cloud.stats().peak_concurrency["stub"]
    };
    assert_eq!(peak(1).await, 1, "one group: one batch at a time");
    assert_eq!(peak(3).await, 3, "three groups: one batch each");
}

const FAILING_TARGET: &str = r#"
  Failing:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: failing
    Properties:
      FunctionName: failing
      CodeUri: ..
  Failed:
    Type: AWS::SQS::Queue
  ToFailing:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        detail-type: [WorkArrived]
      Targets:
        - Id: failing
          Arn: !GetAtt Failing.Arn
  FailingInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Failing
      Qualifier: $LATEST
SETTINGS      DestinationConfig:
        OnFailure:
          Destination: !GetAtt Failed.Arn
"#;

#[tokio::test(start_paused = true)]
async fn given_an_event_invoke_config_then_failed_asynchronous_invocations_are_retried_as_it_says_and_then_sent_to_its_destination()
 {
    let run = async |settings: &str| {
        let mut cloud = cloud(&FAILING_TARGET.replace("SETTINGS", settings));
        cloud.put_events("bus", vec![envelope("WorkArrived", json!({"n": 1}))], "test");
        cloud.run(i64::MAX).await;
        let failed = bodies(&cloud, "Failed");
        assert_eq!(failed.len(), 1, "{settings}: the failed event is kept, not dropped");
        (
            cloud.stats().invocations["failing"],
            failed[0]["requestContext"]["condition"].as_str().unwrap().to_owned(),
            failed[0]["requestPayload"]["detail-type"].clone(),
        )
    };
    let (invocations, condition, payload) = run("").await;
    assert_eq!(
        (invocations, condition.as_str()),
        (3, "RetriesExhausted"),
        "twice by default"
    );
    assert_eq!(payload, "WorkArrived", "the payload goes with it");
    assert_eq!(run("      MaximumRetryAttempts: 0\n").await.0, 1);
    assert_eq!(run("      MaximumRetryAttempts: 1\n").await.0, 2);
    let (invocations, condition, _) = run("      MaximumEventAgeInSeconds: 60\n").await;
    assert_eq!(
        (invocations, condition.as_str()),
        (1, "EventAgeExceeded"),
        "the first retry would be past 60 s"
    );
}

#[tokio::test(start_paused = true)]
async fn given_a_target_that_throttles_then_eventbridge_retries_as_its_retry_policy_says_and_then_keeps_the_event_in_its_dlq()
 {
    let template = |policy: &str| {
        format!(
            r#"
  Work:
    Type: AWS::SQS::Queue
  Undelivered:
    Type: AWS::SQS::Queue
  ToWork:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        detail-type: [WorkArrived]
      Targets:
        - Id: work
          Arn: !GetAtt Work.Arn
          DeadLetterConfig:
            Arn: !GetAtt Undelivered.Arn
{policy}"#
        )
    };
    let run = async |policy: &str, throttled: f64| {
        let source = sam_template::Template::from_yaml(
            &format!("{HEADER}{}", template(policy)),
            &sam_template::Options::default(),
        )
        .unwrap();
        let options = CloudOptions {
            faults: emulator::faults::Faults {
                target_throttled: throttled,
                ..emulator::faults::Faults::none()
            },
            ..CloudOptions::default()
        };
        let mut cloud = LocalCloud::new(
            Topology::from_template(source).unwrap(),
            options,
            &functions::FunctionCatalogue::new(registrations()),
        )
        .unwrap();
        cloud.put_events("bus", vec![envelope("WorkArrived", json!({"n": 1}))], "test");
        cloud.run(i64::MAX).await;
        let kept: Vec<BTreeMap<String, String>> = cloud
            .queue("Undelivered")
            .unwrap()
            .messages()
            .map(|m| m.sent.attributes.clone())
            .collect();
        (cloud.queue("Work").unwrap().len(), kept)
    };
    assert_eq!(run("", 0.0).await, (1, Vec::new()), "delivered");
    let (delivered, kept) = run("          RetryPolicy:\n            MaximumRetryAttempts: 3\n", 1.0).await;
    assert_eq!(delivered, 0);
    assert_eq!(kept.len(), 1, "kept, never dropped");
    assert_eq!(kept[0]["RETRY_ATTEMPTS"], "3");
    assert_eq!(kept[0]["EXHAUSTED_RETRY_CONDITION"], "MaximumRetryAttemptsExceeded");
    assert_eq!(kept[0]["ERROR_CODE"], "ThrottlingException");
    let (_, kept) = run("          RetryPolicy:\n            MaximumRetryAttempts: 0\n", 1.0).await;
    assert_eq!(kept[0]["RETRY_ATTEMPTS"], "0");
    let (_, kept) = run(
        "          RetryPolicy:\n            MaximumEventAgeInSeconds: 60\n",
        1.0,
    )
    .await;
    assert_eq!(kept[0]["EXHAUSTED_RETRY_CONDITION"], "MaximumEventAgeExceeded");
    assert_eq!(
        kept[0]["RETRY_ATTEMPTS"], "5",
        "retries 1, 2, 4, 8 and 16 s apart fit in 60 s; the next, 32 s later, would not"
    );
}

#[tokio::test(start_paused = true)]
async fn given_a_visibility_timeout_and_a_max_receive_count_from_the_template_then_retries_follow_them() {
    // The stub parks what it cannot read; a parking queue too small for it makes the record
    // fail again and again, so its receives show the queue's settings.
    let run = async |visibility: u32, receives: u32| {
        let template = function("      BatchSize: 1")
            .replace("VisibilityTimeout: 60", &format!("VisibilityTimeout: {visibility}"))
            .replace("maxReceiveCount: 2", &format!("maxReceiveCount: {receives}"));
        let mut cloud = with_unparkable_record(&template);
        cloud.run(i64::MAX).await;
        assert_eq!(cloud.queue("WorkDlq").unwrap().len(), 1);
        (cloud.stats().invocations["stub"], cloud.now() / 1000)
    };
    // Moved to the DLQ by the receive after the last allowed one, a visibility timeout later.
    assert_eq!(run(30, 2).await, (2, 60), "two receives, 30 s apart");
    assert_eq!(run(60, 4).await, (4, 240), "four receives, 60 s apart");
}

#[tokio::test(start_paused = true)]
async fn given_function_url_requests_at_the_same_instant_then_they_run_side_by_side() {
    let mut cloud = cloud(
        r#"
  Api:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: api
    Properties:
      FunctionName: api
      CodeUri: ..
      FunctionUrlConfig:
        AuthType: AWS_IAM
"#,
    );
    for label in ["a", "b", "c"] {
        let request = emulator::scenario::function_url_request("GET", "/things", &[], None);
        cloud.request(1_000, "Api", request, label);
    }
    cloud.run(i64::MAX).await;
    assert_eq!(cloud.stats().peak_concurrency["api"], 3);
    assert_eq!(cloud.exchanges().len(), 3);
    assert!(
        cloud
            .exchanges()
            .iter()
            .all(|e| e.response.as_ref().unwrap()["statusCode"] == 200)
    );
    assert_eq!(cloud.now(), 1_100, "three 100 ms requests at once end together");
}

#[tokio::test(start_paused = true)]
async fn given_a_schedule_targeting_a_function_with_queue_batches_in_flight_then_the_tick_runs_beside_them() {
    let template = r#"
  Ticker:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: ticker
    Properties:
      FunctionName: ticker
      CodeUri: ..
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      EventSourceArn: !GetAtt Work.Arn
      FunctionName: !Ref Ticker
      BatchSize: 1
      FunctionResponseTypes: [ReportBatchItemFailures]
      ScalingConfig:
        MaximumConcurrency: 2
  Tick:
    Type: AWS::Events::Rule
    Properties:
      ScheduleExpression: rate(1 minute)
      Targets:
        - Id: tick
          Arn: !GetAtt Ticker.Arn
"#;
    let source =
        sam_template::Template::from_yaml(&format!("{HEADER}{template}"), &sam_template::Options::default()).unwrap();
    let options = CloudOptions {
        schedules_until: 60_000,
        ..CloudOptions::default()
    };
    let mut cloud = LocalCloud::new(
        Topology::from_template(source).unwrap(),
        options,
        &functions::FunctionCatalogue::new(registrations()),
    )
    .unwrap();
    for _ in 0..4 {
        cloud.send_at(59_990, "Work", work_arrived());
    }
    cloud.run(i64::MAX).await;
    assert!(cloud.queue("Work").unwrap().is_empty());
    assert_eq!(cloud.stats().invocations["ticker"], 5, "four batches and one tick");
    assert_eq!(
        cloud.stats().peak_concurrency["ticker"],
        3,
        "the mapping's two batches and the tick at once"
    );
}

#[tokio::test(start_paused = true)]
async fn given_function_response_types_from_the_template_then_partial_failures_are_read_or_ignored_as_lambda_does() {
    // The stub cannot park this record (its parking queue is too small), so it reports the
    // record as a batch item failure. Without ReportBatchItemFailures, Lambda ignores that
    // answer and deletes the batch: the record is gone. With it, the record comes back and
    // ends in the DLQ.
    let run = async |response_types: &str| {
        let template = function("      BatchSize: 1").replace(
            "      FunctionResponseTypes: [ReportBatchItemFailures]\n",
            response_types,
        );
        let mut cloud = with_unparkable_record(&template);
        cloud.run(i64::MAX).await;
        (
            cloud.queue("Work").unwrap().len(),
            cloud.queue("WorkDlq").unwrap().len(),
            cloud.stats().invocations["stub"],
        )
    };
    assert_eq!(
        run("      FunctionResponseTypes: [ReportBatchItemFailures]\n").await,
        (0, 1, 2)
    );
    assert_eq!(run("").await, (0, 0, 1), "the answer is ignored and the batch deleted");
}

#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real template, infra/template.yaml, loaded as stack `local`: the values the local cloud
//! and the functions will see.

use std::path::Path;

use sam_template::{Options, Template};
use serde_json::json;

fn template() -> Template {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    Template::load(&path, &Options::default()).expect("infra/template.yaml loads")
}

#[test]
fn given_the_infra_template_when_loaded_then_reserve_inventory_sees_its_resolved_environment() {
    let t = template();
    let function = t.resource("ReserveInventory").unwrap();
    let env = |name: &str| {
        function
            .property_str(&format!("Environment.Variables.{name}"))
            .unwrap()
            .to_owned()
    };

    assert_eq!(function.physical_name, "local-reserve-inventory");
    assert_eq!(function.property_str("FunctionName"), Some("local-reserve-inventory"));
    assert_eq!(
        function.arn.as_deref(),
        Some("arn:aws:lambda:us-east-1:000000000000:function:local-reserve-inventory")
    );
    // From Globals.Function, merged with the function's own variables.
    assert_eq!(env("EVENT_BUS_NAME"), "local-events");
    assert_eq!(
        env("IDEMPOTENCY_TABLE"),
        t.resource("IdempotencyTable").unwrap().physical_name
    );
    assert_eq!(env("IDEMPOTENCY_TTL_SECONDS"), "2592000");
    assert_eq!(env("LOG_LEVEL"), "info");
    // The function's own.
    assert_eq!(
        env("INVENTORY_TABLE"),
        t.resource("InventoryTable").unwrap().physical_name
    );
    assert_eq!(
        env("PARKING_QUEUE_URL"),
        "https://sqs.us-east-1.amazonaws.com/000000000000/local-ParkingQueue"
    );
    assert_eq!(
        Some(env("PARKING_QUEUE_URL").as_str()),
        t.resource("ParkingQueue").unwrap().attribute("QueueUrl")
    );
    // Scalar globals.
    assert_eq!(function.property("Runtime"), Some(&json!("provided.al2023")));
    assert_eq!(function.property("Architectures"), Some(&json!(["arm64"])));
    assert_eq!(function.property("Timeout"), Some(&json!(10)));
}

#[test]
fn given_the_infra_template_when_loaded_then_the_event_source_mapping_points_at_its_queue() {
    let t = template();
    let mapping = t.resource("ReserveInventoryEventSourceMapping").unwrap();
    let queue = t.resource("ReserveInventoryQueue").unwrap();

    let source = mapping.property_str("EventSourceArn").unwrap();
    assert_eq!(Some(source), queue.arn.as_deref());
    assert_eq!(t.find(source).unwrap().logical_id, "ReserveInventoryQueue");
    assert_eq!(mapping.property_str("FunctionName"), Some("local-reserve-inventory"));
    assert_eq!(
        t.find("local-reserve-inventory").unwrap().logical_id,
        "ReserveInventory"
    );
    assert_eq!(
        mapping.property("FunctionResponseTypes"),
        Some(&json!(["ReportBatchItemFailures"]))
    );
}

#[test]
fn given_the_infra_template_when_loaded_then_each_queue_redrives_to_its_dead_letter_queue() {
    let t = template();
    let mut receives = Vec::new();
    for queue in t
        .of_kind("AWS::SQS::Queue")
        .filter(|q| q.property("RedrivePolicy").is_some())
    {
        let dlq_arn = queue.property_str("RedrivePolicy.deadLetterTargetArn").unwrap();
        let dlq = t.find(dlq_arn).unwrap();
        assert_eq!(dlq.logical_id, queue.logical_id.replace("Queue", "DeadLetterQueue"));
        receives.push(queue.property("RedrivePolicy.maxReceiveCount").cloned());
    }
    // `!FindInMap [Delivery, Queue, MaxReceiveCount]` resolved: the mapping's number, the same
    // for every queue, and never the intrinsic left in place.
    let mappings = t.of_kind("AWS::Lambda::EventSourceMapping").count();
    assert_eq!(receives.len(), mappings, "one redriven queue per SQS-fed function");
    assert!(
        receives[0].as_ref().is_some_and(serde_json::Value::is_u64),
        "{receives:?}"
    );
    assert!(receives.iter().all(|r| r == &receives[0]), "{receives:?}");
    let dlq = t.find(
        t.resource("ReserveInventoryQueue")
            .unwrap()
            .property_str("RedrivePolicy.deadLetterTargetArn")
            .unwrap(),
    );
    assert_eq!(dlq.unwrap().physical_name, "local-ReserveInventoryDeadLetterQueue");
}

#[test]
fn given_the_infra_template_when_loaded_then_rules_have_plain_json_patterns_and_resolved_targets() {
    let t = template();
    let rule = t.resource("ReserveInventoryRule").unwrap();

    assert_eq!(
        rule.property("EventPattern"),
        Some(&json!({"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}))
    );
    assert_eq!(rule.property_str("EventBusName"), Some("local-events"));
    assert_eq!(
        rule.arn.as_deref(),
        Some("arn:aws:events:us-east-1:000000000000:rule/local-events/local-ReserveInventoryRule")
    );
    assert_eq!(
        rule.ref_value.as_deref(),
        Some("local-events|local-ReserveInventoryRule")
    );
    let target = rule.property_str("Targets.0.Arn").unwrap();
    assert_eq!(t.find(target).unwrap().logical_id, "ReserveInventoryQueue");
    let undelivered = rule.property_str("Targets.0.DeadLetterConfig.Arn").unwrap();
    assert_eq!(t.find(undelivered).unwrap().logical_id, "UndeliveredEventsQueue");
    // The queue policy names that rule as the only sender.
    let policy = t.resource("ReserveInventoryQueuePolicy").unwrap();
    assert_eq!(
        policy.property_str("PolicyDocument.Statement.0.Condition.ArnEquals.aws:SourceArn"),
        rule.arn.as_deref()
    );
    assert_eq!(
        policy.property("Queues"),
        Some(&json!([t.resource("ReserveInventoryQueue").unwrap().ref_value]))
    );
    // Every event rule is on the shared bus, and every pattern is plain JSON (no intrinsic
    // left). Scheduled rules live on the default bus and have no pattern.
    let bus = t.resource("EventBus").unwrap();
    for rule in t
        .of_kind("AWS::Events::Rule")
        .filter(|r| r.property("ScheduleExpression").is_none())
    {
        assert_eq!(rule.property_str("EventBusName"), Some(bus.physical_name.as_str()));
        let pattern = rule.property("EventPattern").unwrap();
        assert!(pattern.get("source").is_some() && !pattern.to_string().contains("Fn::"));
    }
}

#[test]
fn given_the_infra_template_when_loaded_then_the_undelivered_policy_and_alarms_resolve() {
    let t = template();
    let policy = t.resource("UndeliveredEventsQueuePolicy").unwrap();
    assert_eq!(
        policy.property_str("PolicyDocument.Statement.0.Condition.ArnLike.aws:SourceArn"),
        Some("arn:aws:events:us-east-1:000000000000:rule/local-events/*")
    );
    let alarm = t.resource("ReserveInventoryDeadLetterAlarm").unwrap();
    // The description quotes the queue's maxReceiveCount, both read from Mappings.Delivery.
    let receives = t
        .resource("ReserveInventoryQueue")
        .unwrap()
        .property("RedrivePolicy.maxReceiveCount")
        .unwrap();
    assert_eq!(
        alarm.property_str("AlarmDescription"),
        Some(format!("reserve-inventory gave up on records after {receives} receives (see its DLQ).").as_str())
    );
    assert_eq!(
        alarm.property_str("Dimensions.0.Value"),
        Some("local-ReserveInventoryDeadLetterQueue")
    );
    assert_eq!(
        alarm.arn.as_deref(),
        Some("arn:aws:cloudwatch:us-east-1:000000000000:alarm:local-ReserveInventoryDeadLetterAlarm")
    );
    let notify = t.resource("NotifyCustomer").unwrap();
    assert_eq!(
        notify.property("Policies.0.SNSPublishMessagePolicy.TopicName"),
        Some(&json!(t.resource("NotificationsTopic").unwrap().physical_name))
    );
    assert_eq!(
        notify.property_str("Environment.Variables.NOTIFICATIONS_TOPIC_ARN"),
        Some("arn:aws:sns:us-east-1:000000000000:local-NotificationsTopic")
    );
}

#[test]
fn given_the_infra_template_when_loaded_then_outputs_and_implicit_resources_resolve() {
    let t = template();
    let url = t.outputs["OrderApiUrl"].as_str().unwrap();
    assert!(
        url.starts_with("https://") && url.ends_with(".lambda-url.us-east-1.on.aws/"),
        "{url}"
    );
    let function_url = t.resource("OrderApiUrl").unwrap();
    assert_eq!(function_url.generated_by.as_deref(), Some("OrderApi"));
    assert_eq!(function_url.property_str("AuthType"), Some("AWS_IAM"));
    assert_eq!(function_url.property_str("TargetFunctionArn"), Some("local-order-api"));
    assert_eq!(t.find(url).unwrap().logical_id, "OrderApiUrl");
    assert!(t.resource("OrderApiRole").unwrap().is("AWS::IAM::Role"));
    assert!(t.resource("ReserveInventoryUrl").is_none());

    assert_eq!(t.outputs["EventBusName"], json!("local-events"));
    assert_eq!(
        t.outputs["EventBusArn"],
        json!("arn:aws:events:us-east-1:000000000000:event-bus/local-events")
    );
    assert_eq!(
        t.outputs["NotificationsTopicArn"],
        json!("arn:aws:sns:us-east-1:000000000000:local-NotificationsTopic")
    );
    assert_eq!(
        t.outputs["ParkingQueueUrl"],
        json!(t.resource("ParkingQueue").unwrap().ref_value)
    );
    assert_eq!(t.outputs.len(), 11);
}

#[test]
fn given_the_infra_template_when_loaded_then_every_function_has_a_mapping_a_rule_and_a_queue() {
    let t = template();
    assert_eq!(
        t.description.as_deref().map(|d| d.starts_with("Orders saga")),
        Some(true)
    );
    let functions: Vec<_> = t.of_kind("AWS::Serverless::Function").collect();
    assert!(!functions.is_empty());
    for mapping in t.of_kind("AWS::Lambda::EventSourceMapping") {
        let function = t.find(mapping.property_str("FunctionName").unwrap()).unwrap();
        assert!(function.is("AWS::Serverless::Function"));
        let queue = t.find(mapping.property_str("EventSourceArn").unwrap()).unwrap();
        assert!(queue.is("AWS::SQS::Queue"));
        assert_eq!(format!("{}Queue", function.logical_id), queue.logical_id);
        let rule = t.resource(&format!("{}Rule", function.logical_id)).unwrap();
        assert_eq!(rule.property_str("Targets.0.Arn"), queue.arn.as_deref());
    }
    // Derived, not pinned: every function without a Function URL is fed by exactly one queue.
    for function in functions {
        let fed = t
            .of_kind("AWS::Lambda::EventSourceMapping")
            .filter(|m| {
                t.find(m.property_str("FunctionName").unwrap()).map(|f| &f.logical_id) == Some(&function.logical_id)
            })
            .count();
        let expected = usize::from(function.property("FunctionUrlConfig").is_none());
        assert_eq!(fed, expected, "{}: {fed} mappings", function.logical_id);
    }
}

#[test]
fn given_another_stack_name_when_loaded_then_names_follow_it() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
    let options = Options {
        stack_name: "prod".into(),
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        ..Options::default()
    };
    let t = Template::load(&path, &options).unwrap();
    let function = t.resource("ShipOrder").unwrap();
    assert_eq!(function.physical_name, "prod-ship-order");
    assert_eq!(
        function.property_str("Environment.Variables.EVENT_BUS_NAME"),
        Some("prod-events")
    );
    assert_eq!(
        t.resource("ShipOrderQueue").unwrap().ref_value.as_deref(),
        Some("https://sqs.eu-west-1.amazonaws.com/123456789012/prod-ShipOrderQueue")
    );
}

#[test]
fn given_a_missing_file_when_loaded_then_the_error_names_it() {
    let err = Template::load(Path::new("/nonexistent/template.yaml"), &Options::default()).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/template.yaml"), "{err}");
}

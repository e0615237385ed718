#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Per resource type: physical name, ARN, and what Ref and Fn::GetAtt return (as the
//! CloudFormation resource reference documents them); reverse lookup with `find`.

mod common;

use common::{SAM, error, load, prop, resource};
use serde_json::json;

const ACCOUNT: &str = "us-east-1:000000000000";

/// A template whose `Probe` resource resolves `Ref` and `Fn::GetAtt` of `target`.
fn probe(resources: &str, probes: &[(&str, &str)]) -> sam_template::Template {
    let values: String = probes
        .iter()
        .map(|(name, expr)| format!("      {name}: {expr}\n"))
        .collect();
    load(&format!(
        "{SAM}Resources:\n{resources}  Probe:\n    Type: Custom::Probe\n    Properties:\n{values}"
    ))
}

#[test]
fn given_a_queue_when_referenced_then_ref_is_its_url_and_attributes_follow_the_docs() {
    let t = probe(
        "  Named:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${AWS::StackName}-named'\n  Unnamed:\n    Type: AWS::SQS::Queue\n",
        &[
            ("Ref", "!Ref Named"),
            ("Arn", "!GetAtt Named.Arn"),
            ("QueueName", "!GetAtt Named.QueueName"),
            ("QueueUrl", "!GetAtt Named.QueueUrl"),
            ("Generated", "!GetAtt Unnamed.QueueName"),
        ],
    );
    let url = "https://sqs.us-east-1.amazonaws.com/000000000000/local-named";
    assert_eq!(prop(&t, "Probe", "Ref"), &json!(url));
    assert_eq!(prop(&t, "Probe", "QueueUrl"), &json!(url));
    assert_eq!(
        prop(&t, "Probe", "Arn"),
        &json!(format!("arn:aws:sqs:{ACCOUNT}:local-named"))
    );
    assert_eq!(prop(&t, "Probe", "QueueName"), &json!("local-named"));
    assert_eq!(prop(&t, "Probe", "Generated"), &json!("local-Unnamed"));
    let named = resource(&t, "Named");
    assert_eq!(
        (named.physical_name.as_str(), named.ref_value.as_deref()),
        ("local-named", Some(url))
    );
}

#[test]
fn given_a_fifo_queue_without_a_name_when_loaded_then_its_generated_name_ends_in_fifo() {
    let t = probe(
        "  Orders:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n",
        &[],
    );
    assert_eq!(resource(&t, "Orders").physical_name, "local-Orders.fifo");
    let err = error(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      FifoQueue: true\n      QueueName: q\n",
    );
    assert_eq!(
        err.to_string(),
        "Q: Properties.QueueName: the name of a FIFO queue must end in .fifo"
    );
}

#[test]
fn given_a_topic_and_a_subscription_when_referenced_then_refs_are_arns() {
    let t = probe(
        "  Topic:\n    Type: AWS::SNS::Topic\n  Sub:\n    Type: AWS::SNS::Subscription\n    Properties:\n      TopicArn: !Ref Topic\n      Protocol: sqs\n",
        &[
            ("Ref", "!Ref Topic"),
            ("TopicArn", "!GetAtt Topic.TopicArn"),
            ("TopicName", "!GetAtt Topic.TopicName"),
            ("Subscription", "!Ref Sub"),
        ],
    );
    let arn = format!("arn:aws:sns:{ACCOUNT}:local-Topic");
    assert_eq!(prop(&t, "Probe", "Ref"), &json!(arn));
    assert_eq!(prop(&t, "Probe", "TopicArn"), &json!(arn));
    assert_eq!(prop(&t, "Probe", "TopicName"), &json!("local-Topic"));
    let subscription = prop(&t, "Probe", "Subscription").as_str().unwrap();
    assert!(
        subscription.starts_with(&format!("{arn}:")) && subscription.len() == arn.len() + 37,
        "{subscription}"
    );
    assert_eq!(t.find(subscription).unwrap().logical_id, "Sub");
}

#[test]
fn given_a_bus_rules_and_an_archive_when_referenced_then_names_and_arns_follow_the_docs() {
    let t = probe(
        concat!(
            "  Bus:\n    Type: AWS::Events::EventBus\n    Properties:\n      Name: orders\n",
            "  OnBus:\n    Type: AWS::Events::Rule\n    Properties:\n      Name: placed\n      EventBusName: !Ref Bus\n",
            "  ByArn:\n    Type: AWS::Events::Rule\n    Properties:\n      EventBusName: !GetAtt Bus.Arn\n",
            "  OnDefault:\n    Type: AWS::Events::Rule\n",
            "  Archive:\n    Type: AWS::Events::Archive\n    Properties:\n      SourceArn: !GetAtt Bus.Arn\n",
        ),
        &[
            ("BusRef", "!Ref Bus"),
            ("BusArn", "!GetAtt Bus.Arn"),
            ("BusName", "!GetAtt Bus.Name"),
            ("RuleRef", "!Ref OnBus"),
            ("RuleArn", "!GetAtt OnBus.Arn"),
            ("ByArn", "!GetAtt ByArn.Arn"),
            ("DefaultRef", "!Ref OnDefault"),
            ("DefaultArn", "!GetAtt OnDefault.Arn"),
            ("ArchiveRef", "!Ref Archive"),
            ("ArchiveArn", "!GetAtt Archive.Arn"),
        ],
    );
    assert_eq!(prop(&t, "Probe", "BusRef"), &json!("orders"));
    assert_eq!(
        prop(&t, "Probe", "BusArn"),
        &json!(format!("arn:aws:events:{ACCOUNT}:event-bus/orders"))
    );
    assert_eq!(prop(&t, "Probe", "BusName"), &json!("orders"));
    // Ref of a rule on a custom bus is `bus|rule` (cloudformation-coverage-roadmap#1131).
    assert_eq!(prop(&t, "Probe", "RuleRef"), &json!("orders|placed"));
    assert_eq!(
        prop(&t, "Probe", "RuleArn"),
        &json!(format!("arn:aws:events:{ACCOUNT}:rule/orders/placed"))
    );
    assert_eq!(
        prop(&t, "Probe", "ByArn"),
        &json!(format!("arn:aws:events:{ACCOUNT}:rule/orders/local-ByArn"))
    );
    assert_eq!(prop(&t, "Probe", "DefaultRef"), &json!("local-OnDefault"));
    assert_eq!(
        prop(&t, "Probe", "DefaultArn"),
        &json!(format!("arn:aws:events:{ACCOUNT}:rule/local-OnDefault"))
    );
    assert_eq!(prop(&t, "Probe", "ArchiveRef"), &json!("local-Archive"));
    assert_eq!(
        prop(&t, "Probe", "ArchiveArn"),
        &json!(format!("arn:aws:events:{ACCOUNT}:archive/local-Archive"))
    );
    assert_eq!(t.find("orders|placed").unwrap().logical_id, "OnBus");
    assert_eq!(resource(&t, "OnBus").physical_name, "placed");
}

#[test]
fn given_a_table_when_referenced_then_ref_is_its_name_and_stream_arn_needs_a_stream() {
    let t = probe(
        "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: orders\n      StreamSpecification: {StreamViewType: NEW_IMAGE}\n",
        &[
            ("Ref", "!Ref Table"),
            ("Arn", "!GetAtt Table.Arn"),
            ("Stream", "!GetAtt Table.StreamArn"),
        ],
    );
    let arn = format!("arn:aws:dynamodb:{ACCOUNT}:table/orders");
    assert_eq!(prop(&t, "Probe", "Ref"), &json!("orders"));
    assert_eq!(prop(&t, "Probe", "Arn"), &json!(arn));
    assert!(
        prop(&t, "Probe", "Stream")
            .as_str()
            .unwrap()
            .starts_with(&format!("{arn}/stream/"))
    );

    let err = error(
        "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n  P:\n    Type: Custom::P\n    Properties:\n      S: !GetAtt T.StreamArn\n",
    );
    assert_eq!(
        err.to_string(),
        "P: Properties.S: Fn::GetAtt: T has no StreamArn: it declares no StreamSpecification"
    );
}

#[test]
fn given_functions_and_a_mapping_when_referenced_then_refs_are_names_and_ids() {
    let t = probe(
        concat!(
            "  Sam:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: !Sub '${AWS::StackName}-sam'\n",
            "  Raw:\n    Type: AWS::Lambda::Function\n",
            "  Mapping:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref Sam\n",
        ),
        &[
            ("SamRef", "!Ref Sam"),
            ("SamArn", "!GetAtt Sam.Arn"),
            ("RawRef", "!Ref Raw"),
            ("RawArn", "!GetAtt Raw.Arn"),
            ("MappingRef", "!Ref Mapping"),
            ("MappingId", "!GetAtt Mapping.Id"),
            ("MappingArn", "!GetAtt Mapping.EventSourceMappingArn"),
        ],
    );
    assert_eq!(prop(&t, "Probe", "SamRef"), &json!("local-sam"));
    assert_eq!(
        prop(&t, "Probe", "SamArn"),
        &json!(format!("arn:aws:lambda:{ACCOUNT}:function:local-sam"))
    );
    assert_eq!(prop(&t, "Probe", "RawRef"), &json!("local-Raw"));
    assert_eq!(
        prop(&t, "Probe", "RawArn"),
        &json!(format!("arn:aws:lambda:{ACCOUNT}:function:local-Raw"))
    );
    let id = prop(&t, "Probe", "MappingRef").as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(id.split('-').map(str::len).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12]);
    assert_eq!(prop(&t, "Probe", "MappingId"), &json!(id));
    assert_eq!(
        prop(&t, "Probe", "MappingArn"),
        &json!(format!("arn:aws:lambda:{ACCOUNT}:event-source-mapping:{id}"))
    );
    // Stable across loads.
    let again = probe(
        "  Mapping:\n    Type: AWS::Lambda::EventSourceMapping\n",
        &[("Id", "!Ref Mapping")],
    );
    assert_eq!(prop(&again, "Probe", "Id"), &json!(id));
}

#[test]
fn given_a_sam_function_when_loaded_then_its_implicit_role_and_url_can_be_referenced() {
    let t = probe(
        concat!(
            "  Api:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: api\n      FunctionUrlConfig: {AuthType: NONE}\n",
            "  WithRole:\n    Type: AWS::Serverless::Function\n    Properties:\n      Role: arn:aws:iam::000000000000:role/given\n",
        ),
        &[
            ("RoleArn", "!GetAtt ApiRole.Arn"),
            ("RoleRef", "!Ref ApiRole"),
            ("Url", "!GetAtt ApiUrl.FunctionUrl"),
            ("UrlFunction", "!GetAtt ApiUrl.FunctionArn"),
        ],
    );
    assert_eq!(
        prop(&t, "Probe", "RoleArn"),
        &json!("arn:aws:iam::000000000000:role/local-ApiRole")
    );
    assert_eq!(prop(&t, "Probe", "RoleRef"), &json!("local-ApiRole"));
    let url = prop(&t, "Probe", "Url").as_str().unwrap();
    let id = url
        .strip_prefix("https://")
        .and_then(|u| u.strip_suffix(".lambda-url.us-east-1.on.aws/"))
        .unwrap();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{url}"
    );
    assert_eq!(
        prop(&t, "Probe", "UrlFunction"),
        &json!(format!("arn:aws:lambda:{ACCOUNT}:function:api"))
    );
    assert_eq!(resource(&t, "ApiUrl").generated_by.as_deref(), Some("Api"));
    assert_eq!(prop(&t, "ApiUrl", "AuthType"), &json!("NONE"));
    assert!(t.resource("WithRoleRole").is_none() && t.resource("WithRoleUrl").is_none());
}

#[test]
fn given_a_queue_policy_and_an_alarm_when_referenced_then_refs_follow_the_docs() {
    let t = probe(
        concat!(
            "  Q:\n    Type: AWS::SQS::Queue\n",
            "  Policy:\n    Type: AWS::SQS::QueuePolicy\n    Properties:\n      Queues: [!Ref Q]\n",
            "  Alarm:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n      AlarmName: depth\n",
        ),
        &[
            ("PolicyRef", "!Ref Policy"),
            ("PolicyId", "!GetAtt Policy.Id"),
            ("AlarmRef", "!Ref Alarm"),
            ("AlarmArn", "!GetAtt Alarm.Arn"),
        ],
    );
    assert_eq!(prop(&t, "Probe", "PolicyRef"), &json!("local-Policy"));
    assert_eq!(prop(&t, "Probe", "PolicyId"), &json!("local-Policy"));
    assert_eq!(resource(&t, "Policy").arn, None);
    assert_eq!(prop(&t, "Probe", "AlarmRef"), &json!("depth"));
    assert_eq!(
        prop(&t, "Probe", "AlarmArn"),
        &json!(format!("arn:aws:cloudwatch:{ACCOUNT}:alarm:depth"))
    );
}

#[test]
fn given_a_capacity_provider_and_a_log_group_when_referenced_then_refs_are_names_and_arns_follow_the_docs() {
    let t = probe(
        concat!(
            "  Provider:\n    Type: AWS::Lambda::CapacityProvider\n    Properties:\n      CapacityProviderName: !Sub '${AWS::StackName}-mi'\n",
            "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: /aws/lambda/capacity-provider/mi\n",
        ),
        &[
            ("ProviderRef", "!Ref Provider"),
            ("ProviderArn", "!GetAtt Provider.Arn"),
            ("LogsRef", "!Ref Logs"),
            ("LogsArn", "!GetAtt Logs.Arn"),
        ],
    );
    assert_eq!(prop(&t, "Probe", "ProviderRef"), &json!("local-mi"));
    assert_eq!(
        prop(&t, "Probe", "ProviderArn"),
        &json!(format!("arn:aws:lambda:{ACCOUNT}:capacity-provider:local-mi"))
    );
    assert_eq!(prop(&t, "Probe", "LogsRef"), &json!("/aws/lambda/capacity-provider/mi"));
    // GetAtt Arn covers the group's streams (`:*`); the group's own ARN does not end so.
    let group = format!("arn:aws:logs:{ACCOUNT}:log-group:/aws/lambda/capacity-provider/mi");
    assert_eq!(prop(&t, "Probe", "LogsArn"), &json!(format!("{group}:*")));
    assert_eq!(resource(&t, "Logs").arn.as_deref(), Some(group.as_str()));
}

#[test]
fn given_a_type_the_loader_does_not_know_when_loaded_then_it_gets_a_generated_name_and_no_arn() {
    let t = probe(
        "  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Tags: [{Key: a, Value: !Ref AWS::Region}]\n",
        &[],
    );
    let bucket = resource(&t, "Bucket");
    assert_eq!(
        (
            bucket.physical_name.as_str(),
            bucket.arn.as_deref(),
            bucket.ref_value.as_deref()
        ),
        ("local-Bucket", None, None)
    );
    assert_eq!(prop(&t, "Bucket", "Tags.0.Value"), &json!("us-east-1"));
}

#[test]
fn given_references_of_every_shape_when_found_then_the_resource_comes_back() {
    let t = probe(
        concat!(
            "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: jobs\n",
            "  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: jobs-table\n",
        ),
        &[],
    );
    let found = |reference: &str| t.find(reference).map(|r| r.logical_id.clone());
    assert_eq!(found(&format!("arn:aws:sqs:{ACCOUNT}:jobs")).as_deref(), Some("Jobs"));
    assert_eq!(
        found("https://sqs.us-east-1.amazonaws.com/000000000000/jobs").as_deref(),
        Some("Jobs")
    );
    assert_eq!(
        found("http://localhost:4566/000000000000/jobs").as_deref(),
        Some("Jobs")
    );
    assert_eq!(found("jobs").as_deref(), Some("Jobs"));
    assert_eq!(found("Jobs").as_deref(), Some("Jobs"));
    assert_eq!(
        found(&format!("arn:aws:dynamodb:{ACCOUNT}:table/jobs-table")).as_deref(),
        Some("Table")
    );
    assert_eq!(found("jobs-table").as_deref(), Some("Table"));
    assert_eq!(found("http://localhost:4566/111111111111/jobs"), None);
    assert_eq!(found("nothing"), None);
    assert_eq!(t.of_kind("AWS::SQS::Queue").count(), 1);
    assert!(resource(&t, "Jobs").is("AWS::SQS::Queue"));
}

#[test]
fn given_sam_events_on_a_function_when_loaded_then_they_are_kept_resolved_for_the_local_cloud() {
    let t = probe(
        concat!(
            "  Jobs:\n    Type: AWS::SQS::Queue\n",
            "  Worker:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n",
            "        FromJobs:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt Jobs.Arn\n            BatchSize: 5\n",
        ),
        &[],
    );
    assert_eq!(
        prop(&t, "Worker", "Events.FromJobs"),
        &json!({"Type": "SQS", "Properties": {"Queue": format!("arn:aws:sqs:{ACCOUNT}:local-Jobs"), "BatchSize": 5}})
    );
    // SAM would generate WorkerFromJobs (the mapping); the loader does not add it.
    assert!(t.resource("WorkerFromJobs").is_none());
}

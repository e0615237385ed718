#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `Conditions` and `Fn::If`, as CloudFormation evaluates them: each condition from parameters
//! (and other conditions), `Fn::If` choosing a value or removing the property with
//! `AWS::NoValue`, a resource's or output's `Condition` leaving it out when false; mistakes named
//! by where they are.

mod common;

use common::{SAM, error, load, load_with, prop, resource};
use sam_template::Options;
use serde_json::json;

const TEMPLATE: &str = r#"
Parameters:
  KeyArn:
    Type: String
    Default: ""
  Stage:
    Type: String
    Default: dev
Conditions:
  HasKey: !Not [!Equals [!Ref KeyArn, ""]]
  IsProd: !Equals [prod, !Ref Stage]
  KeyInProd: !And [!Condition HasKey, {Condition: IsProd}]
  Either: {"Fn::Or": [{Condition: HasKey}, !Condition IsProd]}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !If [HasKey, !Ref KeyArn, !Ref AWS::NoValue]
      SqsManagedSseEnabled: !If [HasKey, !Ref AWS::NoValue, true]
      Tags:
        - Key: strict
          Value: !If [KeyInProd, "yes", "no"]
        - Key: either
          Value: {"Fn::If": [Either, "yes", "no"]}
"#;

#[test]
fn given_the_default_parameters_then_each_if_takes_its_false_branch_and_no_value_removes_the_property() {
    let template = load(TEMPLATE);
    let queue = resource(&template, "Queue");
    assert_eq!(queue.property("KmsMasterKeyId"), None);
    assert_eq!(prop(&template, "Queue", "SqsManagedSseEnabled"), &json!(true));
    assert_eq!(prop(&template, "Queue", "Tags.0.Value"), &json!("no"));
    assert_eq!(prop(&template, "Queue", "Tags.1.Value"), &json!("no"));
}

#[test]
fn given_parameters_that_make_conditions_true_then_the_true_branches_are_taken() {
    let key = "arn:aws:kms:us-east-1:000000000000:key/k-1";
    let template = load_with(TEMPLATE, &Options::default().with_parameter("KeyArn", key));
    assert_eq!(prop(&template, "Queue", "KmsMasterKeyId"), &json!(key));
    assert_eq!(resource(&template, "Queue").property("SqsManagedSseEnabled"), None);
    assert_eq!(prop(&template, "Queue", "Tags.0.Value"), &json!("no"), "not in prod");
    assert_eq!(prop(&template, "Queue", "Tags.1.Value"), &json!("yes"));
    let both = Options::default()
        .with_parameter("KeyArn", key)
        .with_parameter("Stage", "prod");
    assert_eq!(
        prop(&load_with(TEMPLATE, &both), "Queue", "Tags.0.Value"),
        &json!("yes")
    );
}

#[test]
fn given_mistakes_in_conditions_then_each_is_named_where_it_is() {
    let unknown = error(&TEMPLATE.replace("!If [HasKey, !Ref KeyArn", "!If [HasKy, !Ref KeyArn"));
    assert_eq!(
        unknown.to_string(),
        "Queue: Properties.KmsMasterKeyId.Fn::If[0]: 'HasKy' is not a condition of this template"
    );
    let circular = error(&TEMPLATE.replace(
        "IsProd: !Equals [prod, !Ref Stage]",
        "IsProd: !And [!Condition KeyInProd, !Condition HasKey]",
    ));
    assert!(
        circular
            .to_string()
            .contains("circular conditions: KeyInProd -> IsProd -> KeyInProd"),
        "{circular}"
    );
    let not_a_condition = error(&TEMPLATE.replace("HasKey: !Not [!Equals [!Ref KeyArn, \"\"]]", "HasKey: !Ref KeyArn"));
    assert!(
        not_a_condition.to_string().starts_with(
            "Conditions.HasKey: a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or a Condition reference"
        ),
        "{not_a_condition}"
    );
    let few = error(&TEMPLATE.replace(
        "!And [!Condition HasKey, {Condition: IsProd}]",
        "!And [!Condition HasKey]",
    ));
    assert!(
        few.to_string().contains("Fn::And takes 2 to 10 conditions, found 1"),
        "{few}"
    );
}

/// A queue and a function created only under `HasKey`, an output only under it, and a queue
/// that names the conditional queue only where `HasKey` guards it.
const CONDITIONAL: &str = r#"
Parameters:
  KeyArn:
    Type: String
    Default: ""
Conditions:
  HasKey: !Not [!Equals [!Ref KeyArn, ""]]
Resources:
  Keyed:
    Type: AWS::SQS::Queue
    Condition: HasKey
    Properties:
      KmsMasterKeyId: !Ref KeyArn
  Worker:
    Type: AWS::Serverless::Function
    Condition: HasKey
    Properties:
      FunctionUrlConfig: {AuthType: AWS_IAM}
  Always:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !If [HasKey, !GetAtt Keyed.Arn, !Ref AWS::NoValue]
        maxReceiveCount: 5
Outputs:
  KeyedUrl:
    Condition: HasKey
    Value: !Ref Keyed
  AlwaysUrl:
    Value: !Ref Always
"#;

#[test]
fn given_a_false_condition_on_resources_and_an_output_then_they_are_left_out_with_what_sam_generates() {
    let template = load(&format!("{SAM}{CONDITIONAL}"));
    for id in ["Keyed", "Worker", "WorkerRole", "WorkerUrl"] {
        assert!(template.resource(id).is_none(), "{id} is not created");
    }
    assert!(template.resource("Always").is_some());
    assert_eq!(
        resource(&template, "Always").property("RedrivePolicy.deadLetterTargetArn"),
        None
    );
    assert_eq!(template.outputs.keys().collect::<Vec<_>>(), ["AlwaysUrl"]);
}

#[test]
fn given_a_true_condition_on_resources_and_an_output_then_they_are_created_and_referenced() {
    let key = "arn:aws:kms:us-east-1:000000000000:key/k-1";
    let template = load_with(
        &format!("{SAM}{CONDITIONAL}"),
        &Options::default().with_parameter("KeyArn", key),
    );
    for id in ["Keyed", "Worker", "WorkerRole", "WorkerUrl", "Always"] {
        assert!(template.resource(id).is_some(), "{id} is created");
    }
    assert_eq!(
        prop(&template, "Always", "RedrivePolicy.deadLetterTargetArn"),
        &json!("arn:aws:sqs:us-east-1:000000000000:local-Keyed")
    );
    assert_eq!(
        template.outputs.get("KeyedUrl"),
        Some(&json!("https://sqs.us-east-1.amazonaws.com/000000000000/local-Keyed"))
    );
}

#[test]
fn given_a_reference_to_a_resource_its_condition_leaves_out_then_it_is_named_with_the_condition() {
    let conditional = format!("{SAM}{CONDITIONAL}");
    let unguarded = error(&conditional.replace(
        "!If [HasKey, !GetAtt Keyed.Arn, !Ref AWS::NoValue]",
        "!GetAtt Keyed.Arn",
    ));
    assert_eq!(
        unguarded.to_string(),
        "Always: Properties.RedrivePolicy.deadLetterTargetArn: Fn::GetAtt: 'Keyed' is not created: its Condition HasKey is false (guard the reference with Fn::If [HasKey, ...])"
    );
    let depends = error(&conditional.replace(
        "  Always:\n    Type: AWS::SQS::Queue\n",
        "  Always:\n    Type: AWS::SQS::Queue\n    DependsOn: Keyed\n",
    ));
    assert_eq!(
        depends.to_string(),
        "Always: DependsOn: 'Keyed' is not created: its Condition HasKey is false"
    );
    let unknown = error(&conditional.replacen("Condition: HasKey", "Condition: HasKy", 1));
    assert_eq!(
        unknown.to_string(),
        "Keyed: Condition: 'HasKy' is not a condition of this template"
    );
}

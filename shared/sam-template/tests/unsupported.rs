#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Everything the loader does not implement is refused with an error naming the resource and
//! the property path; nothing is silently ignored.

mod common;

use common::{SAM, error};

/// A SAM function whose environment variable X is `value`.
fn function_with_variable(value: &str) -> String {
    format!(
        "{SAM}Resources:\n  ReserveInventory:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n          X: {value}\n"
    )
}

fn assert_refused(value: &str, expected_start: &str) {
    let err = error(&function_with_variable(value));
    assert_eq!(err.resource(), Some("ReserveInventory"), "{err}");
    assert!(
        err.to_string().starts_with(expected_start),
        "expected `{expected_start}...`, got `{err}`"
    );
}

#[test]
fn given_other_unsupported_intrinsics_when_loaded_then_each_is_named() {
    let at = "ReserveInventory: Properties.Environment.Variables.X: ";
    assert_refused(
        "!ImportValue shared-bus",
        &format!("{at}Fn::ImportValue is not supported by the local loader"),
    );
    assert_refused(
        "{Fn::ImportValue: shared-bus}",
        &format!("{at}Fn::ImportValue is not supported by the local loader"),
    );
    assert_refused(
        "!Select [0, !GetAZs '']",
        "ReserveInventory: Properties.Environment.Variables.X.Fn::Select[1]: Fn::GetAZs is not supported",
    );
    assert_refused(
        "!Cidr [10.0.0.0/16, 2, 8]",
        &format!("{at}Fn::Cidr is not supported by the local loader"),
    );
    assert_refused(
        "!Equals [a, b]",
        &format!("{at}Fn::Equals belongs in the Conditions section; choose a value with Fn::If"),
    );
    assert_refused(
        "{Fn::Length: [a]}",
        &format!("{at}Fn::Length is not supported by the local loader"),
    );
    assert_refused(
        "!Condition IsProd",
        &format!("{at}Condition belongs in the Conditions section; choose a value with Fn::If"),
    );
}

#[test]
fn given_an_unsupported_intrinsic_nested_in_another_when_loaded_then_the_path_goes_through_it() {
    assert_refused(
        "!Join ['', [a, !ImportValue b]]",
        "ReserveInventory: Properties.Environment.Variables.X.Fn::Join[1][1]: Fn::ImportValue is not supported",
    );
}

#[test]
fn given_an_unknown_function_or_tag_when_loaded_then_it_is_an_error() {
    assert_refused(
        "{Fn::Frobnicate: a}",
        "ReserveInventory: Properties.Environment.Variables.X: Fn::Frobnicate is not a CloudFormation intrinsic function",
    );
    assert_refused(
        "!Frobnicate a",
        "ReserveInventory: Properties.Environment.Variables.X: unknown YAML tag !Frobnicate",
    );
}

#[test]
fn given_a_ref_to_nothing_when_loaded_then_it_is_an_error() {
    assert_refused(
        "!Ref Missing",
        "ReserveInventory: Properties.Environment.Variables.X: Ref: 'Missing' is not a parameter, pseudo parameter or resource of this template",
    );
    assert_refused(
        "!Sub '${Missing}'",
        "ReserveInventory: Properties.Environment.Variables.X: Ref: 'Missing' is not a parameter",
    );
}

#[test]
fn given_getatt_to_nothing_or_an_unknown_attribute_when_loaded_then_it_is_an_error() {
    let with_queue = |value: &str| {
        error(&format!(
            "{}  Q:\n    Type: AWS::SQS::Queue\n",
            function_with_variable(value)
        ))
        .to_string()
    };
    assert_eq!(
        with_queue("!GetAtt Q.Colour"),
        "ReserveInventory: Properties.Environment.Variables.X: Fn::GetAtt: AWS::SQS::Queue has no attribute 'Colour' known to the local loader (known: Arn, QueueName, QueueUrl)"
    );
    assert_eq!(
        with_queue("!GetAtt Nope.Arn"),
        "ReserveInventory: Properties.Environment.Variables.X: Fn::GetAtt: 'Nope' is not a resource of this template"
    );
    assert_eq!(
        with_queue("!Sub '${Q.Colour}'"),
        "ReserveInventory: Properties.Environment.Variables.X: Fn::GetAtt: AWS::SQS::Queue has no attribute 'Colour' known to the local loader (known: Arn, QueueName, QueueUrl)"
    );
    assert!(
        with_queue("!GetAtt ReserveInventoryUrl.FunctionUrl")
            .contains("(SAM creates <Function>Url only for a function with FunctionUrlConfig)")
    );
}

#[test]
fn given_ref_or_getatt_on_a_type_the_loader_does_not_know_when_loaded_then_it_is_an_error() {
    let with_bucket = |value: &str| {
        error(&format!(
            "{}  Bucket:\n    Type: AWS::S3::Bucket\n",
            function_with_variable(value)
        ))
        .to_string()
    };
    assert_eq!(
        with_bucket("!Ref Bucket"),
        "ReserveInventory: Properties.Environment.Variables.X: Ref: the local loader does not know what Ref returns for AWS::S3::Bucket (Bucket)"
    );
    assert_eq!(
        with_bucket("!GetAtt Bucket.Arn"),
        "ReserveInventory: Properties.Environment.Variables.X: Fn::GetAtt: the local loader does not know the attributes of AWS::S3::Bucket (Bucket)"
    );
}

#[test]
fn given_another_transform_when_loaded_then_it_is_refused() {
    let err = error("Transform: AWS::LanguageExtensions\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n");
    assert_eq!(
        err.to_string(),
        "Transform: AWS::LanguageExtensions is not supported by the local loader (only AWS::Serverless-2016-10-31)"
    );
    let err = error(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
    );
    assert!(
        err.to_string().starts_with("Transform: AWS::LanguageExtensions"),
        "{err}"
    );
}

#[test]
fn given_sam_constructs_the_loader_does_not_expand_when_loaded_then_they_are_refused() {
    let err = error(&format!(
        "{SAM}Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      AutoPublishAlias: live\n"
    ));
    assert!(
        err.to_string()
            .starts_with("Fn: Properties.AutoPublishAlias: the version and alias SAM would publish"),
        "{err}"
    );
    let err = error(&format!("{SAM}Resources:\n  Api:\n    Type: AWS::Serverless::Api\n"));
    assert!(
        err.to_string()
            .starts_with("Api: Type: AWS::Serverless::Api is not supported by the local loader"),
        "{err}"
    );
    let err = error("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n");
    assert!(
        err.to_string()
            .starts_with("Fn: Type: AWS::Serverless::Function is SAM syntax"),
        "{err}"
    );
}

#[test]
fn given_find_in_map_with_a_default_value_when_loaded_then_it_is_refused() {
    assert_refused(
        "!FindInMap [M, a, b, {DefaultValue: c}]",
        "ReserveInventory: Properties.Environment.Variables.X: Fn::FindInMap: a DefaultValue needs the AWS::LanguageExtensions transform",
    );
}

#[test]
fn given_resources_that_depend_on_each_other_when_loaded_then_the_cycle_is_named() {
    let err = error(
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt B.QueueName\n  B:\n    Type: AWS::SQS::Queue\n    DependsOn: A\n",
    );
    assert_eq!(
        err.to_string(),
        "Resources: circular dependency between resources: A -> B -> A"
    );
}

#[test]
fn given_malformed_templates_when_loaded_then_the_errors_say_where() {
    let err = error("Resources: [\n");
    assert!(err.to_string().starts_with("template is not valid YAML:"), "{err}");
    let err = error("Resourcez:\n  Q:\n    Type: AWS::SQS::Queue\n");
    assert!(
        err.to_string().starts_with("Resourcez: not a template section"),
        "{err}"
    );
    let err = error("Resources: {}\n");
    assert_eq!(err.to_string(), "Resources: a template needs at least one resource");
    let err = error("Resources:\n  Q:\n    Properties: {}\n");
    assert_eq!(err.to_string(), "Q: Type: a resource needs a Type");
    let err = error("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Propertys: {}\n");
    assert_eq!(err.to_string(), "Q: Propertys: not a resource attribute");
    let err = error("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    DependsOn: Nope\n");
    assert_eq!(
        err.to_string(),
        "Q: DependsOn: 'Nope' is not a resource of this template"
    );
}

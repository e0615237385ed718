#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Parameters: defaults, overrides from the options, missing values, types and constraints.

mod common;

use common::{error, load, load_with, prop};
use sam_template::{Options, TemplateError};
use serde_json::json;

const TEMPLATE: &str = r#"
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Retention:
    Type: Number
    Default: 4
    MinValue: 1
    MaxValue: 14
  Subnets:
    Type: CommaDelimitedList
    Default: "s-1, s-2"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-${Stage}-orders"
      Days: !Ref Retention
      Subnets: !Ref Subnets
"#;

#[test]
fn given_defaults_when_no_override_then_defaults_are_used() {
    let t = load(TEMPLATE);
    assert_eq!(t.resource("Table").unwrap().physical_name, "local-dev-orders");
    // Ref to a Number parameter returns its text, as CloudFormation does.
    assert_eq!(prop(&t, "Table", "Days"), &json!("4"));
    assert_eq!(prop(&t, "Table", "Subnets"), &json!(["s-1", "s-2"]));
    assert_eq!(t.parameters["Stage"], "dev");
    assert_eq!(t.parameters["Subnets"], "s-1, s-2");
}

#[test]
fn given_overrides_when_loaded_then_they_win_over_defaults() {
    let options = Options::default()
        .with_parameter("Stage", "prod")
        .with_parameter("Subnets", "s-9");
    let t = load_with(TEMPLATE, &options);
    assert_eq!(t.resource("Table").unwrap().physical_name, "local-prod-orders");
    assert_eq!(prop(&t, "Table", "Subnets"), &json!(["s-9"]));
    assert_eq!(t.parameters["Stage"], "prod");
}

#[test]
fn given_a_parameter_without_default_or_override_when_loaded_then_the_error_names_it() {
    let err = error("Parameters:\n  Secret:\n    Type: String\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n");
    assert!(matches!(&err, TemplateError::Parameter { name, .. } if name == "Secret"));
    assert_eq!(
        err.to_string(),
        "Parameters.Secret: has no value: it declares no Default and Options.parameters does not set it"
    );
    assert_eq!(err.resource(), None);
}

#[test]
fn given_an_override_for_an_undeclared_parameter_when_loaded_then_it_is_an_error() {
    let options = Options::default().with_parameter("Typo", "x");
    let err = sam_template::Template::from_yaml(TEMPLATE, &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Parameters.Typo: is set in Options.parameters but the template does not declare it"
    );
}

#[test]
fn given_values_outside_the_constraints_when_loaded_then_each_is_an_error() {
    let with = |name: &str, value: &str| {
        sam_template::Template::from_yaml(TEMPLATE, &Options::default().with_parameter(name, value))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        with("Stage", "qa"),
        "Parameters.Stage: value 'qa' is not one of AllowedValues [dev, prod]"
    );
    assert_eq!(
        with("Retention", "30"),
        "Parameters.Retention: value 30 is outside MinValue..MaxValue"
    );
    assert_eq!(
        with("Retention", "many"),
        "Parameters.Retention: value 'many' is not a number (Number)"
    );
}

#[test]
fn given_an_ssm_parameter_type_when_loaded_then_it_is_refused() {
    let err = error(
        "Parameters:\n  Ami:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /x\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
    );
    assert!(
        err.to_string()
            .starts_with("Parameters.Ami: type AWS::SSM::Parameter::Value<String> is read from SSM"),
        "{err}"
    );
}

#[test]
fn given_getatt_on_a_parameter_when_resolved_then_it_is_an_error() {
    let err = error(&format!("{TEMPLATE}      Bad: !GetAtt Stage.Arn\n"));
    assert_eq!(
        err.to_string(),
        "Table: Properties.Bad: Fn::GetAtt: 'Stage' is a parameter, not a resource"
    );
}

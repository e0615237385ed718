#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SAM Globals.Function merged into every AWS::Serverless::Function the way the SAM translator
//! does it: maps merged with the function winning, scalars replaced, lists concatenated with the
//! globals first, intrinsics treated as scalars.

mod common;

use common::{SAM, error, load, prop};
use serde_json::json;

fn template(function_properties: &str) -> String {
    format!(
        r#"{SAM}
Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Layers: [global-layer]
    Tags: {{team: orders, tier: backend}}
    Environment:
      Variables:
        SHARED: from-globals
        OVERRIDDEN: from-globals
        TABLE: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
{function_properties}
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: plain
"#
    )
}

#[test]
fn given_globals_and_function_variables_when_merged_then_both_apply_and_the_function_wins() {
    let t = load(&template(
        "      Environment:\n        Variables:\n          OWN: mine\n          OVERRIDDEN: from-function\n",
    ));
    assert_eq!(
        prop(&t, "Fn", "Environment.Variables"),
        &json!({"SHARED": "from-globals", "OVERRIDDEN": "from-function", "TABLE": "orders", "OWN": "mine"})
    );
}

#[test]
fn given_a_scalar_in_globals_and_function_when_merged_then_the_function_value_replaces_it() {
    let t = load(&template("      Timeout: 30\n"));
    assert_eq!(prop(&t, "Fn", "Timeout"), &json!(30));
    assert_eq!(prop(&t, "Fn", "Runtime"), &json!("provided.al2023"));
}

#[test]
fn given_lists_in_globals_and_function_when_merged_then_globals_come_first() {
    let t = load(&template("      Layers: [own-layer]\n"));
    assert_eq!(prop(&t, "Fn", "Layers"), &json!(["global-layer", "own-layer"]));
}

#[test]
fn given_nested_maps_when_merged_then_keys_merge_recursively() {
    let t = load(&template("      Tags: {tier: api, owner: me}\n"));
    assert_eq!(
        prop(&t, "Fn", "Tags"),
        &json!({"team": "orders", "tier": "api", "owner": "me"})
    );
}

#[test]
fn given_an_intrinsic_in_globals_and_a_literal_in_the_function_when_merged_then_the_literal_replaces_it() {
    let t = load(&template(
        "      Environment:\n        Variables:\n          TABLE: literal\n",
    ));
    assert_eq!(prop(&t, "Fn", "Environment.Variables.TABLE"), &json!("literal"));
}

#[test]
fn given_a_type_mismatch_when_merged_then_the_function_value_is_kept() {
    let t = load(&template("      Layers: !Ref AWS::NoValue\n      Tags: [not-a-map]\n"));
    assert!(t.resource("Fn").unwrap().property("Layers").is_none());
    assert_eq!(prop(&t, "Fn", "Tags"), &json!(["not-a-map"]));
}

#[test]
fn given_a_plain_lambda_function_when_loaded_then_globals_do_not_apply() {
    let t = load(&template(""));
    assert!(t.resource("Plain").unwrap().property("Runtime").is_none());
    assert_eq!(prop(&t, "Fn", "Runtime"), &json!("provided.al2023"));
}

#[test]
fn given_ignore_globals_when_merged_then_the_named_globals_are_left_out() {
    let yaml = template("").replace("  Plain:\n", "    IgnoreGlobals: [Layers, Environment]\n  Plain:\n");
    let t = load(&yaml);
    let function = t.resource("Fn").unwrap();
    assert!(function.property("Layers").is_none() && function.property("Environment").is_none());
    assert_eq!(prop(&t, "Fn", "Timeout"), &json!(10));
}

#[test]
fn given_an_unimplemented_globals_section_when_loaded_then_it_is_an_error() {
    let err = error(&template("").replace("Globals:\n", "Globals:\n  Api:\n    Name: x\n"));
    assert!(
        err.to_string()
            .starts_with("Globals.Api: not implemented by the local loader (only Globals.Function is)"),
        "{err}"
    );
    let err = error(&template("").replace("Globals:\n", "Globals:\n  Functions:\n    Timeout: 1\n"));
    assert!(
        err.to_string()
            .starts_with("Globals.Functions: not a SAM Globals section"),
        "{err}"
    );
}

#[test]
fn given_a_property_sam_refuses_in_globals_when_loaded_then_it_is_an_error() {
    let err = error(&template("").replace("    Timeout: 10\n", "    FunctionName: shared\n"));
    assert!(
        err.to_string()
            .starts_with("Globals.Function.FunctionName: SAM does not accept this property in Globals.Function"),
        "{err}"
    );
}

#[test]
fn given_globals_without_the_sam_transform_when_loaded_then_it_is_an_error() {
    let err = error(&template("").replace(SAM, ""));
    assert_eq!(
        err.to_string(),
        "Globals: Globals is SAM syntax: it needs `Transform: AWS::Serverless-2016-10-31`"
    );
}

#[test]
fn given_an_unsupported_intrinsic_inside_globals_when_loaded_then_the_error_names_the_globals_path() {
    let err = error(&template("").replace(
        "        SHARED: from-globals\n",
        "        SHARED: !ImportValue shared\n",
    ));
    assert!(
        err.to_string().starts_with(
            "Globals.Function.Environment.Variables.SHARED: Fn::ImportValue is not supported by the local loader"
        ),
        "{err}"
    );
}

//! infra/template.yaml against the code: one function resource per crate in functions/, each
//! SQS-fed function with its queue, DLQ and event source mapping reporting batch item failures,
//! and every environment variable the code requires set by the template.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("infra/template.yaml")).unwrap()).unwrap()
}

fn crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn resources(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

/// The logical id an intrinsic points at: `!Ref X` -> X, `!GetAtt X.Arn` -> X.
fn target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) => tagged
            .value
            .as_str()
            .map(|s| s.split('.').next().unwrap_or(s).to_owned()),
        _ => None,
    }
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    &template["Resources"][id]
}

#[test]
fn every_function_crate_has_exactly_one_function_resource_and_no_resource_lacks_a_crate() {
    let template = template();
    let binaries: Vec<String> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
            let Value::Tagged(name) = &r["Properties"]["FunctionName"] else {
                panic!("{id}: FunctionName !Sub")
            };
            let name = name.value.as_str().unwrap();
            assert!(
                name.ends_with(&format!("-{binary}")),
                "{id}: deployed as <stack>-{binary}, not {name}"
            );
            binary
        })
        .collect();
    let unique: BTreeSet<String> = binaries.iter().cloned().collect();
    assert_eq!(unique.len(), binaries.len(), "a crate with two function resources");
    assert_eq!(unique, crates());
    let globals = &template["Globals"]["Function"];
    assert_eq!(
        (globals["Runtime"].as_str(), globals["Handler"].as_str()),
        (Some("provided.al2023"), Some("bootstrap"))
    );
    assert_eq!(globals["Architectures"][0], "arm64");
}

#[test]
fn every_sqs_fed_function_has_a_queue_a_dlq_and_a_mapping_reporting_batch_item_failures() {
    let template = template();
    let timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    let functions: Vec<(String, &Value)> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function" && r["Properties"]["FunctionUrlConfig"].is_null())
        .collect();
    assert_eq!(functions.len(), crates().len() - 1, "all but order-api are SQS-fed");
    for (id, _) in &functions {
        let mappings: Vec<(String, &Value)> = resources(&template)
            .into_iter()
            .filter(|(_, r)| {
                r["Type"] == "AWS::Lambda::EventSourceMapping"
                    && target(&r["Properties"]["FunctionName"]).as_ref() == Some(id)
            })
            .collect();
        assert_eq!(mappings.len(), 1, "{id}: one event source mapping");
        let mapping = &mappings[0].1["Properties"];
        assert!(
            mapping["FunctionResponseTypes"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
            "{id}"
        );
        let queue_id = target(&mapping["EventSourceArn"]).unwrap();
        let queue = resource(&template, &queue_id);
        assert_eq!(queue["Type"], "AWS::SQS::Queue", "{id}: fed by a queue");
        let queue = &queue["Properties"];
        assert_eq!(queue["SqsManagedSseEnabled"], true, "{queue_id}: encrypted");
        assert!(
            queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout,
            "{queue_id}: visibility >= 6x timeout"
        );
        assert_eq!(queue["RedrivePolicy"]["maxReceiveCount"], 5, "{queue_id}");
        let dlq_id = target(&queue["RedrivePolicy"]["deadLetterTargetArn"]).unwrap();
        let dlq = resource(&template, &dlq_id);
        assert_eq!(dlq["Type"], "AWS::SQS::Queue", "{queue_id}: a DLQ");
        assert_eq!(
            dlq["Properties"]["MessageRetentionPeriod"], 1_209_600,
            "{dlq_id}: 14 days"
        );
        let alarmed = resources(&template).iter().any(|(_, r)| {
            r["Type"] == "AWS::CloudWatch::Alarm"
                && r["Properties"]["Dimensions"]
                    .as_sequence()
                    .is_some_and(|d| d.iter().any(|d| target(&d["Value"]).as_ref() == Some(&dlq_id)))
        });
        assert!(alarmed, "{dlq_id}: an alarm on its depth");
    }
}

#[test]
fn every_environment_variable_the_code_requires_is_set_by_the_template() {
    let template = template();
    let global: BTreeSet<String> = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    for (id, function) in resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
    {
        let binary = function["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let main = std::fs::read_to_string(root().join("functions").join(binary).join("src/main.rs")).unwrap();
        let mut required: BTreeSet<String> = main
            .split("required(\"")
            .skip(1)
            .chain(main.split("variable: \"").skip(1))
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .collect();
        if main.contains("run(Trigger::") {
            required.extend(["IDEMPOTENCY_TABLE", "PARKING_QUEUE_URL"].map(String::from));
        }
        if main.contains("run(Trigger::Sqs, Bus,") {
            required.insert("EVENT_BUS_NAME".into());
        }
        let own: BTreeSet<String> = function["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let missing: Vec<&String> = required
            .iter()
            .filter(|v| !global.contains(*v) && !own.contains(*v))
            .collect();
        assert!(
            missing.is_empty(),
            "{id} ({binary}) requires {missing:?}, which the template does not set"
        );
    }
}

#[test]
fn every_rule_keeps_events_it_cannot_deliver() {
    let template = template();
    let rules: Vec<(String, &Value)> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .collect();
    assert_eq!(rules.len(), crates().len() - 1, "one rule per SQS-fed function");
    for (id, rule) in rules {
        for delivery in rule["Properties"]["Targets"].as_sequence().unwrap() {
            let dlq = target(&delivery["DeadLetterConfig"]["Arn"]).unwrap_or_default();
            assert_eq!(
                resource(&template, &dlq)["Type"],
                "AWS::SQS::Queue",
                "{id}: a dead-letter queue for undeliverable events"
            );
        }
    }
}

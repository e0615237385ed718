//! infra/template.yaml against the functions' declarations: one function resource per declared
//! function, each triggered as it declares (an SQS-fed one with its queue, DLQ and event source
//! mapping reporting batch item failures; an HTTP one with an IAM-authenticated Function URL),
//! and every variable it declares set by the template to a resource of the declared kind; every
//! role allowing exactly what its function (or the `events` tool) declares it calls, and the
//! bus refusing each domain's events to all but their declared producers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use event_tools::access::Scope;
use handler_kit::TriggerKind;
use handler_kit::function::Resource;
use handler_kit::local::Registration;
use serde_yaml_ng::Value;

/// The declared functions of every domain and of the platform: what the local cloud runs is
/// what is checked here.
fn declared() -> Vec<Registration> {
    localcloud::functions()
}

fn declaration(binary: &str) -> Registration {
    declared()
        .into_iter()
        .find(|r| r.name == binary)
        .unwrap_or_else(|| panic!("function resource built from {binary}, which declares no function"))
}

/// The function resources: (logical id, crate, resource).
fn function_resources(template: &Value) -> Vec<(String, String, &Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
            (id, binary, r)
        })
        .collect()
}

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

/// The logical id an intrinsic points at: `!Ref X` -> X, `!GetAtt X.Arn` -> X; and an ARN
/// under it, `!Sub "${X.Arn}/index/I"` -> `X/index/I`.
fn target(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Sub" => {
            let text = tagged.value.as_str()?;
            let (id, rest) = text.strip_prefix("${")?.split_once(".Arn}")?;
            Some(format!("{id}{rest}"))
        }
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
    let declared: BTreeSet<String> = declared().iter().map(|r| r.name.to_owned()).collect();
    assert_eq!(
        unique, declared,
        "every function crate declares itself, and only they do"
    );
    let globals = &template["Globals"]["Function"];
    assert_eq!(
        (globals["Runtime"].as_str(), globals["Handler"].as_str()),
        (Some("provided.al2023"), Some("bootstrap"))
    );
    assert_eq!(globals["Architectures"][0], "arm64");
}

#[test]
fn every_function_is_triggered_as_it_declares() {
    let template = template();
    let loaded = loaded();
    let timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    for (id, binary, function) in function_resources(&template) {
        let mappings: Vec<(String, &Value)> = resources(&template)
            .into_iter()
            .filter(|(_, r)| {
                r["Type"] == "AWS::Lambda::EventSourceMapping"
                    && target(&r["Properties"]["FunctionName"]).as_ref() == Some(&id)
            })
            .collect();
        let declared = declaration(&binary);
        let schedules: Vec<String> = resources(&template)
            .into_iter()
            .filter(|(_, r)| {
                r["Type"] == "AWS::Events::Rule"
                    && r["Properties"]["Targets"]
                        .as_sequence()
                        .is_some_and(|targets| targets.iter().any(|t| target(&t["Arn"]).as_ref() == Some(&id)))
            })
            .filter_map(|(_, r)| r["Properties"]["ScheduleExpression"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            schedules,
            declared.schedule.map(str::to_owned).into_iter().collect::<Vec<_>>(),
            "{id}: the scheduled rules invoking it are the schedule it declares"
        );
        match declared.trigger {
            TriggerKind::FunctionUrl => {
                assert!(mappings.is_empty(), "{id}: an HTTP function reads no queue");
                assert_eq!(
                    function["Properties"]["FunctionUrlConfig"]["AuthType"], "AWS_IAM",
                    "{id}: a Function URL with IAM auth"
                );
            }
            TriggerKind::Sqs => {
                assert!(
                    function["Properties"]["FunctionUrlConfig"].is_null(),
                    "{id}: no Function URL"
                );
                assert_eq!(mappings.len(), 1, "{id}: one event source mapping");
                check_sqs_trigger(&template, &loaded, &id, mappings[0].1, timeout);
            }
            other => panic!("{id}: {other:?} functions are not in the template yet"),
        }
    }
}

/// The template as the local cloud and SAM see it, every intrinsic resolved (`!FindInMap`
/// into `Mappings` included): where the numbers of the delivery settings are read.
fn loaded() -> sam_template::Template {
    sam_template::Template::load(&root().join("infra/template.yaml"), &sam_template::Options::default()).unwrap()
}

/// The number a resolved resource property holds.
fn number(loaded: &sam_template::Template, id: &str, path: &str) -> u64 {
    loaded
        .resource(id)
        .and_then(|r| r.property(path))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{id}: {path} is not a number"))
}

/// Whether a value is `!FindInMap [Delivery, top, key]`: the one written policy every consumer
/// shares, rather than a copy of its number.
fn is_delivery_setting(value: &Value, top: &str, key: &str) -> bool {
    matches!(value, Value::Tagged(tagged)
        if tagged.tag == "FindInMap"
            && tagged.value.as_sequence().is_some_and(|keys| keys.iter().eq(["Delivery", top, key].iter())))
}

/// An SQS trigger as the kit needs it: partial batch responses, an encrypted queue whose
/// visibility outlasts retries, redriven after more than one receive to a DLQ that keeps a
/// record longer than the queue does, with an alarm on its depth; every number of it the one
/// in `Mappings.Delivery`.
fn check_sqs_trigger(template: &Value, loaded: &sam_template::Template, id: &str, mapping: &Value, timeout: u64) {
    let mapping = &mapping["Properties"];
    assert!(
        mapping["FunctionResponseTypes"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|t| t == "ReportBatchItemFailures"),
        "{id}"
    );
    for key in ["BatchSize", "MaximumBatchingWindowInSeconds"] {
        assert!(
            is_delivery_setting(&mapping[key], "Batch", key),
            "{id}: {key} from Mappings.Delivery.Batch"
        );
    }
    let queue_id = target(&mapping["EventSourceArn"]).unwrap();
    let queue = resource(template, &queue_id);
    assert_eq!(queue["Type"], "AWS::SQS::Queue", "{id}: fed by a queue");
    let queue = &queue["Properties"];
    for (key, value) in [
        ("VisibilityTimeout", &queue["VisibilityTimeout"]),
        ("MessageRetentionPeriod", &queue["MessageRetentionPeriod"]),
        ("MaxReceiveCount", &queue["RedrivePolicy"]["maxReceiveCount"]),
    ] {
        assert!(
            is_delivery_setting(value, "Queue", key),
            "{queue_id}: {key} from Mappings.Delivery.Queue, found {value:?}"
        );
    }
    assert!(
        number(loaded, &queue_id, "VisibilityTimeout") >= 6 * timeout,
        "{queue_id}: visibility >= 6x timeout"
    );
    assert!(
        number(loaded, &queue_id, "RedrivePolicy.maxReceiveCount") >= 2,
        "{queue_id}: a transient failure is retried at least once before the DLQ"
    );
    let dlq_id = target(&queue["RedrivePolicy"]["deadLetterTargetArn"]).unwrap();
    let dlq = resource(template, &dlq_id);
    assert_eq!(dlq["Type"], "AWS::SQS::Queue", "{queue_id}: a DLQ");
    assert!(
        is_delivery_setting(
            &dlq["Properties"]["MessageRetentionPeriod"],
            "DeadLetter",
            "MessageRetentionPeriod"
        ),
        "{dlq_id}: its retention from Mappings.Delivery.DeadLetter"
    );
    // A standard queue's message keeps its first enqueue time in the DLQ: kept no longer than
    // in the queue, it could expire on arrival.
    assert!(
        number(loaded, &dlq_id, "MessageRetentionPeriod") > number(loaded, &queue_id, "MessageRetentionPeriod"),
        "{dlq_id}: keeps a record longer than {queue_id}"
    );
    let alarmed = resources(template).iter().any(|(_, r)| {
        r["Type"] == "AWS::CloudWatch::Alarm"
            && r["Properties"]["Dimensions"]
                .as_sequence()
                .is_some_and(|d| d.iter().any(|d| target(&d["Value"]).as_ref() == Some(&dlq_id)))
    });
    assert!(alarmed, "{dlq_id}: an alarm on its depth");
}

#[test]
fn every_variable_a_function_declares_is_set_by_the_template_to_a_resource_of_its_kind() {
    let template = template();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    for (id, binary, function) in function_resources(&template) {
        let own = &function["Properties"]["Environment"]["Variables"];
        let declared = declaration(&binary).variables;
        for setting in &declared {
            let value = if own[setting.variable].is_null() {
                &globals[setting.variable]
            } else {
                &own[setting.variable]
            };
            if value.is_null() {
                assert!(
                    setting.optional,
                    "{id} ({binary}) reads {} ({}), which the template does not set",
                    setting.variable, setting.purpose
                );
                continue;
            }
            let kind = match setting.resource {
                Resource::Table => "AWS::DynamoDB::Table",
                Resource::Queue => "AWS::SQS::Queue",
                Resource::Bus => "AWS::Events::EventBus",
                Resource::Topic => "AWS::SNS::Topic",
                Resource::Key => "AWS::KMS::Key",
                Resource::Value => continue,
            };
            let points_to = target(value).map(|t| resource(&template, &t)["Type"].clone());
            assert_eq!(
                points_to.as_ref().and_then(Value::as_str),
                Some(kind),
                "{id}: {} must name the {kind} it is for, found {value:?}",
                setting.variable
            );
        }
        // And nothing it does not read: a variable no declaration names is a typo or a leftover.
        for variable in own
            .as_mapping()
            .map(|m| m.keys().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let variable = variable.as_str().unwrap();
            assert!(
                declared.iter().any(|s| s.variable == variable),
                "{id} ({binary}) is given {variable}, which it does not declare"
            );
        }
    }
}

#[test]
fn every_rule_keeps_events_it_cannot_deliver() {
    let template = template();
    // Rules with a pattern (a scheduled rule carries no event of the bus).
    let rules: Vec<(String, &Value)> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule" && r["Properties"]["ScheduleExpression"].is_null())
        .collect();
    let sqs_fed = declared().iter().filter(|r| r.trigger == TriggerKind::Sqs).count();
    assert_eq!(rules.len(), sqs_fed, "one rule per SQS-fed function");
    for (id, rule) in rules {
        for delivery in rule["Properties"]["Targets"].as_sequence().unwrap() {
            let dlq = target(&delivery["DeadLetterConfig"]["Arn"]).unwrap_or_default();
            assert_eq!(
                resource(&template, &dlq)["Type"],
                "AWS::SQS::Queue",
                "{id}: a dead-letter queue for undeliverable events"
            );
            for key in ["MaximumRetryAttempts", "MaximumEventAgeInSeconds"] {
                let value = &delivery["RetryPolicy"][key];
                assert!(
                    is_delivery_setting(value, "Rule", key),
                    "{id}: {key} from Mappings.Delivery.Rule, found {value:?}"
                );
            }
        }
    }
}

/// (IAM action, logical id of the resource it is allowed on).
type Grants = BTreeSet<(String, String)>;

/// A string, or a list of strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
        other => panic!("expected a string or a list of strings, found {other:?}"),
    }
}

/// What a function's role allows: its `Policies`, statement by statement, and the SAM policy
/// templates it uses, expanded as SAM documents them. Anything else fails: a managed policy,
/// a wildcard action, a resource that is not one of the template's. (The two managed policies
/// SAM itself attaches to every implicit role, the same for all, are not in `Policies`: see
/// [`every_function_and_topic_is_traced_and_sam_adds_only_its_write_only_policies`].)
fn granted(id: &str, function: &Value) -> Grants {
    let mut grants = Grants::new();
    for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
        if let Some(statements) = policy["Statement"].as_sequence() {
            grants.extend(statement_grants(id, statements, target));
            continue;
        }
        // SAM policy templates: sns:Publish on the topic. Not `EventBridgePutEventsPolicy`: it
        // cannot carry the `events:source` condition a producer's PutEvents needs.
        let (name, parameters) = policy.as_mapping().unwrap().iter().next().unwrap();
        let (action, parameter) = match name.as_str().unwrap() {
            "SNSPublishMessagePolicy" => ("sns:Publish", "TopicName"),
            other => panic!("{id}: policy {other} is not one this test knows how to expand"),
        };
        let target = target(&parameters[parameter]).unwrap_or_else(|| panic!("{id}: {name:?} {parameter}"));
        grants.insert((action.to_owned(), target));
    }
    grants
}

/// What `statements` allow: (action, resource as `name` names it, with the condition's scope).
/// Only `Allow`, no wildcard action, every resource one `name` knows.
fn statement_grants(id: &str, statements: &[Value], name: impl Fn(&Value) -> Option<String>) -> Grants {
    let mut grants = Grants::new();
    for statement in statements.iter().map(|s| customer_key_branch(id, s)) {
        assert_eq!(statement["Effect"], "Allow", "{id}: {statement:?}");
        let resources = match &statement["Resource"] {
            Value::Sequence(items) => items.clone(),
            one => vec![one.clone()],
        };
        let scopes = condition_scopes(id, statement);
        for action in strings(&statement["Action"]) {
            assert!(!action.contains('*'), "{id}: wildcard action {action}");
            for resource in &resources {
                let target = name(resource)
                    .unwrap_or_else(|| panic!("{id}: {action} on {resource:?}, not a resource of the template"));
                for scope in &scopes {
                    grants.insert((action.clone(), format!("{target}{scope}")));
                }
            }
        }
    }
    grants
}

/// A statement as written, or the one an `!If [UseCustomerKey, statement, !Ref AWS::NoValue]`
/// adds when the stack is given a customer managed key (it grants on `EncryptionKeyArn`).
fn customer_key_branch<'a>(id: &str, statement: &'a Value) -> &'a Value {
    let Value::Tagged(tagged) = statement else {
        return statement;
    };
    assert_eq!(tagged.tag.to_string(), "!If", "{id}: {statement:?}");
    let branches = tagged.value.as_sequence().unwrap();
    assert_eq!(branches[0], "UseCustomerKey", "{id}: {statement:?}");
    assert_eq!(
        target(&branches[2]).as_deref(),
        Some("AWS::NoValue"),
        "{id}: {statement:?}"
    );
    &branches[1]
}

/// The condition keys a grant may be scoped by, and how the scope is written after the
/// resource: the fields a key's actions hold for (`FieldKey#field=paymentToken`), the sources
/// a PutEvents puts (`EventBus#source=shop.orders`).
const SCOPING_KEYS: [(&str, &str); 2] = [("kms:EncryptionContext:field", "field"), ("events:source", "source")];

/// The scopes a statement's condition allows, as suffixes of the resource it grants; `[""]` for
/// a statement without one. Only `StringEquals` on one of [`SCOPING_KEYS`] is understood: any
/// other condition fails, as this test would not know what it allows. (`StringEquals`, since
/// both keys are single-valued: EventBridge authorises each entry of a PutEvents on its own
/// source, https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html
/// (`NotAuthorizedForSourceException`), and `ForAllValues` would hold for a request without
/// the key.)
fn condition_scopes(id: &str, statement: &Value) -> Vec<String> {
    let condition = &statement["Condition"];
    if condition.is_null() {
        return vec![String::new()];
    }
    let conditions = condition.as_mapping().unwrap();
    assert_eq!(
        conditions.len(),
        1,
        "{id}: one condition operator expected, found {condition:?}"
    );
    let keys = &condition["StringEquals"];
    let understood = keys.as_mapping().filter(|m| m.len() == 1).and_then(|m| {
        let key = m.keys().next()?.as_str()?;
        SCOPING_KEYS.iter().find(|(k, _)| *k == key)
    });
    let Some((key, scope)) = understood else {
        panic!("{id}: only StringEquals on one of {SCOPING_KEYS:?} is understood, found {condition:?}")
    };
    strings(&keys[*key])
        .into_iter()
        .map(|value| format!("#{scope}={value}"))
        .collect()
}

/// What a function declares it uses: each setting's actions on the resource the template sets
/// the setting's variable to, its own queue when SQS feeds it, and the on-failure destination
/// of its asynchronous invocations.
fn declared_grants(template: &Value, id: &str, function: &Value, declaration: &Registration) -> Grants {
    let variable = |name: &str| {
        let own = &function["Properties"]["Environment"]["Variables"][name];
        if own.is_null() {
            template["Globals"]["Function"]["Environment"]["Variables"][name].clone()
        } else {
            own.clone()
        }
    };
    let mut grants = Grants::new();
    for setting in &declaration.variables {
        // A key's actions hold for the fields it names, each its own encryption context; the
        // bus's for the sources the function puts.
        let scopes: Vec<String> = match setting.resource {
            Resource::Key => setting.fields.iter().map(|f| format!("#field={f}")).collect(),
            Resource::Bus => {
                assert!(
                    !setting.sources.is_empty(),
                    "{id}: publishes to the bus without declaring the sources it puts (Bus {{ sources }})"
                );
                setting.sources.iter().map(|s| format!("#source={s}")).collect()
            }
            _ => vec![String::new()],
        };
        for action in setting.actions {
            let value = variable(setting.variable);
            let target =
                target(&value).unwrap_or_else(|| panic!("{id}: {} is not set to a resource", setting.variable));
            for scope in &scopes {
                grants.insert(((*action).to_owned(), format!("{target}{scope}")));
            }
        }
        if let Some((index, actions)) = setting.index {
            let target = target(&variable(setting.variable)).unwrap_or_default();
            for action in actions {
                grants.insert(((*action).to_owned(), format!("{target}/index/{index}")));
            }
        }
    }
    for action in handler_kit::function::customer_key_actions(&declaration.variables) {
        grants.insert(((*action).to_owned(), "EncryptionKeyArn".to_owned()));
    }
    for (_, r) in resources(template) {
        let properties = &r["Properties"];
        let for_this = target(&properties["FunctionName"]).as_deref() == Some(id);
        if r["Type"] == "AWS::Lambda::EventSourceMapping" && for_this {
            let queue = target(&properties["EventSourceArn"]).unwrap();
            for action in handler_kit::function::OWN_QUEUE_ACTIONS {
                grants.insert(((*action).to_owned(), queue.clone()));
            }
        }
        if r["Type"] == "AWS::Lambda::EventInvokeConfig" && for_this {
            let destination = target(&properties["DestinationConfig"]["OnFailure"]["Destination"]).unwrap();
            grants.insert(("sqs:SendMessage".to_owned(), destination));
        }
    }
    grants
}

#[test]
fn every_function_role_allows_exactly_what_its_declaration_uses_and_nothing_wild() {
    let template = template();
    let mut wrong = Vec::new();
    for (id, binary, function) in function_resources(&template) {
        let allowed = granted(&id, function);
        let declared = declared_grants(&template, &id, function, &declaration(&binary));
        let missing: Vec<_> = declared.difference(&allowed).collect();
        let extra: Vec<_> = allowed.difference(&declared).collect();
        if !missing.is_empty() || !extra.is_empty() {
            wrong.push(format!(
                "{id} ({binary}): declared but not allowed {missing:?}; allowed but not declared {extra:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Every queue, topic and table, and every function's environment, as the stack deploys them
/// with and without `EncryptionKeyArn`: encrypted at rest either way, under that key when given.
#[test]
fn every_queue_topic_table_and_environment_is_encrypted_and_under_the_customer_key_when_given() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let key = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555";
    let managed = sam_template::Template::from_yaml(&text, &sam_template::Options::default()).unwrap();
    let options = sam_template::Options::default().with_parameter("EncryptionKeyArn", key);
    let customer = sam_template::Template::from_yaml(&text, &options).unwrap();
    let mut checked: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for resource in managed.resources.values() {
        let under_key = customer.resource(&resource.logical_id).unwrap();
        let (managed_setting, key_property) = match resource.kind.as_str() {
            "AWS::SQS::Queue" => ("SqsManagedSseEnabled", "KmsMasterKeyId"),
            "AWS::SNS::Topic" => ("KmsMasterKeyId", "KmsMasterKeyId"),
            "AWS::DynamoDB::Table" => ("SSESpecification.SSEEnabled", "SSESpecification.KMSMasterKeyId"),
            "AWS::Serverless::Function" => ("", "KmsKeyArn"),
            _ => continue,
        };
        let id = &resource.logical_id;
        if !managed_setting.is_empty() {
            let by_default = resource.property(managed_setting);
            assert!(
                by_default == Some(&serde_json::json!(true)) || by_default == Some(&serde_json::json!("alias/aws/sns")),
                "{id}: not encrypted by default ({managed_setting} = {by_default:?})"
            );
        }
        assert_ne!(
            resource.property(key_property),
            Some(&serde_json::json!(key)),
            "{id}: no customer key by default"
        );
        assert_eq!(
            under_key.property(key_property),
            Some(&serde_json::json!(key)),
            "{id}: under the given key"
        );
        *checked.entry(resource.kind.as_str()).or_default() += 1;
    }
    // Derived, not pinned: a new function or table is checked without a count to bump.
    assert_eq!(
        checked.get("AWS::Serverless::Function").copied(),
        Some(declared().len()),
        "every declared function is deployed under the key"
    );
    for kind in ["AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::DynamoDB::Table"] {
        assert!(
            checked.get(kind).is_some_and(|n| *n > 0),
            "no {kind} checked: {checked:?}"
        );
    }
}

/// The `Globals.Function` lines infra/README.md tells a deployer to put in place of
/// `MemorySize: 256` to run every function on Lambda Managed Instances: the template with them.
fn on_managed_instances(text: &str) -> String {
    let readme = std::fs::read_to_string(root().join("infra/README.md")).unwrap();
    let (_, after) = readme
        .split_once("<!-- managed-instances-globals")
        .expect("infra/README.md shows the Globals change for managed instances");
    let lines = after.split_once("```yaml\n").unwrap().1.split_once("```").unwrap().0;
    assert_eq!(
        text.matches("    MemorySize: 256\n").count(),
        1,
        "one MemorySize in Globals.Function"
    );
    text.replace("    MemorySize: 256\n", lines)
}

/// GIVEN the template as committed, and with the README's change for Lambda Managed Instances
/// WHEN loaded without and with the parameters of a capacity provider THEN by default nothing of
/// it exists and every function is on-demand as before; with subnets the stack creates an arm64
/// provider whose operator role has AWS's operator policy and its own log group's writes, nothing
/// else, and every function joins it with 2048 MB; with an existing provider's ARN it creates
/// none and every function joins that one.
#[test]
fn managed_instances_are_off_by_default_and_the_documented_change_puts_every_function_on_them() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let ours = [
        "ManagedInstancesCapacityProvider",
        "ManagedInstancesOperatorRole",
        "ManagedInstancesLogGroup",
    ];
    let load = |text: &str, options: sam_template::Options| sam_template::Template::from_yaml(text, &options).unwrap();
    let functions = |t: &sam_template::Template| -> Vec<sam_template::Resource> {
        let found: Vec<_> = t.of_kind("AWS::Serverless::Function").cloned().collect();
        assert_eq!(found.len(), declared().len(), "every declared function");
        found
    };

    let default = load(&text, sam_template::Options::default());
    for id in ours {
        assert!(default.resource(id).is_none(), "{id}: not created by default");
    }
    for function in functions(&default) {
        let id = &function.logical_id;
        assert_eq!(function.property("MemorySize"), Some(&serde_json::json!(256)), "{id}");
        assert_eq!(function.property("CapacityProviderConfig"), None, "{id}: on-demand");
    }

    let changed = on_managed_instances(&text);
    let subnets = sam_template::Options::default()
        .with_parameter("ManagedInstancesSubnetIds", "subnet-aaa,subnet-bbb")
        .with_parameter("ManagedInstancesSecurityGroupIds", "sg-ccc");
    let created = load(&changed, subnets);
    let provider = created.resource("ManagedInstancesCapacityProvider").unwrap();
    let role = created.resource("ManagedInstancesOperatorRole").unwrap();
    let logs = created.resource("ManagedInstancesLogGroup").unwrap();
    assert_eq!(
        provider.property("VpcConfig"),
        Some(&serde_json::json!({"SubnetIds": ["subnet-aaa", "subnet-bbb"], "SecurityGroupIds": ["sg-ccc"]}))
    );
    assert_eq!(
        provider
            .property("PermissionsConfig.CapacityProviderOperatorRoleArn")
            .and_then(|v| v.as_str()),
        role.arn.as_deref()
    );
    assert_eq!(
        provider.property_str("TelemetryConfig.LoggingConfig.LogGroup"),
        Some(logs.physical_name.as_str())
    );
    assert_eq!(
        role.property("AssumeRolePolicyDocument.Statement"),
        Some(&serde_json::json!([{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"
        }])),
        "only Lambda assumes the operator role"
    );
    assert_eq!(
        role.property("ManagedPolicyArns"),
        Some(&serde_json::json!([
            "arn:aws:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"
        ]))
    );
    let mut allowed = Grants::new();
    for policy in role.property("Policies").and_then(|p| p.as_array()).unwrap() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            assert!(statement["Condition"].is_null());
            for action in statement["Action"].as_array().unwrap() {
                allowed.insert((
                    action.as_str().unwrap().to_owned(),
                    statement["Resource"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    let streams = logs.attribute("Arn").unwrap().to_owned();
    let declared: Grants = ["logs:CreateLogStream", "logs:PutLogEvents"]
        .iter()
        .map(|action| ((*action).to_owned(), streams.clone()))
        .collect();
    assert_eq!(
        allowed, declared,
        "the operator role writes its log group's streams, nothing else of the stack"
    );
    assert_eq!(
        provider.property("InstanceRequirements.Architectures"),
        default.resource("OrderApi").unwrap().property("Architectures"),
        "the instances run the functions' builds"
    );
    for function in functions(&created) {
        let id = &function.logical_id;
        assert_eq!(
            function.property_str("CapacityProviderConfig.Arn"),
            provider.arn.as_deref(),
            "{id}"
        );
        assert_eq!(
            function.property("MemorySize"),
            Some(&serde_json::json!(2048)),
            "{id}: the least LMI runs"
        );
        assert_eq!(
            function.property("PublishToLatestPublished"),
            Some(&serde_json::json!(true)),
            "{id}"
        );
    }

    let arn = "arn:aws:lambda:us-east-1:000000000000:capacity-provider:shared";
    let existing = load(
        &changed,
        sam_template::Options::default().with_parameter("ManagedInstancesCapacityProviderArn", arn),
    );
    for id in ours {
        assert!(
            existing.resource(id).is_none(),
            "{id}: not created beside an existing provider"
        );
    }
    for function in functions(&existing) {
        assert_eq!(
            function.property_str("CapacityProviderConfig.Arn"),
            Some(arn),
            "{}",
            function.logical_id
        );
    }
}

#[test]
fn function_urls_keep_iam_auth_and_every_queue_policy_names_its_sender() {
    let template = template();
    for (id, _, function) in function_resources(&template) {
        let url = &function["Properties"]["FunctionUrlConfig"];
        if !url.is_null() {
            assert_eq!(url["AuthType"], "AWS_IAM", "{id}");
        }
    }
    let mut policies = 0;
    for (id, r) in resources(&template) {
        if r["Type"] != "AWS::SQS::QueuePolicy" {
            continue;
        }
        policies += 1;
        for statement in r["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            // One sender (ArnEquals), or the rules of one bus (ArnLike).
            let condition = &statement["Condition"];
            let source = ["ArnEquals", "ArnLike"]
                .iter()
                .map(|test| &condition[*test]["aws:SourceArn"])
                .find(|source| !source.is_null());
            assert!(
                source.is_some(),
                "{id}: a statement without an aws:SourceArn condition: {statement:?}"
            );
        }
    }
    assert!(policies >= 10, "{policies}");
}

/// The logical id of the role a `!GetAtt <Role>.Arn` names; nothing else (a `!Ref` of a role is
/// its name, which no ARN condition matches).
fn role_arn(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str()?.strip_suffix(".Arn").map(str::to_owned)
        }
        _ => None,
    }
}

/// The resource a stack output names (`EventStoreTableName` -> `EventStoreTable`).
fn output_target(template: &Value, output: &str) -> String {
    target(&template["Outputs"][output]["Value"]).unwrap_or_else(|| panic!("no output {output} naming a resource"))
}

/// Who may put each event source, as declared: the role of every function whose
/// `Bus { sources }` names it (SAM's `<Function>Role`), and `EventReplayRole` for each source
/// the `events` tool replays.
fn declared_producers(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut producers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, binary, _) in function_resources(template) {
        let declared = declaration(&binary).variables;
        for setting in declared.iter().filter(|s| s.resource == Resource::Bus) {
            for source in setting.sources {
                producers
                    .entry((*source).to_owned())
                    .or_default()
                    .insert(format!("{id}Role"));
            }
        }
    }
    for grant in event_tools::access::GRANTS {
        for source in grant.sources {
            producers
                .entry((*source).to_owned())
                .or_default()
                .insert("EventReplayRole".to_owned());
        }
    }
    producers
}

/// GIVEN the declarations WHEN the bus's policies are read THEN each source is refused to every
/// principal but the roles of its declared producers: a `Deny` of `events:PutEvents` to `*`
/// with `StringEquals events:source` (a condition key of PutEvents, evaluated per entry:
/// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html,
/// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html)
/// and `ArnNotEquals aws:PrincipalArn` (a session's role ARN, in every request:
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
/// So a role allowed a broad `events:PutEvents` still cannot put `shop.orders` events.
#[test]
fn the_bus_refuses_each_source_to_every_principal_but_the_roles_declaring_it() {
    let template = template();
    let loaded = loaded();
    let declared = declared_producers(&template);
    for role in declared.values().flatten() {
        assert_eq!(
            loaded.resource(role).map(|r| r.kind.as_str()),
            Some("AWS::IAM::Role"),
            "{role}: a producer's role the stack deploys"
        );
    }
    let mut refused: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, policy) in resources(&template) {
        if policy["Type"] != "AWS::Events::EventBusPolicy" {
            continue;
        }
        let properties = &policy["Properties"];
        let bus = target(&properties["EventBusName"]).unwrap();
        assert_eq!(resource(&template, &bus)["Type"], "AWS::Events::EventBus", "{id}");
        let statement = &properties["Statement"];
        assert_eq!(statement["Effect"], "Deny", "{id}: the bus's policies only refuse");
        assert_eq!(
            statement["Principal"], "*",
            "{id}: refused to every principal but the exceptions"
        );
        assert_eq!(strings(&statement["Action"]), ["events:PutEvents"], "{id}");
        assert_eq!(target(&statement["Resource"]), Some(bus), "{id}");
        let condition = &statement["Condition"];
        assert_eq!(
            condition.as_mapping().map(|m| m.len()),
            Some(2),
            "{id}: StringEquals events:source and ArnNotEquals aws:PrincipalArn, found {condition:?}"
        );
        let sources = strings(&condition["StringEquals"]["events:source"]);
        assert_eq!(
            sources.len(),
            1,
            "{id}: one source a policy, each with its own producers"
        );
        let exempt: BTreeSet<String> = condition["ArnNotEquals"]["aws:PrincipalArn"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{id}: ArnNotEquals aws:PrincipalArn lists the producers' roles"))
            .iter()
            .map(|role| role_arn(role).unwrap_or_else(|| panic!("{id}: {role:?} is not a !GetAtt <Role>.Arn")))
            .collect();
        let source = sources[0].clone();
        assert!(
            refused.insert(source.clone(), exempt).is_none(),
            "{id}: a second policy for {source}"
        );
    }
    assert_eq!(
        refused, declared,
        "each source is refused to all but the roles declaring it (left: the bus's policies, right: the declarations)"
    );
    // Every source a rule routes has its producers, so no domain's events go unguarded; and a
    // replay may put each (the store archives every one).
    for (id, rule) in resources(&template) {
        let pattern = &rule["Properties"]["EventPattern"];
        if rule["Type"] == "AWS::Events::Rule" && !pattern["source"].is_null() {
            for source in strings(&pattern["source"]) {
                assert!(
                    declared.contains_key(&source),
                    "{id} routes {source}, which no function declares it puts"
                );
            }
        }
    }
    let replayed: BTreeSet<String> = event_tools::access::REPLAYED_SOURCES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        replayed,
        declared.keys().cloned().collect(),
        "the events tool replays every source put"
    );
}

/// A resource of the replay tool's role, as [`event_tools::access::Scope`] is mapped below: a
/// template resource by logical id (`!GetAtt X.Arn`, `!Sub "${X.Arn}/index/*"`), a key
/// parameter, or an ARN pattern of the stack's names without its partition, region and
/// account (`!Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-*"`
/// -> `sqs:${AWS::StackName}-*`).
fn tool_resource(value: &Value) -> Option<String> {
    if let Some(id) = target(value) {
        return Some(id);
    }
    let Value::Tagged(tagged) = value else { return None };
    let (service, rest) = tagged
        .value
        .as_str()?
        .strip_prefix("arn:${AWS::Partition}:")?
        .split_once(':')?;
    let rest = rest.strip_prefix("${AWS::Region}:${AWS::AccountId}:")?;
    Some(format!("{service}:{rest}"))
}

/// GIVEN what the `events` tool declares it calls (`event_tools::access::GRANTS`) WHEN its role
/// is read THEN `EventReplayRole` allows exactly that, as a function's role allows exactly
/// what its declaration uses: the sources it replays on PutEvents, and with a customer managed
/// key what SQS needs to send to an SSE-KMS queue (`kms:GenerateDataKey`, `kms:Decrypt`:
/// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html)
/// and DynamoDB to read a table under it as the caller (`kms:Decrypt`:
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html),
/// under `UseCustomerKey` as the functions' key statements are.
#[test]
fn the_replay_tools_role_allows_exactly_what_the_tool_declares() {
    let template = template();
    let role = resource(&template, "EventReplayRole");
    assert_eq!(role["Type"], "AWS::IAM::Role");
    let mut allowed = Grants::new();
    for policy in role["Properties"]["Policies"].as_sequence().unwrap() {
        let statements = policy["PolicyDocument"]["Statement"].as_sequence().unwrap();
        allowed.extend(statement_grants("EventReplayRole", statements, tool_resource));
    }
    assert!(
        role["Properties"]["ManagedPolicyArns"].is_null(),
        "EventReplayRole: no managed policy"
    );
    let mut declared = Grants::new();
    for grant in event_tools::access::GRANTS {
        let output = |name: &str| output_target(&template, name);
        let on = match grant.scope {
            Scope::Output(name) => output(name),
            Scope::IndexesOf(name) => format!("{}/index/*", output(name)),
            Scope::RulesOf(name) => format!("events:rule/${{{}}}/*", output(name)),
            Scope::StackQueues => "sqs:${AWS::StackName}-*".to_owned(),
            Scope::StackTables(prefix) => format!("dynamodb:table/${{AWS::StackName}}-{prefix}*"),
            Scope::CustomerKey => "EncryptionKeyArn".to_owned(),
        };
        let scopes: Vec<String> = if grant.sources.is_empty() {
            vec![String::new()]
        } else {
            grant.sources.iter().map(|s| format!("#source={s}")).collect()
        };
        for action in grant.actions {
            for scope in &scopes {
                declared.insert(((*action).to_owned(), format!("{on}{scope}")));
            }
        }
    }
    let missing: Vec<_> = declared.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "EventReplayRole: declared but not allowed {missing:?}; allowed but not declared {extra:?}"
    );
}

/// One order is one trace from `POST /orders` to its notification: every function traced
/// (`Globals.Function.Tracing: Active`, none turning it off) and every topic too
/// (`TracingConfig: Active`). With tracing on, SAM attaches to each implicit role, besides
/// AWSLambdaBasicExecutionRole (its log stream), AWSXrayWriteOnlyAccess (AWSXRayDaemonWriteAccess
/// outside the aws partition): xray:PutTraceSegments, PutTelemetryRecords and the sampling reads
/// GetSamplingRules, GetSamplingTargets, GetSamplingStatisticSummaries, on `*` as X-Ray has no
/// resource-level permissions for them. It writes traces and reads nothing of the stack, the
/// same for every function, so [`granted`] does not count it; what keeps least privilege is that
/// no function brings a managed policy, role or boundary of its own.
#[test]
fn every_function_and_topic_is_traced_and_sam_adds_only_its_write_only_policies() {
    let template = template();
    assert_eq!(template["Globals"]["Function"]["Tracing"], "Active");
    for (id, _, function) in function_resources(&template) {
        let own = &function["Properties"]["Tracing"];
        assert!(own.is_null() || own == "Active", "{id}: Tracing {own:?}");
        for key in ["ManagedPolicyArns", "Role", "PermissionsBoundary"] {
            assert!(function["Properties"][key].is_null(), "{id}: its own {key}");
        }
    }
    let topics: Vec<_> = resources(&template)
        .into_iter()
        .filter(|(_, r)| r["Type"] == "AWS::SNS::Topic")
        .collect();
    assert!(!topics.is_empty());
    for (id, topic) in topics {
        assert_eq!(topic["Properties"]["TracingConfig"], "Active", "{id}: traced");
    }
}

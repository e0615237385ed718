//! Shared helpers of the end-to-end tests.

/// The README's examples, compiled by `cargo test --doc -p system-tests` (and so by `make
/// test`): every untagged or `rust` block must build, so an example cannot rot unnoticed.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

/// `functions/README.md`'s examples, compiled the same way.
#[cfg(doctest)]
#[doc = include_str!("../../functions/README.md")]
pub struct FunctionsReadmeExamples;

/// Creates table `name` on moto exactly as infra/template.yaml declares the table resource
/// `logical_id` (attributes, keys, global secondary indexes), and returns a client for it,
/// logging calls to `log` when given.
#[cfg(feature = "aws")]
pub async fn declared_table(
    logical_id: &str,
    name: &str,
    log: Option<&motoserver::CallLog>,
) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    use serde_yaml_ng::Value;

    fn key_schema(keys: &Value) -> Option<Vec<KeySchemaElement>> {
        keys.as_sequence()?
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str()?)
                    .key_type(KeyType::from(k["KeyType"].as_str()?))
                    .build()
                    .ok()
            })
            .collect()
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let template: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let properties = &template["Resources"][logical_id]["Properties"];
    let moto = motoserver::shared().unwrap_or_else(|e| panic!("moto server: {e}"));
    let config = moto.sdk_config().await;
    let mut request = Client::new(&config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(key_schema(&properties["KeySchema"]));
    for attribute in properties["AttributeDefinitions"].as_sequence().into_iter().flatten() {
        let definition = AttributeDefinition::builder()
            .attribute_name(attribute["AttributeName"].as_str().unwrap_or_default())
            .attribute_type(ScalarAttributeType::from(
                attribute["AttributeType"].as_str().unwrap_or_default(),
            ))
            .build();
        request = request.attribute_definitions(definition.unwrap_or_else(|e| panic!("{logical_id}: {e}")));
    }
    for index in properties["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        let projection = ProjectionType::from(index["Projection"]["ProjectionType"].as_str().unwrap_or_default());
        let index = GlobalSecondaryIndex::builder()
            .index_name(index["IndexName"].as_str().unwrap_or_default())
            .set_key_schema(key_schema(&index["KeySchema"]))
            .projection(Projection::builder().projection_type(projection).build())
            .build();
        request = request.global_secondary_indexes(index.unwrap_or_else(|e| panic!("{logical_id}: {e}")));
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{logical_id}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
    if let Some(log) = log {
        builder = builder.interceptor(log.clone());
    }
    Client::from_conf(builder.build())
}

//! The DynamoDB store: one conditional `PutItem` decides new vs duplicate, returning the
//! existing item on conflict (`ReturnValuesOnConditionCheckFailure = ALL_OLD`), so a duplicate
//! costs one call and a new record two (put, then update on success or delete on failure).
//! A duplicate whose outputs were not delivered the first time costs one more (`UpdateItem`
//! marking them delivered once they are).
//!
//! Table: partition key `id` (S); attribute `expiration` (N, epoch seconds) is the TTL
//! attribute. The attribute names match Powertools', so one table serves functions in any language.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::error::StoreError;
use crate::record::{PayloadHash, Record, Status};
use crate::store::{PutOutcome, Store};

const ID: &str = "id";
const STATUS: &str = "status";
const EXPIRATION: &str = "expiration";
const IN_PROGRESS_EXPIRATION: &str = "in_progress_expiration";
const VALIDATION: &str = "validation";
const DATA: &str = "data";
const DATA_DIGEST: &str = "data_digest";
const DELIVERED: &str = "delivered";

/// Absent, or expired (TTL passed, or an in-progress invocation presumed dead): the key is free.
/// The same instants as [`Record::is_expired`] (expired at, not after, the expiry), so both
/// stores free a key at the same moment.
const KEY_IS_FREE: &str = "attribute_not_exists(#id) OR #expiration <= :now OR (#status = :in_progress AND #in_progress_expiration <= :now_ms)";

/// Idempotency records in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store over `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(key: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(ID.to_owned(), AttributeValue::S(key.to_owned()))])
    }
}

impl Store for DynamoDbStore {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<PutOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression(KEY_IS_FREE)
            .expression_attribute_names("#id", ID)
            .expression_attribute_names("#expiration", EXPIRATION)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
            .expression_attribute_values(":now", number(now_ms.div_euclid(1000)))
            .expression_attribute_values(":now_ms", number(now_ms))
            .expression_attribute_values(
                ":in_progress",
                AttributeValue::S(Status::InProgress.as_str().to_owned()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(conflict)) => match conflict.item() {
                    Some(item) => Ok(PutOutcome::Exists(from_item(&record.key, item)?)),
                    None => Err(StoreError::Corrupt {
                        key: record.key.clone(),
                        reason: "the conditional put failed without returning the existing item".into(),
                    }),
                },
                _ => Err(unavailable("put", &record.key, err)),
            },
        }
    }

    async fn complete(&self, record: &Record) -> Result<(), StoreError> {
        let key = &record.key;
        // The result, or only its digest when it was too large: one of the two is set.
        let (kept, kept_value) = match (&record.result, &record.result_digest) {
            (Some(result), _) => (DATA, result),
            (None, Some(digest)) => (DATA_DIGEST, digest),
            (None, None) => {
                return Err(StoreError::Corrupt {
                    key: key.clone(),
                    reason: "a completed record needs a result or its digest".into(),
                });
            }
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .update_expression(
                "SET #status = :completed, #kept = :kept, #expiration = :expiration, #validation = :validation, #delivered = :delivered REMOVE #in_progress_expiration",
            )
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#kept", kept)
            .expression_attribute_names("#expiration", EXPIRATION)
            .expression_attribute_names("#validation", VALIDATION)
            .expression_attribute_names("#delivered", DELIVERED)
            .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
            .expression_attribute_values(":completed", AttributeValue::S(record.status.as_str().to_owned()))
            .expression_attribute_values(":kept", AttributeValue::S(kept_value.clone()))
            .expression_attribute_values(":expiration", number(record.expires_at))
            .expression_attribute_values(":validation", AttributeValue::S(record.payload_hash.0.clone()))
            .expression_attribute_values(":delivered", AttributeValue::Bool(record.delivered))
            .send()
            .await
            .map_err(|err| unavailable("complete", key, err))?;
        Ok(())
    }

    async fn mark_delivered(&self, key: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .update_expression("SET #delivered = :delivered")
            // Never creates an item, nor marks a key a new invocation has taken over.
            .condition_expression("#status = :completed")
            .expression_attribute_names("#delivered", DELIVERED)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":delivered", AttributeValue::Bool(true))
            .expression_attribute_values(":completed", AttributeValue::S(Status::Completed.as_str().to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.as_service_error(), Some(e) if e.is_conditional_check_failed_exception()) => {
                Ok(())
            }
            Err(err) => Err(unavailable("mark_delivered", key, err)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .send()
            .await
            .map_err(|err| unavailable("delete", key, err))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| unavailable("get", key, err))?;
        output.item().map(|item| from_item(key, item)).transpose()
    }
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn to_item(record: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (ID.to_owned(), AttributeValue::S(record.key.clone())),
        (STATUS.to_owned(), AttributeValue::S(record.status.as_str().to_owned())),
        (EXPIRATION.to_owned(), number(record.expires_at)),
        (VALIDATION.to_owned(), AttributeValue::S(record.payload_hash.0.clone())),
    ]);
    if let Some(until) = record.in_progress_expires_at_ms {
        item.insert(IN_PROGRESS_EXPIRATION.to_owned(), number(until));
    }
    if let Some(result) = &record.result {
        item.insert(DATA.to_owned(), AttributeValue::S(result.clone()));
    }
    if let Some(digest) = &record.result_digest {
        item.insert(DATA_DIGEST.to_owned(), AttributeValue::S(digest.clone()));
    }
    if !record.delivered {
        item.insert(DELIVERED.to_owned(), AttributeValue::Bool(false));
    }
    item
}

fn from_item(key: &str, item: &HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let text = |name: &str| -> Result<Option<String>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
            Some(other) => Err(corrupt(format!(
                "attribute `{name}` should be a string, found {other:?}"
            ))),
        }
    };
    let int = |name: &str| -> Result<Option<i64>, StoreError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| corrupt(format!("attribute `{name}` = {n} is not a whole number"))),
            Some(other) => Err(corrupt(format!(
                "attribute `{name}` should be a number, found {other:?}"
            ))),
        }
    };
    let required =
        |name: &str, value: Option<String>| value.ok_or_else(|| corrupt(format!("attribute `{name}` is missing")));
    let status = required(STATUS, text(STATUS)?)?;
    Ok(Record {
        key: required(ID, text(ID)?)?,
        status: Status::parse(&status).ok_or_else(|| corrupt(format!("unknown status '{status}'")))?,
        expires_at: int(EXPIRATION)?.ok_or_else(|| corrupt(format!("attribute `{EXPIRATION}` is missing")))?,
        in_progress_expires_at_ms: int(IN_PROGRESS_EXPIRATION)?,
        payload_hash: PayloadHash(required(VALIDATION, text(VALIDATION)?)?),
        result: text(DATA)?,
        result_digest: text(DATA_DIGEST)?,
        // Absent on records written before delivery was tracked, or by other writers of the
        // Powertools layout: their results were handed on when they completed.
        delivered: match item.get(DELIVERED) {
            None => true,
            Some(AttributeValue::Bool(delivered)) => *delivered,
            Some(other) => {
                return Err(corrupt(format!(
                    "attribute `{DELIVERED}` should be a boolean, found {other:?}"
                )));
            }
        },
    })
}

/// Every SDK failure other than a failed condition leaves the key unguarded, so nothing runs;
/// throttling, timeouts, 5xx and transport errors pass, and a missing table is fixed by a
/// deploy, after which a redelivery succeeds. All are worth a retry.
fn unavailable<E, R>(operation: &'static str, key: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable {
        operation,
        key: key.to_owned(),
        // The SDK's own Display says only "service error"; the context names the cause.
        source: aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string().into(),
    }
}

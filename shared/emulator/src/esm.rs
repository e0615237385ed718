//! Lambda event source mappings for SQS: batch size, batching window, and what a function's
//! answer means for each record, exactly as Lambda documents partial batch responses:
//!
//! - the function failed (an error, a crash, a timeout): every record of the batch is retried;
//! - with `ReportBatchItemFailures`: an empty or absent `batchItemFailures` is success; an item
//!   whose `itemIdentifier` is missing, empty or not a message of the batch fails the whole
//!   batch; otherwise exactly the listed records are retried and the others deleted;
//! - without it, the response is ignored: success deletes the whole batch.
//!
//! Retried records are not made visible early: they come back when their visibility timeout
//! ends, and count toward `maxReceiveCount`.

use serde_json::Value;

/// A mapping's settings, from the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    /// Logical id.
    pub logical_id: String,
    /// The queue's logical id.
    pub queue: String,
    /// The function's logical id.
    pub function: String,
    /// `BatchSize` (default 10).
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`, in ms (default 0).
    pub window_ms: i64,
    /// `FunctionResponseTypes` has `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `Enabled` (default true).
    pub enabled: bool,
    /// `ScalingConfig.MaximumConcurrency` (2 to 1000), if set: the most batches in flight at
    /// once. Without it, Lambda's default scaling ([`MappingConfig::concurrency`]).
    pub maximum_concurrency: Option<usize>,
}

/// Batches a standard queue's mapping runs at once when messages appear.
pub const INITIAL_CONCURRENCY: usize = 5;
/// How many more batches a mapping may add per minute while messages remain.
pub const SCALE_UP_PER_MINUTE: usize = 300;
/// The most batches one mapping runs at once.
pub const MAX_CONCURRENCY: usize = 1000;

impl MappingConfig {
    /// How many batches may be in flight at once, `active_ms` after messages appeared in an
    /// idle queue. Lambda documents its scaling of SQS mappings this way: five concurrent
    /// batches when messages appear, up to 300 more per minute while messages remain, at most
    /// 1,000; `ScalingConfig.MaximumConcurrency` caps that. A FIFO queue is limited further
    /// by its message groups: the queue hands out none of a group with a message in flight.
    /// <https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html>
    pub fn concurrency(&self, active_ms: i64) -> usize {
        let minutes = usize::try_from(active_ms.max(0) / 60_000).unwrap_or(usize::MAX);
        let scaled = INITIAL_CONCURRENCY
            .saturating_add(SCALE_UP_PER_MINUTE.saturating_mul(minutes))
            .min(MAX_CONCURRENCY);
        self.maximum_concurrency.map_or(scaled, |cap| scaled.min(cap))
    }
}

/// What happens to a batch's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Message ids to delete.
    pub delete: Vec<String>,
    /// Message ids left to come back after their visibility timeout.
    pub retry: Vec<String>,
    /// Why the whole batch failed, if it did.
    pub batch_failure: Option<String>,
}

/// Settles a batch of `message_ids` given the function's result.
pub fn settle(message_ids: &[String], result: &Result<Value, String>, report_batch_item_failures: bool) -> Settlement {
    let all_failed = |reason: String| Settlement {
        delete: Vec::new(),
        retry: message_ids.to_vec(),
        batch_failure: Some(reason),
    };
    let response = match result {
        Err(error) => return all_failed(format!("function error: {error}")),
        Ok(response) => response,
    };
    if !report_batch_item_failures {
        return Settlement {
            delete: message_ids.to_vec(),
            retry: Vec::new(),
            batch_failure: None,
        };
    }
    if !(response.is_object() || response.is_null()) {
        return all_failed(format!("the response is not a batch response: {response}"));
    }
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return settle(message_ids, &Ok(Value::Null), false),
        Some(Value::Array(failures)) => failures,
        Some(other) => return all_failed(format!("batchItemFailures is not a list: {other}")),
    };
    let mut retry = Vec::new();
    for (index, failure) in failures.iter().enumerate() {
        match failure.get("itemIdentifier").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && message_ids.iter().any(|m| m == id) => {
                if !retry.iter().any(|r| r == id) {
                    retry.push(id.to_owned());
                }
            }
            Some(id) if !id.is_empty() => {
                return all_failed(format!(
                    "batchItemFailures[{index}].itemIdentifier {id:?} is not a message of the batch"
                ));
            }
            _ => {
                return all_failed(format!("batchItemFailures[{index}].itemIdentifier is missing or empty"));
            }
        }
    }
    Settlement {
        delete: message_ids.iter().filter(|m| !retry.contains(m)).cloned().collect(),
        retry,
        batch_failure: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_a_mapping_then_its_concurrency_starts_at_five_grows_300_a_minute_and_stops_at_its_cap() {
        let mut mapping = MappingConfig {
            logical_id: "M".into(),
            queue: "Q".into(),
            function: "F".into(),
            batch_size: 10,
            window_ms: 0,
            report_batch_item_failures: true,
            enabled: true,
            maximum_concurrency: None,
        };
        assert_eq!(mapping.concurrency(0), 5);
        assert_eq!(mapping.concurrency(59_999), 5);
        assert_eq!(mapping.concurrency(60_000), 305);
        assert_eq!(mapping.concurrency(10 * 60_000), 1000);
        mapping.maximum_concurrency = Some(10);
        assert_eq!(mapping.concurrency(0), 5);
        assert_eq!(mapping.concurrency(60_000), 10);
    }

    fn ids() -> Vec<String> {
        vec!["m1".into(), "m2".into(), "m3".into()]
    }

    #[test]
    fn given_an_empty_failure_list_or_no_response_then_the_whole_batch_is_deleted() {
        for response in [json!({"batchItemFailures": []}), json!({}), Value::Null] {
            let settled = settle(&ids(), &Ok(response.clone()), true);
            assert_eq!(settled.delete, ids(), "{response}");
            assert!(settled.retry.is_empty());
            assert_eq!(settled.batch_failure, None);
        }
    }

    #[test]
    fn given_listed_failures_then_exactly_those_are_retried() {
        let response = json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m2"}]});
        let settled = settle(&ids(), &Ok(response), true);
        assert_eq!(settled.retry, ["m2"]);
        assert_eq!(settled.delete, ["m1", "m3"]);
    }

    #[test]
    fn given_an_unknown_or_empty_item_id_then_the_whole_batch_fails() {
        for (response, reason) in [
            (
                json!({"batchItemFailures": [{"itemIdentifier": "m9"}]}),
                "\"m9\" is not a message of the batch",
            ),
            (
                json!({"batchItemFailures": [{"itemIdentifier": ""}]}),
                "missing or empty",
            ),
            (json!({"batchItemFailures": [{}]}), "missing or empty"),
            (json!({"batchItemFailures": "m1"}), "not a list"),
            (json!("ok"), "not a batch response"),
        ] {
            let settled = settle(&ids(), &Ok(response), true);
            assert_eq!(settled.retry, ids());
            assert!(settled.delete.is_empty());
            assert!(settled.batch_failure.unwrap().contains(reason));
        }
    }

    #[test]
    fn given_a_function_error_then_the_whole_batch_is_retried_whatever_the_setting() {
        for report in [true, false] {
            let settled = settle(&ids(), &Err("crashed".into()), report);
            assert_eq!(settled.retry, ids());
            assert_eq!(settled.batch_failure.as_deref(), Some("function error: crashed"));
        }
    }

    #[test]
    fn given_no_report_batch_item_failures_then_a_response_listing_failures_is_ignored() {
        let response = json!({"batchItemFailures": [{"itemIdentifier": "m2"}]});
        let settled = settle(&ids(), &Ok(response), false);
        assert_eq!(settled.delete, ids());
    }
}

//! Chunking within a service's limits and retrying only the entries that failed.

use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;

use super::{FailedEntry, PublishError};

/// How failed entries are retried: exponential backoff with full jitter, bounded attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per entry, the first included.
    pub attempts: u32,
    /// Backoff before the first retry (before jitter).
    pub base: Duration,
    /// Longest backoff.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniform wait in `[0, min(cap, base * 2^retry)]`, so retries from many
    /// concurrent invocations spread out instead of arriving together.
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(2u32.saturating_pow(retry)).min(self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// Service limits of one batch call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) entries: usize,
    pub(super) bytes: usize,
}

/// What one call said about one entry of its chunk.
#[derive(Debug)]
pub(super) struct EntryError {
    /// Position within the chunk sent.
    pub(super) position: usize,
    pub(super) code: String,
    pub(super) message: String,
    pub(super) retryable: bool,
}

impl EntryError {
    /// An entry SNS or SQS reported failed (both report id, code, message and whether the
    /// sender is at fault, which is what makes a retry useless).
    pub(super) fn from_batch_result(id: &str, code: &str, message: Option<&str>, sender_fault: bool) -> Self {
        Self {
            position: id.parse().unwrap_or(usize::MAX),
            code: code.to_owned(),
            message: message.unwrap_or_default().to_owned(),
            retryable: !sender_fault,
        }
    }
}

/// A call failed as a whole.
#[derive(Debug)]
pub(super) struct CallError {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) retryable: bool,
}

/// Splits `sizes` (bytes per entry) into runs of indexes within `limits`. An entry over the
/// byte limit on its own goes alone; the service refuses it and says why.
pub(super) fn chunks(sizes: &[usize], limits: Limits) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (index, &size) in sizes.iter().enumerate() {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < limits.entries && bytes + size <= limits.bytes => {
                chunk.push(index);
                bytes += size;
            }
            _ => {
                chunks.push(vec![index]);
                bytes = size;
            }
        }
    }
    chunks
}

/// Sends every entry: all chunks concurrently, each retrying only its failed entries.
/// `send` gets the indexes of the entries to send in one call.
pub(super) async fn send_all<F, Fut>(
    sizes: &[usize],
    limits: Limits,
    policy: RetryPolicy,
    send: F,
) -> Result<(), PublishError>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryError>, CallError>>,
{
    let sends = chunks(sizes, limits)
        .into_iter()
        .map(|chunk| send_chunk(chunk, policy, &send));
    let failed: Vec<FailedEntry> = join_all(sends).await.into_iter().flatten().collect();
    PublishError::unless_failed(sizes.len(), failed)
}

async fn send_chunk<F, Fut>(mut pending: Vec<usize>, policy: RetryPolicy, send: &F) -> Vec<FailedEntry>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryError>, CallError>>,
{
    let mut failed = Vec::new();
    for attempt in 0..policy.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(policy.backoff(attempt - 1)).await;
        }
        let errors = match send(pending.clone()).await {
            Ok(errors) => errors,
            Err(call) => pending
                .iter()
                .enumerate()
                .map(|(position, _)| EntryError {
                    position,
                    code: call.code.clone(),
                    message: call.message.clone(),
                    retryable: call.retryable,
                })
                .collect(),
        };
        let last = attempt + 1 == policy.attempts.max(1);
        let mut retry = Vec::new();
        for error in errors {
            let Some(&index) = pending.get(error.position) else {
                continue;
            };
            if error.retryable && !last {
                retry.push(index);
            } else {
                failed.push(FailedEntry {
                    index,
                    code: error.code,
                    message: error.message,
                    permanent: !error.retryable,
                });
            }
        }
        if retry.is_empty() {
            break;
        }
        pending = retry;
    }
    failed.sort_by_key(|f| f.index);
    failed
}

/// Error codes that say "not now" rather than "never", across EventBridge, SNS and SQS.
pub(super) fn is_retryable_code(code: &str) -> bool {
    [
        "Throttl",
        "Internal",
        "ServiceUnavailable",
        "Timeout",
        "RequestLimitExceeded",
        "KMSThrottling",
    ]
    .iter()
    .any(|passing| code.contains(passing))
}

/// A whole-call SDK failure: transport and timeout errors pass; service errors by their code.
pub(super) fn call_error<E, R>(err: &aws_sdk_sqs::error::SdkError<E, R>) -> CallError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = aws_sdk_sqs::error::DisplayErrorContext(err).to_string();
    match err.as_service_error() {
        Some(service) => {
            let code = service.code().unwrap_or("Unknown").to_owned();
            CallError {
                retryable: is_retryable_code(&code),
                code,
                message,
            }
        }
        None => CallError {
            code: "Unreachable".to_owned(),
            message,
            retryable: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn chunks_respect_both_entry_count_and_bytes() {
        let limits = Limits {
            entries: 10,
            bytes: 100,
        };
        assert_eq!(
            chunks(&[1; 25], limits).iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        assert_eq!(
            chunks(&[40, 40, 40, 30, 150, 10], limits),
            [vec![0, 1], vec![2, 3], vec![4], vec![5]]
        );
        assert!(chunks(&[], limits).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn only_failed_entries_are_retried_and_permanent_ones_are_not() {
        // Entry 1 is throttled twice, entry 3 is malformed: calls must be [0..5], [1], [1].
        let calls = Mutex::new(Vec::new());
        let throttles = Mutex::new(2);
        let result = send_all(
            &[1; 5],
            Limits {
                entries: 10,
                bytes: 100,
            },
            RetryPolicy::default(),
            |indexes| {
                calls.lock().unwrap().push(indexes.clone());
                let mut errors = Vec::new();
                for (position, index) in indexes.iter().enumerate() {
                    let mut left = throttles.lock().unwrap();
                    if *index == 1 && *left > 0 {
                        *left -= 1;
                        errors.push(EntryError {
                            position,
                            code: "ThrottlingException".into(),
                            message: "slow down".into(),
                            retryable: true,
                        });
                    }
                    if *index == 3 {
                        errors.push(EntryError {
                            position,
                            code: "MalformedDetail".into(),
                            message: "bad".into(),
                            retryable: false,
                        });
                    }
                }
                async move { Ok(errors) }
            },
        )
        .await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0, 1, 2, 3, 4], vec![1], vec![1]]);
        let err = result.unwrap_err();
        assert_eq!(err.failed.len(), 1);
        assert_eq!((err.failed[0].index, err.failed[0].permanent), (3, true));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_still_failing_after_the_last_attempt_are_surfaced() {
        let policy = RetryPolicy {
            attempts: 3,
            ..RetryPolicy::default()
        };
        let calls = Mutex::new(0);
        let result = send_all(
            &[1; 2],
            Limits {
                entries: 10,
                bytes: 100,
            },
            policy,
            |_| {
                *calls.lock().unwrap() += 1;
                async {
                    Err(CallError {
                        code: "ThrottlingException".into(),
                        message: "busy".into(),
                        retryable: true,
                    })
                }
            },
        )
        .await;
        assert_eq!(*calls.lock().unwrap(), 3);
        let err = result.unwrap_err();
        assert_eq!(err.failed.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(err.class(), envelope::ErrorClass::Transient);
    }
}

//! Chunking within a service's limits, retrying only the entries that can still go out, and
//! the FIFO ids SNS and SQS accept.
//!
//! # Which failures are final
//!
//! A failure is permanent only when the entry can never be accepted as it is: the service
//! refused *that entry's content* with one of a short list of codes ([`Service::refuses`]).
//! Everything else is retried here, then reported as transient so the processor makes the
//! record a batch item failure; what never recovers reaches the DLQ. Access denied, a missing
//! bus, topic or queue, expired credentials, KMS errors and service errors without a code are
//! all transient: they pass once a deploy or a rotation lands, and parking the record then
//! would need someone to replay it by hand. The SNS/SQS `SenderFault` flag is not used: an
//! `AuthorizationError` is a sender fault, and it passes after a deploy.
//!
//! A whole call that fails says nothing about which entry was at fault, so it never parks a
//! chunk: when its code is an entry refusal and the call carried several entries, each is sent
//! alone next, so only the one at fault is refused; a call of a single entry refused that way
//! is that entry's permanent failure. Any other whole-call failure is transient for every entry.
//!
//! An entry counts as sent only when the answer confirms it; an entry the answer does not
//! account for is retried (`NoAnswer`), since losing an output is worse than sending it twice
//! (events carry ids, so consumers drop the duplicate).

use std::future::Future;

use futures_util::future::join_all;

use super::{FailedEntry, PublishError};
use crate::backoff::Backoff;

/// Service limits of one batch call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) entries: usize,
    pub(super) bytes: usize,
}

/// The service a batch goes to: each refuses an entry with its own codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Service {
    EventBridge,
    Sns,
    Sqs,
}

/// Where a code was reported: in the result of one entry, or as the error of a whole call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Entry,
    Call,
}

impl Service {
    /// Whether `code` says an entry can never be accepted as it is. The allow-list holds only
    /// refusals of an entry's content:
    ///
    /// - EventBridge: `MalformedDetail`, `InvalidArgument`, and `ValidationException` in an
    ///   entry result only (for a whole call it can be about the request, not an entry);
    /// - SQS: `InvalidParameterValue`, `InvalidMessageContents`, `MessageTooLong`,
    ///   `BatchRequestTooLong` (a whole call; about one entry once that entry goes alone),
    ///   `InvalidAttributeName`, `InvalidAttributeValue`;
    /// - SNS: `InvalidParameter`, `InvalidParameterValue`, `ValidationException`,
    ///   `ParameterValueInvalid`.
    ///
    /// Any other code, known or not, is worth a retry (see the module documentation).
    pub(super) fn refuses(self, code: &str, scope: Scope) -> bool {
        let refusals: &[&str] = match (self, scope) {
            (Self::EventBridge, Scope::Entry) => &["MalformedDetail", "InvalidArgument", "ValidationException"],
            (Self::EventBridge, Scope::Call) => &["MalformedDetail", "InvalidArgument"],
            (Self::Sqs, _) => &[
                "InvalidParameterValue",
                "InvalidMessageContents",
                "MessageTooLong",
                "BatchRequestTooLong",
                "InvalidAttributeName",
                "InvalidAttributeValue",
            ],
            (Self::Sns, _) => &[
                "InvalidParameter",
                "InvalidParameterValue",
                "ValidationException",
                "ParameterValueInvalid",
            ],
        };
        refusals.contains(&bare_code(code))
    }
}

/// `code` without the namespace some protocols put before it
/// (`AWS.SimpleQueueService.BatchRequestTooLong`, `com.amazonaws.sqs#InvalidParameterValue`).
fn bare_code(code: &str) -> &str {
    code.rsplit(['.', '#']).next().unwrap_or(code)
}

/// What a call said about one entry it did not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntryError {
    /// Position within the entries of the call.
    pub(super) position: usize,
    pub(super) code: String,
    pub(super) message: String,
    /// The entry can never be accepted as it is: not worth a retry.
    pub(super) refused: bool,
}

impl EntryError {
    /// The entry at `position` failed with `code`, classified by what `service` means by it.
    pub(super) fn new(service: Service, position: usize, code: &str, message: Option<&str>) -> Self {
        Self {
            position,
            code: code.to_owned(),
            message: message.unwrap_or_default().to_owned(),
            refused: service.refuses(code, Scope::Entry),
        }
    }

    /// The answer did not confirm the entry at `position`: it may or may not have gone out.
    fn unanswered(position: usize) -> Self {
        Self {
            position,
            code: "NoAnswer".to_owned(),
            message: "the service's answer did not confirm this entry".to_owned(),
            refused: false,
        }
    }
}

/// What one call answered, by position within the entries of the call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Answer {
    /// Entries the service confirmed it accepted.
    pub(super) sent: Vec<usize>,
    /// Entries the service said it did not accept.
    pub(super) errors: Vec<EntryError>,
}

impl Answer {
    /// An SNS PublishBatch or SQS SendMessageBatch answer, which names entries by the ids they
    /// were sent with ([`entry_id`]): `successful` ids, and `failed` (id, code, message).
    /// An id that is not one of ours confirms nothing.
    pub(super) fn by_id<'a>(
        service: Service,
        successful: impl IntoIterator<Item = &'a str>,
        failed: impl IntoIterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    ) -> Self {
        Self {
            sent: successful.into_iter().filter_map(position_of).collect(),
            errors: failed
                .into_iter()
                .filter_map(|(id, code, message)| Some(EntryError::new(service, position_of(id)?, code, message)))
                .collect(),
        }
    }

    /// An EventBridge PutEvents answer: one result per entry sent, in request order, each
    /// (event id, error code, error message). An entry is sent when its result has an event id
    /// and no error code. With a different number of results than `count` entries sent, no
    /// result can be matched to its entry, so the answer confirms nothing.
    pub(super) fn in_order<'a>(
        service: Service,
        count: usize,
        results: impl ExactSizeIterator<Item = (Option<&'a str>, Option<&'a str>, Option<&'a str>)>,
    ) -> Self {
        let mut answer = Self::default();
        if results.len() != count {
            return answer;
        }
        for (position, (event_id, code, message)) in results.enumerate() {
            match (event_id, code) {
                (_, Some(code)) => answer.errors.push(EntryError::new(service, position, code, message)),
                (Some(_), None) => answer.sent.push(position),
                (None, None) => {}
            }
        }
        answer
    }

    /// What became of the entry at `position`: `None` when sent, else why not. An entry both
    /// confirmed and failed is not confirmed.
    fn outcome(&self, position: usize) -> Option<EntryError> {
        if let Some(error) = self.errors.iter().find(|e| e.position == position) {
            return Some(error.clone());
        }
        if self.sent.contains(&position) {
            return None;
        }
        Some(EntryError::unanswered(position))
    }
}

/// The id an entry is sent with in SNS and SQS batches: its position within the call.
pub(super) fn entry_id(position: usize) -> String {
    position.to_string()
}

/// The position an id of [`entry_id`] stands for.
fn position_of(id: &str) -> Option<usize> {
    id.parse().ok().filter(|position: &usize| entry_id(*position) == id)
}

/// A call failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CallError {
    pub(super) code: String,
    pub(super) message: String,
    /// The code refuses an entry's content (but not which entry, when there were several).
    pub(super) refuses_entry: bool,
}

impl CallError {
    /// An entry could not even be built into a request (a required field missing): it never
    /// will be, and whichever entry it is gets found by sending each alone.
    pub(super) fn unbuildable(err: impl std::fmt::Display) -> Self {
        Self {
            code: "InvalidRequest".into(),
            message: err.to_string(),
            refuses_entry: true,
        }
    }
}

/// A whole-call SDK failure: transport and timeout errors, like service errors, are worth a
/// retry unless the service's code refuses an entry. A service error without a code is
/// `Unknown`, hence retried.
pub(super) fn call_error<E, R>(service: Service, err: &aws_sdk_sqs::error::SdkError<E, R>) -> CallError
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = aws_sdk_sqs::error::DisplayErrorContext(err).to_string();
    let code = match err.as_service_error() {
        Some(error) => error.code().unwrap_or("Unknown"),
        None => "Unreachable",
    };
    CallError {
        code: code.to_owned(),
        message,
        refuses_entry: service.refuses(code, Scope::Call),
    }
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

/// Sends every entry: all chunks concurrently, each retrying only the entries that can still
/// go out. `send` gets the indexes of the entries to send in one call, and answers by
/// position within them.
pub(super) async fn send_all<F, Fut>(
    sizes: &[usize],
    limits: Limits,
    policy: Backoff,
    send: F,
) -> Result<(), PublishError>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Answer, CallError>>,
{
    let sends = chunks(sizes, limits)
        .into_iter()
        .map(|chunk| send_chunk(chunk, policy, &send));
    let failed: Vec<FailedEntry> = join_all(sends).await.into_iter().flatten().collect();
    PublishError::unless_failed(sizes.len(), failed)
}

async fn send_chunk<F, Fut>(chunk: Vec<usize>, policy: Backoff, send: &F) -> Vec<FailedEntry>
where
    F: Fn(Vec<usize>) -> Fut,
    Fut: Future<Output = Result<Answer, CallError>>,
{
    let attempts = policy.attempts.max(1);
    let mut failed = Vec::new();
    // The calls of the next attempt: the whole chunk at first; after a whole call was refused
    // for an entry's content, one call per entry of it, so only the entry at fault is refused.
    let mut calls = vec![chunk];
    let mut backoffs = 0;
    for attempt in 1..=attempts {
        let last = attempt == attempts;
        let answers = join_all(calls.iter().map(|call| send(call.clone()))).await;
        let mut retry = Vec::new();
        let mut alone = Vec::new();
        for (call, answer) in calls.iter().zip(answers) {
            match answer {
                Ok(answer) => {
                    for (position, &index) in call.iter().enumerate() {
                        let Some(error) = answer.outcome(position) else {
                            continue;
                        };
                        if error.refused || last {
                            failed.push(FailedEntry {
                                index,
                                code: error.code,
                                message: error.message,
                                permanent: error.refused,
                            });
                        } else {
                            retry.push(index);
                        }
                    }
                }
                Err(error) if error.refuses_entry && call.len() > 1 && !last => alone.extend(call),
                Err(error) => {
                    // Permanent only when the entry at fault is known: the call carried it alone.
                    let permanent = error.refuses_entry && call.len() == 1;
                    if permanent || last {
                        failed.extend(call.iter().map(|&index| FailedEntry {
                            index,
                            code: error.code.clone(),
                            message: error.message.clone(),
                            permanent,
                        }));
                    } else {
                        retry.extend(call);
                    }
                }
            }
        }
        // Splitting needs no backoff (nothing was overloaded); a retry does.
        if !retry.is_empty() {
            policy.wait(backoffs).await;
            backoffs += 1;
        }
        calls = alone.into_iter().map(|index| vec![index]).collect();
        if !retry.is_empty() {
            calls.push(retry);
        }
        if calls.is_empty() {
            break;
        }
    }
    failed.sort_by_key(|f| f.index);
    failed
}

/// Longest MessageGroupId or MessageDeduplicationId SNS and SQS accept.
const FIFO_ID_MAX: usize = 128;

/// `text` as a MessageGroupId or MessageDeduplicationId that SNS and SQS accept: 1 to 128
/// characters, each an ASCII letter, digit or punctuation. A valid `text` is kept as is, so
/// ids stay readable. Any other becomes the allowed characters of its start, `-`, and the
/// SHA-256 hex of all of it, within 128 characters: the same text always gives the same id (one
/// aggregate's events stay in one group), and different texts different ids unless SHA-256
/// collides or a valid text is already of that very form.
pub(super) fn fifo_id(text: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c.is_ascii_punctuation();
    // Allowed characters are ASCII, so a valid text's length in bytes is its length in characters.
    if !text.is_empty() && text.len() <= FIFO_ID_MAX && text.chars().all(allowed) {
        return text.to_owned();
    }
    let digest = sha256_hex(text.as_bytes());
    let readable: String = text
        .chars()
        .filter(|&c| allowed(c))
        .take(FIFO_ID_MAX - 1 - digest.len())
        .collect();
    format!("{readable}-{digest}")
}

/// The SHA-256 of `bytes` in lowercase hex (64 characters, a valid [`fifo_id`]).
pub(super) use idempotency::sha256_hex;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    use aws_sdk_sqs::error::{ErrorMetadata, SdkError};
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;

    const TEN: Limits = Limits {
        entries: 10,
        bytes: 1000,
    };

    /// How `call_error` classifies a whole-call service error with `code` (none: no code at all).
    fn service_error(service: Service, code: Option<&str>) -> CallError {
        let mut metadata = ErrorMetadata::builder().message("refused");
        if let Some(code) = code {
            metadata = metadata.code(code);
        }
        let err: SdkError<SendMessageBatchError, ()> =
            SdkError::service_error(SendMessageBatchError::generic(metadata.build()), ());
        call_error(service, &err)
    }

    /// An answer confirming every entry of a call of `count`.
    fn all_sent(count: usize) -> Answer {
        Answer {
            sent: (0..count).collect(),
            errors: Vec::new(),
        }
    }

    /// Codes that pass after a wait, a deploy or a credentials rotation, as services spell them.
    const PASSING: [Option<&str>; 17] = [
        Some("ThrottlingException"),
        Some("Throttling"),
        Some("InternalFailure"),
        Some("AccessDeniedException"),
        Some("AuthorizationError"),
        Some("ResourceNotFoundException"),
        Some("NotFound"),
        Some("AWS.SimpleQueueService.NonExistentQueue"),
        Some("ExpiredToken"),
        Some("ExpiredTokenException"),
        Some("UnrecognizedClientException"),
        Some("InvalidClientTokenId"),
        Some("KMSAccessDenied"),
        Some("KMS.DisabledException"),
        Some("KmsThrottled"),
        Some("SomethingNew"),
        None,
    ];

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

    #[test]
    fn given_codes_that_pass_after_a_wait_or_a_deploy_when_classified_then_no_service_refuses_an_entry_with_them() {
        for service in [Service::EventBridge, Service::Sns, Service::Sqs] {
            for code in PASSING {
                let call = service_error(service, code);
                assert!(!call.refuses_entry, "{service:?} call {code:?} is worth a retry");
                let entry = EntryError::new(service, 0, code.unwrap_or("Unknown"), None);
                assert!(!entry.refused, "{service:?} entry {code:?} is worth a retry");
            }
        }
        assert_eq!(service_error(Service::Sns, None).code, "Unknown");
        let timeout: SdkError<SendMessageBatchError, ()> = SdkError::timeout_error("slow");
        let unreachable = call_error(Service::Sqs, &timeout);
        assert_eq!(
            (unreachable.code.as_str(), unreachable.refuses_entry),
            ("Unreachable", false)
        );
    }

    #[test]
    fn given_codes_that_refuse_an_entry_as_it_is_when_classified_then_they_are_final_for_that_service() {
        let refusals = [
            (Service::EventBridge, Scope::Entry, "MalformedDetail"),
            (Service::EventBridge, Scope::Entry, "InvalidArgument"),
            (Service::EventBridge, Scope::Entry, "ValidationException"),
            (Service::EventBridge, Scope::Call, "InvalidArgument"),
            (Service::Sqs, Scope::Entry, "InvalidParameterValue"),
            (Service::Sqs, Scope::Entry, "InvalidMessageContents"),
            (Service::Sqs, Scope::Entry, "MessageTooLong"),
            (Service::Sqs, Scope::Call, "AWS.SimpleQueueService.BatchRequestTooLong"),
            (Service::Sqs, Scope::Entry, "InvalidAttributeName"),
            (Service::Sqs, Scope::Entry, "InvalidAttributeValue"),
            (Service::Sns, Scope::Entry, "InvalidParameter"),
            (Service::Sns, Scope::Call, "InvalidParameterValue"),
            (Service::Sns, Scope::Entry, "ValidationException"),
            (Service::Sns, Scope::Entry, "ParameterValueInvalid"),
        ];
        for (service, scope, code) in refusals {
            assert!(service.refuses(code, scope), "{service:?} {scope:?} {code}");
        }
        // A whole PutEvents call's validation error can be about the request, not an entry.
        assert!(!Service::EventBridge.refuses("ValidationException", Scope::Call));
        // One service's refusal is not another's.
        assert!(!Service::EventBridge.refuses("InvalidParameterValue", Scope::Entry));
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_whole_call_failure_that_can_pass_when_a_chunk_is_sent_then_every_entry_is_retried_and_none_is_permanent()
     {
        for code in PASSING {
            let calls = Mutex::new(Vec::new());
            let policy = crate::backoff::PUBLISH.with_attempts(2);
            let result = send_all(&[1; 10], TEN, policy, |indexes| {
                calls.lock().unwrap().push(indexes);
                async move { Err(service_error(Service::Sqs, code)) }
            })
            .await;
            assert_eq!(calls.lock().unwrap().len(), 2, "{code:?} is retried");
            let err = result.unwrap_err();
            assert_eq!(err.failed.len(), 10, "{code:?}");
            assert!(err.failed.iter().all(|f| !f.permanent), "{code:?} parks nothing");
            assert_eq!(err.class(), envelope::ErrorClass::Transient);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_10_entry_call_refused_whole_for_one_bad_entry_when_sent_then_each_goes_alone_at_once_and_only_the_bad_one_is_permanent()
     {
        let calls = Mutex::new(Vec::new());
        let started = tokio::time::Instant::now();
        let result = send_all(&[1; 10], TEN, crate::backoff::PUBLISH, |indexes| {
            calls.lock().unwrap().push(indexes.clone());
            async move {
                if indexes.contains(&7) {
                    Err(service_error(Service::Sqs, Some("InvalidParameterValue")))
                } else {
                    Ok(all_sent(indexes.len()))
                }
            }
        })
        .await;
        let mut expected = vec![(0..10).collect::<Vec<_>>()];
        expected.extend((0..10).map(|index| vec![index]));
        assert_eq!(*calls.lock().unwrap(), expected);
        assert_eq!(started.elapsed(), Duration::ZERO, "splitting waits for nothing");
        let err = result.unwrap_err();
        assert_eq!(err.failed.len(), 1);
        assert_eq!(
            (
                err.failed[0].index,
                err.failed[0].code.as_str(),
                err.failed[0].permanent
            ),
            (7, "InvalidParameterValue", true)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_single_entry_call_refused_for_its_content_when_sent_then_it_is_permanent_and_not_retried() {
        let calls = Mutex::new(0);
        let result = send_all(&[1], TEN, crate::backoff::PUBLISH, |_| {
            *calls.lock().unwrap() += 1;
            async { Err(CallError::unbuildable("missing field")) }
        })
        .await;
        assert_eq!(*calls.lock().unwrap(), 1);
        assert_eq!(result.unwrap_err().class(), envelope::ErrorClass::Permanent);
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_whole_call_refused_on_the_last_attempt_when_the_entry_at_fault_is_unknown_then_every_entry_fails_transient()
     {
        let policy = crate::backoff::PUBLISH.with_attempts(1);
        let result = send_all(&[1; 3], TEN, policy, |_| async {
            Err(service_error(Service::Sns, Some("InvalidParameter")))
        })
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.failed.len(), 3);
        assert_eq!(err.class(), envelope::ErrorClass::Transient);
    }

    #[tokio::test(start_paused = true)]
    async fn given_entry_results_when_sent_then_only_failed_entries_that_can_pass_are_retried() {
        // Entry 1 is throttled twice, entry 2 denied once, entry 3 malformed: calls must be
        // [0..5], [1, 2], [1].
        let calls = Mutex::new(Vec::new());
        let throttles = Mutex::new(2);
        let denials = Mutex::new(1);
        let result = send_all(&[1; 5], TEN, crate::backoff::PUBLISH, |indexes| {
            calls.lock().unwrap().push(indexes.clone());
            let results: Vec<(Option<&str>, Option<&str>, Option<&str>)> = indexes
                .iter()
                .map(|index| {
                    let mut left = throttles.lock().unwrap();
                    let mut denied = denials.lock().unwrap();
                    match index {
                        1 if *left > 0 => {
                            *left -= 1;
                            (None, Some("ThrottlingException"), Some("slow down"))
                        }
                        2 if *denied > 0 => {
                            *denied -= 1;
                            (None, Some("AccessDeniedException"), Some("not yet"))
                        }
                        3 => (None, Some("MalformedDetail"), Some("bad")),
                        _ => (Some("event-id"), None, None),
                    }
                })
                .collect();
            let answer = Answer::in_order(Service::EventBridge, indexes.len(), results.into_iter());
            async move { Ok(answer) }
        })
        .await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0, 1, 2, 3, 4], vec![1, 2], vec![1]]);
        let err = result.unwrap_err();
        assert_eq!(err.failed.len(), 1);
        assert_eq!((err.failed[0].index, err.failed[0].permanent), (3, true));
    }

    #[tokio::test(start_paused = true)]
    async fn given_an_answer_that_names_an_unknown_id_and_omits_an_entry_when_sent_then_the_entry_is_retried_not_counted_as_sent()
     {
        let calls = Mutex::new(Vec::new());
        let result = send_all(&[1; 3], TEN, crate::backoff::PUBLISH, |indexes| {
            calls.lock().unwrap().push(indexes.clone());
            let answer = if indexes.len() == 3 {
                // Entry 1 is in neither list; its failure comes back under an id we never sent.
                Answer::by_id(
                    Service::Sqs,
                    ["0", "2", "x"],
                    [("01", "InvalidParameterValue", Some("whose?"))],
                )
            } else {
                Answer::by_id(Service::Sqs, ["0"], [])
            };
            async move { Ok(answer) }
        })
        .await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0, 1, 2], vec![1]]);
        assert!(result.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn given_answers_that_never_confirm_an_entry_when_attempts_run_out_then_it_fails_as_no_answer_and_transient()
    {
        let policy = crate::backoff::PUBLISH.with_attempts(2);
        let result = send_all(&[1; 2], TEN, policy, |indexes| {
            // Confirms entry 0 wherever it is; entry 1 is never mentioned.
            let confirmed: Vec<String> = indexes
                .iter()
                .enumerate()
                .filter(|&(_, &index)| index == 0)
                .map(|(position, _)| entry_id(position))
                .collect();
            let answer = Answer::by_id(Service::Sns, confirmed.iter().map(String::as_str), []);
            async move { Ok(answer) }
        })
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.failed.len(), 1);
        assert_eq!(
            (
                err.failed[0].index,
                err.failed[0].code.as_str(),
                err.failed[0].permanent
            ),
            (1, "NoAnswer", false)
        );
    }

    #[test]
    fn given_an_eventbridge_answer_with_fewer_results_than_entries_or_a_result_without_event_id_then_those_entries_are_not_sent()
     {
        let short = Answer::in_order(
            Service::EventBridge,
            3,
            [(Some("a"), None, None), (Some("b"), None, None)].into_iter(),
        );
        assert!(short.sent.is_empty(), "results cannot be matched to entries");
        assert_eq!(short.outcome(0).map(|e| e.code), Some("NoAnswer".to_owned()));

        let blank = Answer::in_order(
            Service::EventBridge,
            2,
            [(Some("a"), None, None), (None, None, None)].into_iter(),
        );
        assert_eq!(blank.outcome(0), None);
        assert_eq!(
            blank.outcome(1).map(|e| (e.code, e.refused)),
            Some(("NoAnswer".to_owned(), false))
        );
    }

    #[test]
    fn given_a_valid_group_or_deduplication_id_then_it_is_kept_as_is() {
        let punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        let longest = "o".repeat(128);
        for valid in ["o-42", "order#42/line:3", punctuation, longest.as_str()] {
            assert_eq!(fifo_id(valid), valid);
        }
    }

    #[test]
    fn given_a_300_character_subject_then_its_group_id_is_128_valid_characters_at_most() {
        let subject = "o".repeat(300);
        let id = fifo_id(&subject);
        assert!(is_valid_fifo_id(&id), "{id}");
        assert!(id.starts_with("ooo"), "readable: {id}");
        assert_eq!(id, fifo_id(&subject), "stable");
    }

    #[test]
    fn given_a_subject_with_spaces_or_unicode_or_nothing_then_its_group_id_is_valid_and_readable() {
        for subject in ["order 42", "commande-été-№7", "顧客 7", "", "tab\there"] {
            let id = fifo_id(subject);
            assert!(is_valid_fifo_id(&id), "{subject:?} -> {id}");
        }
        assert!(fifo_id("order 42").starts_with("order42-"));
    }

    #[test]
    fn given_two_different_invalid_subjects_then_their_group_ids_differ() {
        let long = "o".repeat(300);
        let longer = format!("{long}x");
        let pairs = [
            ("order 42", "order  42"),
            ("order 42", "order\t42"),
            ("été", "ete\u{301}"),
            (long.as_str(), longer.as_str()),
        ];
        for (one, other) in pairs {
            assert_ne!(fifo_id(one), fifo_id(other), "{one:?} / {other:?}");
        }
    }

    fn is_valid_fifo_id(id: &str) -> bool {
        (1..=128).contains(&id.chars().count())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
    }
}

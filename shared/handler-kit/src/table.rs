//! Table ports: a state port over one table (stock, views, windows, the event store), declared
//! once for both platforms with [`table_port!`](crate::table_port). In the local cloud it is an
//! in-memory table, shared by every function of the run that names it, with the run's faults;
//! on AWS its DynamoDB adapter over the platform's client. With feature `aws`, `dynamodb`
//! holds what those adapters share: SDK errors classified for retry or parking, and batch
//! calls sent until nothing is left unprocessed.

/// The wrapper a local table port comes in (the run's faults around each call).
pub use ports::Faulty;

/// Declares table ports: for each, the `Platform` trait a function's builder asks for the
/// port by (its adapter type and the method that makes one over a table), its implementation
/// for [`LocalPlatform`](crate::local::LocalPlatform) (the in-memory adapter, made on first use,
/// as `Faulty<Arc<local>>`) and, under the attributes written before `aws` (the crate's
/// feature that builds the adapter), for `AwsPlatform` (`aws::new(client, table)`, with the
/// platform's DynamoDB client).
///
/// ```
/// # use handler_kit::local::LocalTable;
/// # use handler_kit::StoreFailure;
/// ports::port! {
///     /// Counters by name.
///     pub trait Counters {
///         /// The count of `name`.
///         fn count(&self, name: &str) -> Result<u64, StoreFailure>;
///     }
/// }
///
/// /// Counters in memory.
/// #[derive(Default)]
/// pub struct InMemoryCounters;
/// impl Counters for InMemoryCounters {
///     async fn count(&self, _: &str) -> Result<u64, StoreFailure> {
///         Ok(0)
///     }
/// }
/// impl LocalTable for InMemoryCounters {}
///
/// handler_kit::table_port! {
///     /// A platform that gives the counters port.
///     pub trait CountersPort {
///         /// The adapter.
///         type Counters: Counters;
///
///         /// The counters in `table`.
///         fn counters(&self, table: &str) -> Result<Self::Counters, ConfigError>;
///     }
///     local: InMemoryCounters;
///     // The DynamoDB adapter, under the crate's feature that builds it.
///     #[cfg(feature = "dynamodb")]
///     aws: crate::dynamodb::DynamoCounters;
/// }
///
/// /// A function's builder asks for the port by its trait.
/// fn build<P: CountersPort>(platform: &P) -> Result<P::Counters, handler_kit::config::ConfigError> {
///     platform.counters("COUNTERS")
/// }
/// ```
#[macro_export]
macro_rules! table_port {
    ($(
        $(#[$meta:meta])*
        $vis:vis trait $port:ident {
            $(#[$adapter_meta:meta])*
            type $adapter:ident: $bound:path;

            $(#[$method_meta:meta])*
            fn $method:ident(&self, table: &str) -> Result<Self::$returned:ident, ConfigError>;
        }
        local: $local:ty;
        $(#[$aws_meta:meta])*
        aws: $aws:ty;
    )+) => {$(
        $(#[$meta])*
        $vis trait $port: $crate::Platform {
            $(#[$adapter_meta])*
            type $adapter: $bound + 'static;

            $(#[$method_meta])*
            fn $method(&self, table: &str) -> ::core::result::Result<Self::$returned, $crate::config::ConfigError>;
        }

        impl $port for $crate::local::LocalPlatform {
            type $adapter = $crate::table::Faulty<::std::sync::Arc<$local>>;

            fn $method(&self, table: &str) -> ::core::result::Result<Self::$returned, $crate::config::ConfigError> {
                ::core::result::Result::Ok(self.faulty(self.table(table, <$local>::default)?))
            }
        }

        $(#[$aws_meta])*
        impl $port for $crate::lambda::AwsPlatform {
            type $adapter = $aws;

            fn $method(&self, table: &str) -> ::core::result::Result<Self::$returned, $crate::config::ConfigError> {
                ::core::result::Result::Ok(<$aws>::new($crate::table::dynamodb::client(self), table))
            }
        }
    )+};
}

/// What the DynamoDB adapters of table ports share (feature `aws`).
#[cfg(feature = "aws")]
pub mod dynamodb {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};
    use envelope::ErrorClass;

    use crate::backoff::UNPROCESSED_ITEMS;
    use crate::lambda::AwsPlatform;
    use crate::store::StoreFailure;

    /// A table item.
    pub type Item = HashMap<String, AttributeValue>;

    /// The most keys one BatchGetItem reads.
    pub const MAX_BATCH_GET: usize = 100;

    /// The most items one BatchWriteItem writes.
    pub const MAX_BATCH_WRITE: usize = 25;

    /// The DynamoDB client of `platform`'s table ports: the platform's one client.
    pub fn client(platform: &AwsPlatform) -> Client {
        platform.dynamodb().clone()
    }

    /// Whether a retry can get past `err`. Permanent: a request DynamoDB refuses for what it
    /// holds (`ValidationException`: an item over 400 KB, an expression it cannot read, two
    /// operations on one item in a transaction), and one the SDK cannot build (a required
    /// field missing): the same request fails the same way every time. Anything else may
    /// pass: throttling (`ThrottlingException`, `ProvisionedThroughputExceededException`,
    /// `RequestLimitExceeded`), `InternalServerError`, another writer
    /// (`TransactionConflictException`, a `ConditionalCheckFailedException` the adapter did
    /// not expect), a table being created or access a deploy grants
    /// (`ResourceNotFoundException`, `AccessDeniedException`), timeouts and the network.
    pub fn class_of<E, R>(err: &SdkError<E, R>) -> ErrorClass
    where
        E: ProvideErrorMetadata,
    {
        match err {
            SdkError::ConstructionFailure(_) => ErrorClass::Permanent,
            SdkError::ServiceError(_) if err.code() == Some("ValidationException") => ErrorClass::Permanent,
            _ => ErrorClass::Transient,
        }
    }

    /// `operation` failed with `err`, classified by [`class_of`].
    pub fn failure<E, R>(operation: &'static str, err: &SdkError<E, R>) -> StoreFailure
    where
        E: std::error::Error + ProvideErrorMetadata + 'static,
        R: std::fmt::Debug,
    {
        StoreFailure {
            operation,
            // The SDK's own Display says only "service error"; the context names the cause.
            message: DisplayErrorContext(err).to_string(),
            class: class_of(err),
        }
    }

    /// Every item of `keys` that exists in `table` (each key once in `keys`), in any order: one
    /// BatchGetItem per [`MAX_BATCH_GET`] keys, what it leaves unprocessed sent again.
    pub async fn batch_get(
        client: &Client,
        table: &str,
        operation: &'static str,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreFailure> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut pending = chunk.to_vec();
            let mut rounds = Rounds::new(operation);
            loop {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreFailure::permanent(operation, e.to_string()))?;
                let output = client
                    .batch_get_item()
                    .request_items(table, request)
                    .send()
                    .await
                    .map_err(|e| failure(operation, &e))?;
                found.extend(output.responses.and_then(|mut r| r.remove(table)).unwrap_or_default());
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                rounds.left(pending.len()).await?;
            }
        }
        Ok(found)
    }

    /// Writes `requests` to `table` (each key once): one BatchWriteItem per
    /// [`MAX_BATCH_WRITE`], what it leaves unprocessed sent again.
    pub async fn batch_write(
        client: &Client,
        table: &str,
        operation: &'static str,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreFailure> {
        for chunk in requests.chunks(MAX_BATCH_WRITE) {
            let mut pending = chunk.to_vec();
            let mut rounds = Rounds::new(operation);
            loop {
                let output = client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| failure(operation, &e))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                rounds.left(pending.len()).await?;
            }
        }
        Ok(())
    }

    /// The rounds of one batch call whose answer leaves entries unprocessed (the table is
    /// throttled): each round sends only what the last one left, after the
    /// [`UNPROCESSED_ITEMS`] backoff; after its last round the rest is a transient failure, so
    /// the records are retried later rather than the invocation spent waiting.
    #[derive(Debug)]
    struct Rounds {
        operation: &'static str,
        sent: u32,
    }

    impl Rounds {
        /// The first round of `operation` is about to be sent.
        fn new(operation: &'static str) -> Self {
            Self { operation, sent: 1 }
        }

        /// A round left `left` entries unprocessed: waits before the next one, or, after the
        /// last, fails transiently.
        async fn left(&mut self, left: usize) -> Result<(), StoreFailure> {
            if self.sent >= UNPROCESSED_ITEMS.attempts {
                return Err(StoreFailure::transient(
                    self.operation,
                    format!(
                        "{left} entries still unprocessed after {} calls (the table is throttled): retry later",
                        self.sent
                    ),
                ));
            }
            UNPROCESSED_ITEMS.wait(self.sent - 1).await;
            self.sent += 1;
            Ok(())
        }
    }

    /// Why a transaction did not commit.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Refused {
        /// DynamoDB cancelled it, and said why item by item.
        Cancelled(Cancellation),
        /// It was not answered, or refused as a whole.
        Failed(StoreFailure),
    }

    /// Why `operation`'s TransactWriteItems failed with `err`.
    pub fn refused<R: std::fmt::Debug>(operation: &'static str, err: &SdkError<TransactWriteItemsError, R>) -> Refused {
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Refused::Cancelled(Cancellation {
                    codes: cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().map(str::to_owned))
                        .collect(),
                })
            }
            _ => Refused::Failed(failure(operation, err)),
        }
    }

    /// What a cancelled transaction said of each of its items, in the order they were sent
    /// (DynamoDB's `CancellationReason` codes; `None` or no code: not that item).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Cancellation {
        /// One code (or none) per item.
        pub codes: Vec<Option<String>>,
    }

    impl Cancellation {
        fn code(&self, item: usize) -> Option<&str> {
            self.codes.get(item).and_then(Option::as_deref)
        }

        /// Whether the condition of item `item` failed.
        pub fn condition_failed(&self, item: usize) -> bool {
            self.code(item) == Some("ConditionalCheckFailed")
        }

        /// Whether only other writers stopped it: a failed condition or a concurrent
        /// transaction on some item, and nothing else on any. Read again and apply again.
        pub fn raced(&self) -> bool {
            let raced = |code: Option<&str>| matches!(code, Some("ConditionalCheckFailed" | "TransactionConflict"));
            let innocent = |code: Option<&str>| matches!(code, None | Some("None"));
            let codes = || self.codes.iter().map(Option::as_deref);
            codes().any(raced) && codes().all(|code| raced(code) || innocent(code))
        }

        /// The transaction as `operation`'s failure: permanent if DynamoDB will never take an
        /// item (`ValidationError`: too large, a bad attribute), transient otherwise
        /// (throttling, another writer).
        pub fn failure(&self, operation: &'static str) -> StoreFailure {
            let codes = &self.codes;
            if codes.iter().any(|code| code.as_deref() == Some("ValidationError")) {
                StoreFailure::permanent(operation, format!("transaction refused: {codes:?}"))
            } else {
                StoreFailure::transient(operation, format!("transaction cancelled: {codes:?}"))
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

        use std::time::Duration;

        use aws_sdk_dynamodb::error::ErrorMetadata;
        use aws_sdk_dynamodb::operation::query::QueryError;
        use aws_sdk_dynamodb::types::CancellationReason;
        use aws_sdk_dynamodb::types::error::TransactionCanceledException;

        use super::*;

        fn service_error(code: &str) -> SdkError<QueryError, ()> {
            SdkError::service_error(QueryError::generic(ErrorMetadata::builder().code(code).build()), ())
        }

        #[test]
        fn given_what_dynamodb_answered_then_only_a_request_it_will_refuse_again_is_permanent() {
            for code in [
                "ThrottlingException",
                "ProvisionedThroughputExceededException",
                "RequestLimitExceeded",
                "InternalServerError",
                "TransactionConflictException",
                "ConditionalCheckFailedException",
                "ResourceNotFoundException",
                "AccessDeniedException",
            ] {
                assert_eq!(class_of(&service_error(code)), ErrorClass::Transient, "{code}");
            }
            assert_eq!(class_of(&service_error("ValidationException")), ErrorClass::Permanent);
            let unbuildable: SdkError<QueryError, ()> = SdkError::construction_failure("a required field is missing");
            assert_eq!(class_of(&unbuildable), ErrorClass::Permanent);
            let timed_out: SdkError<QueryError, ()> = SdkError::timeout_error("no answer in time");
            assert_eq!(class_of(&timed_out), ErrorClass::Transient);
            let throttled = failure("read views", &service_error("ThrottlingException"));
            assert_eq!(
                (throttled.operation, throttled.class),
                ("read views", ErrorClass::Transient)
            );
            assert!(
                throttled.message.contains("ThrottlingException"),
                "{}",
                throttled.message
            );
        }

        #[tokio::test(start_paused = true)]
        async fn given_entries_left_every_round_then_it_fails_transiently_after_the_last_within_the_backoff_bounds() {
            let started = tokio::time::Instant::now();
            let mut rounds = Rounds::new("put sensors");
            for _ in 1..UNPROCESSED_ITEMS.attempts {
                rounds.left(3).await.unwrap();
            }
            let failed = rounds.left(3).await.unwrap_err();
            assert_eq!(failed.class, ErrorClass::Transient);
            assert_eq!(
                failed.to_string(),
                "put sensors: 3 entries still unprocessed after 6 calls (the table is throttled): retry later"
            );
            // 25 + 50 + 100 + 200 + 400 ms at most.
            assert!(
                started.elapsed() <= Duration::from_millis(775),
                "{:?}",
                started.elapsed()
            );
        }

        fn cancelled(codes: &[&str]) -> Refused {
            let reasons = codes
                .iter()
                .map(|code| CancellationReason::builder().code(*code).build())
                .collect();
            let err = TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .set_cancellation_reasons(Some(reasons))
                    .build(),
            );
            refused("save", &SdkError::service_error(err, ()))
        }

        #[test]
        fn given_a_cancelled_transaction_then_races_conditions_and_refusals_are_told_apart() {
            let Refused::Cancelled(raced) = cancelled(&["None", "ConditionalCheckFailed", "TransactionConflict"])
            else {
                panic!("cancelled");
            };
            assert!(raced.raced());
            assert!(raced.condition_failed(1) && !raced.condition_failed(0) && !raced.condition_failed(3));

            let Refused::Cancelled(throttled) = cancelled(&["ConditionalCheckFailed", "ThrottlingError"]) else {
                panic!("cancelled");
            };
            assert!(!throttled.raced());
            assert_eq!(throttled.failure("save").class, ErrorClass::Transient);

            let Refused::Cancelled(invalid) = cancelled(&["None", "ValidationError"]) else {
                panic!("cancelled");
            };
            let refusal = invalid.failure("save");
            assert_eq!(refusal.class, ErrorClass::Permanent);
            assert_eq!(
                refusal.message,
                r#"transaction refused: [Some("None"), Some("ValidationError")]"#
            );
        }

        #[test]
        fn given_a_transaction_refused_as_a_whole_then_it_is_classified_as_any_call() {
            let err = TransactWriteItemsError::generic(ErrorMetadata::builder().code("ValidationException").build());
            let Refused::Failed(failed) = refused("reserve", &SdkError::service_error(err, ())) else {
                panic!("refused as a whole");
            };
            assert_eq!(failed.class, ErrorClass::Permanent);
        }
    }
}

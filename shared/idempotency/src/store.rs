//! The persistence port: the four operations the state machine needs.

use std::future::Future;

use crate::error::StoreError;
use crate::record::{PayloadHash, Record};

/// What a conditional put found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The key was absent or expired; the in-progress record is now stored.
    Stored,
    /// The key is held by this live record, returned by the same call (no extra read).
    Exists(Record),
}

/// Storage of idempotency records. `now_ms` is epoch milliseconds from the executor's clock,
/// so stores never read a clock of their own.
pub trait Store: Send + Sync {
    /// Stores `record` (in progress) unless a live record holds its key; on conflict returns that record.
    fn put_in_progress(
        &self,
        record: &Record,
        now_ms: i64,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Marks `key` completed with `result` (JSON text), valid until `expires_at` (epoch seconds).
    fn complete(
        &self,
        key: &str,
        hash: &PayloadHash,
        result: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets `key`, so the work can run again.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The record of `key`, expired or not.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;
}

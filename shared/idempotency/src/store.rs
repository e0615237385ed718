//! The persistence port: the operations the state machine needs.

use crate::error::StoreError;
use crate::record::Record;

/// What a conditional put found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The key was absent or expired; the in-progress record is now stored.
    Stored,
    /// The key is held by this live record, returned by the same call (no extra read).
    Exists(Record),
}

ports::port! {
    /// Storage of idempotency records. `now_ms` is epoch milliseconds from the executor's
    /// clock, so stores never read a clock of their own.
    pub trait Store {
        /// Stores `record` (in progress) unless a live record holds its key; on conflict
        /// returns that record.
        fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<PutOutcome, StoreError>;

        /// Stores `record` (completed, built by [`Record::completed`]) in place of its key's
        /// in-progress record.
        fn complete(&self, record: &Record) -> Result<(), StoreError>;

        /// Notes that the outputs of `key`'s completed result were delivered after all, so
        /// later duplicates send nothing. Changes nothing if the key is not completed (absent,
        /// expired and swept, or taken over by a new invocation).
        fn mark_delivered(&self, key: &str) -> Result<(), StoreError>;

        /// Forgets `key`, so the work can run again.
        fn delete(&self, key: &str) -> Result<(), StoreError>;

        /// The record of `key`, expired or not.
        fn get(&self, key: &str) -> Result<Option<Record>, StoreError>;
    }
}

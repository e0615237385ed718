//! An in-memory store with the same semantics as DynamoDB's conditional writes, for unit tests
//! and the local cloud. It can be told to fail, to rehearse an unreachable store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::StoreError;
use crate::record::{Record, Status};
use crate::store::{PutOutcome, Store};

/// Records in a map behind one lock: each operation is atomic, like a conditional write.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    records: Mutex<HashMap<String, Record>>,
    unavailable: AtomicBool,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every operation fails as an unreachable store would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Every record, for assertions.
    pub fn records(&self) -> Vec<Record> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                operation,
                key: key.to_owned(),
                source: "in-memory store set unavailable".into(),
            });
        }
        Ok(())
    }
}

impl Store for InMemoryStore {
    async fn put_in_progress(&self, record: &Record, now_ms: i64) -> Result<PutOutcome, StoreError> {
        self.check("put", &record.key)?;
        let mut records = self.lock();
        match records.get(&record.key) {
            Some(existing) if !existing.is_expired(now_ms) => Ok(PutOutcome::Exists(existing.clone())),
            _ => {
                records.insert(record.key.clone(), record.clone());
                Ok(PutOutcome::Stored)
            }
        }
    }

    async fn complete(&self, record: &Record) -> Result<(), StoreError> {
        self.check("complete", &record.key)?;
        self.lock().insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn mark_delivered(&self, key: &str) -> Result<(), StoreError> {
        self.check("mark_delivered", key)?;
        if let Some(record) = self.lock().get_mut(key).filter(|r| r.status == Status::Completed) {
            record.delivered = true;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check("delete", key)?;
        self.lock().remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Record>, StoreError> {
        self.check("get", key)?;
        Ok(self.lock().get(key).cloned())
    }
}

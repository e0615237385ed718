//! The store contract on the in-memory store, and what only it can rehearse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

#[macro_use]
mod contract;

use std::num::NonZeroUsize;

use contract::Given;
use envelope::ErrorClass;
use idempotency::{IdempotencyError, InMemoryStore, StoreError};
use serde_json::json;

async fn store() -> InMemoryStore {
    InMemoryStore::new()
}

store_contract!(store);

#[tokio::test]
async fn given_an_unreachable_store_then_the_error_is_transient_and_the_work_does_not_run() {
    let given = Given::new(InMemoryStore::new());
    given.executor.store().set_unavailable(true);
    let err = given.deliver(&json!("payload")).await.unwrap_err();
    assert!(
        matches!(err, IdempotencyError::Store(StoreError::Unavailable { .. })),
        "{err}"
    );
    assert_eq!(err.class_with(|_| ErrorClass::Permanent), ErrorClass::Transient);
    assert_eq!(given.runs(), 0);
}

#[tokio::test]
async fn given_a_warm_cache_then_a_duplicate_is_answered_without_the_store() {
    let mut given = Given::new(InMemoryStore::new());
    given.executor = given.executor.with_cache(NonZeroUsize::new(100).unwrap());
    let first = given.deliver(&json!("payload")).await.unwrap();
    given.executor.store().set_unavailable(true);
    let second = given.deliver(&json!("payload")).await.unwrap();
    assert!(second.is_duplicate());
    assert_eq!(second.into_result(), first.into_result());
    // The cache checks the payload too.
    let err = given.deliver(&json!("other")).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::PayloadMismatch { .. }));
    assert_eq!(given.runs(), 1);
}

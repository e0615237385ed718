//! The event store contract on the in-memory adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod contract;

use contract::*;
use event_store::InMemoryEventStore;

#[tokio::test]
async fn memory_an_append_is_once_and_a_taken_position_is_a_conflict() {
    an_append_is_once_and_a_taken_position_is_a_conflict_naming_its_holder(InMemoryEventStore::new()).await;
}

#[tokio::test]
async fn memory_a_stream_comes_in_order() {
    a_stream_comes_in_order_whatever_the_append_order(InMemoryEventStore::new()).await;
}

#[tokio::test]
async fn memory_time_range_reads_cross_streams_and_days() {
    time_range_reads_cross_streams_and_days_and_exclude_the_end(InMemoryEventStore::new()).await;
}

#[tokio::test]
async fn memory_an_event_reads_back_as_appended() {
    an_event_reads_back_as_appended(InMemoryEventStore::new()).await;
}

//! The sensors ports' contract on the in-memory adapters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod contract;

use contract::*;
use sensor_stores::{InMemoryAlertStore, InMemorySensorCatalogue, InMemoryWindowStore};

#[tokio::test]
async fn in_memory_a_first_save_of_new_keys_is_written_and_loaded_back_exactly() {
    a_first_save_of_new_keys_is_written_and_loaded_back_exactly(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_a_save_over_a_stale_read_is_a_conflict_of_its_stream_alone() {
    a_save_over_a_stale_read_is_a_conflict_of_its_stream_alone(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_the_due_streams_are_the_ones_whose_time_has_come() {
    the_due_streams_are_the_ones_whose_time_has_come(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_saves_no_table_can_take_are_refused_and_write_nothing() {
    saves_no_table_can_take_are_refused_and_write_nothing(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_a_save_of_many_streams_is_written_and_loaded_whole() {
    a_save_of_many_streams_is_written_and_loaded_whole(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_a_sensors_status_is_its_streams_and_last_closed_window_per_metric() {
    a_sensors_status_is_its_streams_and_last_closed_window_per_metric(InMemoryWindowStore::new()).await;
}

#[tokio::test]
async fn in_memory_alert_periods_are_saved_on_condition_and_open_ones_are_read() {
    alert_periods_are_saved_on_condition_and_open_ones_are_read(InMemoryWindowStore::new(), InMemoryAlertStore::new())
        .await;
}

#[tokio::test]
async fn in_memory_the_catalogue_answers_the_known_sensors_among_the_ids() {
    the_catalogue_answers_the_known_sensors_among_the_ids(InMemorySensorCatalogue::default()).await;
}

#[tokio::test]
async fn in_memory_many_sensors_are_put_and_read_in_batches() {
    many_sensors_are_put_and_read_in_batches(InMemorySensorCatalogue::default()).await;
}

#[tokio::test]
async fn in_memory_a_catalogue_file_is_put_whole_or_not_at_all() {
    a_catalogue_file_is_put_whole_or_not_at_all(InMemorySensorCatalogue::default()).await;
}

#[tokio::test]
async fn cached_the_catalogue_contract_holds_through_the_cache() {
    let cached = |ttl| sensor_stores::CachedCatalogue::new(InMemorySensorCatalogue::default(), ttl);
    let ttl = std::time::Duration::from_secs(60);
    the_catalogue_answers_the_known_sensors_among_the_ids(cached(ttl)).await;
    many_sensors_are_put_and_read_in_batches(cached(ttl)).await;
    a_catalogue_file_is_put_whole_or_not_at_all(cached(ttl)).await;
}

#[tokio::test]
async fn cached_a_sensor_is_read_once_per_ttl_and_a_put_through_the_cache_is_seen_at_once() {
    use sensor_stores::{CachedCatalogue, SensorCatalogue};
    use std::sync::Arc;
    use std::time::Duration;

    let store = Arc::new(InMemorySensorCatalogue::with_sensors([sensor("s-1", &["temperature"])]));
    let cache = CachedCatalogue::new(Arc::clone(&store), Duration::from_secs(60));
    let ids = ["s-1".to_owned(), "s-2".to_owned()];
    assert_eq!(cache.sensors(&ids).await.unwrap().len(), 1);
    // Changed behind the cache's back: within the TTL, the cache still answers as before,
    // the unknown sensor included (a negative answer is kept too).
    store.set(sensor("s-1", &["temperature", "humidity"]));
    store.set(sensor("s-2", &["temperature"]));
    let answer = cache.sensors(&ids).await.unwrap();
    assert_eq!(answer.len(), 1);
    assert!(answer.band("s-1", "humidity").is_none());
    // Through the cache: seen at once.
    cache.put(&[sensor("s-2", &["humidity"])]).await.unwrap();
    assert!(cache.sensors(&ids).await.unwrap().band("s-2", "humidity").is_some());
    // With no TTL, every call reads the store.
    let uncached = CachedCatalogue::new(Arc::clone(&store), Duration::ZERO);
    assert!(uncached.sensors(&ids).await.unwrap().band("s-1", "humidity").is_some());
}

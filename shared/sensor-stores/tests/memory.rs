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
async fn in_memory_a_save_over_a_stale_read_is_a_conflict_and_writes_nothing() {
    a_save_over_a_stale_read_is_a_conflict_and_writes_nothing(InMemoryWindowStore::new()).await;
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

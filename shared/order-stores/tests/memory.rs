//! The orders ports' contract on the in-memory adapters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

mod contract;

use contract::*;
use order_stores::{InMemoryInventory, InMemoryOrderViews};

#[tokio::test]
async fn in_memory_reservations_are_all_or_nothing_and_once() {
    reservations_are_all_or_nothing_and_once(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)])).await;
}

#[tokio::test]
async fn in_memory_release_gives_back_exactly_the_reservation_once() {
    a_release_gives_back_exactly_the_reservation_once(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)]))
        .await;
}

#[tokio::test]
async fn in_memory_given_a_released_reservation_when_reserved_again_then_reserved_and_no_stock_moves() {
    a_released_reservation_is_never_reserved_again(InMemoryInventory::with_stock([("SKU-MUG", 5), ("SKU-TEA", 1)]))
        .await;
}

#[tokio::test]
async fn in_memory_given_stock_reserved_when_restocked_then_available_grows_and_reserved_is_kept() {
    a_restock_adds_to_available_and_leaves_reservations_alone(InMemoryInventory::with_stock([
        ("SKU-MUG", 5),
        ("SKU-TEA", 1),
    ]))
    .await;
}

#[tokio::test]
async fn in_memory_views_are_written_only_if_unchanged_since_read() {
    a_view_is_written_only_if_unchanged_since_read(InMemoryOrderViews::new()).await;
}

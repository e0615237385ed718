//! Stock per sku, with all-or-nothing reservations.
//!
//! Table (key `id`): one item per sku (`available`, `reserved`), and one item per reservation
//! (`id` = `reservation#<order id>`, with its lines and its `state`, `reserved` or `released`),
//! so a reservation is made and released exactly once however often its event is delivered.
//!
//! Releasing keeps the reservation item as a tombstone (`state` = `released`) rather than
//! deleting it: an `OrderPlaced` redriven from the parking queue or a dead-letter queue after
//! its idempotency record lapsed would otherwise reserve stock again that nothing would ever
//! release. Reservation items written before tombstones have no `state` and count as reserved.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use orders::decisions::StockOutcome;
use orders::events::StockLine;

use crate::error::StoreFailure;

/// Stock of one sku.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stock {
    /// Free to reserve.
    pub available: u64,
    /// Held for orders not yet paid or released.
    pub reserved: u64,
}

ports::port! {
    /// Stock per sku.
    pub trait Inventory {
        /// Reserves every line for `order_id`, or none: out of stock names the skus short of
        /// stock. Reserving an order already reserved, or reserved and since released, answers
        /// `Reserved` and changes nothing.
        fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure>;

        /// Gives back the lines of `order_id`'s reservation and marks it released. Releasing an
        /// order never reserved, or already released, changes nothing.
        fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure>;

        /// Adds `added` units to what is available of `sku` (stocking it if new); never touches
        /// what is reserved, so reservations made before are still released in full.
        fn restock(&self, sku: &str, added: u64) -> Result<(), StoreFailure>;

        /// The stock of `sku`, if it is stocked.
        fn stock(&self, sku: &str) -> Result<Option<Stock>, StoreFailure>;
    }
}

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reservation {
    /// Its stock is held.
    Reserved,
    /// Its stock was given back; kept so the order is never reserved again.
    Released,
}

/// Inventory in memory, for tests and the local cloud.
#[derive(Debug, Default)]
pub struct InMemoryInventory {
    state: Mutex<(HashMap<String, Stock>, HashMap<String, Reservation>)>,
}

impl InMemoryInventory {
    /// Inventory with `available` units of each sku.
    pub fn with_stock<'a>(stock: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let skus = stock
            .into_iter()
            .map(|(sku, available)| (sku.to_owned(), Stock { available, reserved: 0 }))
            .collect();
        Self {
            state: Mutex::new((skus, HashMap::new())),
        }
    }
}

impl InMemoryInventory {
    /// Sets the stock of `sku` (loading a table).
    pub fn set_stock(&self, sku: &str, available: u64, reserved: u64) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .insert(sku.to_owned(), Stock { available, reserved });
    }
}

impl Inventory for InMemoryInventory {
    async fn reserve(&self, order_id: &str, lines: &[StockLine]) -> Result<StockOutcome, StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        if reservations.contains_key(order_id) {
            return Ok(StockOutcome::Reserved);
        }
        let short: Vec<String> = lines
            .iter()
            .filter(|l| skus.get(&l.sku).is_none_or(|s| s.available < u64::from(l.quantity)))
            .map(|l| l.sku.clone())
            .collect();
        if !short.is_empty() {
            return Ok(StockOutcome::OutOfStock { skus: short });
        }
        for line in lines {
            if let Some(stock) = skus.get_mut(&line.sku) {
                stock.available -= u64::from(line.quantity);
                stock.reserved += u64::from(line.quantity);
            }
        }
        reservations.insert(order_id.to_owned(), Reservation::Reserved);
        Ok(StockOutcome::Reserved)
    }

    async fn release(&self, order_id: &str, lines: &[StockLine]) -> Result<(), StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (skus, reservations) = &mut *state;
        match reservations.get_mut(order_id) {
            Some(reservation @ Reservation::Reserved) => *reservation = Reservation::Released,
            Some(Reservation::Released) | None => return Ok(()),
        }
        for line in lines {
            let stock = skus.entry(line.sku.clone()).or_default();
            stock.available += u64::from(line.quantity);
            stock.reserved = stock.reserved.saturating_sub(u64::from(line.quantity));
        }
        Ok(())
    }

    async fn restock(&self, sku: &str, added: u64) -> Result<(), StoreFailure> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let stock = state.0.entry(sku.to_owned()).or_default();
        stock.available = stock
            .available
            .checked_add(added)
            .ok_or_else(|| StoreFailure::permanent("restock", format!("{sku}: available would overflow")))?;
        Ok(())
    }

    async fn stock(&self, sku: &str) -> Result<Option<Stock>, StoreFailure> {
        Ok(self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .get(sku)
            .copied())
    }
}

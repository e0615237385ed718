//! The order-tracking read model: one item per order, replaced only if it has not changed since
//! it was read (a conditional put on its revision, the number of steps in its timeline). Two projections racing on one order cannot
//! lose each other's events: the loser reads again and re-applies. That only newer events move
//! the view is the domain's rule (`OrderView::apply`).
//!
//! Table (key `orderId`): `revision` (N), `sequence` (N), `status` (S) and `view` (S, the view as JSON).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use orders::lifecycle::OrderView;

use crate::error::StoreFailure;

/// What a save did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The view was written.
    Written,
    /// The stored view changed since it was read; nothing was written: read and apply again.
    Conflict,
}

ports::port! {
    /// Order-tracking views.
    pub trait OrderViews {
        /// Every view, in no particular order (to compare a rebuild with).
        fn all(&self) -> Result<Vec<OrderView>, StoreFailure>;

        /// The view of `order_id`, if any event of it was applied.
        fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure>;

        /// Writes `view` if the stored view is still the one read: at revision `read` (its
        /// timeline's length; `None`: absent).
        fn save_if_unchanged(&self, view: &OrderView, read: Option<usize>) -> Result<Saved, StoreFailure>;
    }
}

/// Views in memory.
#[derive(Debug, Default)]
pub struct InMemoryOrderViews {
    views: Mutex<HashMap<String, OrderView>>,
}

impl InMemoryOrderViews {
    /// No views.
    pub fn new() -> Self {
        Self::default()
    }
}

impl OrderViews for InMemoryOrderViews {
    async fn all(&self) -> Result<Vec<OrderView>, StoreFailure> {
        Ok(self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect())
    }

    async fn get(&self, order_id: &str) -> Result<Option<OrderView>, StoreFailure> {
        Ok(self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order_id)
            .cloned())
    }

    async fn save_if_unchanged(&self, view: &OrderView, read: Option<usize>) -> Result<Saved, StoreFailure> {
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        if views.get(&view.order_id).map(|stored| stored.timeline.len()) != read {
            return Ok(Saved::Conflict);
        }
        views.insert(view.order_id.clone(), view.clone());
        Ok(Saved::Written)
    }
}

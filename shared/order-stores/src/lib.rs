//! The state the orders functions keep, behind ports with an in-memory adapter and a DynamoDB
//! one (feature `dynamodb`). Every port is declared with `ports::port!`, so faults can be
//! injected into any of them:
//!
//! - [`Inventory`]: stock per sku; reserving an order's lines is all or nothing (one DynamoDB
//!   transaction), releasing gives back exactly a reservation held, once, and leaves a
//!   tombstone so a redelivered order is never reserved again; restocking only adds to what
//!   is available.
//! - [`OrderViews`]: the order-tracking read model, written only if unchanged since read.

#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod inventory;
mod views;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoInventory, DynamoOrderViews};
pub use error::StoreFailure;
pub use inventory::{InMemoryInventory, Inventory, Stock};
pub use views::{InMemoryOrderViews, OrderViews, Saved};

mod platform;

pub use platform::{InventoryPort, ViewsPort};

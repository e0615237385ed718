//! The state the orders functions keep, behind ports with a DynamoDB and an in-memory adapter:
//!
//! - [`Inventory`]: stock per sku; reserving an order's lines is all or nothing (one DynamoDB
//!   transaction), releasing gives back exactly a reservation held, once, and leaves a
//!   tombstone so a redelivered order is never reserved again; restocking only adds to what
//!   is available.
//! - [`OrderViews`]: the order-tracking read model, written only if unchanged since read.

mod error;
mod inventory;
mod views;

pub use error::StoreFailure;
pub use inventory::{DynamoInventory, InMemoryInventory, Inventory, Stock};
pub use views::{DynamoOrderViews, InMemoryOrderViews, OrderViews, Saved};

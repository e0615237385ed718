//! The event store: every event the bus carried, kept for ever, append-only, by stream.
//!
//! `event-archive` appends; the replay tool ([`replay`]) and the read side ([`history`]) read.
//! Streams, positions and the keys of the three reads are in [`event`]; the DynamoDB layout
//! and how each read is served without a scan in the `dynamodb` module (feature `dynamodb`).

#[cfg(feature = "dynamodb")]
mod dynamodb;
pub mod event;
pub mod history;
mod platform;
pub mod replay;
mod store;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{BY_TIME, BY_TYPE, DynamoEventStore};
pub use event::{StoredEvent, stream_of};
pub use platform::EventStorePort;
pub use store::{Appended, EventStore, InMemoryEventStore, StoreFailure, sort_by_time};

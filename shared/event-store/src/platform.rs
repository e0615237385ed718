//! The event store on each platform a function runs on: DynamoDB on AWS (feature `dynamodb`),
//! an in-memory table with the run's faults in the local cloud.

use crate::store::{EventStore, InMemoryEventStore};

handler_kit::table_port! {
    /// A platform that gives the event store port.
    pub trait EventStorePort {
        /// The adapter.
        type Events: EventStore;

        /// The store in `table`.
        fn event_store(&self, table: &str) -> Result<Self::Events, ConfigError>;
    }
    local: InMemoryEventStore;
    #[cfg(feature = "dynamodb")]
    aws: crate::dynamodb::DynamoEventStore;
}

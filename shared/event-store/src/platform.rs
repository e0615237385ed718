//! The event store on each platform a function runs on: DynamoDB on AWS (feature `dynamodb`),
//! an in-memory table with the run's faults in the local cloud.

use std::sync::Arc;

use handler_kit::Platform;
use handler_kit::config::ConfigError;
use handler_kit::local::LocalPlatform;
use ports::Faulty;

use crate::store::{EventStore, InMemoryEventStore};

/// A platform that gives the event store port.
pub trait EventStorePort: Platform {
    /// The adapter.
    type Events: EventStore + 'static;

    /// The store in `table`.
    fn event_store(&self, table: &str) -> Result<Self::Events, ConfigError>;
}

impl EventStorePort for LocalPlatform {
    type Events = Faulty<Arc<InMemoryEventStore>>;

    fn event_store(&self, table: &str) -> Result<Self::Events, ConfigError> {
        Ok(self.faulty(self.table(table, InMemoryEventStore::default)?))
    }
}

#[cfg(feature = "dynamodb")]
impl EventStorePort for handler_kit::lambda::AwsPlatform {
    type Events = crate::dynamodb::DynamoEventStore;

    fn event_store(&self, table: &str) -> Result<Self::Events, ConfigError> {
        Ok(crate::dynamodb::DynamoEventStore::new(
            aws_sdk_dynamodb::Client::new(self.sdk_config()),
            table,
        ))
    }
}

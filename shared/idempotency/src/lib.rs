//! Exactly-once effects over at-least-once delivery.
//!
//! SQS, SNS and EventBridge deliver every event at least once; [`Idempotency`] runs a unit of
//! work once per `(function, key)` (by default the envelope id) and hands duplicates the stored
//! result. The state machine, after Powertools for AWS Lambda:
//!
//! ```text
//!   (absent or expired) --put--> IN_PROGRESS --work ok--> COMPLETED (result, TTL)
//!                                     |
//!                                     +--work failed--> (deleted: a retry runs it again)
//! ```
//!
//! - A duplicate of a COMPLETED key gets the stored result; the work does not run.
//! - A duplicate of an IN_PROGRESS key gets [`IdempotencyError::InProgress`], a transient error:
//!   report the record as failed and SQS redelivers it after the visibility timeout.
//! - IN_PROGRESS expires with the Lambda's remaining time, so a crashed invocation does not
//!   hold its key forever; COMPLETED expires after the TTL. Expiry is checked in code, because
//!   DynamoDB's TTL deletion can lag by up to 48 hours.
//! - The same key with a different payload is a permanent error, not a silent duplicate.
//! - A store that cannot be reached is a transient error, and the work does not run unguarded.
//!
//! Stores: [`DynamoDbStore`] (one conditional `PutItem` per new or duplicate record) and
//! [`InMemoryStore`] (tests and the local cloud).

mod clock;
mod dynamodb;
mod error;
mod executor;
mod memory;
mod record;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use dynamodb::DynamoDbStore;
pub use error::{Cause, IdempotencyError, StoreError};
pub use executor::{DEFAULT_TTL, Idempotency, KeyExtractor, Outcome};
pub use memory::InMemoryStore;
pub use record::{MAX_ITEM_BYTES, PayloadHash, Record, Status};
pub use store::{PutOutcome, Store};

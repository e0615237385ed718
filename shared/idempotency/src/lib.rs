//! Exactly-once effects over at-least-once delivery.
//!
//! SQS, SNS and EventBridge deliver every event at least once; [`Idempotency`] runs a unit of
//! work once per `(function, key)` (by default the envelope id) and hands duplicates the stored
//! result: `Idempotency::new(function, store).execute_envelope(&envelope, remaining_time, work)`
//! answers [`Outcome::Executed`] with the result, or, for a redelivery, [`Outcome::Duplicate`]
//! with the stored one. The state machine, after Powertools for AWS Lambda:
//!
//! ```text
//!   (absent or expired) --claim--> IN_PROGRESS --work ok--> COMPLETED (result, delivered?, TTL)
//!                                     |                          |
//!                                     +--work failed--> (deleted: a retry runs it again)
//!                                                                +--mark_delivered--> COMPLETED (delivered)
//! ```
//!
//! - A duplicate of a COMPLETED key gets the stored result; the work does not run.
//! - Work whose result carries outputs ([`Idempotency::claim`], then [`Idempotency::complete`])
//!   is completed after its outputs were published, noting whether they went out: a duplicate
//!   sends them again only when they did not, so people are not told twice.
//! - A result over the item limit keeps only its digest when its outputs went out; when they
//!   did not, the key is freed and a retry runs the work again.
//! - A duplicate of an IN_PROGRESS key gets [`IdempotencyError::InProgress`], a transient error:
//!   report the record as failed and SQS redelivers it after the visibility timeout.
//! - IN_PROGRESS expires with the Lambda's remaining time, so a crashed invocation does not
//!   hold its key forever; COMPLETED expires after the TTL. Expiry is checked in code, because
//!   DynamoDB's TTL deletion can lag by up to 48 hours.
//! - Completed results answer duplicates for [`DEFAULT_TTL`] (an hour) unless told otherwise
//!   ([`Idempotency::with_ttl`]; the functions read `IDEMPOTENCY_TTL_SECONDS`, which the template
//!   sets to the archive's 30 days, so a replayed event is still a duplicate).
//! - The same key with a different payload is a permanent error, not a silent duplicate. The
//!   payload is compared as the SHA-256 of its canonical JSON (key order and whitespace do not
//!   count); the payload of an event is its type, version and data as they arrived (before
//!   upcasting), so a v1 message redelivered after a v2 upcaster was deployed is a duplicate.
//! - A store that cannot be reached is a transient error, and the work does not run unguarded.
//!
//! Stores: `DynamoDbStore` (feature `dynamodb`; table key `id`, TTL attribute `expiration`,
//! Powertools' layout plus `delivered` and `data_digest`) and [`InMemoryStore`] (tests and the
//! local cloud). On DynamoDB a new record costs 2 calls (`PutItem`, `UpdateItem`), a duplicate 1
//! (the conditional `PutItem` returns the old item), a failure 2 (`PutItem`, `DeleteItem`), and a
//! duplicate whose outputs had not gone out 2 (`PutItem`, `UpdateItem`).

mod clock;
#[cfg(feature = "dynamodb")]
mod dynamodb;
mod error;
mod executor;
mod memory;
mod record;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
pub use error::{Cause, IdempotencyError, StoreError};
pub use executor::{Claim, Completed, DEFAULT_TTL, Idempotency, KeyExtractor, Outcome, Ticket};
pub use memory::InMemoryStore;
pub use record::{Kept, MAX_ITEM_BYTES, PayloadHash, Record, Status, sha256_hex};
pub use store::{PutOutcome, Store};

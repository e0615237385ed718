//! The event store: every event the bus carried, kept for ever, append-only, by stream.
//!
//! `event-archive` appends; the replay tool ([`replay`]) and the read side ([`history`]) read.
//! Streams, positions and the keys of the three reads are in [`event`]; the DynamoDB layout
//! and how each read is served without a scan in the `dynamodb` module (feature `dynamodb`).
//!
//! - **Append.** `event-archive` (fed by `EventArchiveRule`, which matches every source of every
//!   domain) appends each event as it arrived (its original version, the whole envelope) with
//!   the time it was archived. A redelivered or replayed event finds its own id at its position
//!   and changes nothing; a different event at a taken position is a conflict, parked with both
//!   ids. One conditional `PutItem` per event, which hands back the holder of a taken position,
//!   so the archive keeps no idempotency records. A new domain's source must be added to that
//!   rule (`tests/tests/rules.rs` fails until it is).
//! - **Reads**, none of them a scan (only a rebuild reads the whole history, and so scans,
//!   filtered by source):
//!
//!   | read | served by, on DynamoDB |
//!   |---|---|
//!   | one stream, in order | the table: partition `stream`, sort `position` (`s:<sequence, 20 digits>` or `t:<time>#<id>`) |
//!   | every event in `[from, to)`, across streams | index `by-time`: partition `<UTC day>#<shard>`, sort `at` (`<time>#<id>`); one query per shard of each day, merged by time |
//!   | one type in `[from, to)` | index `by-type`: partition `<type>#<day>#<shard>`, sort `at`; one query per shard of each day and type |
//!
//!   A day's events are spread over [`event::SHARDS`] shards by id: a partition key takes about
//!   1,000 writes a second, and one whose sort key only grows cannot be split, so neither a busy
//!   day nor a busy type may be a single key. Index reads are eventually consistent: an event
//!   archived a moment ago may not be in a range read yet.
//! - **Replay** (the `events` tool, `shared/event-tools`; [`replay`]). Consumers absorb what they
//!   handled (their idempotency is keyed by event id and kept 30 days), and those that tell
//!   people something update their state and send nothing: notify-customer for every replayed
//!   event, raise-alert for a replayed anomaly, which it also ignores when older than the 7 days
//!   its periods are kept (it would open an alert no later revision could resolve).
//!   detect-anomaly counts a replayed reading like a live one (it recovers readings that were
//!   lost; a copy changes nothing, a changed verdict is a new revision), but acknowledges one
//!   too late for its window instead of parking it (it was decided when it first came). The
//!   template's own archive (`EventBusArchive`) replays carry `replay-name`, which the decoder
//!   reads into `metadata.replay`.
//! - **Rebuild and as of an instant** ([`history`]): a read model is rebuilt by folding every
//!   stream with the projection's own rule into a fresh table (not through the bus, so no
//!   idempotency record absorbs it) and compared with the live one; `GET /orders/{id}?asOf=`
//!   folds an order's stream up to an event time, and `GET /orders/{id}/history` lists it.
//! - **On the local cloud**, the template's `AWS::Events::Archive` keeps what matches it
//!   (replays excepted) and replays a time range by event time, to every rule or one;
//!   `localcloud replay|rebuild|history` run a domain's demo first, then act on its store or
//!   archive; and every demo ends with the store's audit: it holds exactly the distinct events
//!   the bus carried, each stream read back in order with its sequences running 1..n.

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

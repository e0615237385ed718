//! The event envelope every function reads and writes.
//!
//! - [`Envelope<T>`]: metadata (id, type, version, source, event time, subject, sequence,
//!   correlation and causation ids, trace context, replay name) plus typed data; [`EventType`]
//!   declares a domain's event once.
//! - [`Decoder`]: the envelopes inside any AWS payload (EventBridge, SQS, SNS, SNS in SQS,
//!   CloudEvents, bare), record by record, with the SQS message id of each.
//! - [`Registry`]: versions and upcasters; unknown types and newer versions are permanent errors.
//! - Mappings to CloudEvents 1.0 and to EventBridge PutEvents entries, both lossless.
//! - Deterministic derived ids ([`Envelope::caused_by`]), so retried handlers emit duplicates,
//!   not new events.
//!
//! An envelope as it travels (the `detail` of an EventBridge event, the body of an SQS message):
//!
//! ```json
//! {
//!   "metadata": {
//!     "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
//!     "type": "OrderPlaced", "version": 2, "source": "shop.orders",
//!     "time": "2026-11-23T04:45:00.250Z", "subject": "o-1001", "sequence": 1,
//!     "correlationId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
//!     "trace": { "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }
//!   },
//!   "data": { "orderId": "o-1001", "lines": [], "total": 3399 }
//! }
//! ```
//!
//! - **Event time** is read from RFC 3339 with any offset (`+05:30`, `-08:00`) and kept in UTC
//!   to the nanosecond; a time without an offset is refused.
//! - **Event types** implement [`EventType`] (name, current version, source, upcasters) once, in
//!   their domain crate. A [`Registry`] upcasts old versions on read; an unknown type or a
//!   version newer than the code knows is a permanent error naming the type and both versions.
//!   [`Decoded::arrived_as`] keeps the version and data as they arrived, which is what
//!   identifies an event for idempotency.
//! - **Derived ids**: `Envelope::caused_by(&cause.metadata, index, subject, time, data)` gives a
//!   UUIDv5 of (cause id, own type, index), copies the correlation id, trace and replay name,
//!   and sets the causation id.
//! - **CloudEvents** 1.0, structured mode; the extensions `eventversion`, `sequence`,
//!   `correlationid`, `causationid`, `traceparent`, `tracestate` and `replayname`.
//! - **EventBridge**: a [`PutEventsEntry`] has `source`, `detail-type` = the type and `detail` =
//!   the envelope, so rules can match `{"detail": {"data": {"total": [{"numeric": [">", 100]}]}}}`;
//!   an entry over [`MAX_ENTRY_BYTES`] (1 MB since 2026) is refused. EventBridge's `replay-name` on a
//!   delivered event is read into `metadata.replay`.
//! - **Errors** name the record and the field path, so one bad record becomes one batch item
//!   failure: `record 1 (message id '7e0a...'), at Records[1].body > detail.metadata.type:
//!   required field is missing`. Every decode error is permanent.
//! - **Speed**: the common body, an EventBridge event with an envelope in its `detail`, is read
//!   straight from the text into typed fields, building no location; only when that fails does
//!   the tracked path read it again to name where it is wrong.

mod cloudevents;
mod decode;
pub mod encode;
mod envelope;
mod error;
mod eventbridge;
mod versioning;

pub use cloudevents::SPEC_VERSION as CLOUDEVENTS_SPEC_VERSION;
pub use decode::{Arrival, Carrier, Decoded, Decoder};
pub use envelope::{Envelope, EventType, Metadata, TraceContext};
pub use error::{EnvelopeError, ErrorClass, Location};
pub use eventbridge::{MAX_ENTRY_BYTES, PutEventsEntry};
pub use versioning::{Registry, Upcaster};

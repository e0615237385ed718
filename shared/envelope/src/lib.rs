//! The event envelope every function reads and writes.
//!
//! - [`Envelope<T>`]: metadata (id, type, version, source, event time, subject, sequence,
//!   correlation and causation ids, trace context) plus typed data; [`EventType`] declares a
//!   domain's event once.
//! - [`Decoder`]: the envelopes inside any AWS payload (EventBridge, SQS, SNS, SNS in SQS,
//!   CloudEvents, bare), record by record, with the SQS message id of each.
//! - [`Registry`]: versions and upcasters; unknown types and newer versions are permanent errors.
//! - Mappings to CloudEvents 1.0 and to EventBridge PutEvents entries, both lossless.
//! - Deterministic derived ids ([`Envelope::caused_by`]), so retried handlers emit duplicates,
//!   not new events.

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

//! The embedded local cloud and the developer CLI's library.
//!
//! [`topology`] reads the SAM template into an event graph; [`cloud`] runs it in process on a
//! virtual clock: EventBridge rules ([`event_pattern`]), SQS queues ([`sqs`]), event source
//! mappings ([`esm`]), SNS topics, and the functions from their crates' declarations
//! ([`functions`]) on the kit's local platform; [`faults`] injects what production does to a system.
//! Each CLI subcommand is a function from input to report, so tests call it directly and
//! `main.rs` only parses arguments and prints.

pub mod cloud;
pub mod decode;
pub mod demo;
pub mod esm;
pub mod faults;
pub mod functions;
pub mod graph;
pub mod route;
pub mod sqs;
pub mod topology;

//! The local cloud's core, which knows no domain: a domain brings its functions, event types,
//! samples and demo through [`domain::Domain`], and the `localcloud` CLI bundles the domains.
//!
//! [`topology`] reads the SAM template into an event graph; [`cloud`] runs it in process on a
//! virtual clock: EventBridge rules ([`event_pattern`]), SQS queues ([`sqs`]), event source
//! mappings ([`esm`]), SNS topics, and the functions from their crates' declarations
//! ([`functions`]) on the kit's local platform; [`faults`] injects what production does to a system.
//! Each CLI subcommand is a function from input to report ([`route`], [`decode`], [`graph`]),
//! so tests call it directly and the CLI only parses arguments and prints.

pub mod cloud;
pub mod decode;
pub mod domain;
pub mod esm;
pub mod faults;
pub mod functions;
pub mod graph;
pub mod route;
pub mod scenario;
pub mod sqs;
pub mod topology;

//! The orders domain, pure: event types and their versions ([`events`]) with their JSON
//! Schemas ([`schemas`]), validation of a new order ([`validation`]), the order's lifecycle and
//! tracking view ([`lifecycle`]), and the decision each step makes ([`decisions`]). No AWS, no
//! Lambda, no I/O: functions give it what their ports answered and publish what it decides.

pub mod decisions;
pub mod events;
pub mod lifecycle;
pub mod schemas;
pub mod validation;

pub use events::registry;

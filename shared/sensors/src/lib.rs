//! The sensors domain, pure: event types and their versions ([`events`]), the sensor
//! catalogue with each metric's band ([`catalogue`]), validation of readings as an API receives
//! them ([`readings`]), event-time tumbling windows with watermarks, late revisions and a
//! reference computation ([`windows`]), and alerts grouped in suppression periods ([`alerts`]).
//! No AWS, no Lambda, no I/O: functions give it the states their stores answered and publish
//! and write what it decides.
//!
//! Readings come from sites in many time zones, late, out of order and duplicated. Everything
//! here is decided on event time in UTC (a reading written `08:00:30+05:45` is the reading of
//! `02:15:30Z`), sums are exact (the verdicts of a set of readings do not depend on the order
//! they are added in), and every id is derived from what it identifies, so a retried batch
//! decides the same events with the same ids.

pub mod alerts;
pub mod catalogue;
mod error;
pub mod events;
pub mod readings;
pub mod stats;
pub mod time;
pub mod windows;

pub use error::{FieldError, SettingsError, StateError};
pub use events::registry;

//! Errors of the sensors domain. All are permanent: the same input fails again, so a caller
//! parks it (or fixes its configuration) instead of retrying.

use serde::Serialize;
use thiserror::Error;

/// One invalid field of an input (a catalogue item), named by its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field, e.g. `[2].metrics.temperature.low`.
    pub field: String,
    /// What is wrong, for the person who wrote it.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A setting the windows or alerts cannot work with, named as the function's configuration
/// names it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{setting} is {value}: {reason}")]
pub struct SettingsError {
    /// The setting, e.g. `WINDOW_SECONDS`.
    pub setting: &'static str,
    /// Its value.
    pub value: u32,
    /// Why it cannot be used.
    pub reason: &'static str,
}

/// The states a caller passed do not fit the batch: a caller's bug, not bad data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StateError {
    /// A window was passed whose stream is neither among the stream states nor the readings.
    #[error(
        "window {start} of sensor '{sensor_id}' metric '{metric}' was passed, but neither its stream's state nor a \
         reading of it: pass the windows `plan` names, with the states it was given"
    )]
    Stray {
        /// The sensor.
        sensor_id: String,
        /// The metric.
        metric: String,
        /// The window's start, RFC 3339 UTC.
        start: String,
    },
    /// Two states were passed for one key.
    #[error("two states were passed for {what}; pass each stored state once")]
    Repeated {
        /// The key, e.g. `stream 's-1' 'temperature'`.
        what: String,
    },
}

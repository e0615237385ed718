//! Configuration from environment variables: read once at start, validated, and every problem
//! named by its variable.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A variable is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {name} is not set: {purpose}; the template sets it on the function")]
    Missing {
        /// The variable.
        name: String,
        /// What it is for.
        purpose: String,
    },
    /// A variable's value cannot be used.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Malformed {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// A snapshot of the environment, taken once.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment, now.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// Given variables (tests, the local cloud applying a template's `Environment`).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// The value of `name`, which must be set and not empty.
    pub fn required(&self, name: &str, purpose: &str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
            purpose: purpose.to_owned(),
        })
    }

    /// The value of `name`, if set and not empty.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }

    /// `name` parsed as `T`, or `default` when unset.
    pub fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => value.trim().parse().map_err(|e: T::Err| ConfigError::Malformed {
                name: name.to_owned(),
                reason: e.to_string(),
                value,
            }),
        }
    }
}

/// What every function needs, from the variables the template sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitConfig {
    /// `AWS_LAMBDA_FUNCTION_NAME`: scopes idempotency keys and names the parker of a message.
    pub function_name: String,
    /// `PARKING_QUEUE_URL`: where messages that can never be processed are parked.
    pub parking_queue_url: String,
    /// `AWS_ENDPOINT_URL` (optional): an AWS-compatible endpoint for every client (moto, the local cloud).
    pub endpoint_url: Option<String>,
    /// `MAX_CONCURRENCY` (default 10): records processed at once.
    pub max_concurrency: usize,
    /// `DEADLINE_MARGIN_MS` (default 2000): records are not started with less time left than this.
    pub deadline_margin: Duration,
    /// `IDEMPOTENCY_TTL_SECONDS` (default 3600): how long a result answers duplicates.
    pub idempotency_ttl: Duration,
}

impl KitConfig {
    /// The variable Lambda sets to the function's deployed name.
    pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

    /// The processors' limits these settings give.
    pub fn limits(&self) -> crate::invocation::Limits {
        crate::invocation::Limits {
            concurrency: self.max_concurrency,
            deadline_margin: self.deadline_margin,
        }
    }

    /// Reads and validates the kit's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let endpoint_url = env.optional("AWS_ENDPOINT_URL");
        if let Some(url) = &endpoint_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Malformed {
                name: "AWS_ENDPOINT_URL".into(),
                value: url.clone(),
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        let max_concurrency = env.parsed("MAX_CONCURRENCY", 10usize)?;
        if max_concurrency == 0 {
            return Err(ConfigError::Malformed {
                name: "MAX_CONCURRENCY".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            function_name: env.required(Self::FUNCTION_NAME, "the function's name, set by Lambda")?,
            parking_queue_url: env
                .required("PARKING_QUEUE_URL", "the queue where unprocessable messages are parked")?,
            endpoint_url,
            max_concurrency,
            deadline_margin: Duration::from_millis(env.parsed("DEADLINE_MARGIN_MS", 2000u64)?),
            idempotency_ttl: Duration::from_secs(env.parsed("IDEMPOTENCY_TTL_SECONDS", 3600u64)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("AWS_LAMBDA_FUNCTION_NAME", "reserve-inventory"),
            ("IDEMPOTENCY_TABLE", "idempotency"),
            (
                "PARKING_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/parking",
            ),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_unset() {
        let config = KitConfig::from_env(&env(&[])).unwrap();
        assert_eq!(
            (config.max_concurrency, config.deadline_margin),
            (10, Duration::from_secs(2))
        );
        assert_eq!(config.endpoint_url, None);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = KitConfig::from_env(&Env::from_pairs([("AWS_LAMBDA_FUNCTION_NAME", "f")])).unwrap_err();
        assert!(matches!(&err, ConfigError::Missing { name, .. } if name == "PARKING_QUEUE_URL"));
        assert!(
            err.to_string()
                .starts_with("environment variable PARKING_QUEUE_URL is not set")
        );
    }

    #[test]
    fn a_malformed_variable_is_named_with_its_value() {
        let err = KitConfig::from_env(&env(&[("MAX_CONCURRENCY", "lots")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable MAX_CONCURRENCY=\"lots\" is invalid: invalid digit found in string"
        );
        let err = KitConfig::from_env(&env(&[("AWS_ENDPOINT_URL", "localhost:5000")])).unwrap_err();
        assert!(matches!(err, ConfigError::Malformed { name, .. } if name == "AWS_ENDPOINT_URL"));
    }
}

//! Schema versions: a registry of the event types a consumer knows, and the upcasters that
//! bring old versions of their data up to the current one on read.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::envelope::{Envelope, EventType};
use crate::error::{EnvelopeError, Location};

/// Turns the data of one version into the data of the next. The error says what was missing or wrong.
pub type Upcaster = fn(Value) -> Result<Value, String>;

#[derive(Debug, Clone, Copy)]
struct Known {
    version: u32,
    upcasters: &'static [Upcaster],
}

/// The event types a consumer knows, with their current versions and upcasters.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: BTreeMap<&'static str, Known>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `E`. Declaring a version without its upcasters does not compile.
    #[must_use]
    pub fn register<E: EventType>(mut self) -> Self {
        const {
            assert!(
                E::UPCASTERS.len() as u64 + 1 == E::VERSION as u64,
                "an EventType at version N must declare N - 1 UPCASTERS (v1->v2, ..., vN-1->vN)"
            );
        }
        self.types.insert(
            E::TYPE,
            Known {
                version: E::VERSION,
                upcasters: E::UPCASTERS,
            },
        );
        self
    }

    /// Every type of `other` is known here too.
    #[must_use]
    pub fn merge(mut self, other: Registry) -> Self {
        self.types.extend(other.types);
        self
    }

    /// The current version of `event_type`, if registered.
    pub fn current_version(&self, event_type: &str) -> Option<u32> {
        self.types.get(event_type).map(|known| known.version)
    }

    /// Whether `event_type` is registered.
    pub fn knows(&self, event_type: &str) -> bool {
        self.types.contains_key(event_type)
    }

    /// Brings an envelope to the current version of its type.
    ///
    /// Unknown types and versions newer than the registered one are permanent errors: the
    /// consumer cannot read them, and a retry will not teach it.
    pub fn upcast(&self, mut envelope: Envelope<Value>, at: &Location) -> Result<Envelope<Value>, EnvelopeError> {
        let metadata = &envelope.metadata;
        let Some(known) = self.types.get(metadata.event_type.as_str()) else {
            return Err(EnvelopeError::UnknownType {
                at: at.field("metadata.type"),
                event_type: metadata.event_type.clone(),
                known: self.types.keys().copied().collect::<Vec<_>>().join(", "),
            });
        };
        if metadata.version > known.version {
            return Err(EnvelopeError::UnsupportedVersion {
                at: at.field("metadata.version"),
                event_type: metadata.event_type.clone(),
                found: metadata.version,
                known: known.version,
            });
        }
        while envelope.metadata.version < known.version {
            let from = envelope.metadata.version;
            // Version 0 is rejected by validation, so `from - 1` indexes v(from) -> v(from + 1).
            let upcast = known.upcasters[(from - 1) as usize];
            envelope.data = upcast(envelope.data).map_err(|reason| EnvelopeError::Upcast {
                at: at.field("data"),
                event_type: envelope.metadata.event_type.clone(),
                from,
                to: from + 1,
                reason,
            })?;
            envelope.metadata.version = from + 1;
        }
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    /// v1 had `{ "amount_cents": u64 }`; v2 `{ "amount": { "cents", "currency" } }`;
    /// v3 renamed `cents` to `minor_units`.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Charged {
        amount: Amount,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Amount {
        minor_units: u64,
        currency: String,
    }
    impl EventType for Charged {
        const TYPE: &'static str = "Charged";
        const VERSION: u32 = 3;
        const SOURCE: &'static str = "test.payments";
        const UPCASTERS: &'static [Upcaster] = &[v1_to_v2, v2_to_v3];
    }
    fn v1_to_v2(data: Value) -> Result<Value, String> {
        let cents = data["amount_cents"]
            .as_u64()
            .ok_or("amount_cents must be a whole number")?;
        Ok(json!({ "amount": { "cents": cents, "currency": "EUR" } }))
    }
    fn v2_to_v3(mut data: Value) -> Result<Value, String> {
        let cents = data["amount"]["cents"].take();
        data["amount"]["minor_units"] = cents;
        data["amount"]
            .as_object_mut()
            .ok_or("amount must be an object")?
            .remove("cents");
        Ok(data)
    }

    fn charged(version: u32, data: Value) -> Envelope<Value> {
        let mut envelope = Envelope::new(
            "p-1",
            chrono::Utc::now(),
            Charged {
                amount: Amount {
                    minor_units: 0,
                    currency: "EUR".into(),
                },
            },
        )
        .to_untyped()
        .unwrap();
        envelope.metadata.version = version;
        envelope.data = data;
        envelope
    }

    #[test]
    fn given_v1_when_upcast_then_current_version_is_typed() {
        let registry = Registry::new().register::<Charged>();
        let envelope = registry
            .upcast(charged(1, json!({ "amount_cents": 1250 })), &Location::root())
            .unwrap();
        assert_eq!(envelope.metadata.version, 3);
        let typed = envelope.into_typed::<Charged>(&Location::root()).unwrap();
        assert_eq!(
            typed.data.amount,
            Amount {
                minor_units: 1250,
                currency: "EUR".into()
            }
        );
    }

    #[test]
    fn given_newer_version_then_error_names_type_and_both_versions() {
        let registry = Registry::new().register::<Charged>();
        let err = registry.upcast(charged(7, json!({})), &Location::root()).unwrap_err();
        assert!(
            matches!(&err, EnvelopeError::UnsupportedVersion { event_type, found: 7, known: 3, .. } if event_type == "Charged")
        );
        assert!(
            err.to_string().contains("Charged version 7 is newer than version 3"),
            "{err}"
        );
    }

    #[test]
    fn given_unknown_type_then_error_lists_known_types() {
        let mut envelope = charged(3, json!({}));
        envelope.metadata.event_type = "Refunded".into();
        let err = Registry::new()
            .register::<Charged>()
            .upcast(envelope, &Location::root())
            .unwrap_err();
        assert!(
            matches!(&err, EnvelopeError::UnknownType { event_type, known, .. } if event_type == "Refunded" && known == "Charged")
        );
    }

    #[test]
    fn given_data_an_upcaster_cannot_read_then_error_names_the_step() {
        let err = Registry::new()
            .register::<Charged>()
            .upcast(charged(1, json!({ "amount_cents": "lots" })), &Location::root())
            .unwrap_err();
        assert!(matches!(err, EnvelopeError::Upcast { from: 1, to: 2, .. }), "{err}");
    }
}

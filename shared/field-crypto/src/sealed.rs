//! The wire form of a sealed value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A personal value, sealed: AES-256-GCM under a data key that is itself encrypted under the
/// master key for one field, bound to one field and one subject. Carries no hint of the value
/// but its length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sealed {
    /// The data key, encrypted under the master key with the field as encryption context
    /// (base64; for KMS, its `CiphertextBlob`).
    pub data_key: String,
    /// The 12-byte nonce, then the ciphertext and its 16-byte tag (base64). The associated
    /// data is the field's name and the subject (see [`Sealed::subject_id`]).
    pub ciphertext: String,
    /// The id of what the value belongs to: the subject of the events it opens in (for an
    /// order's fields, the order id). In clear, so a value copied into another subject's event is
    /// told apart without a key (the idempotency payload hash counts it); authenticated as
    /// associated data, so editing it makes the value not open. Absent only on values sealed
    /// before values were bound to their subject: those open nowhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
}

/// A personal value as events carry it: sealed, or in clear in events published before fields
/// were sealed (an upcast `OrderPlaced` v2 or `InventoryReserved` v1 carries its payment token
/// so, and a step that carries it on keeps it so). A clear value is bound to no subject, so
/// `FieldCipher::reveal` refuses it: it is read and carried, never used.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Personal {
    /// Sealed for one field.
    Sealed(Sealed),
    /// In clear, from before.
    Clear(String),
}

/// Never prints a value in clear (a `{:?}` in a log line or an error is how data leaks).
impl std::fmt::Debug for Personal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sealed(sealed) => f.debug_tuple("Sealed").field(sealed).finish(),
            Self::Clear(text) => write!(f, "Clear(<{} bytes>)", text.len()),
        }
    }
}

impl From<Sealed> for Personal {
    fn from(sealed: Sealed) -> Self {
        Self::Sealed(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_value_reads_as_clear_and_a_sealed_one_as_sealed_and_debug_hides_clear_text() {
        let clear: Personal = serde_json::from_str(r#""tok_approve""#).unwrap();
        assert_eq!(format!("{clear:?}"), "Clear(<11 bytes>)");
        let sealed: Personal = serde_json::from_str(r#"{"dataKey":"AA==","ciphertext":"AA=="}"#).unwrap();
        assert!(matches!(sealed, Personal::Sealed(Sealed { subject_id: None, .. })));
        let bound: Personal =
            serde_json::from_str(r#"{"dataKey":"AA==","ciphertext":"AA==","subjectId":"o-1"}"#).unwrap();
        assert!(matches!(bound, Personal::Sealed(Sealed { subject_id: Some(ref s), .. }) if s == "o-1"));
        assert!(serde_json::from_str::<Personal>(r#"{"dataKey":"AA==","ciphertext":"AA==","x":1}"#).is_err());
    }
}

//! The idempotency record and the payload hash it carries.

use serde::Serialize;

use crate::error::StoreError;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// DynamoDB's item size limit; both stores hold records to it, so local runs fail where AWS would.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Where a key is in its life. Expired is never stored: it is computed from the expiries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Some invocation is running the work.
    InProgress,
    /// The work ran; its result is stored.
    Completed,
}

impl Status {
    /// The stored name (the same as Powertools', so tables can be shared with other languages' functions).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "INPROGRESS",
            Self::Completed => "COMPLETED",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "INPROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// One idempotency record, as every store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `<function>#<key>`.
    pub key: String,
    /// In progress or completed.
    pub status: Status,
    /// When the record stops counting, in epoch seconds (the DynamoDB TTL attribute).
    pub expires_at: i64,
    /// While in progress: when the running invocation is presumed dead, in epoch milliseconds.
    pub in_progress_expires_at_ms: Option<i64>,
    /// Hash of the payload the key was first seen with.
    pub payload_hash: PayloadHash,
    /// The work's result as JSON text, once completed, when it fits in the item.
    pub result: Option<String>,
    /// SHA-256 of a completed result too large to keep, in place of `result`: a duplicate is
    /// still recognised, though its result cannot be handed back.
    pub result_digest: Option<String>,
    /// Whether the result's outputs are known to have been delivered. `false` only when the
    /// work completed but what it produced could not be sent: a duplicate must send it again.
    pub delivered: bool,
}

/// What of a result a completed record keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// The result itself (JSON text).
    Result(String),
    /// Only its SHA-256: the result was over the item limit, or results are not kept.
    Digest(String),
    /// Nothing: results are not kept and its outputs did not go out, so the key was released.
    Released,
}

impl Record {
    /// Whether the record no longer guards its key at `now_ms` (epoch milliseconds).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        let completed_or_abandoned_long_ago = self.expires_at.saturating_mul(1000) <= now_ms;
        let in_progress_abandoned =
            self.status == Status::InProgress && self.in_progress_expires_at_ms.is_some_and(|until| until <= now_ms);
        completed_or_abandoned_long_ago || in_progress_abandoned
    }

    /// The completed record of `key`, refused when it would not fit in one item.
    pub fn completed(
        key: &str,
        hash: &PayloadHash,
        kept: Kept,
        delivered: bool,
        expires_at: i64,
    ) -> Result<Self, StoreError> {
        let (result, result_digest) = match kept {
            Kept::Result(text) => (Some(text), None),
            Kept::Digest(digest) => (None, Some(digest)),
            // Not written by the executor (it releases the key instead); kept as nothing.
            Kept::Released => (None, None),
        };
        let record = Self {
            key: key.to_owned(),
            status: Status::Completed,
            expires_at,
            in_progress_expires_at_ms: None,
            payload_hash: hash.clone(),
            result,
            result_digest,
            delivered,
        };
        let size = record.item_size();
        if size > MAX_ITEM_BYTES {
            return Err(StoreError::TooLarge {
                key: key.to_owned(),
                size,
                limit: MAX_ITEM_BYTES,
            });
        }
        Ok(record)
    }

    /// Size as DynamoDB counts it (attribute names plus values; a number counts as at most 21 bytes).
    pub fn item_size(&self) -> usize {
        const NUMBER: usize = 21;
        "id".len()
            + self.key.len()
            + "status".len()
            + self.status.as_str().len()
            + "expiration".len()
            + NUMBER
            + self
                .in_progress_expires_at_ms
                .map_or(0, |_| "in_progress_expiration".len() + NUMBER)
            + "validation".len()
            + self.payload_hash.0.len()
            + self.result.as_ref().map_or(0, |r| "data".len() + r.len())
            + self.result_digest.as_ref().map_or(0, |d| "data_digest".len() + d.len())
            + "delivered".len()
            + 1
    }
}

/// SHA-256 of a payload's canonical JSON form: object keys sorted, no insignificant whitespace,
/// so the same payload hashes the same however its producer ordered or spaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadHash(pub String);

impl PayloadHash {
    /// Hashes `payload`.
    pub fn of<P: Serialize + ?Sized>(payload: &P) -> Result<Self, serde_json::Error> {
        // serde_json's map is ordered by key (the `preserve_order` feature is off in this
        // workspace), so writing a `Value` back out is canonical.
        let canonical = serde_json::to_vec(&Canonical(&serde_json::to_value(payload)?))?;
        Ok(Self(sha256_hex(&canonical)))
    }

    /// Hashes an event's identity, `{"type": event_type, "version": version, "data": data}`,
    /// exactly as [`Self::of`] would, written straight into the hash: keys in the order a
    /// sorted map writes them, and `data` (a `Value`, whose maps are sorted) as it is, without
    /// copying it into a new tree.
    pub fn of_event(event_type: &str, version: u32, data: &Value) -> Result<Self, serde_json::Error> {
        let mut hasher = Hashing(Sha256::new());
        hasher.0.update(br#"{"data":"#);
        // Most events seal nothing: serde_json's own writer is quicker than the wrapper's.
        if holds_sealed(data) {
            serde_json::to_writer(&mut hasher, &Canonical(data))?;
        } else {
            serde_json::to_writer(&mut hasher, data)?;
        }
        hasher.0.update(br#","type":"#);
        serde_json::to_writer(&mut hasher, event_type)?;
        hasher.0.update(br#","version":"#);
        serde_json::to_writer(&mut hasher, &version)?;
        hasher.0.update(b"}");
        Ok(Self(hex(&hasher.0.finalize())))
    }

    /// Hashes JSON given as text.
    pub fn of_json_text(text: &str) -> Result<Self, serde_json::Error> {
        Self::of(&serde_json::from_str::<Value>(text)?)
    }
}

/// serde_json writes into the hash through this: sha2 0.11's hashers are not `io::Write`
/// (0.11 is the version the SDK's signer links, so the zips carry one SHA-256, not two).
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JSON value as hashed: as it is, but for sealed personal values (`field_crypto::Sealed`:
/// an object of `dataKey` and `ciphertext`, both strings, and `subjectId`, a string, but on
/// values sealed before subjects were bound), which hash as the subject they are sealed for.
///
/// Not their ciphertext: a producer that publishes an event again seals the same values anew,
/// under another nonce or data key, under the same event id (order-api, when a client retries
/// `POST /orders` after a publish it could not confirm). Without the key no one can compare
/// the two ciphertexts; counting them would take that retry for an id reused for other content
/// and park it at every consumer. (A redelivery of one message carries the same ciphertext:
/// it would pass either way.)
///
/// Their subject: a sealed value opens only in the events of the subject it was sealed for,
/// and its producer seals one value per field and subject (an order's values, from one
/// request), so two values of one field and subject are the same value sealed twice. A value
/// copied from another order keeps that order's subject (edited, it no longer opens), so an
/// event carrying it under a known id hashes apart from the genuine one: a payload mismatch,
/// parked, never taken for the genuine event's duplicate. A value with no subject hashes as
/// the bare marker it always did, so records written before subjects were bound still match
/// their redeliveries.
struct Canonical<'a>(&'a Value);

/// What a sealed value without a subject hashes as, and the start of what one with a subject does.
const SEALED: &str = "(sealed)";

fn is_sealed(object: &serde_json::Map<String, Value>) -> bool {
    let text = |key: &str| matches!(object.get(key), Some(Value::String(_)));
    text("dataKey")
        && text("ciphertext")
        && match object.len() {
            2 => true,
            3 => text("subjectId"),
            _ => false,
        }
}

/// Whether `value` holds a sealed value anywhere.
fn holds_sealed(value: &Value) -> bool {
    match value {
        Value::Object(object) => is_sealed(object) || object.values().any(holds_sealed),
        Value::Array(items) => items.iter().any(holds_sealed),
        _ => false,
    }
}

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            // The marker and the subject it is sealed for, written straight into the hash.
            Value::Object(object) if is_sealed(object) => match object.get("subjectId").and_then(Value::as_str) {
                Some(subject) => serializer.collect_str(&format_args!("{SEALED} for {subject}")),
                None => serializer.serialize_str(SEALED),
            },
            Value::Object(object) => {
                let mut map = serializer.serialize_map(Some(object.len()))?;
                for (key, value) in object {
                    map.serialize_entry(key, &Canonical(value))?;
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Canonical(item))?;
                }
                seq.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}

/// SHA-256 of `bytes` in lowercase hex.
/// The SHA-256 of `bytes` in lowercase hex (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex, by table: `format!` costs more than the hash it prints.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let compact = PayloadHash::of_json_text(r#"{"b":1,"a":{"y":[1,2],"x":"é"}}"#).unwrap();
        let spaced =
            PayloadHash::of_json_text("{ \"a\" : { \"x\" : \"\\u00e9\", \"y\" : [ 1, 2 ] },\n  \"b\" : 1 }").unwrap();
        assert_eq!(compact, spaced);
        let different = PayloadHash::of_json_text(r#"{"b":2,"a":{"y":[1,2],"x":"é"}}"#).unwrap();
        assert_ne!(compact, different);
        let reordered_array = PayloadHash::of_json_text(r#"{"b":1,"a":{"y":[2,1],"x":"é"}}"#).unwrap();
        assert_ne!(compact, reordered_array, "array order is meaningful");
        assert_eq!(compact.0.len(), 64);
    }

    #[test]
    fn an_event_hashes_as_its_canonical_form_does() {
        let data: Value = serde_json::from_str(r#"{"z":[1,{"b":"\u00e9\n","a":null}],"a":1.5,"m":"\"q\""}"#).unwrap();
        let canonical = serde_json::json!({"type": "OrderPlaced", "version": 3, "data": data});
        assert_eq!(
            PayloadHash::of_event("OrderPlaced", 3, &data).unwrap(),
            PayloadHash::of(&canonical).unwrap()
        );
        assert_eq!(
            hex(&[0x00, 0x0f, 0xa5, 0xff]),
            "000fa5ff",
            "two digits per byte, high nibble first"
        );
    }

    #[test]
    fn a_value_sealed_again_hashes_the_same_and_every_other_change_still_counts() {
        let sealed =
            |ciphertext: &str| serde_json::json!({ "dataKey": "a2V5", "ciphertext": ciphertext, "subjectId": "o-1" });
        let first = serde_json::json!({ "orderId": "o-1", "contact": { "email": sealed("Zmlyc3Q=") }, "total": 5 });
        let again = serde_json::json!({ "orderId": "o-1", "contact": { "email": sealed("YWdhaW4=") }, "total": 5 });
        let hash = |data: &Value| PayloadHash::of_event("OrderPlaced", 3, data).unwrap();
        assert_eq!(hash(&first), hash(&again));
        assert_eq!(
            hash(&first),
            PayloadHash::of(&serde_json::json!({"type": "OrderPlaced", "version": 3, "data": again})).unwrap()
        );
        let mut other = again.clone();
        other["total"] = 6.into();
        assert_ne!(hash(&first), hash(&other));
        // Not a sealed value (a third key): its ciphertext counts.
        let with_extra = |mut data: Value| {
            data["contact"]["email"]["extra"] = 1.into();
            data
        };
        assert_ne!(hash(&with_extra(first)), hash(&with_extra(again)));
    }

    #[test]
    fn given_a_token_swapped_for_another_orders_then_the_event_does_not_hash_as_the_genuine_one() {
        let token = |ciphertext: &str, subject: &str| serde_json::json!({ "dataKey": "a2V5", "ciphertext": ciphertext, "subjectId": subject });
        let reserved = |token: Value| serde_json::json!({ "orderId": "o-B", "total": 5, "paymentToken": token });
        let hash = |data: &Value| PayloadHash::of_event("InventoryReserved", 2, data).unwrap();
        let genuine = hash(&reserved(token("QkJCQg==", "o-B")));
        // Order B's own token sealed again (a retried request): the same payload.
        assert_eq!(genuine, hash(&reserved(token("Qi1hZ2Fpbg==", "o-B"))));
        // Order A's token copied into B's event: another payload, so a mismatch, not a duplicate.
        assert_ne!(genuine, hash(&reserved(token("QUFBQQ==", "o-A"))));
        // The canonical form says the same.
        assert_eq!(
            genuine,
            PayloadHash::of(&serde_json::json!({"type": "InventoryReserved", "version": 2,
                "data": reserved(token("QkJCQg==", "o-B"))}))
            .unwrap()
        );
        // A value sealed before subjects were bound hashes as it always did.
        let unbound = reserved(serde_json::json!({ "dataKey": "a2V5", "ciphertext": "QkJCQg==" }));
        let unbound_again = reserved(serde_json::json!({ "dataKey": "a2V5", "ciphertext": "b3RoZXI=" }));
        assert_eq!(hash(&unbound), hash(&unbound_again));
        assert_ne!(hash(&unbound), genuine);
        let mut marked = unbound.clone();
        marked["paymentToken"] = SEALED.into();
        assert_eq!(hash(&unbound), hash(&marked), "the marker of before is unchanged");
    }

    #[test]
    fn expiry_is_computed_not_stored() {
        let mut record = Record {
            key: "f#k".into(),
            status: Status::InProgress,
            expires_at: 1_000,
            in_progress_expires_at_ms: Some(500_000),
            payload_hash: PayloadHash("h".into()),
            result: None,
            result_digest: None,
            delivered: true,
        };
        assert!(!record.is_expired(499_999));
        assert!(record.is_expired(500_000), "an abandoned invocation frees its key");
        record.status = Status::Completed;
        record.in_progress_expires_at_ms = None;
        assert!(!record.is_expired(999_999));
        assert!(
            record.is_expired(1_000_000),
            "a completed record lapses at its TTL, whatever DynamoDB has deleted"
        );
    }
}

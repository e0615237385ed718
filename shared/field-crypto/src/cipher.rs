//! Sealing and opening fields, with the data key cache.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use lru::LruCache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::sealed::{Personal, Sealed};

/// A data key in clear (wiped on drop).
pub type PlainKey = Zeroizing<[u8; 32]>;

/// A data key the master key issued: in clear to use now, encrypted to store beside what it seals.
pub struct DataKey {
    /// The key, in clear.
    pub plaintext: PlainKey,
    /// The key, encrypted under the master key for one field.
    pub encrypted: Vec<u8>,
}

/// Shows the encrypted key's length only.
impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey {{ encrypted: <{} bytes>, .. }}", self.encrypted.len())
    }
}

/// Why the key service would not issue or open a data key.
///
/// Only [`KeyError::Invalid`] is permanent: it is about the value, which can never open with
/// this key and context. A refusal of the caller or of the key's state is not about the value
/// and passes when the grant or the key does, so the record is retried (the kit's rule for
/// publish errors too): parking it would stall an order until someone replays it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Refused now, for the caller or the key, not the value: access denied (a new grant IAM
    /// has not propagated yet, a policy being changed), the key disabled, pending deletion or
    /// import, or not found (a new key or alias not visible yet). May pass later.
    #[error("not allowed: {0}")]
    Denied(String),
    /// The encrypted data key can never open under this master key with this field's context:
    /// not one it issued, issued for another field, or not a data key. Permanent.
    #[error("the data key does not open under the master key for this field: {0}")]
    Invalid(String),
    /// The key service did not answer (throttled, down, timed out, an error it does not
    /// explain): the same call may succeed later.
    #[error("the key service did not answer: {0}")]
    Unavailable(String),
}

impl KeyError {
    /// Whether the same call may succeed later: anything but a data key that can never open.
    pub fn is_transient(&self) -> bool {
        !matches!(self, Self::Invalid(_))
    }
}

impl From<ports::Injected> for KeyError {
    fn from(injected: ports::Injected) -> Self {
        Self::Unavailable(injected.to_string())
    }
}

ports::port! {
    /// The master key: issues data keys for a field and opens them (KMS `GenerateDataKey` and
    /// `Decrypt` with the field as encryption context).
    pub trait KeyService {
        /// A new data key for `field`.
        fn generate_data_key(&self, field: &str) -> Result<DataKey, KeyError>;
        /// The data key `encrypted`, issued for `field`, in clear.
        fn decrypt_data_key(&self, field: &str, encrypted: &[u8]) -> Result<PlainKey, KeyError>;
    }
}

/// Why a field could not be sealed or opened. Each names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key service refused or did not answer.
    #[error("field `{field}`: {source}")]
    Key {
        /// The field.
        field: String,
        /// What the key service said.
        source: KeyError,
    },
    /// The sealed value is not one: bad base64, too short, or not the expected content.
    #[error("field `{field}`: {reason}")]
    Malformed {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The ciphertext does not open under its data key: tampered with, or sealed for another
    /// field or subject (its visible subject edited to pass for this one's).
    #[error("field `{field}`: the sealed value does not open (altered, or sealed for another field or subject)")]
    Tampered {
        /// The field.
        field: String,
    },
    /// The value was sealed for another subject than the event's it is in: copied from another
    /// event (another order's token in this order's event), so it is not opened.
    #[error(
        "field `{field}`: sealed for another subject than this event's (copied from another event); it opens only in its own subject's events"
    )]
    OtherSubject {
        /// The field.
        field: String,
    },
    /// The value names no subject: sealed before values were bound to their subject, it
    /// could be opened in any event of its field, so it is opened in none.
    #[error("field `{field}`: sealed before values were bound to their subject; it opens in no event")]
    Unbound {
        /// The field.
        field: String,
    },
    /// The value is in clear where only a sealed one is used: a clear value is bound to no
    /// subject, and any event can carry one (see [`FieldCipher::reveal`]).
    #[error("field `{field}`: in clear, bound to no subject; only a value sealed for this event's subject is used")]
    Unsealed {
        /// The field.
        field: String,
    },
}

impl CryptoError {
    /// Whether the same call may succeed later: the key service refused the caller or the
    /// key, or did not answer. Every other error is about the value, which will not change.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Key { source, .. } if source.is_transient())
    }

    fn malformed(field: &str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

/// How long and how much a cached data key is used, so one key's compromise exposes a bounded
/// number of values and a revoked grant stops working within `max_age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// A data key is not used (to seal or to open) after this long.
    pub max_age: Duration,
    /// A data key seals at most this many values. Each value's nonce is its use's number, so
    /// this also keeps nonces unique under a key.
    pub max_uses: u32,
    /// The most opened data keys kept (least recently used goes first).
    pub max_open_keys: NonZeroUsize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_uses: 10_000,
            max_open_keys: NonZeroUsize::new(256).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// A data key in use for sealing one field.
struct SealingKey {
    cipher: Arc<Aes256Gcm>,
    encrypted: String,
    born: Instant,
    used: u32,
}

/// A data key opened for one field.
struct OpeningKey {
    cipher: Arc<Aes256Gcm>,
    born: Instant,
}

/// Seals and opens fields under the data keys of `K`, caching them within [`CacheLimits`].
pub struct FieldCipher<K> {
    keys: K,
    limits: CacheLimits,
    sealing: Mutex<HashMap<String, SealingKey>>,
    opening: Mutex<LruCache<(String, Vec<u8>), OpeningKey>>,
}

/// The longest encrypted data key accepted, in base64 characters (a KMS one is about 250):
/// an altered event must not make the function send megabytes to the key service.
pub const MAX_DATA_KEY_CHARS: usize = 1024;
/// The longest sealed value accepted, in base64 characters (64 KiB).
pub const MAX_CIPHERTEXT_CHARS: usize = 64 * 1024;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

fn nonce(use_number: u32) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[NONCE_LEN - 4..].copy_from_slice(&use_number.to_be_bytes());
    nonce
}

/// The associated data of a value of `field` sealed for `subject`: the field's length (4
/// bytes, big-endian), the field, the subject. The length makes the pair unambiguous (no
/// other field and subject give the same bytes), and a value sealed with the field alone as
/// associated data (before values were bound) never opens under it.
fn associated_data(field: &str, subject: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(4 + field.len() + subject.len());
    // A field name is a short identifier; one over 4 GiB cannot be written by any caller.
    aad.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
    aad.extend_from_slice(field.as_bytes());
    aad.extend_from_slice(subject.as_bytes());
    aad
}

impl<K: KeyService> FieldCipher<K> {
    /// A cipher over `keys` with the default limits.
    pub fn new(keys: K) -> Self {
        Self::with_limits(keys, CacheLimits::default())
    }

    /// A cipher over `keys` with `limits`.
    pub fn with_limits(keys: K, limits: CacheLimits) -> Self {
        Self {
            keys,
            limits,
            sealing: Mutex::new(HashMap::new()),
            opening: Mutex::new(LruCache::new(limits.max_open_keys)),
        }
    }

    /// The key service.
    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// `plaintext` sealed for `field` of `subject` (for an order's fields, the order id): it
    /// opens only as that field of an event of that subject.
    pub async fn seal(&self, field: &str, subject: &str, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        if subject.is_empty() {
            return Err(CryptoError::malformed(field, "no subject to seal it for"));
        }
        let (cipher, use_number, data_key) = match self.next_use(field) {
            Some(reuse) => reuse,
            None => {
                let fresh = self
                    .keys
                    .generate_data_key(field)
                    .await
                    .map_err(|source| CryptoError::Key {
                        field: field.to_owned(),
                        source,
                    })?;
                self.install(field, &fresh)
            }
        };
        let nonce = nonce(use_number);
        let payload = Payload {
            msg: plaintext,
            aad: &associated_data(field, subject),
        };
        // Only fails for a plaintext beyond AES-GCM's 64 GB bound, which no event can carry.
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| CryptoError::malformed(field, "too long to seal"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(Sealed {
            data_key,
            ciphertext: BASE64.encode(out),
            subject_id: Some(subject.to_owned()),
        })
    }

    /// `text` sealed for `field` of `subject`.
    pub async fn seal_text(&self, field: &str, subject: &str, text: &str) -> Result<Sealed, CryptoError> {
        self.seal(field, subject, text.as_bytes()).await
    }

    /// `value` as JSON, sealed for `field` of `subject`.
    pub async fn seal_json<T: Serialize>(&self, field: &str, subject: &str, value: &T) -> Result<Sealed, CryptoError> {
        let json = Zeroizing::new(
            serde_json::to_vec(value).map_err(|e| CryptoError::malformed(field, format!("not JSON: {e}")))?,
        );
        self.seal(field, subject, &json).await
    }

    /// The value `sealed` holds as `field` of an event of `subject`. A value sealed for
    /// another subject, or for none, is refused before any key service call; one whose visible
    /// subject was edited does not open (the subject is authenticated with the ciphertext).
    pub async fn open(&self, field: &str, subject: &str, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if subject.is_empty() {
            return Err(CryptoError::malformed(field, "no subject to open it for"));
        }
        match sealed.subject_id.as_deref() {
            None => {
                return Err(CryptoError::Unbound {
                    field: field.to_owned(),
                });
            }
            Some(sealed_for) if sealed_for != subject => {
                return Err(CryptoError::OtherSubject {
                    field: field.to_owned(),
                });
            }
            Some(_) => {}
        }
        for (part, text, limit) in [
            ("dataKey", &sealed.data_key, MAX_DATA_KEY_CHARS),
            ("ciphertext", &sealed.ciphertext, MAX_CIPHERTEXT_CHARS),
        ] {
            if text.len() > limit {
                return Err(CryptoError::malformed(
                    field,
                    format!("{part} is {} characters; at most {limit}", text.len()),
                ));
            }
        }
        let data_key = BASE64
            .decode(&sealed.data_key)
            .map_err(|e| CryptoError::malformed(field, format!("dataKey is not base64: {e}")))?;
        let ciphertext = BASE64
            .decode(&sealed.ciphertext)
            .map_err(|e| CryptoError::malformed(field, format!("ciphertext is not base64: {e}")))?;
        if ciphertext.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::malformed(
                field,
                format!(
                    "ciphertext has {} bytes, fewer than a nonce and a tag ({})",
                    ciphertext.len(),
                    NONCE_LEN + TAG_LEN
                ),
            ));
        }
        let cipher = self.opening_key(field, data_key).await?;
        let (nonce, body) = ciphertext.split_at(NONCE_LEN);
        // The event's subject, not the value's own claim: the two are equal here, and this
        // way the associated data never comes from the value being checked.
        let payload = Payload {
            msg: body,
            aad: &associated_data(field, subject),
        };
        cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Tampered {
                field: field.to_owned(),
            })
    }

    /// The text `sealed` holds as `field` of an event of `subject`. The text is the caller's
    /// (one copy, not wiped on drop); the buffer it was opened into is wiped if it is not text.
    pub async fn open_text(&self, field: &str, subject: &str, sealed: &Sealed) -> Result<String, CryptoError> {
        let mut bytes = self.open(field, subject, sealed).await?;
        // Moved out, not copied: the only copy in clear is the one handed over.
        String::from_utf8(std::mem::take(&mut *bytes)).map_err(|err| {
            drop(Zeroizing::new(err.into_bytes()));
            CryptoError::malformed(field, "the value is not UTF-8 text")
        })
    }

    /// The JSON value `sealed` holds as `field` of an event of `subject`.
    pub async fn open_json<T: DeserializeOwned>(
        &self,
        field: &str,
        subject: &str,
        sealed: &Sealed,
    ) -> Result<T, CryptoError> {
        let bytes = self.open(field, subject, sealed).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CryptoError::malformed(field, format!("the value is not as expected: {e}")))
    }

    /// The text of `value` as `field` of an event of `subject`, to use: opened when sealed for
    /// this subject, refused in clear ([`CryptoError::Unsealed`]). A clear value is bound to
    /// nothing, and the version that would explain one (an event from before sealing, upcast)
    /// is the sender's word: anyone who may put an event could write an old version with any
    /// value they know in it. So one is read and carried as it is, never used.
    pub async fn reveal(&self, field: &str, subject: &str, value: &Personal) -> Result<String, CryptoError> {
        match value {
            Personal::Sealed(sealed) => self.open_text(field, subject, sealed).await,
            Personal::Clear(_) => Err(CryptoError::Unsealed {
                field: field.to_owned(),
            }),
        }
    }

    /// The cached key for sealing `field` and the number of this use, if one is still fresh.
    fn next_use(&self, field: &str) -> Option<(Arc<Aes256Gcm>, u32, String)> {
        let mut sealing = self.sealing.lock().unwrap_or_else(PoisonError::into_inner);
        let key = sealing.get_mut(field)?;
        if key.used >= self.limits.max_uses || key.born.elapsed() >= self.limits.max_age {
            sealing.remove(field);
            return None;
        }
        let use_number = key.used;
        key.used += 1;
        Some((Arc::clone(&key.cipher), use_number, key.encrypted.clone()))
    }

    /// Starts sealing `field` under `fresh`, taking its first use.
    fn install(&self, field: &str, fresh: &DataKey) -> (Arc<Aes256Gcm>, u32, String) {
        let cipher = Arc::new(Aes256Gcm::new((&*fresh.plaintext).into()));
        let encrypted = BASE64.encode(&fresh.encrypted);
        let key = SealingKey {
            cipher: Arc::clone(&cipher),
            encrypted: encrypted.clone(),
            born: Instant::now(),
            used: 1,
        };
        // A concurrent seal may have installed a key meanwhile: this one replaces it, and each
        // keeps its own uses (a key's nonces are its own).
        self.sealing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(field.to_owned(), key);
        (cipher, 0, encrypted)
    }

    async fn opening_key(&self, field: &str, data_key: Vec<u8>) -> Result<Arc<Aes256Gcm>, CryptoError> {
        let cache_key = (field.to_owned(), data_key);
        {
            let mut opening = self.opening.lock().unwrap_or_else(PoisonError::into_inner);
            match opening.get(&cache_key) {
                Some(key) if key.born.elapsed() < self.limits.max_age => return Ok(Arc::clone(&key.cipher)),
                Some(_) => {
                    opening.pop(&cache_key);
                }
                None => {}
            }
        }
        let plain = self
            .keys
            .decrypt_data_key(field, &cache_key.1)
            .await
            .map_err(|source| CryptoError::Key {
                field: field.to_owned(),
                source,
            })?;
        let cipher = Arc::new(Aes256Gcm::new((&*plain).into()));
        self.opening.lock().unwrap_or_else(PoisonError::into_inner).put(
            cache_key,
            OpeningKey {
                cipher: Arc::clone(&cipher),
                born: Instant::now(),
            },
        );
        Ok(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only while `aes` is built with its `zeroize` feature (see the crate docs):
    /// the round keys a cached cipher holds are wiped when it drops.
    #[test]
    fn the_aes_key_schedule_is_wiped_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
        let key = [7u8; 32];
        let schedule = <aes::Aes256 as aes_gcm::aead::KeyInit>::new((&key).into());
        wiped_on_drop(&schedule);
    }

    #[test]
    fn the_associated_data_tells_every_field_and_subject_apart() {
        assert_ne!(associated_data("ab", "c"), associated_data("a", "bc"));
        assert_eq!(&associated_data("field", "o-1")[..4], &[0, 0, 0, 5]);
        assert_ne!(associated_data("paymentToken", "o-1"), b"paymentToken".to_vec());
    }
}

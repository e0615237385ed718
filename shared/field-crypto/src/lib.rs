//! Field-level envelope encryption of personal data.
//!
//! A personal value (a name, an email, an address, a payment token) is sealed on its own,
//! under a data key that the master key (KMS in production, [`LocalMasterKey`] in the local
//! cloud) issued for that field alone: the field's name is the key's encryption context and
//! the ciphertext's associated data. So a role that may decrypt `customerEmail` cannot open a
//! payment token, and a sealed value moved to another field does not open. Everything between
//! the producer and the consumer that needs the value (the bus, queues, the archive, views,
//! logs) carries only [`Sealed`] values.
//!
//! [`FieldCipher`] caches data keys, each for a bounded time and number of uses
//! ([`CacheLimits`]), so a batch costs one key service call per field, not one per value.

mod cipher;
#[cfg(feature = "kms")]
mod kms;
mod local;
mod sealed;

pub use cipher::{
    CacheLimits, CryptoError, DataKey, FieldCipher, KeyError, KeyService, MAX_CIPHERTEXT_CHARS, MAX_DATA_KEY_CHARS,
    PlainKey,
};
#[cfg(feature = "kms")]
pub use kms::KmsKeys;
pub use local::{LocalKeys, LocalMasterKey};
pub use sealed::{Personal, Sealed};

/// The encryption context key that names the field a data key is for, in KMS requests and in
/// the `kms:EncryptionContext:field` condition of the roles that may use the key.
pub const CONTEXT_KEY: &str = "field";

/// The IAM action that issues data keys (the producer's).
pub const GENERATE_DATA_KEY: &str = "kms:GenerateDataKey";
/// The IAM action that opens data keys (the consumer's that needs a field in clear).
pub const DECRYPT: &str = "kms:Decrypt";

//! Field-level envelope encryption of personal data.
//!
//! A personal value (a name, an email, an address, a payment token) is sealed on its own,
//! under a data key that the master key (KMS in production, [`LocalMasterKey`] in the local
//! cloud) issued for that field alone: the field's name is the key's encryption context. The
//! ciphertext's associated data is the field and the subject the value belongs to (for an
//! order's fields, the order id). So a role that may decrypt `customerEmail` cannot open a
//! payment token, a sealed value moved to another field does not open, and one copied into
//! another order's event does not either: order A's token put in order B's `InventoryReserved`
//! is refused, naming the field and never the value. Everything between the producer and the
//! consumer that needs the value (the bus, queues, the archive, views, logs) carries only
//! [`Sealed`] values.
//!
//! [`FieldCipher`] caches data keys, each for a bounded time and number of uses
//! ([`CacheLimits`]), so a batch costs one key service call per field, not one per value.
//!
//! - **Sealing**: a data key per field from the master key (KMS `GenerateDataKey` with the
//!   encryption context `field=<name>`), AES-256-GCM with the field's name and the subject as
//!   associated data. The subject is not in the encryption context: a data key per field
//!   serves a whole batch of orders with one KMS call, and the roles' `kms:EncryptionContext:field`
//!   conditions name the field alone. A data key is used for at most 5 minutes and 10,000
//!   values (the use's number is the nonce, so nonces under a key never repeat); opened keys
//!   are kept in a bounded LRU.
//! - **Binding to the subject**: a [`Sealed`] value names its subject in clear, and the
//!   subject is authenticated with the ciphertext. [`FieldCipher::open`] takes the subject of
//!   the event the value is in: a value sealed for another subject is refused before any key
//!   service call ([`CryptoError::OtherSubject`]), one whose visible subject was edited does
//!   not open ([`CryptoError::Tampered`]), and one sealed before values were bound names none
//!   and opens nowhere ([`CryptoError::Unbound`]). A value in clear is never used
//!   ([`FieldCipher::reveal`]).
//! - **Errors**: only a value that can never open with this key and context is permanent (the
//!   record is parked naming the field); a refusal of the caller or of the key's state (access
//!   denied while a grant propagates, a key disabled or pending deletion) and a key service
//!   that does not answer are retried ([`CryptoError::is_transient`], [`KeyError`]).
//! - **Who opens what**: order-api seals the customer's name, email, shipping address and
//!   payment token before `OrderPlaced` leaves, and may not open them; process-payment opens
//!   the token, ship-order the address, notify-customer the name and email; everything else
//!   (the bus, queues, the archive, the event store, the views, logs) carries ciphertext. A
//!   function declares its grant as a setting,
//!   `Setting::key("FIELD_KEY_ID", ..).calls(&[DECRYPT]).fields(&["paymentToken"])`, and
//!   `tests/tests/template.rs` checks its role says exactly that, the
//!   `kms:EncryptionContext:field` condition included.
//! - **Adapters**: `KmsKeys` (feature `kms`) on AWS; in the local cloud a [`LocalMasterKey`]
//!   named after the template's key resource, with the same per-field grants taken from each
//!   function's declaration ([`LocalKeys`] refuses any other), deterministic so a run repeats.
//! - **Where a person's data is in clear**: the notifications topic, where a message leaves for
//!   the customer, so `CustomerNotified` names them there; notify-customer's idempotency
//!   records keep only a digest of it (`Topic { personal: true, .. }` in the kit).
//!   `tests/tests/logs.rs` runs every demo and finds no customer's personal value in clear on
//!   the bus, in the event store, a view, an idempotency record or a log line.
//!
//! # What remains in memory
//!
//! Data keys in clear are [`PlainKey`]s, wiped on drop. The AES-256-GCM instances built from
//! them are cached (sealing: one per field until its uses or 5 minutes run out; opening: at
//! most [`CacheLimits::max_open_keys`], each at most 5 minutes), because a KMS call per value
//! is what the cache is there to avoid; while cached, their key schedules are in memory. When
//! one is dropped, the workspace builds `aes` with its `zeroize` feature, so the AES round
//! keys are wiped, and `ghash` and `polyval` with theirs, so is the GHASH key `H` where the
//! backend does it. It does not everywhere: polyval 0.6's CPU-detecting backend (x86 and
//! x86-64, so the local cloud and tests; aarch64 when built with `--cfg polyval_armv8`) keeps
//! its state in a `ManuallyDrop` it never drops, and its PMULL backend has no wiping at all.
//! The Lambda functions (arm64, default flags) use polyval's portable backend, which wipes
//! `H` on drop. `H` authenticates, it does not decrypt: with it one could forge a tag under
//! that data key, not read a value.
//!
//! What a caller opens is the caller's: [`FieldCipher::open`] returns a buffer wiped on drop,
//! but [`FieldCipher::open_text`] and [`FieldCipher::open_json`] hand over a `String` or the
//! caller's type, which are not wiped (the payment token on its way to the gateway, the
//! address a carrier is chosen by, the recipient of a notification), nor are copies the
//! caller makes, serde's buffers, or stack the AES and GHASH code used. Freed memory is not
//! cleared by the allocator, and nothing here keeps a page out of a core dump.

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

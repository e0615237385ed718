//! The local cloud's master key, and its grants, standing in for KMS.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::cipher::{DataKey, KeyError, KeyService, PlainKey};
use crate::{DECRYPT, GENERATE_DATA_KEY};

/// A master key held in memory, for the local cloud and tests: what a KMS key is in
/// production. Data keys are derived from a secret and a counter, so a run with the same
/// inputs seals the same ciphertexts (the local cloud is deterministic); each is wrapped with
/// AES-256-GCM under the master key with the field as associated data, as KMS binds the
/// encryption context.
pub struct LocalMasterKey {
    wrap: Aes256Gcm,
    derive: Zeroizing<[u8; 32]>,
    issued: AtomicU64,
}

impl LocalMasterKey {
    /// The master key named `name` (the template's key resource): the same name, the same key.
    pub fn new(name: &str) -> Self {
        let secret = |purpose: &str| -> Zeroizing<[u8; 32]> {
            Zeroizing::new(Sha256::new().chain_update(purpose).chain_update(name).finalize().into())
        };
        Self {
            wrap: Aes256Gcm::new((&*secret("local master key:")).into()),
            derive: secret("local data keys:"),
            issued: AtomicU64::new(0),
        }
    }

    /// The same key, numbering the data keys it issues from `first`: two instances of one key
    /// (a test's producer and consumer) then never issue the same data key.
    #[must_use]
    pub fn starting_at(self, first: u64) -> Self {
        self.issued.store(first, Ordering::Relaxed);
        self
    }

    fn issue(&self, field: &str) -> Result<DataKey, KeyError> {
        let number = self.issued.fetch_add(1, Ordering::Relaxed);
        let plaintext: PlainKey = Zeroizing::new(
            Sha256::new()
                .chain_update(*self.derive)
                .chain_update(number.to_be_bytes())
                .finalize()
                .into(),
        );
        let nonce = wrap_nonce(number);
        let wrapped = self
            .wrap
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &*plaintext,
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Unavailable("the local master key could not wrap a data key".to_owned()))?;
        let mut encrypted = number.to_be_bytes().to_vec();
        encrypted.extend_from_slice(&wrapped);
        Ok(DataKey { plaintext, encrypted })
    }

    fn unwrap_key(&self, field: &str, encrypted: &[u8]) -> Result<PlainKey, KeyError> {
        let invalid = || KeyError::Invalid(format!("not a data key this master key issued for `{field}`"));
        let (number, wrapped) = encrypted.split_first_chunk::<8>().ok_or_else(invalid)?;
        let nonce = wrap_nonce(u64::from_be_bytes(*number));
        let plain = Zeroizing::new(
            self.wrap
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: wrapped,
                        aad: field.as_bytes(),
                    },
                )
                .map_err(|_| invalid())?,
        );
        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| invalid())?;
        Ok(Zeroizing::new(key))
    }
}

fn wrap_nonce(number: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&number.to_be_bytes());
    nonce
}

/// One function's use of a [`LocalMasterKey`], with the grants its role has: the actions
/// ([`GENERATE_DATA_KEY`], [`DECRYPT`]) and the fields (encryption contexts) they hold for.
/// Anything else is denied, as IAM would.
pub struct LocalKeys {
    master: Arc<LocalMasterKey>,
    principal: String,
    actions: BTreeSet<String>,
    fields: BTreeSet<String>,
}

impl LocalKeys {
    /// `principal` (a function) using `master` with `actions` for `fields`.
    pub fn new(master: Arc<LocalMasterKey>, principal: &str, actions: &[&str], fields: &[&str]) -> Self {
        Self {
            master,
            principal: principal.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    fn authorize(&self, action: &str, field: &str) -> Result<(), KeyError> {
        if self.actions.contains(action) && self.fields.contains(field) {
            return Ok(());
        }
        Err(KeyError::Denied(format!(
            "{} is not authorized to perform {action} with encryption context {}={field}",
            self.principal,
            crate::CONTEXT_KEY
        )))
    }
}

impl KeyService for LocalKeys {
    async fn generate_data_key(&self, field: &str) -> Result<DataKey, KeyError> {
        self.authorize(GENERATE_DATA_KEY, field)?;
        self.master.issue(field)
    }

    async fn decrypt_data_key(&self, field: &str, encrypted: &[u8]) -> Result<PlainKey, KeyError> {
        self.authorize(DECRYPT, field)?;
        self.master.unwrap_key(field, encrypted)
    }
}

//! KMS as the master key: `GenerateDataKey` and `Decrypt` with the field as encryption context,
//! so a role's `kms:EncryptionContext:field` condition decides which fields it may open.

use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroizing;

use crate::CONTEXT_KEY;
use crate::cipher::{DataKey, KeyError, KeyService, PlainKey};

/// A KMS symmetric key, by id or ARN.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsKeys {
    /// The key `key_id`, through `client`.
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

/// A refusal is permanent (the record is parked with the reason); anything else may pass later.
fn classify<E, R>(error: &SdkError<E, R>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(error).to_string();
    match error.code() {
        Some("AccessDeniedException" | "NotFoundException" | "DisabledException" | "KMSInvalidStateException") => {
            KeyError::Denied(text)
        }
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyError::Invalid(text),
        _ => KeyError::Unavailable(text),
    }
}

fn key_of(blob: Option<&Blob>, what: &str) -> Result<PlainKey, KeyError> {
    let bytes = blob
        .map(Blob::as_ref)
        .ok_or_else(|| KeyError::Unavailable(format!("KMS answered without the {what}")))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| KeyError::Invalid(format!("KMS answered a {what} of {} bytes, not 32", bytes.len())))?;
    Ok(Zeroizing::new(key))
}

impl KeyService for KmsKeys {
    async fn generate_data_key(&self, field: &str) -> Result<DataKey, KeyError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, field)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let encrypted = out
            .ciphertext_blob()
            .ok_or_else(|| KeyError::Unavailable("KMS answered without the encrypted data key".to_owned()))?
            .as_ref()
            .to_vec();
        Ok(DataKey {
            plaintext: key_of(out.plaintext(), "data key")?,
            encrypted,
        })
    }

    async fn decrypt_data_key(&self, field: &str, encrypted: &[u8]) -> Result<PlainKey, KeyError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .encryption_context(CONTEXT_KEY, field)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        key_of(out.plaintext(), "decrypted data key")
    }
}

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

/// Only a value that can never open with this key and context is permanent (the record is
/// parked with the reason); every other error may pass later, so the record is retried:
///
/// - `InvalidCiphertextException` (not a ciphertext of this key, altered, or another field's
///   encryption context) and `IncorrectKeyException` (encrypted under another key):
///   [`KeyError::Invalid`], permanent.
/// - `AccessDeniedException` (a new grant takes minutes to propagate through IAM),
///   `DisabledException`, `KMSInvalidStateException` (pending deletion or import: both can
///   be undone) and `NotFoundException` (a new key or alias is eventually consistent):
///   [`KeyError::Denied`], transient.
/// - Throttling, `KeyUnavailableException`, `DependencyTimeoutException`,
///   `KMSInternalException`, a timeout or a dispatch failure, and any code not named here:
///   [`KeyError::Unavailable`], transient. An unknown code is retried: parking it would take
///   the decision that a value can never open on an error that does not say so.
fn classify<E, R>(error: &SdkError<E, R>) -> KeyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(error).to_string();
    match error.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyError::Invalid(text),
        Some("AccessDeniedException" | "NotFoundException" | "DisabledException" | "KMSInvalidStateException") => {
            KeyError::Denied(text)
        }
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

#[cfg(test)]
mod tests {
    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;

    use super::*;

    fn decrypt_error(code: &str) -> SdkError<DecryptError, ()> {
        let metadata = ErrorMetadata::builder().code(code).message("as KMS says it").build();
        SdkError::service_error(DecryptError::generic(metadata), ())
    }

    fn generate_error(code: &str) -> SdkError<GenerateDataKeyError, ()> {
        let metadata = ErrorMetadata::builder().code(code).message("as KMS says it").build();
        SdkError::service_error(GenerateDataKeyError::generic(metadata), ())
    }

    #[test]
    fn only_a_value_that_can_never_open_with_this_key_and_context_is_permanent() {
        for code in ["InvalidCiphertextException", "IncorrectKeyException"] {
            let class = classify(&decrypt_error(code));
            assert!(matches!(class, KeyError::Invalid(_)), "{code}: {class:?}");
            assert!(!class.is_transient(), "{code}");
        }
    }

    #[test]
    fn a_refusal_of_the_caller_or_of_the_key_state_is_retried() {
        // IAM propagation, a key disabled or pending deletion for a while, a key or alias not
        // visible yet: none is about the value.
        for code in [
            "AccessDeniedException",
            "DisabledException",
            "KMSInvalidStateException",
            "NotFoundException",
        ] {
            for class in [classify(&decrypt_error(code)), classify(&generate_error(code))] {
                assert!(matches!(class, KeyError::Denied(_)), "{code}: {class:?}");
                assert!(class.is_transient(), "{code}");
            }
        }
    }

    #[test]
    fn throttling_an_unavailable_key_timeouts_and_unknown_codes_are_retried() {
        for code in [
            "ThrottlingException",
            "KeyUnavailableException",
            "DependencyTimeoutException",
            "KMSInternalException",
            "LimitExceededException",
            "SomethingKmsWillSayOneDay",
        ] {
            for class in [classify(&decrypt_error(code)), classify(&generate_error(code))] {
                assert!(matches!(class, KeyError::Unavailable(_)), "{code}: {class:?}");
                assert!(class.is_transient(), "{code}");
            }
        }
        let timeout: SdkError<DecryptError, ()> = SdkError::timeout_error("no answer within the budget");
        assert!(matches!(classify(&timeout), KeyError::Unavailable(_)));
    }

    #[test]
    fn the_reason_keeps_what_kms_said() {
        let class = classify(&decrypt_error("AccessDeniedException"));
        assert!(class.to_string().contains("AccessDeniedException"), "{class}");
    }
}

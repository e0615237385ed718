//! The KMS master key of sealed fields (moto in server mode, through the real SDK): data keys
//! issued and opened with the field as encryption context, one per field whatever the order;
//! another field's context does not open one; an unknown key (a new one not visible yet, or a
//! key id a deploy will fix) and an unreachable KMS are both worth a retry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use base64::Engine as _;
use field_crypto::{FieldCipher, KeyError, KeyService, KmsKeys};

async fn client() -> aws_sdk_kms::Client {
    let moto = motoserver::shared().unwrap_or_else(|e| panic!("moto server: {e}"));
    aws_sdk_kms::Client::new(&moto.sdk_config().await)
}

/// A new symmetric key, as the template declares `FieldKey`.
async fn field_key() -> KmsKeys {
    let client = client().await;
    let created = client
        .create_key()
        .description("seals personal fields")
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap();
    let key_id = created.key_metadata().unwrap().key_id().to_owned();
    KmsKeys::new(client, key_id)
}

#[tokio::test]
async fn a_value_sealed_under_kms_opens_for_its_field_only() {
    let cipher = FieldCipher::new(field_key().await);
    let sealed = cipher
        .seal_text("customerEmail", "o-1", "ada@example.com")
        .await
        .unwrap();
    assert_eq!(
        cipher.open_text("customerEmail", "o-1", &sealed).await.unwrap(),
        "ada@example.com"
    );
    let data_key = base64::engine::general_purpose::STANDARD
        .decode(&sealed.data_key)
        .unwrap();
    let refused = cipher
        .keys()
        .decrypt_data_key("paymentToken", &data_key)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, KeyError::Invalid(_) | KeyError::Denied(_)),
        "another field's context must not open the key: {refused:?}"
    );
    // Sealing again within the cache's bounds, for another order, asks KMS for no new key.
    let again = cipher
        .seal_text("customerEmail", "o-2", "grace@example.com")
        .await
        .unwrap();
    assert_eq!(again.data_key, sealed.data_key);
}

#[tokio::test]
async fn an_unknown_key_and_an_unreachable_kms_are_both_worth_a_retry() {
    let unknown = KmsKeys::new(client().await, "11111111-2222-3333-4444-555555555555");
    let error = unknown.generate_data_key("customerEmail").await.unwrap_err();
    assert!(matches!(error, KeyError::Denied(_)), "{error:?}");
    assert!(error.is_transient(), "not about a value: {error:?}");

    let unreachable = KmsKeys::new(
        aws_sdk_kms::Client::new(&motoserver::unreachable_sdk_config().await),
        "any",
    );
    let error = unreachable.generate_data_key("customerEmail").await.unwrap_err();
    assert!(matches!(error, KeyError::Unavailable(_)), "{error:?}");
    assert!(error.is_transient());
}

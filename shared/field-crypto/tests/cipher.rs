//! Sealing and opening with the local master key: round trips, bindings to the field, grants,
//! and the data key cache's bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use field_crypto::{
    CacheLimits, CryptoError, DECRYPT, DataKey, FieldCipher, GENERATE_DATA_KEY, KeyError, KeyService, LocalKeys,
    LocalMasterKey, Personal, PlainKey,
};

const FIELDS: &[&str] = &["customerEmail", "paymentToken"];
/// The subject values are sealed for: an order.
const ORDER: &str = "o-1";

/// Counts the calls that reach the key service.
struct Counting {
    inner: LocalKeys,
    generated: AtomicUsize,
    decrypted: AtomicUsize,
}

impl Counting {
    fn new(master: &Arc<LocalMasterKey>, actions: &[&str], fields: &[&str]) -> Self {
        Self {
            inner: LocalKeys::new(Arc::clone(master), "test", actions, fields),
            generated: AtomicUsize::new(0),
            decrypted: AtomicUsize::new(0),
        }
    }
}

impl KeyService for Counting {
    async fn generate_data_key(&self, field: &str) -> Result<DataKey, KeyError> {
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_data_key(field).await
    }

    async fn decrypt_data_key(&self, field: &str, encrypted: &[u8]) -> Result<PlainKey, KeyError> {
        self.decrypted.fetch_add(1, Ordering::Relaxed);
        self.inner.decrypt_data_key(field, encrypted).await
    }
}

fn cipher(
    master: &Arc<LocalMasterKey>,
    actions: &[&str],
    fields: &[&str],
    limits: CacheLimits,
) -> FieldCipher<Counting> {
    FieldCipher::with_limits(Counting::new(master, actions, fields), limits)
}

fn both() -> [&'static str; 2] {
    [GENERATE_DATA_KEY, DECRYPT]
}

#[tokio::test]
async fn a_sealed_value_opens_to_itself_and_carries_nothing_of_it_in_clear() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let cipher = cipher(&master, &both(), FIELDS, CacheLimits::default());
    let sealed = cipher
        .seal_text("customerEmail", ORDER, "ada@example.com")
        .await
        .unwrap();
    let wire = serde_json::to_string(&sealed).unwrap();
    assert!(!wire.contains("ada"), "{wire}");
    assert_eq!(
        cipher.open_text("customerEmail", ORDER, &sealed).await.unwrap(),
        "ada@example.com"
    );
    let revealed = cipher
        .reveal("customerEmail", ORDER, &Personal::Sealed(sealed))
        .await
        .unwrap();
    assert_eq!(revealed, "ada@example.com");
}

#[tokio::test]
async fn given_a_value_sealed_for_one_order_when_opened_in_another_orders_event_then_it_is_refused() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let cipher = cipher(&master, &both(), FIELDS, CacheLimits::default());
    let token = cipher.seal_text("paymentToken", "o-A", "tok_approve").await.unwrap();
    assert_eq!(
        token.subject_id.as_deref(),
        Some("o-A"),
        "the subject is named in clear"
    );
    assert_eq!(
        cipher.open_text("paymentToken", "o-A", &token).await.unwrap(),
        "tok_approve"
    );
    let asked = cipher.keys().decrypted.load(Ordering::Relaxed);

    // Copied as it is into order B's event: refused before the key service is asked.
    let moved = cipher.open_text("paymentToken", "o-B", &token).await.unwrap_err();
    assert_eq!(
        moved,
        CryptoError::OtherSubject {
            field: "paymentToken".into()
        }
    );
    assert!(!moved.is_transient());
    assert!(moved.to_string().starts_with("field `paymentToken`:"), "{moved}");
    assert!(!moved.to_string().contains("tok_approve"), "{moved}");
    assert_eq!(cipher.keys().decrypted.load(Ordering::Relaxed), asked);

    // Its visible subject edited to pass for B's: the subject is authenticated, so it does not open.
    let relabelled = field_crypto::Sealed {
        subject_id: Some("o-B".into()),
        ..token.clone()
    };
    let error = cipher.open_text("paymentToken", "o-B", &relabelled).await.unwrap_err();
    assert_eq!(
        error,
        CryptoError::Tampered {
            field: "paymentToken".into()
        }
    );

    // Sealed before values were bound (no subject): it could be any order's, so it opens in none.
    let unbound = field_crypto::Sealed {
        subject_id: None,
        ..token
    };
    let error = cipher.open_text("paymentToken", "o-A", &unbound).await.unwrap_err();
    assert_eq!(
        error,
        CryptoError::Unbound {
            field: "paymentToken".into()
        }
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_value_in_clear_is_never_revealed_for_use() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let cipher = cipher(&master, &both(), FIELDS, CacheLimits::default());
    let error = cipher
        .reveal("paymentToken", ORDER, &Personal::Clear("tok_old".into()))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CryptoError::Unsealed {
            field: "paymentToken".into()
        }
    );
    assert!(!error.is_transient());
    assert!(!error.to_string().contains("tok_old"), "{error}");
    assert!(
        cipher.seal_text("paymentToken", "", "tok").await.is_err(),
        "a value is always sealed for a subject"
    );
}

#[tokio::test]
async fn a_value_moved_to_another_field_or_altered_does_not_open() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let cipher = cipher(&master, &both(), FIELDS, CacheLimits::default());
    let sealed = cipher
        .seal_text("customerEmail", ORDER, "ada@example.com")
        .await
        .unwrap();
    // Another field: its data key was issued for customerEmail, so the master key refuses it.
    let moved = cipher.open_text("paymentToken", ORDER, &sealed).await.unwrap_err();
    assert!(
        matches!(
            moved,
            CryptoError::Key {
                source: KeyError::Invalid(_),
                ..
            }
        ),
        "{moved}"
    );
    assert!(moved.to_string().starts_with("field `paymentToken`:"), "{moved}");

    let mut altered = sealed.clone();
    let mut bytes = altered.ciphertext.into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    altered.ciphertext = String::from_utf8(bytes).unwrap();
    let error = cipher.open_text("customerEmail", ORDER, &altered).await.unwrap_err();
    assert_eq!(
        error,
        CryptoError::Tampered {
            field: "customerEmail".into()
        }
    );

    let asked = cipher.keys().decrypted.load(Ordering::Relaxed);
    let oversized = field_crypto::Sealed {
        data_key: "A".repeat(field_crypto::MAX_DATA_KEY_CHARS + 4),
        ..sealed.clone()
    };
    let error = cipher.open_text("customerEmail", ORDER, &oversized).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `customerEmail`: dataKey is 1028 characters; at most 1024"
    );
    assert_eq!(
        cipher.keys().decrypted.load(Ordering::Relaxed),
        asked,
        "refused before the key service"
    );

    let short = field_crypto::Sealed {
        ciphertext: "AAAA".into(),
        ..sealed
    };
    let error = cipher.open_text("customerEmail", ORDER, &short).await.unwrap_err();
    assert!(error.to_string().contains("fewer than a nonce and a tag"), "{error}");
}

#[tokio::test]
async fn only_the_granted_actions_and_fields_are_allowed() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let producer = cipher(&master, &[GENERATE_DATA_KEY], FIELDS, CacheLimits::default());
    let mailer = cipher(&master, &[DECRYPT], &["customerEmail"], CacheLimits::default());
    let email = producer
        .seal_text("customerEmail", ORDER, "ada@example.com")
        .await
        .unwrap();
    let token = producer.seal_text("paymentToken", ORDER, "tok_approve").await.unwrap();
    assert_eq!(
        mailer.open_text("customerEmail", ORDER, &email).await.unwrap(),
        "ada@example.com"
    );
    let denied = mailer.open_text("paymentToken", ORDER, &token).await.unwrap_err();
    assert_eq!(
        denied.to_string(),
        "field `paymentToken`: not allowed: test is not authorized to perform kms:Decrypt with encryption context field=paymentToken"
    );
    // Not about the value: a grant IAM has not propagated yet looks the same, so it is retried.
    assert!(denied.is_transient());
    // The producer seals but cannot open, not even what it sealed.
    assert!(producer.open_text("customerEmail", ORDER, &email).await.is_err());
    assert!(mailer.seal_text("customerEmail", ORDER, "x").await.is_err());
}

#[tokio::test]
async fn a_data_key_is_reused_until_its_uses_run_out_with_a_new_nonce_each_time() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let limits = CacheLimits {
        max_uses: 3,
        ..CacheLimits::default()
    };
    let cipher = cipher(&master, &both(), FIELDS, limits);
    let mut sealed = Vec::new();
    for _ in 0..7 {
        sealed.push(cipher.seal_text("customerEmail", ORDER, "same").await.unwrap());
    }
    assert_eq!(
        cipher.keys().generated.load(Ordering::Relaxed),
        3,
        "7 values, 3 uses per key"
    );
    let data_keys: std::collections::BTreeSet<_> = sealed.iter().map(|s| s.data_key.clone()).collect();
    assert_eq!(data_keys.len(), 3);
    let ciphertexts: std::collections::BTreeSet<_> = sealed.iter().map(|s| s.ciphertext.clone()).collect();
    assert_eq!(ciphertexts.len(), 7, "the same value twice never seals the same");
    // Each field has its own key.
    cipher.seal_text("paymentToken", ORDER, "tok").await.unwrap();
    assert_eq!(cipher.keys().generated.load(Ordering::Relaxed), 4);
    // Opening: one decrypt per data key, then the cache.
    for s in &sealed {
        assert_eq!(cipher.open_text("customerEmail", ORDER, s).await.unwrap(), "same");
    }
    assert_eq!(cipher.keys().decrypted.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_data_key_is_not_used_past_its_lifetime() {
    let master = Arc::new(LocalMasterKey::new("FieldKey"));
    let limits = CacheLimits {
        max_age: Duration::from_millis(30),
        max_uses: 1_000,
        max_open_keys: NonZeroUsize::new(1).unwrap(),
    };
    let cipher = cipher(&master, &both(), FIELDS, limits);
    let first = cipher.seal_text("customerEmail", ORDER, "a").await.unwrap();
    cipher.open_text("customerEmail", ORDER, &first).await.unwrap();
    std::thread::sleep(Duration::from_millis(40));
    let second = cipher.seal_text("customerEmail", ORDER, "b").await.unwrap();
    assert_ne!(first.data_key, second.data_key, "an expired key seals no more");
    cipher.open_text("customerEmail", ORDER, &first).await.unwrap();
    assert_eq!(
        cipher.keys().decrypted.load(Ordering::Relaxed),
        2,
        "an expired opened key is asked again"
    );
    // One opened key kept at most: opening the other evicts it.
    cipher.open_text("customerEmail", ORDER, &second).await.unwrap();
    cipher.open_text("customerEmail", ORDER, &first).await.unwrap();
    assert_eq!(cipher.keys().decrypted.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn the_same_master_key_name_seals_the_same_run_the_same_way() {
    let run = || async {
        let master = Arc::new(LocalMasterKey::new("FieldKey"));
        let cipher = cipher(&master, &both(), FIELDS, CacheLimits::default());
        cipher
            .seal_text("customerEmail", ORDER, "ada@example.com")
            .await
            .unwrap()
    };
    assert_eq!(run().await, run().await);
    let other = Arc::new(LocalMasterKey::new("OtherKey"));
    let foreign = cipher(&other, &both(), FIELDS, CacheLimits::default());
    assert!(foreign.open_text("customerEmail", ORDER, &run().await).await.is_err());
}

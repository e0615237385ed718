//! process-payment on its sample events: approved, declined, a gateway that is down, and the
//! tokens it refuses to charge (moved from another order, in clear, or under a key refusal).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use field_crypto::{DataKey, FieldCipher, KeyError, KeyService, LocalKeys, Personal, PlainKey};
use handler_kit::testing::{
    InMemoryProcessor, edit_envelope, failed_ids, function_sample, in_memory, local_cipher, sealing_cipher,
    stopped_clock,
};
use orders::events::personal;
use process_payment::{Charge, FIELD_KEY, PaymentGateway, ProcessPayment, SimulatedGateway};

type Processor<K> = InMemoryProcessor<ProcessPayment<Arc<SimulatedGateway>, K>>;

/// process-payment with the local key grants its declaration gives, and the gateway it charges.
fn process_payment() -> (Processor<LocalKeys>, Arc<SimulatedGateway>) {
    let gateway = Arc::new(SimulatedGateway::default());
    let handler = ProcessPayment::new(Arc::clone(&gateway), local_cipher(&FIELD_KEY), stopped_clock());
    (in_memory("process-payment", handler), gateway)
}

/// The sample: three `InventoryReserved` v1, tokens in clear, of these orders.
fn sample() -> SqsEvent {
    function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/process-payment/inventory-reserved.sqs-eventbridge.json",
    )
    .unwrap()
}

/// The orders of the sample's records, in order.
const ORDERS: [&str; 3] = ["o-1001", "o-1003", "o-1004"];

/// Record `index` as version 2 (the current one), carrying `token` as its payment token.
fn carry_token(event: &mut SqsEvent, index: usize, token: &Personal) {
    edit_envelope(event, index, |envelope| {
        envelope["metadata"]["version"] = 2.into();
        envelope["data"]["paymentToken"] = serde_json::to_value(token).unwrap();
    })
    .unwrap();
}

/// `token` sealed for `order`, as order-api seals it.
async fn sealed_for(order: &str, token: &str) -> Personal {
    let producer = sealing_cipher(&[personal::PAYMENT_TOKEN]);
    Personal::Sealed(producer.seal_text(personal::PAYMENT_TOKEN, order, token).await.unwrap())
}

/// The sample as version 2 events, each token sealed for its own order.
async fn sealed_sample() -> SqsEvent {
    let mut event = sample();
    for (index, (order, token)) in ORDERS
        .iter()
        .zip(["tok_approve", "tok_decline", "tok_unavailable"])
        .enumerate()
    {
        carry_token(&mut event, index, &sealed_for(order, token).await);
    }
    event
}

#[tokio::test]
async fn given_three_reservations_then_one_completes_one_fails_and_one_is_retried() {
    let (processor, _) = process_payment();
    let event = sealed_sample().await;

    let failed = failed_ids(&processor, &event).await.unwrap();
    assert_eq!(
        failed,
        [event.records[2].message_id.clone().unwrap()],
        "the gateway outage is retried"
    );

    let published = processor.parts().2.published();
    let types: Vec<&str> = published.iter().map(|e| e.metadata.event_type.as_str()).collect();
    assert_eq!(types, ["PaymentCompleted", "PaymentFailed"]);
    assert_eq!(published[0].data["amount"], 3399);
    assert_eq!(published[1].data["reason"], "card declined");
    assert_eq!(
        published[1].data["lines"][0]["sku"], "SKU-RED-MUG",
        "carries what to release"
    );
    assert!(!published[0].data.to_string().contains("tok_"), "no token goes on");
    assert!(
        processor.parts().3.parked().is_empty(),
        "a decline is an outcome, not a failure"
    );
}

#[tokio::test]
async fn given_a_token_sealed_for_another_field_then_it_is_parked_naming_the_field() {
    let mut event = sealed_sample().await;
    // Sealed as an email of the right order, presented as its token: the data key is not the token's.
    let producer = sealing_cipher(&[personal::CUSTOMER_EMAIL]);
    let email = producer
        .seal_text(personal::CUSTOMER_EMAIL, ORDERS[1], "tok_decline")
        .await
        .unwrap();
    carry_token(&mut event, 1, &Personal::Sealed(email));
    let (processor, _) = process_payment();
    failed_ids(&processor, &event).await.unwrap();
    let published = processor.parts().2.published();
    assert_eq!(published[0].metadata.event_type, "PaymentCompleted");
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].reason.contains("field `paymentToken`"),
        "{}",
        parked[0].reason
    );
}

#[tokio::test]
async fn given_a_token_moved_to_another_orders_event_then_it_is_parked_naming_the_field_never_its_value() {
    // Order o-1001's token, copied into o-1003's reservation.
    let mut event = sealed_sample().await;
    carry_token(&mut event, 1, &sealed_for(ORDERS[0], "tok_approve").await);
    let (processor, gateway) = process_payment();
    assert!(
        !failed_ids(&processor, &event)
            .await
            .unwrap()
            .contains(&event.records[1].message_id.clone().unwrap()),
        "parked, not retried: it will never open here"
    );
    assert_eq!(gateway.charges(ORDERS[0]), 1, "o-1001 is charged for itself");
    assert_eq!(gateway.charges(ORDERS[1]), 0, "and not for o-1003");
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].message_id, event.records[1].message_id);
    assert_eq!(parked[0].kind, "sealed-field");
    assert!(
        parked[0]
            .reason
            .contains("field `paymentToken`: sealed for another subject"),
        "{}",
        parked[0].reason
    );
    assert!(!parked[0].reason.contains("tok_"), "{}", parked[0].reason);
}

#[tokio::test]
async fn given_a_handled_reservation_when_it_comes_again_with_another_orders_token_then_it_is_no_duplicate() {
    let (processor, gateway) = process_payment();
    let genuine = sealed_sample().await;
    failed_ids(&processor, &genuine).await.unwrap();
    assert_eq!(gateway.charges(ORDERS[0]), 1);

    // The same event (id and all) with o-1001's token swapped for o-1003's: not the payload
    // the id was first handled with, so it is parked as such, never answered as a duplicate.
    let mut swapped = genuine.clone();
    carry_token(&mut swapped, 0, &sealed_for(ORDERS[1], "tok_decline").await);
    failed_ids(&processor, &swapped).await.unwrap();
    let parked = processor.parts().3.parked();
    let kinds: Vec<&str> = parked.iter().map(|p| p.kind.as_str()).collect();
    assert_eq!(kinds, ["payload-mismatch"], "{parked:?}");
    assert_eq!(parked[0].message_id, swapped.records[0].message_id);

    // While the very same event again, token sealed anew for its own order (a producer that
    // retried), is the duplicate it is: nothing more charged, nothing parked.
    let mut resealed = genuine;
    carry_token(&mut resealed, 0, &sealed_for(ORDERS[0], "tok_approve").await);
    failed_ids(&processor, &resealed).await.unwrap();
    assert_eq!(gateway.charges(ORDERS[0]), 1);
    assert_eq!(processor.parts().3.parked().len(), 1);
}

#[tokio::test]
async fn given_a_clear_token_in_the_current_version_then_it_is_refused_naming_the_field_never_its_value() {
    let mut event = sealed_sample().await;
    carry_token(&mut event, 0, &Personal::Clear("tok_approve".into()));
    let (processor, gateway) = process_payment();
    failed_ids(&processor, &event).await.unwrap();
    assert_eq!(gateway.charges(ORDERS[0]), 0, "never charged");
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].message_id, event.records[0].message_id);
    assert!(
        parked[0].reason.contains("field `paymentToken`: in clear"),
        "{}",
        parked[0].reason
    );
    assert!(!parked[0].reason.contains("tok_approve"), "{}", parked[0].reason);
}

#[tokio::test]
async fn given_an_old_version_upcast_with_its_clear_token_then_it_is_read_but_never_charged() {
    // Version 1 carried tokens in clear; upcast, they still are. The version is the sender's
    // word, so a clear token is parked whatever version it came in, the outage's included.
    let event = sample();
    let (processor, gateway) = process_payment();
    assert!(
        failed_ids(&processor, &event).await.unwrap().is_empty(),
        "parked, not retried"
    );
    assert!(processor.parts().2.published().is_empty());
    for order in ORDERS {
        assert_eq!(gateway.charges(order), 0);
    }
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 3);
    for parked in parked {
        assert!(
            parked.reason.contains("field `paymentToken`: in clear"),
            "{}",
            parked.reason
        );
        assert!(!parked.reason.contains("tok_"), "{}", parked.reason);
    }
}

/// A key service that refuses every call with `error`, as KMS would.
struct Refusing(KeyError);

impl KeyService for Refusing {
    async fn generate_data_key(&self, _field: &str) -> Result<DataKey, KeyError> {
        Err(self.0.clone())
    }

    async fn decrypt_data_key(&self, _field: &str, _encrypted: &[u8]) -> Result<PlainKey, KeyError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn given_a_key_refusal_that_may_pass_then_the_record_is_retried_and_one_that_never_will_is_parked() {
    let event = sealed_sample().await;
    let outcome = |error: KeyError| {
        let event = event.clone();
        async move {
            let gateway = Arc::new(SimulatedGateway::default());
            let handler = ProcessPayment::new(Arc::clone(&gateway), FieldCipher::new(Refusing(error)), stopped_clock());
            let processor = in_memory("process-payment", handler);
            let retried = failed_ids(&processor, &event).await.unwrap().len();
            let parked = processor.parts().3.parked().len();
            (retried, parked)
        }
    };
    // A grant IAM has not propagated yet, a key disabled for a while, KMS throttling: retried.
    for passing in [
        KeyError::Denied("AccessDeniedException".into()),
        KeyError::Denied("DisabledException".into()),
        KeyError::Unavailable("ThrottlingException".into()),
    ] {
        assert_eq!(outcome(passing.clone()).await, (3, 0), "{passing}");
    }
    // A data key that can never open under this key and context: parked.
    assert_eq!(
        outcome(KeyError::Invalid("InvalidCiphertextException".into())).await,
        (0, 3)
    );
}

#[tokio::test]
async fn the_simulated_gateway_answers_by_test_token() {
    let gateway = SimulatedGateway::default();
    let charge = |token: Option<&str>| Charge {
        order_id: "o-1".into(),
        amount: 100,
        currency: "EUR".into(),
        token: token.map(str::to_owned),
        idempotency_key: "0b8f5d3c-1f3a-4c55-9d8e-2a7b6c5d4e3f".into(),
    };
    assert!(matches!(
        gateway.charge(&charge(Some("tok_approve"))).await,
        Ok(orders::decisions::PaymentOutcome::Approved { .. })
    ));
    assert!(gateway.charge(&charge(Some("tok_unavailable"))).await.is_err());
    assert!(
        gateway.charge(&charge(Some("tok_flaky"))).await.is_err(),
        "first attempt fails"
    );
    assert!(
        gateway.charge(&charge(Some("tok_flaky"))).await.is_ok(),
        "the retry is approved"
    );
    let declined = gateway.charge(&charge(None)).await.unwrap();
    assert_eq!(
        declined,
        orders::decisions::PaymentOutcome::Declined {
            reason: "no payment method".into()
        }
    );
}

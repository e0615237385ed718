//! process-payment on its sample events: approved, declined, and a gateway that is down.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use field_crypto::Personal;
use handler_kit::testing::{
    edit_envelope, failed_ids, function_sample, in_memory, local_cipher, sealing_cipher, stopped_clock,
};
use orders::events::personal;
use process_payment::{Charge, FIELD_KEY, PaymentGateway, ProcessPayment, SimulatedGateway};

#[tokio::test]
async fn given_three_reservations_then_one_completes_one_fails_and_one_is_retried() {
    let clock = stopped_clock();
    let processor = in_memory(
        "process-payment",
        ProcessPayment::new(SimulatedGateway::default(), local_cipher(&FIELD_KEY), clock),
    );
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/process-payment/inventory-reserved.sqs-eventbridge.json",
    )
    .unwrap();

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
    assert!(
        processor.parts().3.parked().is_empty(),
        "a decline is an outcome, not a failure"
    );
}

#[tokio::test]
async fn given_sealed_tokens_then_they_are_opened_for_the_gateway_alone_and_one_for_another_field_is_parked() {
    let mut event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/process-payment/inventory-reserved.sqs-eventbridge.json",
    )
    .unwrap();
    let producer = sealing_cipher(&[personal::PAYMENT_TOKEN, personal::CUSTOMER_EMAIL]);
    let approve = Personal::Sealed(
        producer
            .seal_text(personal::PAYMENT_TOKEN, "tok_approve")
            .await
            .unwrap(),
    );
    // Version 2 carries a sealed token (version 1 had it in clear).
    let sealed_token = |envelope: &mut serde_json::Value, token: &Personal| {
        envelope["metadata"]["version"] = 2.into();
        envelope["data"]["paymentToken"] = serde_json::to_value(token).unwrap();
    };
    edit_envelope(&mut event, 0, |envelope| sealed_token(envelope, &approve)).unwrap();
    // Sealed as an email, presented as a token: its data key is not the token's to open.
    let email = Personal::Sealed(
        producer
            .seal_text(personal::CUSTOMER_EMAIL, "tok_decline")
            .await
            .unwrap(),
    );
    edit_envelope(&mut event, 1, |envelope| sealed_token(envelope, &email)).unwrap();
    let processor = in_memory(
        "process-payment",
        ProcessPayment::new(SimulatedGateway::default(), local_cipher(&FIELD_KEY), stopped_clock()),
    );
    failed_ids(&processor, &event).await.unwrap();
    let published = processor.parts().2.published();
    assert_eq!(published[0].metadata.event_type, "PaymentCompleted");
    assert!(!published[0].data.to_string().contains("tok_"), "no token goes on");
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].reason.contains("field `paymentToken`"),
        "{}",
        parked[0].reason
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

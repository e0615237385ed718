//! process-payment on its sample events: approved, declined, and a gateway that is down.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use handler_kit::testing::{failed_ids, function_sample, in_memory, stopped_clock};
use process_payment::{Charge, PaymentGateway, ProcessPayment, SimulatedGateway};

#[tokio::test]
async fn given_three_reservations_then_one_completes_one_fails_and_one_is_retried() {
    let clock = stopped_clock();
    let processor = in_memory(
        "process-payment",
        ProcessPayment::new(SimulatedGateway::default(), clock),
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

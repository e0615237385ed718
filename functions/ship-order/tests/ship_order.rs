//! ship-order on its sample events, with in-memory adapters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use aws_lambda_events::event::sqs::SqsEvent;
use field_crypto::LocalKeys;
use handler_kit::testing::{
    InMemoryProcessor, edit_envelope, failed_ids, function_sample, in_memory, local_cipher, sealing_cipher,
    stopped_clock,
};
use orders::events::{ShippingAddress, personal};
use ship_order::{FIELD_KEY, ShipOrder};

fn sample(name: &str) -> SqsEvent {
    function_sample(env!("CARGO_MANIFEST_DIR"), &format!("orders/ship-order/{name}")).unwrap()
}

fn ship_order() -> InMemoryProcessor<ShipOrder<LocalKeys>> {
    in_memory("ship-order", ShipOrder::new(local_cipher(&FIELD_KEY), stopped_clock()))
}

/// The order of the paid-order sample.
const ORDER: &str = "o-1001";

/// The paid-order sample, its shipping address `sealed`, handled by a fresh ship-order.
async fn shipped_to(sealed: &field_crypto::Sealed) -> InMemoryProcessor<ShipOrder<LocalKeys>> {
    let mut event = sample("payment-completed.sqs-eventbridge.json");
    edit_envelope(&mut event, 0, |envelope| {
        envelope["data"]["shippingAddress"] = serde_json::to_value(sealed).unwrap();
    })
    .unwrap();
    let processor = ship_order();
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    processor
}

fn amsterdam() -> ShippingAddress {
    ShippingAddress {
        line1: "Keizersgracht 123".into(),
        line2: None,
        city: "Amsterdam".into(),
        postal_code: "1015 CJ".into(),
        country: "NL".into(),
    }
}

#[tokio::test]
async fn given_a_sealed_address_then_the_carrier_is_chosen_by_its_country_and_none_of_it_is_published() {
    let producer = sealing_cipher(&[personal::SHIPPING_ADDRESS]);
    let sealed = producer
        .seal_json(personal::SHIPPING_ADDRESS, ORDER, &amsterdam())
        .await
        .unwrap();
    let processor = shipped_to(&sealed).await;
    let shipped = &processor.parts().2.published()[0];
    assert_eq!(shipped.data["carrier"], "PostNL", "domestic");
    let text = shipped.data.to_string();
    assert!(!text.contains("Keizersgracht") && !text.contains("Amsterdam"), "{text}");

    // Altered on the way: parked, naming the field.
    let mut altered = sealed;
    altered.ciphertext.replace_range(16..20, "AAAA");
    let processor = shipped_to(&altered).await;
    let parked = processor.parts().3.parked();
    assert!(
        parked[0]
            .reason
            .contains("field `shippingAddress`: the sealed value does not open"),
        "{}",
        parked[0].reason
    );
}

#[tokio::test]
async fn given_an_address_moved_from_another_orders_event_then_it_is_parked_naming_the_field_never_its_value() {
    let producer = sealing_cipher(&[personal::SHIPPING_ADDRESS]);
    let elsewhere = producer
        .seal_json(personal::SHIPPING_ADDRESS, "o-1002", &amsterdam())
        .await
        .unwrap();
    let processor = shipped_to(&elsewhere).await;
    assert!(processor.parts().2.published().is_empty(), "not shipped");
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0]
            .reason
            .contains("field `shippingAddress`: sealed for another subject"),
        "{}",
        parked[0].reason
    );
    assert!(
        !parked[0].reason.contains("Keizersgracht") && !parked[0].reason.contains("Amsterdam"),
        "{}",
        parked[0].reason
    );
}

#[tokio::test]
async fn given_an_event_whose_subject_is_another_order_than_its_data_then_its_address_is_not_opened() {
    // The address is o-1001's, the event says it is about o-1001, but is filed as o-1002's.
    let producer = sealing_cipher(&[personal::SHIPPING_ADDRESS]);
    let sealed = producer
        .seal_json(personal::SHIPPING_ADDRESS, ORDER, &amsterdam())
        .await
        .unwrap();
    let mut event = sample("payment-completed.sqs-eventbridge.json");
    edit_envelope(&mut event, 0, |envelope| {
        envelope["data"]["shippingAddress"] = serde_json::to_value(&sealed).unwrap();
        envelope["metadata"]["subject"] = "o-1002".into();
    })
    .unwrap();
    let processor = ship_order();
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    assert!(processor.parts().2.published().is_empty());
    let parked = processor.parts().3.parked();
    assert_eq!(parked[0].kind, "invalid-field");
    assert!(parked[0].reason.contains("metadata.subject"), "{}", parked[0].reason);
}

#[tokio::test]
async fn given_a_paid_order_then_it_ships_once_with_a_stable_tracking_number() {
    let processor = ship_order();
    let event = sample("payment-completed.sqs-eventbridge.json");
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());

    let published = processor.parts().2.published();
    assert_eq!(
        published.len(),
        1,
        "the duplicate's event went out the first time: not sent again"
    );
    // Run again from scratch (an idempotency record lapsed): the very same event, id included.
    let again = ship_order();
    assert!(failed_ids(&again, &event).await.unwrap().is_empty());
    assert_eq!(again.parts().2.published(), published);
    let shipped = &published[0];
    assert_eq!(
        (shipped.metadata.event_type.as_str(), shipped.metadata.sequence),
        ("OrderShipped", Some(4))
    );
    assert_eq!(shipped.data["orderId"], "o-1001");
    let tracking = shipped.data["trackingNumber"].as_str().unwrap();
    assert!(
        tracking.starts_with(&shipped.data["carrier"].as_str().unwrap().to_uppercase()),
        "{tracking}"
    );
}

#[tokio::test]
async fn given_a_payment_without_its_id_then_it_is_parked_naming_the_field() {
    let processor = ship_order();
    let event = sample("payment-completed-missing-payment-id.sqs-eventbridge.json");
    assert!(
        failed_ids(&processor, &event).await.unwrap().is_empty(),
        "parked, not retried"
    );
    let parked = processor.parts().3.parked();
    assert_eq!(parked[0].kind, "missing-field");
    assert!(parked[0].reason.contains("data.paymentId"), "{}", parked[0].reason);
}

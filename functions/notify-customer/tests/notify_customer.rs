//! notify-customer on its sample: shipped, payment failed, rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use handler_kit::testing::{
    edit_envelope, failed_ids, function_sample, in_memory, local_cipher, sealing_cipher, stopped_clock,
};
use notify_customer::{FIELD_KEY, NotifyCustomer, attributes};
use orders::events::{Contact, personal};

#[tokio::test]
async fn each_customer_is_told_once_with_filterable_attributes() {
    let clock = stopped_clock();
    let processor = in_memory("notify-customer", NotifyCustomer::new(local_cipher(&FIELD_KEY), clock));
    let event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/notify-customer/customer-events.sqs-eventbridge.json",
    )
    .unwrap();
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());

    let sent = processor.parts().2.published();
    let templates: Vec<&str> = sent.iter().map(|n| n.data["template"].as_str().unwrap()).collect();
    assert_eq!(templates, ["order-shipped", "payment-failed", "order-rejected"]);
    assert!(sent[0].data["subject"].as_str().unwrap().contains("DHL-1A2B3C4D5E6F"));
    assert_eq!(
        attributes(&sent[2]),
        [
            ("customerId".to_owned(), "c-7".to_owned()),
            ("template".to_owned(), "order-rejected".to_owned())
        ]
    );
}

#[tokio::test]
async fn given_replayed_events_then_no_customer_is_told_again_whether_or_not_they_were_handled_before() {
    let replayed = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/notify-customer/replayed.sqs-eventbridge.json",
    )
    .unwrap();
    // Never handled here (a replay into a fresh deployment): handled, nothing sent.
    let fresh = in_memory(
        "notify-customer",
        NotifyCustomer::new(local_cipher(&FIELD_KEY), stopped_clock()),
    );
    assert!(failed_ids(&fresh, &replayed).await.unwrap().is_empty());
    assert!(fresh.parts().2.published().is_empty(), "a replay tells no one");
    assert!(fresh.parts().3.parked().is_empty());

    // Handled before: the replay is a duplicate of what was told; nothing more is sent.
    let told = in_memory(
        "notify-customer",
        NotifyCustomer::new(local_cipher(&FIELD_KEY), stopped_clock()),
    );
    let original = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/notify-customer/customer-events.sqs-eventbridge.json",
    )
    .unwrap();
    assert!(failed_ids(&told, &original).await.unwrap().is_empty());
    assert!(failed_ids(&told, &replayed).await.unwrap().is_empty());
    assert_eq!(told.parts().2.published().len(), 3, "told once each, at the time");
}

#[tokio::test]
async fn given_a_sealed_contact_then_the_notification_is_addressed_and_a_field_it_may_not_open_is_parked() {
    let mut event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/notify-customer/customer-events.sqs-eventbridge.json",
    )
    .unwrap();
    let producer = sealing_cipher(&[
        personal::CUSTOMER_NAME,
        personal::CUSTOMER_EMAIL,
        personal::PAYMENT_TOKEN,
    ]);
    // The sample's records are about o-1001 (shipped), o-1003 (payment failed), o-1002 (rejected).
    let contact_of = |order: &'static str| {
        let producer = &producer;
        async move {
            Contact {
                name: producer
                    .seal_text(personal::CUSTOMER_NAME, order, "Ada Lovelace")
                    .await
                    .unwrap(),
                email: producer
                    .seal_text(personal::CUSTOMER_EMAIL, order, "ada@example.com")
                    .await
                    .unwrap(),
            }
        }
    };
    let contact = contact_of("o-1001").await;
    edit_envelope(&mut event, 0, |envelope| {
        envelope["data"]["contact"] = serde_json::to_value(&contact).unwrap();
    })
    .unwrap();
    // A value sealed for another field, put where the email goes: its key will not open here.
    let token = producer
        .seal_text(personal::PAYMENT_TOKEN, "o-1003", "tok_approve")
        .await
        .unwrap();
    let swapped = Contact {
        email: token,
        ..contact_of("o-1003").await
    };
    edit_envelope(&mut event, 1, |envelope| {
        envelope["data"]["contact"] = serde_json::to_value(&swapped).unwrap();
    })
    .unwrap();

    let processor = in_memory(
        "notify-customer",
        NotifyCustomer::new(local_cipher(&FIELD_KEY), stopped_clock()),
    );
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    let sent = processor.parts().2.published();
    assert_eq!(sent.len(), 2, "the shipped and the rejected order");
    assert_eq!(
        sent[0].data["recipient"],
        serde_json::json!({ "name": "Ada Lovelace", "email": "ada@example.com" })
    );
    assert!(
        sent[1].data.get("recipient").is_none(),
        "no contact, no recipient: the channel looks the id up"
    );
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    let reason = &parked[0].reason;
    assert!(reason.contains("field `customerEmail`"), "{reason}");
    assert!(!reason.contains("tok_approve"), "{reason}");
}

#[tokio::test]
async fn given_a_contact_moved_from_another_orders_event_then_no_one_is_told_and_it_is_parked_naming_the_field() {
    let mut event = function_sample(
        env!("CARGO_MANIFEST_DIR"),
        "orders/notify-customer/customer-events.sqs-eventbridge.json",
    )
    .unwrap();
    let producer = sealing_cipher(&[personal::CUSTOMER_NAME, personal::CUSTOMER_EMAIL]);
    // o-1001's contact, put in o-1003's payment failure: its customer would be told of another's order.
    let contact = Contact {
        name: producer
            .seal_text(personal::CUSTOMER_NAME, "o-1001", "Ada Lovelace")
            .await
            .unwrap(),
        email: producer
            .seal_text(personal::CUSTOMER_EMAIL, "o-1001", "ada@example.com")
            .await
            .unwrap(),
    };
    edit_envelope(&mut event, 1, |envelope| {
        envelope["data"]["contact"] = serde_json::to_value(&contact).unwrap();
    })
    .unwrap();
    let processor = in_memory(
        "notify-customer",
        NotifyCustomer::new(local_cipher(&FIELD_KEY), stopped_clock()),
    );
    assert!(failed_ids(&processor, &event).await.unwrap().is_empty());
    let sent = processor.parts().2.published();
    let templates: Vec<&str> = sent.iter().map(|n| n.data["template"].as_str().unwrap()).collect();
    assert_eq!(
        templates,
        ["order-shipped", "order-rejected"],
        "the failure is told to no one"
    );
    let parked = processor.parts().3.parked();
    assert_eq!(parked.len(), 1);
    let reason = &parked[0].reason;
    assert!(
        reason.contains("field `customerName`: sealed for another subject"),
        "{reason}"
    );
    assert!(!reason.contains("Ada") && !reason.contains("ada@"), "{reason}");
}

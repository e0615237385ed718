//! The orders domain, given / when / then: given the events so far, when the next one
//! arrives (or a step decides), then the view or the decided event.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use chrono::{DateTime, TimeZone, Utc};
use envelope::{Envelope, Location, Metadata};
use field_crypto::{Personal, Sealed};
use orders::decisions::{self, PaymentOutcome, StockOutcome};
use orders::events::{
    Contact, Customer, InventoryReserved, OrderLine, OrderPlaced, OrderShipped, PaymentCompleted, PaymentFailed,
    Recipient, StockLine,
};
use orders::lifecycle::{Applied, LifecycleError, OrderEvent, OrderStatus, OrderView};
use serde_json::Value;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, minute, 0).unwrap()
}

/// A stand-in for a sealed value: the domain carries sealed fields without opening them.
fn sealed(what: &str) -> Sealed {
    Sealed {
        data_key: format!("key-of-{what}"),
        ciphertext: format!("sealed-{what}"),
        subject_id: Some("o-1".into()),
    }
}

fn contact() -> Contact {
    Contact {
        name: sealed("name"),
        email: sealed("email"),
    }
}

fn placed() -> Envelope<OrderPlaced> {
    let order = OrderPlaced {
        order_id: "o-1".into(),
        customer: Customer {
            id: "c-42".into(),
            contact: Some(contact()),
        },
        currency: "EUR".into(),
        lines: vec![
            OrderLine {
                sku: "SKU-RED-MUG".into(),
                quantity: 2,
                unit_price: 1250,
            },
            OrderLine {
                sku: "SKU-TEA".into(),
                quantity: 1,
                unit_price: 899,
            },
        ],
        total: 3399,
        shipping_address: Some(sealed("address")),
        payment_token: Some(Personal::Sealed(sealed("token"))),
    };
    Envelope::new("o-1", at(0), order).with_sequence(1)
}

fn typed<E: envelope::EventType>(event: &Envelope<Value>) -> Envelope<E> {
    event.clone().into_typed(&Location::root()).unwrap()
}

/// The happy path's events, as each step decides them.
fn happy_path() -> Vec<Envelope<Value>> {
    let placed = placed();
    let reserved = decisions::inventory_decided(&placed, StockOutcome::Reserved, at(1)).unwrap();
    let approved = PaymentOutcome::Approved {
        payment_id: "pay-1".into(),
    };
    let paid = decisions::payment_decided(&typed::<InventoryReserved>(&reserved), approved, at(2)).unwrap();
    let shipped = decisions::shipment(&typed::<PaymentCompleted>(&paid), Some("DE"), at(3)).unwrap();
    vec![placed.to_untyped().unwrap(), reserved, paid, shipped]
}

fn given(events: &[Envelope<Value>]) -> Option<OrderView> {
    events
        .iter()
        .fold(None, |view, event| match when(view.as_ref(), event) {
            Ok(Applied::Updated(next)) => Some(next),
            Ok(Applied::Stale { .. }) => view,
            Err(err) => panic!("given: {err}"),
        })
}

fn when(view: Option<&OrderView>, event: &Envelope<Value>) -> Result<Applied, LifecycleError> {
    let (metadata, event) = OrderEvent::from_envelope(event.clone()).unwrap();
    OrderView::apply(view, &metadata, &event)
}

#[test]
fn given_the_happy_path_then_the_order_is_shipped_with_its_whole_timeline() {
    let view = given(&happy_path()).unwrap();
    assert_eq!(view.status, OrderStatus::Shipped);
    assert_eq!(view.sequence, 4);
    assert_eq!((view.total, view.lines.len()), (Some(3399), 2));
    let timeline: Vec<&str> = view.timeline.iter().map(|t| t.event.as_str()).collect();
    assert_eq!(
        timeline,
        ["OrderPlaced", "InventoryReserved", "PaymentCompleted", "OrderShipped"]
    );
    assert!(view.tracking.unwrap().contains('-'));
}

#[test]
fn given_an_applied_event_when_it_is_delivered_again_then_it_is_stale() {
    let events = happy_path();
    let view = given(&events[..2]).unwrap();
    assert_eq!(
        when(Some(&view), &events[1]).unwrap(),
        Applied::Stale {
            current: 2,
            received: 2
        }
    );
}

#[test]
fn given_events_out_of_order_then_the_newest_decides_the_status_and_late_ones_fill_in_their_step() {
    let events = happy_path();
    let view = given(&[events[1].clone(), events[3].clone()]).unwrap();
    assert_eq!((view.status, view.total), (OrderStatus::Shipped, None));
    let Applied::Updated(view) = when(Some(&view), &events[2]).unwrap() else {
        panic!("a late step is recorded")
    };
    let Applied::Updated(view) = when(Some(&view), &events[0]).unwrap() else {
        panic!("a late step is recorded")
    };
    assert_eq!(
        (view.status, view.sequence, view.total),
        (OrderStatus::Shipped, 4, Some(3399))
    );
    let steps: Vec<u64> = view.timeline.iter().map(|t| t.sequence).collect();
    assert_eq!(steps, [1, 2, 3, 4]);
    assert!(
        matches!(when(Some(&view), &events[2]).unwrap(), Applied::Stale { .. }),
        "and only once"
    );
}

#[test]
fn given_nothing_when_a_later_event_arrives_first_then_the_view_starts_from_it() {
    let events = happy_path();
    let view = given(&events[1..2]).unwrap();
    assert_eq!(
        (view.status, view.customer_id.as_str(), view.total),
        (OrderStatus::Reserved, "c-42", None)
    );
}

#[test]
fn given_a_rejected_order_when_a_payment_event_arrives_then_the_transition_is_refused() {
    let placed = placed();
    let rejected = decisions::inventory_decided(
        &placed,
        StockOutcome::OutOfStock {
            skus: vec!["SKU-TEA".into()],
        },
        at(1),
    )
    .unwrap();
    let view = given(&[placed.to_untyped().unwrap(), rejected]).unwrap();
    assert_eq!(view.status, OrderStatus::Rejected);
    assert_eq!(view.reason.as_deref(), Some("out-of-stock: SKU-TEA"));
    let paid = &happy_path()[2];
    assert!(matches!(
        when(Some(&view), paid),
        Err(LifecycleError::InvalidTransition {
            from: OrderStatus::Rejected,
            ..
        })
    ));
}

#[test]
fn an_event_without_a_sequence_cannot_be_placed_in_the_history() {
    let mut event = happy_path().remove(1);
    event.metadata.sequence = None;
    assert!(matches!(
        when(None, &event),
        Err(LifecycleError::MissingSequence { .. })
    ));
}

#[test]
fn when_a_step_decides_then_the_event_is_caused_by_its_input_with_the_next_sequence() {
    let placed = placed();
    let first = decisions::inventory_decided(&placed, StockOutcome::Reserved, at(1)).unwrap();
    let again = decisions::inventory_decided(&placed, StockOutcome::Reserved, at(5)).unwrap();
    assert_eq!(first.metadata.id, again.metadata.id, "a re-run decides the same event");
    let m: &Metadata = &first.metadata;
    assert_eq!(
        (m.event_type.as_str(), m.sequence, m.causation_id),
        ("InventoryReserved", Some(2), Some(placed.metadata.id))
    );
    assert_eq!(m.correlation_id, placed.metadata.correlation_id);
    let reserved = typed::<InventoryReserved>(&first).data;
    assert_eq!(
        reserved.lines,
        [
            StockLine {
                sku: "SKU-RED-MUG".into(),
                quantity: 2
            },
            StockLine {
                sku: "SKU-TEA".into(),
                quantity: 1
            }
        ]
    );
    assert_eq!(reserved.payment_token, Some(Personal::Sealed(sealed("token"))));
}

#[test]
fn sealed_contact_address_and_token_are_carried_as_they_are_to_the_steps_that_open_them() {
    let events = happy_path();
    let reserved = typed::<InventoryReserved>(&events[1]);
    assert_eq!(
        (reserved.data.contact, reserved.data.shipping_address),
        (Some(contact()), Some(sealed("address")))
    );
    let paid = typed::<PaymentCompleted>(&events[2]);
    assert_eq!(
        (paid.data.contact, paid.data.shipping_address),
        (Some(contact()), Some(sealed("address")))
    );
    assert_eq!(typed::<OrderShipped>(&events[3]).data.contact, Some(contact()));
    let rejected = decisions::inventory_decided(
        &placed(),
        StockOutcome::OutOfStock {
            skus: vec!["SKU-TEA".into()],
        },
        at(1),
    )
    .unwrap();
    assert_eq!(rejected.data["contact"], serde_json::to_value(contact()).unwrap());
}

#[test]
fn the_carrier_is_the_domestic_one_at_home_and_derived_from_the_order_elsewhere() {
    let paid = typed::<PaymentCompleted>(&happy_path()[2]);
    let home = decisions::shipment(&paid, Some("NL"), at(9)).unwrap();
    assert_eq!(home.data["carrier"], decisions::DOMESTIC_CARRIER);
    let abroad = decisions::shipment(&paid, Some("DE"), at(9)).unwrap();
    assert!(["DHL", "UPS"].contains(&abroad.data["carrier"].as_str().unwrap()));
    let before_addresses = decisions::shipment(&paid, None, at(9)).unwrap();
    assert!(decisions::CARRIERS.contains(&before_addresses.data["carrier"].as_str().unwrap()));
}

#[test]
fn given_a_declined_payment_then_the_failure_carries_exactly_the_reserved_lines_and_release_returns_them() {
    let reserved = decisions::inventory_decided(&placed(), StockOutcome::Reserved, at(1)).unwrap();
    let reserved = typed::<InventoryReserved>(&reserved);
    let failed = decisions::payment_decided(
        &reserved,
        PaymentOutcome::Declined {
            reason: "card declined".into(),
        },
        at(2),
    )
    .unwrap();
    let failed = typed::<PaymentFailed>(&failed);
    assert_eq!(failed.data.lines, reserved.data.lines);
    let released = decisions::inventory_released(&failed, at(3)).unwrap();
    assert_eq!(
        released.data["lines"],
        serde_json::to_value(&reserved.data.lines).unwrap()
    );
    assert_eq!(released.metadata.sequence, Some(4));
}

#[test]
fn shipping_is_deterministic_per_order() {
    let events = happy_path();
    let paid = typed::<PaymentCompleted>(&events[2]);
    let again = decisions::shipment(&paid, Some("DE"), at(9)).unwrap();
    assert_eq!(again.data, events[3].data);
    assert!(decisions::CARRIERS.contains(&again.data["carrier"].as_str().unwrap()));
}

#[test]
fn customers_are_told_of_shipment_payment_failure_and_rejection_only() {
    let events = happy_path();
    let notify = |event: &Envelope<Value>| {
        let (metadata, typed) = OrderEvent::from_envelope(event.clone()).unwrap();
        let recipient = Recipient {
            name: "Ada".into(),
            email: "ada@example.com".into(),
        };
        decisions::notification(&metadata, &typed, Some(recipient), at(9)).map(Result::unwrap)
    };
    assert!(notify(&events[0]).is_none() && notify(&events[1]).is_none() && notify(&events[2]).is_none());
    let shipped = notify(&events[3]).unwrap();
    assert_eq!(shipped.metadata.event_type, "CustomerNotified");
    assert_eq!(shipped.data["template"], "order-shipped");
    assert_eq!(shipped.data["recipient"]["email"], "ada@example.com");
    assert_eq!(shipped.metadata.sequence, None, "not part of the order's history");
}

/// What a newer producer might add: a field at the top of the data and one in every line.
fn with_additions(event: &Envelope<Value>) -> Envelope<Value> {
    let mut event = event.clone();
    event.data["giftWrap"] = serde_json::json!({ "paper": "red", "card": true });
    for line in event.data["lines"].as_array_mut().into_iter().flatten() {
        line["discountCode"] = "WINTER".into();
    }
    event
}

#[test]
fn given_events_with_fields_a_newer_producer_added_when_they_arrive_then_they_are_handled_as_without_them() {
    // GIVEN the happy path, and the same events with a field added at the top and in each line
    let plain = happy_path();
    let extended: Vec<Envelope<Value>> = plain.iter().map(with_additions).collect();
    assert!(
        extended[0].data["lines"][0]["discountCode"] == "WINTER"
            && extended[1].data["lines"][1]["discountCode"] == "WINTER",
        "OrderPlaced and InventoryReserved carry lines"
    );
    // WHEN the projection reads them, THEN the view is the same
    assert_eq!(given(&extended), given(&plain));
    // WHEN reserve-inventory reads the placed order, THEN it decides the same event
    let placed: Envelope<OrderPlaced> = typed(&extended[0]);
    assert_eq!(placed.data, self::placed().data);
    assert_eq!(
        decisions::inventory_decided(&placed, StockOutcome::Reserved, at(1)).unwrap(),
        plain[1]
    );
    // WHEN process-payment reads the reservation, THEN it decides the same event
    let approved = PaymentOutcome::Approved {
        payment_id: "pay-1".into(),
    };
    assert_eq!(
        decisions::payment_decided(&typed::<InventoryReserved>(&extended[1]), approved, at(2)).unwrap(),
        plain[2]
    );
}

#[test]
fn given_an_order_stream_when_folded_then_it_is_the_view_the_projection_builds_and_an_earlier_prefix_is_the_past() {
    let events = happy_path();
    let folded = OrderView::fold(events.clone()).unwrap().unwrap();
    assert_eq!(Some(folded.clone()), given(&events), "the projection's own rule");
    assert_eq!(folded.status, OrderStatus::Shipped);

    let as_of_payment = OrderView::fold(events[..3].to_vec()).unwrap().unwrap();
    assert_eq!(as_of_payment.status, OrderStatus::Paid);
    assert_eq!(as_of_payment.timeline.len(), 3);
    assert_eq!(OrderView::fold(Vec::new()).unwrap(), None, "no events: no order yet");
}

#[test]
fn given_a_stream_with_a_v1_event_and_an_invalid_step_when_folded_then_the_v1_is_upcast_and_the_invalid_step_changes_nothing()
 {
    let mut events = happy_path();
    // OrderPlaced as version 1 sent it: `items` with `qty` and `price`, no currency or total.
    let mut placed_v1 = events[0].clone();
    placed_v1.metadata.version = 1;
    placed_v1.data = serde_json::json!({
        "orderId": "o-1", "customerId": "c-42",
        "items": [{"sku": "SKU-RED-MUG", "qty": 2, "price": 1250}, {"sku": "SKU-TEA", "qty": 1, "price": 899}],
    });
    events[0] = placed_v1;
    // A reservation arriving after shipment (sequence 5) cannot follow it.
    let mut late = events[1].clone();
    late.metadata.sequence = Some(5);
    late.metadata.id = uuid::Uuid::from_u128(5);
    events.push(late);
    let view = OrderView::fold(events).unwrap().unwrap();
    assert_eq!(view.status, OrderStatus::Shipped);
    assert_eq!(view.total, Some(3399), "upcast from v1 lines");
    assert_eq!(view.timeline.len(), 4);
}

//! What each step decides, given the event it reacts to and what its port answered. Every
//! event decided here is caused by its input: a derived id (a re-run decides the same event),
//! the input's correlation id, and the next sequence of the order.

use chrono::{DateTime, Utc};
use envelope::{Envelope, EnvelopeError, EventType, Metadata};
use serde_json::Value;
use uuid::Uuid;

use crate::events::{
    CustomerNotified, InventoryReleased, InventoryReserved, OrderPlaced, OrderRejected, OrderShipped, PaymentCompleted,
    PaymentFailed, Recipient, StockLine,
};
use crate::lifecycle::OrderEvent;

/// What the stock said to a reservation of every line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockOutcome {
    /// Every line is reserved.
    Reserved,
    /// Nothing is reserved: these skus have too little stock.
    OutOfStock {
        /// The skus short of stock.
        skus: Vec<String>,
    },
}

/// What the payment gateway said to a charge. (A gateway that could not answer is not an
/// outcome: the step fails transiently and is retried.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Charged.
    Approved {
        /// The gateway's payment id.
        payment_id: String,
    },
    /// Refused for good.
    Declined {
        /// The gateway's reason.
        reason: String,
    },
}

/// The event `cause` leads to: next in the order's sequence, with a derived id.
fn next<E: EventType>(cause: &Metadata, at: DateTime<Utc>, data: E) -> Result<Envelope<Value>, EnvelopeError> {
    let sequence = cause.sequence.unwrap_or(1) + 1;
    Envelope::caused_by(cause, 0, cause.subject.clone(), at, data)
        .with_sequence(sequence)
        .to_untyped()
}

/// The stock of every line of `placed` was reserved, or the order is rejected naming the skus short of stock.
pub fn inventory_decided(
    placed: &Envelope<OrderPlaced>,
    outcome: StockOutcome,
    at: DateTime<Utc>,
) -> Result<Envelope<Value>, EnvelopeError> {
    let order = &placed.data;
    match outcome {
        StockOutcome::Reserved => next(
            &placed.metadata,
            at,
            InventoryReserved {
                order_id: order.order_id.clone(),
                customer_id: order.customer.id.clone(),
                currency: order.currency.clone(),
                total: order.total,
                lines: stock_lines(order),
                payment_token: order.payment_token.clone(),
                contact: order.customer.contact.clone(),
                shipping_address: order.shipping_address.clone(),
            },
        ),
        StockOutcome::OutOfStock { skus } => next(
            &placed.metadata,
            at,
            OrderRejected {
                order_id: order.order_id.clone(),
                customer_id: order.customer.id.clone(),
                reason: "out-of-stock".into(),
                skus,
                contact: order.customer.contact.clone(),
            },
        ),
    }
}

/// The quantities of each sku of an order, as reserved.
pub fn stock_lines(order: &OrderPlaced) -> Vec<StockLine> {
    order
        .lines
        .iter()
        .map(|l| StockLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// The charge for `reserved` completed, or failed carrying the reserved lines for release.
pub fn payment_decided(
    reserved: &Envelope<InventoryReserved>,
    outcome: PaymentOutcome,
    at: DateTime<Utc>,
) -> Result<Envelope<Value>, EnvelopeError> {
    let order = &reserved.data;
    match outcome {
        PaymentOutcome::Approved { payment_id } => next(
            &reserved.metadata,
            at,
            PaymentCompleted {
                order_id: order.order_id.clone(),
                customer_id: order.customer_id.clone(),
                amount: order.total,
                currency: order.currency.clone(),
                payment_id,
                contact: order.contact.clone(),
                shipping_address: order.shipping_address.clone(),
            },
        ),
        PaymentOutcome::Declined { reason } => next(
            &reserved.metadata,
            at,
            PaymentFailed {
                order_id: order.order_id.clone(),
                customer_id: order.customer_id.clone(),
                amount: order.total,
                currency: order.currency.clone(),
                reason,
                lines: order.lines.clone(),
                contact: order.contact.clone(),
            },
        ),
    }
}

/// The stock reserved for a failed payment is released: exactly the lines it carries.
pub fn inventory_released(
    failed: &Envelope<PaymentFailed>,
    at: DateTime<Utc>,
) -> Result<Envelope<Value>, EnvelopeError> {
    next(
        &failed.metadata,
        at,
        InventoryReleased {
            order_id: failed.data.order_id.clone(),
            customer_id: failed.data.customer_id.clone(),
            lines: failed.data.lines.clone(),
        },
    )
}

/// Carriers, in the order they are assigned.
pub const CARRIERS: [&str; 3] = ["DHL", "UPS", "PostNL"];

/// The carrier that delivers within the Netherlands, where the warehouse is.
pub const DOMESTIC_CARRIER: &str = "PostNL";
/// Where the warehouse is (ISO 3166-1 alpha-2).
pub const HOME_COUNTRY: &str = "NL";

/// A paid order ships to `country` (from its opened shipping address; `None` for an order
/// placed before addresses were taken): the domestic carrier at home, else a carrier derived
/// from the order id, and a tracking number derived from it too, so a re-run assigns the same.
pub fn shipment(
    completed: &Envelope<PaymentCompleted>,
    country: Option<&str>,
    at: DateTime<Utc>,
) -> Result<Envelope<Value>, EnvelopeError> {
    let order_id = &completed.data.order_id;
    let digest = Uuid::new_v5(&Uuid::NAMESPACE_OID, order_id.as_bytes());
    let bytes = digest.as_bytes();
    let carrier = match country {
        Some(HOME_COUNTRY) => DOMESTIC_CARRIER,
        Some(_) => CARRIERS[usize::from(bytes[0]) % 2],
        None => CARRIERS[usize::from(bytes[0]) % CARRIERS.len()],
    };
    let number: String = bytes[1..7].iter().map(|b| format!("{b:02X}")).collect();
    next(
        &completed.metadata,
        at,
        OrderShipped {
            order_id: order_id.clone(),
            customer_id: completed.data.customer_id.clone(),
            carrier: carrier.to_owned(),
            tracking_number: format!("{}-{number}", carrier.to_uppercase()),
            contact: completed.data.contact.clone(),
        },
    )
}

/// What the customer is told about an event, if anything: shipped, payment failed, rejected,
/// addressed to `recipient` (opened from the event's contact). Notifications are not part of
/// the order's history, so they carry no sequence.
pub fn notification(
    cause: &Metadata,
    event: &OrderEvent,
    recipient: Option<Recipient>,
    at: DateTime<Utc>,
) -> Option<Result<Envelope<Value>, EnvelopeError>> {
    let (template, subject) = match event {
        OrderEvent::Shipped(shipped) => (
            "order-shipped",
            format!(
                "Your order {} is on its way with {} ({})",
                shipped.order_id, shipped.carrier, shipped.tracking_number
            ),
        ),
        OrderEvent::PaymentFailed(failed) => (
            "payment-failed",
            format!(
                "We could not charge your payment for order {}: {}",
                failed.order_id, failed.reason
            ),
        ),
        OrderEvent::Rejected(rejected) => (
            "order-rejected",
            format!(
                "Order {} could not be accepted: {} is out of stock",
                rejected.order_id,
                rejected.skus.join(", ")
            ),
        ),
        _ => return None,
    };
    let notified = CustomerNotified {
        order_id: event.order_id().to_owned(),
        customer_id: event.customer_id().to_owned(),
        template: template.to_owned(),
        subject,
        recipient,
    };
    Some(Envelope::caused_by(cause, 0, cause.subject.clone(), at, notified).to_untyped())
}

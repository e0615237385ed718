//! The orders domain's events: past tense, versioned, declared once here.
//!
//! Every event carries what the next step needs (event-carried state), so no step reads
//! another's store. All come from source `shop.orders`; `metadata.sequence` is the event's
//! position in its order's history (placed = 1, then +1 per step).
//!
//! Payloads tolerate additions: a field a newer producer adds is ignored on read, never an
//! error (a consumer that refused it would park every such event for good). What a version
//! promises is its JSON Schema in `events/schemas/`, kept current and backward compatible by
//! `tests/schemas.rs` (see [`crate::schemas`]); a breaking change is a new version with an upcaster.

use envelope::{EventType, Upcaster};
use field_crypto::{Personal, Sealed};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The source of every orders event.
pub const SOURCE: &str = "shop.orders";

/// The personal fields, each sealed under its own encryption context (the name is the
/// context): a role may open only those its key grant names. Each is also sealed for its
/// order (the subject), so it opens only in that order's events.
pub mod personal {
    use envelope::{EnvelopeError, Location, Metadata};

    /// The subject an event's personal fields open for: the order it is about (`order_id`,
    /// from its data), which must be its subject too. A step opens a value for the order it
    /// acts on (charges, ships, tells), so a token copied from another order does not open;
    /// an event whose subject names another order than its data is refused, so what is opened
    /// and what is acted on can never be two orders.
    pub fn subject<'a>(metadata: &Metadata, order_id: &'a str) -> Result<&'a str, EnvelopeError> {
        if metadata.subject == order_id {
            return Ok(order_id);
        }
        Err(EnvelopeError::InvalidField {
            at: Location::root().field("metadata.subject"),
            reason: format!(
                "`{}` is not the order the event is about (`data.orderId` is `{order_id}`): its sealed fields open for neither",
                metadata.subject
            ),
        })
    }

    /// The customer's name, for notify-customer.
    pub const CUSTOMER_NAME: &str = "customerName";
    /// The customer's email, for notify-customer.
    pub const CUSTOMER_EMAIL: &str = "customerEmail";
    /// Where the order goes, for ship-order.
    pub const SHIPPING_ADDRESS: &str = "shippingAddress";
    /// The payment method's token, for process-payment.
    pub const PAYMENT_TOKEN: &str = "paymentToken";
}

/// How to reach a customer, sealed: carried to the steps that tell them something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// The customer's name, sealed for `customerName`.
    pub name: Sealed,
    /// The customer's email, sealed for `customerEmail`.
    pub email: Sealed,
}

/// Who ordered (`OrderPlaced` version 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The customer's id (not personal: an opaque key of the shop's).
    pub id: String,
    /// Name and email; absent on orders placed before version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// A shipping address, in clear: what `shippingAddress` seals as JSON, opened by ship-order alone.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShippingAddress {
    /// Street and number.
    pub line1: String,
    /// More of it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// Town or city.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// Shows the country only: the rest is personal.
impl std::fmt::Debug for ShippingAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShippingAddress")
            .field("country", &self.country)
            .finish_non_exhaustive()
    }
}

/// One line of an order, as placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// Stock keeping unit.
    pub sku: String,
    /// How many, at least 1.
    pub quantity: u32,
    /// Price of one, in minor units of the order's currency.
    pub unit_price: u64,
}

/// A quantity of one sku, as reserved or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockLine {
    /// Stock keeping unit.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// A customer placed an order (version 3: who ordered is a [`Customer`] with sealed contact
/// details, and the shipping address and payment token are sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer: Customer,
    /// ISO 4217 code.
    pub currency: String,
    /// What was ordered.
    pub lines: Vec<OrderLine>,
    /// Sum of quantity x unit price, in minor units.
    pub total: u64,
    /// Where it goes, sealed for `shippingAddress`; absent on orders placed before version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Sealed>,
    /// The payment method's token, sealed for `paymentToken` (in clear only on orders placed
    /// before version 3, and then never charged: see [`Personal`]); without one, payment is
    /// declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token: Option<Personal>,
}

impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 3;
    const SOURCE: &'static str = SOURCE;
    const UPCASTERS: &'static [Upcaster] = &[order_placed_v1_to_v2, order_placed_v2_to_v3];
}

/// Version 2 had `customerId` at the top and nothing personal but a payment token, in clear.
/// The token stays as it was (a [`Personal::Clear`]): an upcaster holds no key to seal it, and
/// dropping it would turn the order into a decline for want of a payment method. The order is
/// read, reserved and carried on as it is; process-payment refuses to charge a clear token
/// (it is bound to no order, and the version is the sender's word), so it is parked there.
fn order_placed_v2_to_v3(data: Value) -> Result<Value, String> {
    let Value::Object(mut v2) = data else {
        return Err("the data must be an object".to_owned());
    };
    let id = v2.remove("customerId").ok_or("`customerId` is missing")?;
    v2.insert("customer".to_owned(), json!({ "id": id }));
    Ok(Value::Object(v2))
}

/// Version 1 had `items: [{sku, qty, price}]`, no currency (every order was in euro) and no total.
fn order_placed_v1_to_v2(data: Value) -> Result<Value, String> {
    let items = data
        .get("items")
        .and_then(Value::as_array)
        .ok_or("`items` must be an array")?;
    let mut lines = Vec::with_capacity(items.len());
    let mut total: u64 = 0;
    for (i, item) in items.iter().enumerate() {
        let (Some(quantity), Some(price)) = (item["qty"].as_u64(), item["price"].as_u64()) else {
            return Err(format!("items[{i}] needs whole-number `qty` and `price`"));
        };
        total = quantity
            .checked_mul(price)
            .and_then(|line| total.checked_add(line))
            .ok_or(format!("items[{i}]: total overflows"))?;
        lines.push(json!({ "sku": item["sku"], "quantity": quantity, "unitPrice": price }));
    }
    let mut v2 = json!({
        "orderId": data["orderId"], "customerId": data["customerId"],
        "currency": "EUR", "lines": lines, "total": total,
    });
    if let Some(token) = data.get("paymentToken") {
        v2["paymentToken"] = token.clone();
    }
    Ok(v2)
}

/// Every line of an order is reserved (version 2: the payment token is sealed, and the
/// sealed contact and address ride along).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReserved {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Amount to charge, in minor units.
    pub total: u64,
    /// What was reserved.
    pub lines: Vec<StockLine>,
    /// The payment method's token, carried sealed to the payment step (in clear only when it
    /// came so from an order placed before version 3: never charged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token: Option<Personal>,
    /// How to reach the customer, sealed, carried on for notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// Where the order goes, sealed, carried on to shipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Sealed>,
}

/// An order could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderRejected {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// Why, e.g. `out-of-stock`.
    pub reason: String,
    /// The skus concerned.
    pub skus: Vec<String>,
    /// How to reach the customer, sealed, for the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// The customer was charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCompleted {
    /// The order.
    pub order_id: String,
    /// Who paid.
    pub customer_id: String,
    /// Charged, in minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The gateway's payment id.
    pub payment_id: String,
    /// How to reach the customer, sealed, for the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// Where the order goes, sealed, for shipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Sealed>,
}

/// The charge was declined; the reserved stock must be released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFailed {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// Attempted, in minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The gateway's reason.
    pub reason: String,
    /// What was reserved for the order, to release.
    pub lines: Vec<StockLine>,
    /// How to reach the customer, sealed, for the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// Stock reserved for a failed order is available again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryReleased {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// What was released.
    pub lines: Vec<StockLine>,
}

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
    /// Who receives it.
    pub customer_id: String,
    /// The carrier.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// How to reach the customer, sealed, for the notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
}

/// A customer was told about their order (published to the notifications topic, not the bus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerNotified {
    /// The order.
    pub order_id: String,
    /// Who is told.
    pub customer_id: String,
    /// Which message: `order-shipped`, `payment-failed`, `order-rejected`.
    pub template: String,
    /// The message's subject line.
    pub subject: String,
    /// Whom to send it to. In clear: this message is what leaves for the customer, on the
    /// notifications topic only the mail channel reads; absent for orders placed before
    /// contacts were taken (the channel looks the customer up by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
}

/// A notification's addressee, opened from the order's sealed [`Contact`] by notify-customer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The customer's name.
    pub name: String,
    /// The customer's email.
    pub email: String,
}

/// Personal: never printed.
impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recipient { .. }")
    }
}

macro_rules! version_one {
    ($($event:ident),* $(,)?) => {$(
        impl EventType for $event {
            const TYPE: &'static str = stringify!($event);
            const VERSION: u32 = 1;
            const SOURCE: &'static str = SOURCE;
        }
    )*};
}
impl EventType for InventoryReserved {
    const TYPE: &'static str = "InventoryReserved";
    const VERSION: u32 = 2;
    const SOURCE: &'static str = SOURCE;
    const UPCASTERS: &'static [Upcaster] = &[inventory_reserved_v1_to_v2];
}

/// Version 1 carried the payment token as a string, in clear. A version 2 reader takes that as
/// it is ([`Personal::Clear`]); what changed is what a version 2 producer may send (a sealed
/// object, which a version 1 reader would refuse), so the data passes unchanged. A clear token
/// is read, never charged, whatever version it comes in: see [`Personal`].
fn inventory_reserved_v1_to_v2(data: Value) -> Result<Value, String> {
    match data.get("paymentToken") {
        None | Some(Value::String(_) | Value::Null) => Ok(data),
        Some(other) => Err(format!("`paymentToken` must be a string in version 1, found {other}")),
    }
}

version_one!(
    OrderRejected,
    PaymentCompleted,
    PaymentFailed,
    InventoryReleased,
    OrderShipped,
    CustomerNotified
);

/// Declares the list of every orders event type once, for the registry and the schemas.
macro_rules! catalogue {
    ($($event:ident),* $(,)?) => {
        /// Every orders event type, for consumers that read them all (projection, tooling).
        pub fn registry() -> envelope::Registry {
            envelope::Registry::new()$(.register::<$event>())*
        }

        /// The JSON Schema of the current version of every orders event type.
        pub(crate) fn schemas() -> Vec<crate::schemas::EventSchema> {
            vec![$(crate::schemas::EventSchema::of::<$event>()),*]
        }
    };
}
catalogue!(
    OrderPlaced,
    InventoryReserved,
    OrderRejected,
    PaymentCompleted,
    PaymentFailed,
    InventoryReleased,
    OrderShipped,
    CustomerNotified
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_v1_order_when_upcast_then_lines_currency_and_total_are_filled_in() {
        let v1 = json!({ "orderId": "o-1", "customerId": "c-1", "items": [
            { "sku": "SKU-A", "qty": 2, "price": 150 }, { "sku": "SKU-B", "qty": 1, "price": 99 } ] });
        let v2 = order_placed_v1_to_v2(v1).unwrap();
        let v2: OrderPlaced = serde_json::from_value(order_placed_v2_to_v3(v2).unwrap()).unwrap();
        assert_eq!((v2.currency.as_str(), v2.total, v2.lines.len()), ("EUR", 399, 2));
        assert_eq!(
            v2.lines[0],
            OrderLine {
                sku: "SKU-A".into(),
                quantity: 2,
                unit_price: 150
            }
        );
    }

    #[test]
    fn given_a_v2_order_when_upcast_then_the_customer_id_moves_into_customer_and_the_token_stays_clear() {
        let v2 = json!({ "orderId": "o-1", "customerId": "c-1", "currency": "EUR",
            "lines": [{ "sku": "SKU-A", "quantity": 1, "unitPrice": 5 }], "total": 5, "paymentToken": "tok_approve" });
        let v3: OrderPlaced = serde_json::from_value(order_placed_v2_to_v3(v2).unwrap()).unwrap();
        assert_eq!(
            v3.customer,
            Customer {
                id: "c-1".into(),
                contact: None
            }
        );
        assert_eq!(v3.payment_token, Some(Personal::Clear("tok_approve".into())));
        assert_eq!(v3.shipping_address, None);
        assert_eq!(
            order_placed_v2_to_v3(json!({ "orderId": "o-1" })).unwrap_err(),
            "`customerId` is missing"
        );
    }

    #[test]
    fn given_an_event_whose_subject_is_another_order_than_its_data_then_its_fields_open_for_neither() {
        let about_o1 = |subject: &str| {
            let released = InventoryReleased {
                order_id: "o-1".into(),
                customer_id: "c-1".into(),
                lines: Vec::new(),
            };
            envelope::Envelope::new(subject, chrono::DateTime::UNIX_EPOCH, released).metadata
        };
        assert_eq!(personal::subject(&about_o1("o-1"), "o-1").unwrap(), "o-1");
        let error = personal::subject(&about_o1("o-2"), "o-1").unwrap_err();
        assert_eq!(error.kind(), "invalid-field");
        assert!(error.to_string().contains("metadata.subject"), "{error}");
    }

    #[test]
    fn given_a_v1_order_without_items_then_the_upcaster_says_what_is_missing() {
        assert_eq!(
            order_placed_v1_to_v2(json!({ "orderId": "o-1" })).unwrap_err(),
            "`items` must be an array"
        );
    }
}

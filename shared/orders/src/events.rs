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
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The source of every orders event.
pub const SOURCE: &str = "shop.orders";

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

/// A customer placed an order (version 2: lines with unit prices, currency and total).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// What was ordered.
    pub lines: Vec<OrderLine>,
    /// Sum of quantity x unit price, in minor units.
    pub total: u64,
    /// The payment method's token; without one, payment is declined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token: Option<String>,
}

impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 2;
    const SOURCE: &'static str = SOURCE;
    const UPCASTERS: &'static [Upcaster] = &[order_placed_v1_to_v2];
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

/// Every line of an order is reserved.
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
    /// The payment method's token, carried to the payment step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_token: Option<String>,
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
version_one!(
    InventoryReserved,
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
        let v2: OrderPlaced = serde_json::from_value(order_placed_v1_to_v2(v1).unwrap()).unwrap();
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
    fn given_a_v1_order_without_items_then_the_upcaster_says_what_is_missing() {
        assert_eq!(
            order_placed_v1_to_v2(json!({ "orderId": "o-1" })).unwrap_err(),
            "`items` must be an array"
        );
    }
}

//! The orders the demo places: what each is meant to go through ([`Kind`]), its request, and
//! the demo's mix of them as a scenario.

use std::collections::BTreeMap;

use emulator::scenario::{HttpRequest, Input, QueueMessage, Scenario, Step};
use emulator::topology::Topology;
use orders::lifecycle::OrderStatus;
use serde_json::{Value, json};

use crate::customers::{customer_name, shipping_address};
use crate::shop::{IN_STOCK, SOLD_OUT, Shop};

/// What an order is meant to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Reserved, paid, shipped.
    Happy,
    /// Paid on the second try: the gateway is unavailable once.
    FlakyGateway,
    /// The card is declined: stock released, order cancelled.
    Declined,
    /// A line is out of stock: rejected, nothing reserved.
    OutOfStock,
}

impl Kind {
    /// What an order request's body says it will go through: a line of the sold-out sku is
    /// rejected; otherwise its payment token decides.
    pub fn of_order(order: &Value) -> Self {
        let lines = order
            .get("lines")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if lines.iter().any(|line| line["sku"] == SOLD_OUT) {
            return Self::OutOfStock;
        }
        match order.get("paymentToken").and_then(Value::as_str) {
            Some("tok_flaky") => Self::FlakyGateway,
            Some("tok_approve") => Self::Happy,
            _ => Self::Declined,
        }
    }

    /// The status the order must end in.
    pub fn final_status(self) -> OrderStatus {
        match self {
            Self::Happy | Self::FlakyGateway => OrderStatus::Shipped,
            Self::Declined => OrderStatus::Cancelled,
            Self::OutOfStock => OrderStatus::Rejected,
        }
    }
}

/// An order request's body: order `number` of `kind`.
fn order_body(kind: Kind, number: usize) -> Value {
    let quantity = 1 + (number % 3) as u64;
    let (sku, price) = IN_STOCK[number % IN_STOCK.len()];
    let mut lines = vec![json!({"sku": sku, "quantity": quantity, "unitPrice": price})];
    let mut total = quantity * price;
    if kind == Kind::OutOfStock {
        lines.push(json!({"sku": SOLD_OUT, "quantity": 1, "unitPrice": 500}));
        total += 500;
    }
    let token = match kind {
        Kind::Happy | Kind::OutOfStock => "tok_approve",
        Kind::FlakyGateway => "tok_flaky",
        Kind::Declined => "tok_decline",
    };
    json!({
        "customerId": format!("c-{number}"),
        "customerName": customer_name(number),
        "customerEmail": format!("customer.{number}@example.com"),
        "shippingAddress": shipping_address(number),
        "currency": "EUR",
        "paymentToken": token,
        "lines": lines,
        "total": total,
    })
}

/// Order `number` of `kind` placed through order-api at `at`, with an Idempotency-Key (the
/// same for a client's retry of it).
pub(crate) fn order_step(at: i64, kind: Kind, number: usize, retry: bool) -> Step {
    let mut headers = BTreeMap::from([("idempotency-key".to_owned(), format!("checkout-{number}"))]);
    if !retry {
        headers.insert("x-correlation-id".to_owned(), format!("demo-{number}"));
    }
    Step {
        at,
        label: Some(format!("POST /orders #{number}{}", if retry { " (retry)" } else { "" })),
        input: Input::Http(HttpRequest {
            function: "order-api".to_owned(),
            method: "POST".to_owned(),
            path: "/orders".to_owned(),
            headers,
            body: Some(order_body(kind, number)),
        }),
    }
}

/// An order request that fails validation: answered 400 naming each field.
pub(crate) fn malformed_order_step(at: i64, number: usize) -> Step {
    Step {
        at,
        label: Some(format!("POST /orders (malformed #{number})")),
        input: Input::Http(HttpRequest {
            function: "order-api".to_owned(),
            method: "POST".to_owned(),
            path: "/orders".to_owned(),
            headers: BTreeMap::new(),
            body: Some(json!({"customerId": "", "currency": "EURO", "lines": [{"sku": "SKU-RED-MUG", "quantity": 0}]})),
        }),
    }
}

/// A message no function can read, sent to the queue of the function built from `consumer`.
pub(crate) fn malformed_message_step(topology: &Topology, consumer: &str, number: usize) -> Result<Step, String> {
    let queue = topology
        .mappings
        .iter()
        .find(|m| topology.crate_of(&m.function) == consumer)
        .map(|m| m.queue.clone())
        .ok_or_else(|| format!("no queue feeds {consumer} in the template"))?;
    Ok(Step {
        at: 0,
        label: Some(format!("malformed message #{number}")),
        input: Input::Message(QueueMessage {
            queue,
            body: Value::String(format!(r#"{{"detail-type": "OrderPlaced", "n": {number}, "detail": "#)),
            attributes: BTreeMap::new(),
            group: None,
        }),
    })
}

/// The demo's mix for `orders` orders, as a scenario: mostly happy, some declined, some out
/// of stock, one in ten retried by the client, one malformed request and one malformed
/// message (to the queue of reserve-inventory in `topology`).
pub fn demo_mix(topology: &Topology, orders: usize, seed: u64) -> Result<Scenario, String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut steps = Vec::new();
    for number in 0..orders {
        let kind = match rng.u32(0..100) {
            0..70 => Kind::Happy,
            70..75 => Kind::FlakyGateway,
            75..88 => Kind::Declined,
            _ => Kind::OutOfStock,
        };
        let at = i64::try_from(number).unwrap_or(0) * 25;
        steps.push(order_step(at, kind, number, false));
        if number % 10 == 3 {
            steps.push(order_step(at + 400, kind, number, true));
        }
    }
    steps.push(malformed_order_step(5, 0));
    steps.push(malformed_message_step(topology, "reserve-inventory", 0)?);
    Ok(Scenario { start: None, steps })
}

/// Places the demo's mix on `shop` (see [`demo_mix`]).
pub fn place_mix(shop: &mut Shop, orders: usize, seed: u64) -> Result<(), String> {
    let scenario = demo_mix(shop.cloud().topology(), orders, seed)?;
    shop.play(&scenario)
}

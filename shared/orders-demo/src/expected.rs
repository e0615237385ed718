//! What a checked run of a scenario file ended with, as the JSON `localcloud play --outcome`
//! writes: what the end-to-end harness (tests/e2e) expects a deployment's resources to hold
//! after playing the same file. Its shape is the harness's contract: orders by id with their
//! final status, stock per sku, what was parked and dead-lettered, notifications per topic and
//! each request's answer.

use serde_json::{Map, Value, json};

use crate::invariants::Outcome;
use crate::shop::Shop;

/// `outcome` of a run on `shop` as the harness reads it: `domain`, `violations`,
/// `stock_initial`, `orders`, `stock`, `parked` (sorted), `dead_letters`, `notifications`
/// and `answers`.
pub fn expected_json(shop: &Shop, outcome: &Outcome) -> Value {
    json!({
        "domain": "orders",
        "violations": outcome.violations,
        "stock_initial": shop.initial,
        "orders": orders(outcome),
        "stock": stock(outcome),
        "parked": parked(outcome),
        // Every message a dead-letter queue holds, whatever put it there: a deployment's DLQs
        // are counted the same.
        "dead_letters": outcome.dead_letters.len() + outcome.dead_by_faults.len(),
        "notifications": notifications(outcome),
        "answers": outcome.answers,
    })
}

/// Each accepted order's final status in the order views, as the table writes it (`shipped`).
fn orders(outcome: &Outcome) -> Map<String, Value> {
    outcome
        .states
        .iter()
        .map(|(order_id, status)| {
            let status = serde_json::to_value(status).unwrap_or(Value::Null);
            (order_id.clone(), status)
        })
        .collect()
}

/// Each sku's units at the end: available, and reserved for shipped orders.
fn stock(outcome: &Outcome) -> Map<String, Value> {
    outcome
        .stock
        .iter()
        .map(|(sku, (available, reserved))| (sku.clone(), json!({ "available": available, "reserved": reserved })))
        .collect()
}

/// What was parked, sorted so that a run's interleaving does not change the text.
fn parked(outcome: &Outcome) -> Vec<Value> {
    let mut parked = outcome.parked.clone();
    parked.sort();
    parked
        .into_iter()
        .map(|(kind, reason)| json!({ "kind": kind, "reason": reason }))
        .collect()
}

/// Per topic (logical id): messages published and the distinct decisions they told.
fn notifications(outcome: &Outcome) -> Map<String, Value> {
    outcome
        .notifications
        .iter()
        .map(|(topic, notified)| {
            let counts = json!({ "sent": notified.sent, "decisions": notified.decisions });
            (topic.clone(), counts)
        })
        .collect()
}

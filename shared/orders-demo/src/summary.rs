//! The readable summary of a run: what the bus carried, what each function did, the faults
//! injected, what was told, parked and dead-lettered, final states, stock, and the invariants.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use emulator::cloud::clock_text;
use orders::lifecycle::OrderStatus;

use crate::invariants::Outcome;
use crate::shop::Shop;

/// The orders with their final states, and the stock, as the run page shows them.
pub fn view(outcome: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "orders": outcome
            .states
            .iter()
            .map(|(id, state)| serde_json::json!({ "id": id, "state": format!("{state:?}") }))
            .collect::<Vec<_>>(),
        "stock": outcome
            .stock
            .iter()
            .map(|(sku, (available, reserved))| serde_json::json!({ "sku": sku, "available": available, "reserved": reserved }))
            .collect::<Vec<_>>(),
    })
}

/// A readable summary of a run.
pub fn summary(shop: &Shop, outcome: &Outcome) -> String {
    let cloud = shop.cloud();
    let stats = cloud.stats();
    let mut out = String::new();
    let _ = writeln!(out, "\n== Summary after {} of virtual time ==", clock_text(cloud.now()));
    let _ = writeln!(out, "Events on the bus (puts / distinct ids):");
    for (event_type, (puts, distinct)) in &stats.events {
        let _ = writeln!(out, "  {event_type:<20} {puts:>6} / {distinct}");
    }
    let _ = writeln!(out, "Function invocations (records):");
    for (function, invocations) in &stats.invocations {
        let records = stats.records.get(function).copied().unwrap_or(0);
        let failed = stats.failed_batches.get(function).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "  {function:<20} {invocations:>6} ({records} records, {failed} batches with retries)"
        );
    }
    let injected = cloud.injected();
    let _ = writeln!(
        out,
        "Faults injected: {} duplicate deliveries, {} crashes after publish, {} crashes between publish and record, {} table errors, {} slow publishes",
        injected.duplicates,
        injected.crashes,
        injected.crashes_before_record,
        injected.store_errors,
        injected.slow_publishes
    );
    for (topic, notified) in &outcome.notifications {
        let _ = writeln!(
            out,
            "Notifications on {topic}: {} for {} decisions ({} repeated after a crash or failed write between send and record)",
            notified.sent, notified.decisions, notified.repeated_by_crash
        );
    }
    let _ = writeln!(out, "Invocations past their deadline: {}", stats.late_invocations.len());
    let _ = writeln!(
        out,
        "Dead-letter queues: {}",
        if outcome.dead_letters.is_empty() && outcome.dead_by_faults.is_empty() {
            "empty"
        } else {
            ""
        }
    );
    for dead in &outcome.dead_letters {
        let _ = writeln!(out, "  {dead}");
    }
    for dead in &outcome.dead_by_faults {
        let _ = writeln!(out, "  {dead}: every receive failed to an injected fault");
    }
    let _ = writeln!(out, "Parked ({}):", outcome.parked.len());
    for (kind, reason) in &outcome.parked {
        let _ = writeln!(out, "  [{kind}] {reason}");
    }
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for status in outcome.states.values() {
        *states.entry(format!("{status:?}")).or_default() += 1;
    }
    let _ = writeln!(out, "Final order states ({} orders):", outcome.states.len());
    for (state, count) in states {
        let _ = writeln!(out, "  {state:<12} {count}");
    }
    let _ = writeln!(out, "Stock (available / reserved for shipped orders):");
    for (sku, (available, reserved)) in &outcome.stock {
        let _ = writeln!(out, "  {sku:<14} {available:>7} / {reserved}");
    }
    // One shipped order's trace, to follow with `--trace`: the run replays the same ids.
    let shipped = outcome.states.iter().find(|(_, s)| **s == OrderStatus::Shipped);
    if let Some((order_id, _)) = shipped
        && let Some(Some(trace_id)) = cloud
            .traces_of(order_id)
            .and_then(|t| t.get("OrderPlaced"))
            .and_then(|t| t.first())
    {
        let _ = writeln!(
            out,
            "Traces: order {order_id} is X-Ray trace {trace_id} from POST /orders to its notification (`--trace {trace_id}` shows it alone)"
        );
    }
    if outcome.violations.is_empty() {
        let _ = writeln!(
            out,
            "Invariants hold: every accepted order ended as its path says (shipped, cancelled with stock released, or rejected), stock adds up, every effect was decided once, each order one trace from its request to its notifications, every decision told once outside a crash window, nothing parked after its work completed, no invocation past its deadline, nothing lost, nothing dead-lettered but by injected faults alone."
        );
    } else {
        let _ = writeln!(out, "INVARIANTS VIOLATED ({}):", outcome.violations.len());
        for violation in &outcome.violations {
            let _ = writeln!(out, "  - {violation}");
        }
    }
    out
}

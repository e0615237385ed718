//! How a person reads an orders run in the terminal: each order end to end, one line, from its
//! placing to its last notification, once the run has ended (the platform's faults and
//! failures are told as they happen, beside it).

use std::collections::{BTreeMap, HashSet};

use emulator::cloud::clock_text;
use emulator::domain::Story;
use serde_json::Value;

/// Orders told end to end at most; `--verbose` prints every step of every one.
const TOLD_AT_MOST: usize = 40;

/// Each order's steps as they happen, told when the run ends.
#[derive(Debug, Default)]
pub struct OrderStories {
    /// Per order: its steps (time, what) in order.
    orders: BTreeMap<String, Vec<(i64, String)>>,
    /// Event ids already told: a repeated put of one event is one step.
    seen: HashSet<String>,
}

/// A step's short name: what happened to the order.
fn step_of(event_type: &str) -> &str {
    match event_type {
        "OrderPlaced" => "placed",
        "InventoryReserved" => "reserved",
        "PaymentCompleted" => "paid",
        "PaymentFailed" => "payment failed",
        "OrderShipped" => "shipped",
        "OrderRejected" => "rejected",
        "InventoryReleased" => "stock released",
        other => other,
    }
}

impl Story for OrderStories {
    fn tell(&mut self, line: &Value) -> Vec<String> {
        let kind = line["k"].as_str().unwrap_or_default();
        let Some(subject) = line["subject"].as_str().filter(|s| s.starts_with("o-")) else {
            return Vec::new();
        };
        let step = match kind {
            "event" => {
                let id = line["id"].as_str().unwrap_or_default();
                if !self.seen.insert(id.to_owned()) {
                    return Vec::new();
                }
                step_of(line["type"].as_str().unwrap_or_default()).to_owned()
            }
            "notification" => "told".to_owned(),
            _ => return Vec::new(),
        };
        let at = line["at"].as_i64().unwrap_or_default();
        self.orders.entry(subject.to_owned()).or_default().push((at, step));
        Vec::new()
    }

    fn end(&mut self) -> Vec<String> {
        let mut orders: Vec<(&String, &Vec<(i64, String)>)> = self.orders.iter().collect();
        orders.sort_by_key(|(id, steps)| (steps.first().map(|(at, _)| *at), *id));
        let mut lines = vec![format!("Orders end to end ({}):", orders.len())];
        for (id, steps) in orders.iter().take(TOLD_AT_MOST) {
            let story: Vec<String> = steps
                .iter()
                .map(|(at, step)| format!("{step} {}", clock_text(*at)))
                .collect();
            lines.push(format!("  {id}  {}", story.join(", ")));
        }
        if orders.len() > TOLD_AT_MOST {
            lines.push(format!(
                "  ... and {} more orders (`--verbose` prints every step, `--html` a page of them all)",
                orders.len() - TOLD_AT_MOST
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_an_orders_events_and_notification_when_the_run_ends_then_it_is_told_in_one_line_each_event_once() {
        let mut story = OrderStories::default();
        for line in [
            json!({"k": "event", "at": 62, "id": "a", "type": "OrderPlaced", "subject": "o-1"}),
            json!({"k": "event", "at": 70, "id": "a", "type": "OrderPlaced", "subject": "o-1"}),
            json!({"k": "event", "at": 617, "id": "b", "type": "OrderRejected", "subject": "o-1"}),
            json!({"k": "notification", "at": 1300, "subject": "o-1"}),
            json!({"k": "event", "at": 5, "id": "c", "type": "SensorReadingReceived", "subject": "s-1"}),
        ] {
            assert!(story.tell(&line).is_empty());
        }

        assert_eq!(
            story.end(),
            [
                "Orders end to end (1):",
                "  o-1  placed +00:00.062, rejected +00:00.617, told +00:01.300"
            ]
        );
    }
}

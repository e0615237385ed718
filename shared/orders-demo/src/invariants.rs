//! The invariants a finished run of the shop must keep, each a check of its own: the run
//! settled, every request answered, every order at its final state with each effect decided,
//! charged and told once, stock that adds up, queues drained with only malformed messages
//! parked, nothing lost or late. A violation names what it is about first.

use std::collections::{BTreeMap, HashMap, HashSet};

use emulator::cloud::{Exchange, clock_text};
use idempotency::InMemoryStore;
use order_stores::{InMemoryInventory, InMemoryOrderViews, Inventory, OrderViews};
use orders::lifecycle::{OrderStatus, OrderView};
use process_payment::{LOCAL_GATEWAY, SimulatedGateway};
use serde_json::Value;

use crate::shop::{Placed, Shop, VIRTUAL_DEADLINE_MS};

/// What a run ended with.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Final status of every accepted order.
    pub states: BTreeMap<String, OrderStatus>,
    /// Stock per sku at the end: (available, reserved).
    pub stock: BTreeMap<String, (u64, u64)>,
    /// Parked messages: (kind, reason).
    pub parked: Vec<(String, String)>,
    /// Dead-lettered messages: queue, message id, last failure.
    pub dead_letters: Vec<String>,
    /// Dead-lettered messages every receive of which failed to an injected fault.
    pub dead_by_faults: Vec<String>,
    /// Notifications sent, per topic.
    pub notifications: BTreeMap<String, Notified>,
    /// Each request's last answer by its label: its HTTP status, or none when the function
    /// failed instead of answering.
    pub answers: BTreeMap<String, Option<u64>>,
    /// Invariants that do not hold.
    pub violations: Vec<String>,
}

/// What one topic told people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Notified {
    /// Messages published.
    pub sent: usize,
    /// Distinct decisions (envelope ids) they carried.
    pub decisions: usize,
    /// Messages repeating a decision after a crash (or a table write that failed for good)
    /// between its send and its record: the one window in which at-least-once delivery
    /// reaches people twice.
    pub repeated_by_crash: usize,
}

/// The events each of which an order's saga decides at most once.
const DECIDED_ONCE: [&str; 7] = [
    "OrderPlaced",
    "InventoryReserved",
    "OrderRejected",
    "PaymentCompleted",
    "PaymentFailed",
    "InventoryReleased",
    "OrderShipped",
];

/// Decisions that exclude each other.
const EXCLUSIVE: [(&str, &str); 2] = [
    ("InventoryReserved", "OrderRejected"),
    ("PaymentCompleted", "PaymentFailed"),
];

impl Shop {
    /// Every invariant, in the order a reader of the violations expects: the run, its answers,
    /// each order, stock, queues, what was lost or late, what was told, what was parked.
    pub(crate) async fn check(&self) -> Outcome {
        let mut outcome = Outcome::default();
        let mut violations = Vec::new();
        self.check_settled(&mut violations);
        let accepted = self.check_answers(&mut violations);
        outcome.answers = self.answers();
        let shipped = self.check_orders(&accepted, &mut outcome, &mut violations).await;
        self.check_stock(&shipped, &mut outcome, &mut violations).await;
        self.check_queues(&mut outcome, &mut violations);
        self.check_nothing_lost_or_late(&mut violations);
        outcome.notifications = self.count_notifications(&mut violations);
        self.check_parked_work_not_done(&mut violations);
        outcome.violations = violations;
        outcome
    }

    /// Nothing is left to do at the deadline.
    fn check_settled(&self, violations: &mut Vec<String>) {
        if !self.cloud.is_idle() {
            violations.push(format!(
                "work is still pending after {} of virtual time",
                clock_text(VIRTUAL_DEADLINE_MS)
            ));
        }
    }

    /// Every order request is answered: a valid one accepted (a client's retry with the first
    /// one's order id), a malformed one 400. The accepted orders, by order id.
    fn check_answers(&self, violations: &mut Vec<String>) -> BTreeMap<String, &Placed> {
        let placed_by_label: HashMap<&str, &Placed> = self.placed.iter().map(|p| (p.label.as_str(), p)).collect();
        let mut accepted: BTreeMap<String, &Placed> = BTreeMap::new();
        let mut first_ids: BTreeMap<String, String> = BTreeMap::new();
        for exchange in self.cloud.exchanges() {
            let status = status_of(exchange);
            let body: Value = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.get("body"))
                .and_then(Value::as_str)
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            if self.malformed_requests.contains(&exchange.label) {
                if status != Some(400) {
                    violations.push(format!("{}: answered {status:?}, not 400", exchange.label));
                }
                continue;
            }
            let Some(placed) = placed_by_label.get(exchange.label.as_str()).copied() else {
                continue;
            };
            let Some(order_id) = body
                .get("orderId")
                .and_then(Value::as_str)
                .filter(|_| status == Some(202))
            else {
                violations.push(format!("{}: not accepted: {status:?} {body}", exchange.label));
                continue;
            };
            let first = exchange.label.trim_end_matches(" (retry)").to_owned();
            match first_ids.get(&first) {
                Some(id) if id != order_id => violations.push(format!(
                    "{}: a retry with the same Idempotency-Key got another order id ({order_id}, first {id})",
                    exchange.label
                )),
                Some(_) => {}
                None => {
                    first_ids.insert(first, order_id.to_owned());
                }
            }
            accepted.insert(order_id.to_owned(), placed);
        }
        let answered: HashSet<&str> = self.cloud.exchanges().iter().map(|e| e.label.as_str()).collect();
        for label in self
            .placed
            .iter()
            .map(|p| p.label.as_str())
            .chain(self.malformed_requests.iter().map(String::as_str))
        {
            if !answered.contains(label) {
                violations.push(format!("{label}: never answered"));
            }
        }
        accepted
    }

    /// Each request's last answer (a client's retries of a 5xx or 409 end in one), by label.
    fn answers(&self) -> BTreeMap<String, Option<u64>> {
        self.cloud
            .exchanges()
            .iter()
            .map(|exchange| (exchange.label.clone(), status_of(exchange)))
            .collect()
    }

    /// Each accepted order ends as its path says in its tracking view, each effect decided
    /// once, charged once if shipped, told once. Units shipped per sku.
    async fn check_orders(
        &self,
        accepted: &BTreeMap<String, &Placed>,
        outcome: &mut Outcome,
        violations: &mut Vec<String>,
    ) -> BTreeMap<String, u64> {
        let notified = self.notifications_by_subject();
        let gateway = self.cloud.tables().get::<SimulatedGateway>(LOCAL_GATEWAY);
        let mut shipped: BTreeMap<String, u64> = BTreeMap::new();
        for (order_id, placed) in accepted {
            let Some(view) = self.tracking_view(order_id).await else {
                violations.push(format!("{order_id}: no tracking view"));
                continue;
            };
            let expected = placed.kind.final_status();
            if view.status != expected {
                violations.push(format!(
                    "{order_id} ({:?}): ended {:?}, expected {expected:?}",
                    placed.kind, view.status
                ));
            }
            if view.status == OrderStatus::Shipped {
                for (sku, quantity) in &placed.lines {
                    *shipped.entry(sku.clone()).or_default() += quantity;
                }
            }
            outcome.states.insert(order_id.clone(), view.status);
            self.check_decided_once(order_id, violations);
            check_charged_once_if_shipped(gateway.as_deref(), order_id, expected, violations);
            check_told_once(&notified, order_id, violations);
            self.check_one_trace(order_id, violations);
        }
        shipped
    }

    /// The order's flow is the trace of the request that placed it: its OrderPlaced travelled
    /// in a trace, and every event and notification after it in that trace (in one of them, if
    /// a retried request put it again in another).
    fn check_one_trace(&self, order_id: &str, violations: &mut Vec<String>) {
        let Some(traces) = self.cloud.traces_of(order_id) else {
            violations.push(format!("{order_id}: no event on the bus"));
            return;
        };
        let began = traces.get("OrderPlaced").cloned().unwrap_or_default();
        if began.is_empty() || began.contains(&None) {
            violations.push(format!("{order_id}: OrderPlaced travelled in no trace"));
            return;
        }
        for (kind, seen) in traces {
            if !seen.is_subset(&began) {
                violations.push(format!(
                    "{order_id}: {kind} travelled in {seen:?}, not in the trace its order began in ({began:?})"
                ));
            }
        }
    }

    /// The order's view in the last order views table that has it.
    async fn tracking_view(&self, order_id: &str) -> Option<OrderView> {
        let mut view = None;
        for (_, table) in &self.cloud.tables().all::<InMemoryOrderViews>() {
            if let Ok(Some(found)) = table.get(order_id).await {
                view = Some(found);
            }
        }
        view
    }

    /// Each of the saga's decisions is made at most once for an order, and never with the one
    /// it excludes.
    fn check_decided_once(&self, order_id: &str, violations: &mut Vec<String>) {
        for event_type in DECIDED_ONCE {
            let ids = self.cloud.event_ids(order_id, event_type);
            if ids.len() > 1 {
                violations.push(format!("{order_id}: {event_type} decided {} times", ids.len()));
            }
        }
        for (one, other) in EXCLUSIVE {
            if !self.cloud.event_ids(order_id, one).is_empty() && !self.cloud.event_ids(order_id, other).is_empty() {
                violations.push(format!("{order_id}: both {one} and {other}"));
            }
        }
    }

    /// Inventory: what was not shipped is back on the shelf, what was is reserved.
    async fn check_stock(&self, shipped: &BTreeMap<String, u64>, outcome: &mut Outcome, violations: &mut Vec<String>) {
        for (_, table) in self.cloud.tables().all::<InMemoryInventory>() {
            for (sku, initial) in &self.initial {
                let stock = table.stock(sku).await.ok().flatten().unwrap_or_default();
                let sent = shipped.get(sku).copied().unwrap_or(0);
                if stock.available + sent != *initial || stock.reserved != sent {
                    violations.push(format!(
                        "{sku}: {} available and {} reserved; expected {} and {sent} ({initial} stocked, {sent} shipped)",
                        stock.available,
                        stock.reserved,
                        initial - sent.min(*initial)
                    ));
                }
                outcome.stock.insert(sku.clone(), (stock.available, stock.reserved));
            }
        }
    }

    /// Queues: consumers' queues drained; nothing dead-lettered but by injected faults alone;
    /// parked exactly the messages sent malformed.
    fn check_queues(&self, outcome: &mut Outcome, violations: &mut Vec<String>) {
        let parked_bodies = self.sort_what_is_left(outcome, violations);
        for dead in &outcome.dead_letters {
            violations.push(format!("dead-lettered: {dead}"));
        }
        self.check_parked_only_malformed(parked_bodies, outcome, violations);
    }

    /// Every message left in a queue, sorted: parked (counted once each), dead-lettered (by
    /// faults alone, or not), or a violation (left unprocessed, or where nothing reads). The
    /// bodies parked.
    fn sort_what_is_left(&self, outcome: &mut Outcome, violations: &mut Vec<String>) -> Vec<String> {
        let topology = self.cloud.topology();
        let dead_letter_arns: Vec<&str> = topology
            .queues
            .values()
            .filter_map(|q| q.redrive.as_ref().map(|(_, arn)| arn.as_str()))
            .collect();
        let mut parked_ids = HashSet::new();
        let mut parked_bodies = Vec::new();
        for queue in self.cloud.queues() {
            let config = queue.config();
            let consumed = topology.consumer_of(&config.logical_id).is_some();
            for message in queue.messages() {
                if let Some(reason) = message.sent.attributes.get("parked-reason") {
                    // Parking is at least once: a crash after parking parks the message again.
                    let original = message.sent.attributes.get("original-message-id");
                    if original.is_none() || parked_ids.insert(original.cloned()) {
                        let kind = message.sent.attributes.get("parked-kind").cloned().unwrap_or_default();
                        outcome.parked.push((kind, reason.clone()));
                        parked_bodies.push(message.sent.body.clone());
                    }
                } else if dead_letter_arns.contains(&config.arn.as_str()) {
                    let dead = format!(
                        "{}: {} ({})",
                        config.logical_id,
                        message.id,
                        self.cloud.failure_of(&message.id).unwrap_or("no failure recorded")
                    );
                    // Every receive failed to an injected fault: the queue kept what the faults
                    // kept from being processed, as AWS would. Any other failure is a defect.
                    if self.cloud.failed_only_by_faults(&message.id) {
                        outcome.dead_by_faults.push(dead);
                    } else {
                        outcome.dead_letters.push(dead);
                    }
                } else if consumed {
                    violations.push(format!("{}: message {} never processed", config.logical_id, message.id));
                } else {
                    violations.push(format!("{}: unexpected message {}", config.logical_id, message.id));
                }
            }
        }
        parked_bodies
    }

    /// What was parked is exactly what was sent malformed.
    fn check_parked_only_malformed(
        &self,
        mut parked_bodies: Vec<String>,
        outcome: &Outcome,
        violations: &mut Vec<String>,
    ) {
        parked_bodies.sort();
        let mut malformed = self.malformed_messages.clone();
        malformed.sort();
        if parked_bodies != malformed {
            violations.push(format!(
                "parked {parked_bodies:?}, expected exactly the malformed messages {malformed:?}: {:?}",
                outcome.parked
            ));
        }
    }

    /// Nothing was undeliverable, and no invocation answered past its deadline.
    fn check_nothing_lost_or_late(&self, violations: &mut Vec<String>) {
        for lost in &self.cloud.stats().undeliverable {
            violations.push(format!("undeliverable: {lost}"));
        }
        for late in &self.cloud.stats().late_invocations {
            violations.push(format!("past the deadline: {late}"));
        }
    }

    /// Notifications per topic; a decision told twice is a violation unless a crash fell
    /// between its send and its record.
    fn count_notifications(&self, violations: &mut Vec<String>) -> BTreeMap<String, Notified> {
        let mut sends: BTreeMap<&str, BTreeMap<String, (usize, bool)>> = BTreeMap::new();
        for notification in self.cloud.notifications() {
            let body = serde_json::from_str::<Value>(&notification.message.body).unwrap_or(Value::Null);
            let text = |pointer| {
                body.pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let entry = sends
                .entry(notification.topic.as_str())
                .or_default()
                .entry(text("/metadata/id"))
                .or_insert((0, false));
            entry.0 += 1;
            entry.1 |= notification.at_risk;
        }
        let mut counts = BTreeMap::new();
        for (topic, decisions) in sends {
            let mut notified = Notified {
                decisions: decisions.len(),
                ..Notified::default()
            };
            for (id, (times, at_risk)) in decisions {
                notified.sent += times;
                if times == 1 {
                    continue;
                }
                if at_risk {
                    notified.repeated_by_crash += times - 1;
                } else {
                    violations.push(format!(
                        "{topic}: decision {id} notified {times} times, with no crash or failed write between its send and its record"
                    ));
                }
            }
            counts.insert(topic.to_owned(), notified);
        }
        counts
    }

    /// A parked message must be one whose work never completed: completed work has effects
    /// (stock reserved, a card charged) that parking would strand.
    fn check_parked_work_not_done(&self, violations: &mut Vec<String>) {
        let completed: HashSet<String> = self
            .cloud
            .tables()
            .all::<InMemoryStore>()
            .iter()
            .flat_map(|(_, store)| store.records())
            .filter(|record| record.status == idempotency::Status::Completed)
            .map(|record| record.key)
            .collect();
        for queue in self.cloud.queues() {
            for message in queue.messages() {
                let attributes = &message.sent.attributes;
                let (Some(function), Some(kind)) = (attributes.get("parked-by"), attributes.get("parked-kind")) else {
                    continue;
                };
                let Ok(decoded) = envelope::Decoder::new().decode_slice(message.sent.body.as_bytes()) else {
                    continue; // unreadable: its work never ran
                };
                for envelope in decoded.into_iter().filter_map(|d| d.envelope.ok()) {
                    if completed.contains(&format!("{function}#{}", envelope.metadata.id)) {
                        violations.push(format!(
                            "{function} parked {} {} ({kind}) after its work completed",
                            envelope.metadata.event_type, envelope.metadata.id
                        ));
                    }
                }
            }
        }
    }

    /// Distinct notification (envelope) ids published, by subject.
    fn notifications_by_subject(&self) -> HashMap<&str, HashSet<String>> {
        let mut by_subject: HashMap<&str, HashSet<String>> = HashMap::new();
        for notification in self.cloud.notifications() {
            let Some(subject) = notification.message.attributes.get("subject") else {
                continue;
            };
            let id = serde_json::from_str::<Value>(&notification.message.body)
                .ok()
                .and_then(|body| Some(body.pointer("/metadata/id")?.as_str()?.to_owned()))
                .unwrap_or_default();
            by_subject.entry(subject.as_str()).or_default().insert(id);
        }
        by_subject
    }
}

/// The HTTP status an exchange was answered with; none when the function failed.
fn status_of(exchange: &Exchange) -> Option<u64> {
    exchange
        .response
        .as_ref()
        .ok()
        .and_then(|r| r.get("statusCode"))
        .and_then(Value::as_u64)
}

/// The gateway charged an order once if it is to ship, never otherwise.
fn check_charged_once_if_shipped(
    gateway: Option<&SimulatedGateway>,
    order_id: &str,
    expected: OrderStatus,
    violations: &mut Vec<String>,
) {
    let charges = gateway.map_or(0, |g| g.charges(order_id));
    let expected_charges = usize::from(expected == OrderStatus::Shipped);
    if charges != expected_charges {
        violations.push(format!(
            "{order_id}: charged {charges} times, expected {expected_charges}"
        ));
    }
}

/// The customer was told of an order's outcome once (`notified`: distinct notification ids by
/// subject).
fn check_told_once(notified: &HashMap<&str, HashSet<String>>, order_id: &str, violations: &mut Vec<String>) {
    let told = notified.get(order_id).map_or(0, HashSet::len);
    if told != 1 {
        violations.push(format!("{order_id}: {told} distinct notifications, expected 1"));
    }
}

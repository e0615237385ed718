//! The orders domain on the local cloud: its functions bundled ([`Orders`]), the shop that
//! places orders through order-api's Function URL ([`Shop`]), the saga run to its end, and the
//! invariants checked. `localcloud demo` and the end-to-end scenarios both drive a [`Shop`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use handler_kit::local::{self, Registration};
use idempotency::InMemoryStore;
use order_stores::{InMemoryInventory, InMemoryOrderViews, Inventory, OrderViews};
use orders::lifecycle::OrderStatus;
use process_payment::{LOCAL_GATEWAY, SimulatedGateway};
use serde_json::{Value, json};

use emulator::cloud::{CloudOptions, LocalCloud, clock_text};
use emulator::domain::{DemoOptions, DemoReport, DemoRun, Domain};
use emulator::faults::Faults;
use emulator::functions::{Registry, RegistryError};
use emulator::scenario::{self, HttpRequest, Input, QueueMessage, Scenario, Step};
use emulator::topology::{LoadError, Topology};
use orders::validation::validate_order;

/// The orders functions, each from its crate's declaration and builder.
pub fn functions() -> Vec<Registration> {
    vec![
        local::http(&order_api::FUNCTION, order_api::build),
        local::records(&reserve_inventory::FUNCTION, reserve_inventory::build),
        local::records(&process_payment::FUNCTION, process_payment::build),
        local::records(&release_inventory::FUNCTION, release_inventory::build),
        local::records(&ship_order::FUNCTION, ship_order::build),
        local::records(&order_projection::FUNCTION, order_projection::build),
        local::records(&notify_customer::FUNCTION, notify_customer::build),
    ]
}

/// Every inventory table of `cloud` starts with `stock` (sku -> units), loaded as `--table`
/// loads one: the items the deployed table would hold.
pub fn stock_shelves(cloud: &LocalCloud, stock: &BTreeMap<String, u64>) -> Result<(), ShopError> {
    let items: Vec<Value> = stock
        .iter()
        .map(|(sku, available)| json!({ "id": sku, "available": available }))
        .collect();
    for (name, _) in cloud.tables().all::<InMemoryInventory>() {
        cloud.tables().load(&name, &items).map_err(ShopError::Stock)?;
    }
    Ok(())
}

/// How long a run may take in virtual time before what is left counts as stuck.
pub const VIRTUAL_DEADLINE_MS: i64 = 24 * 60 * 60 * 1000;

/// Skus the shop sells; one is always out of stock.
pub const IN_STOCK: [(&str, u64); 2] = [("SKU-RED-MUG", 1250), ("SKU-TEA-100G", 899)];
/// The sku with no stock.
pub const SOLD_OUT: &str = "SKU-SOLD-OUT";

/// The shop cannot open.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The template cannot be run.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A function cannot be built.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The template has no function with a Function URL built from order-api.
    #[error("the template has no order-api function with a Function URL")]
    NoApi,
    /// The stock could not be loaded.
    #[error("cannot stock the inventory: {0}")]
    Stock(String),
}

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

/// One order request.
#[derive(Debug, Clone)]
struct Placed {
    label: String,
    kind: Kind,
    lines: Vec<(String, u64)>,
}

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

/// Orders placed on a local cloud.
#[derive(Debug)]
pub struct Shop {
    cloud: LocalCloud,
    placed: Vec<Placed>,
    malformed_requests: Vec<String>,
    malformed_messages: Vec<String>,
    initial: BTreeMap<String, u64>,
    played: Scenario,
}

impl Shop {
    /// A shop on the template at `template`, with `stock` units of each sku in stock.
    pub fn open(
        template: &Path,
        seed: u64,
        faults: Faults,
        stock: u64,
        registry: &Registry,
    ) -> Result<Self, ShopError> {
        let options = CloudOptions {
            seed,
            faults,
            ..CloudOptions::default()
        };
        Self::open_with(template, options, stock, registry)
    }

    /// A shop as [`Shop::open`] makes it, its cloud started with `options` (a replay of
    /// recorded choices, say).
    pub fn open_with(
        template: &Path,
        options: CloudOptions,
        stock: u64,
        registry: &Registry,
    ) -> Result<Self, ShopError> {
        let topology = Topology::load(template, &sam_template::Options::default())?;
        let mut initial: BTreeMap<String, u64> = IN_STOCK.iter().map(|(sku, _)| ((*sku).to_owned(), stock)).collect();
        initial.insert(SOLD_OUT.to_owned(), 0);
        if !topology
            .functions
            .values()
            .any(|f| f.url && f.spec.binary == "order-api")
        {
            return Err(ShopError::NoApi);
        }
        let cloud = LocalCloud::new(
            topology,
            CloudOptions {
                // The saga has no scheduled rule: other domains' ticks would only add work.
                schedules_until: 0,
                ..options
            },
            registry,
        )?;
        stock_shelves(&cloud, &initial)?;
        Ok(Self {
            cloud,
            placed: Vec::new(),
            malformed_requests: Vec::new(),
            malformed_messages: Vec::new(),
            initial,
            played: Scenario::default(),
        })
    }

    /// The cloud.
    pub fn cloud(&self) -> &LocalCloud {
        &self.cloud
    }

    /// The cloud, to observe or inject into.
    pub fn cloud_mut(&mut self) -> &mut LocalCloud {
        &mut self.cloud
    }

    /// Runs `scenario` on the shop's cloud, noting what each input must come to: an order
    /// request its path (from its body), a request that fails validation a 400, a message
    /// sent straight to a queue its parking (the demo sends only malformed ones).
    pub fn play(&mut self, scenario: &Scenario) -> Result<(), String> {
        scenario.schedule(&mut self.cloud)?;
        self.played.steps.extend(scenario.steps.iter().cloned());
        for step in &scenario.steps {
            match &step.input {
                Input::Http(request) if request.method == "POST" && request.path == "/orders" => {
                    let label = step.label.clone().unwrap_or_else(|| "POST /orders".to_owned());
                    let order = request.body.clone().unwrap_or(Value::Null);
                    match validate_order("o-check", &order) {
                        Ok(placed) => self.placed.push(Placed {
                            label,
                            kind: Kind::of_order(&order),
                            lines: placed
                                .lines
                                .iter()
                                .map(|line| (line.sku.clone(), u64::from(line.quantity)))
                                .collect(),
                        }),
                        Err(_) => self.malformed_requests.push(label),
                    }
                }
                Input::Message(message) => self.malformed_messages.push(scenario::text(&message.body)),
                Input::Http(_) | Input::Event(_) => {}
            }
        }
        Ok(())
    }

    /// Places order `number` of `kind` at virtual time `at`.
    pub fn place(&mut self, at: i64, kind: Kind, number: usize) -> Result<(), String> {
        self.play(&Scenario {
            start: None,
            steps: vec![order_step(at, kind, number, false)],
        })
    }

    /// Places an order that fails validation at `at`: it must be answered 400.
    pub fn place_malformed(&mut self, at: i64) -> Result<(), String> {
        self.play(&Scenario {
            start: None,
            steps: vec![malformed_order_step(at, 0)],
        })
    }

    /// Sends a message no function can read to the queue of the function built from
    /// `consumer` now (a producer's bug): it must be parked with its reason.
    pub fn send_malformed_message(&mut self, consumer: &str) -> Result<(), String> {
        let step = malformed_message_step(self.cloud.topology(), consumer, 0)?;
        self.play(&Scenario {
            start: None,
            steps: vec![step],
        })
    }

    /// Runs the cloud until nothing is left to do, then checks every invariant.
    pub async fn settle(&mut self) -> Outcome {
        self.cloud.run(VIRTUAL_DEADLINE_MS).await;
        self.check().await
    }

    async fn check(&self) -> Outcome {
        let mut outcome = Outcome::default();
        let violations = &mut outcome.violations;
        if !self.cloud.is_idle() {
            violations.push(format!(
                "work is still pending after {} of virtual time",
                clock_text(VIRTUAL_DEADLINE_MS)
            ));
        }
        // Answers: every order accepted (a retry with the first one's id), malformed ones 400.
        let placed_by_label: HashMap<&str, &Placed> = self.placed.iter().map(|p| (p.label.as_str(), p)).collect();
        let notified = self.notifications_by_subject();
        let mut accepted: BTreeMap<String, &Placed> = BTreeMap::new();
        let mut first_ids: BTreeMap<String, String> = BTreeMap::new();
        for exchange in self.cloud.exchanges() {
            let status = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.get("statusCode"))
                .and_then(Value::as_u64);
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
        // Final states, and each effect decided once.
        let views = self.cloud.tables().all::<InMemoryOrderViews>();
        let gateway = self.cloud.tables().get::<SimulatedGateway>(LOCAL_GATEWAY);
        let mut shipped: BTreeMap<String, u64> = BTreeMap::new();
        for (order_id, placed) in &accepted {
            let mut view = None;
            for (_, table) in &views {
                if let Ok(Some(found)) = table.get(order_id).await {
                    view = Some(found);
                }
            }
            let Some(view) = view else {
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
            for event_type in [
                "OrderPlaced",
                "InventoryReserved",
                "OrderRejected",
                "PaymentCompleted",
                "PaymentFailed",
                "InventoryReleased",
                "OrderShipped",
            ] {
                let ids = self.cloud.event_ids(order_id, event_type);
                if ids.len() > 1 {
                    violations.push(format!("{order_id}: {event_type} decided {} times", ids.len()));
                }
            }
            for (one, other) in [
                ("InventoryReserved", "OrderRejected"),
                ("PaymentCompleted", "PaymentFailed"),
            ] {
                if !self.cloud.event_ids(order_id, one).is_empty() && !self.cloud.event_ids(order_id, other).is_empty()
                {
                    violations.push(format!("{order_id}: both {one} and {other}"));
                }
            }
            let charges = gateway.as_ref().map_or(0, |g| g.charges(order_id));
            let expected_charges = usize::from(expected == OrderStatus::Shipped);
            if charges != expected_charges {
                violations.push(format!(
                    "{order_id}: charged {charges} times, expected {expected_charges}"
                ));
            }
            let notified = notified.get(order_id.as_str()).map_or(0, HashSet::len);
            if notified != 1 {
                violations.push(format!("{order_id}: {notified} distinct notifications, expected 1"));
            }
        }
        // Inventory: what was not shipped is back on the shelf.
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
        // Queues: consumers' drained; nothing dead-lettered; parked only what was sent malformed.
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
        for dead in &outcome.dead_letters {
            violations.push(format!("dead-lettered: {dead}"));
        }
        parked_bodies.sort();
        let mut malformed = self.malformed_messages.clone();
        malformed.sort();
        if parked_bodies != malformed {
            violations.push(format!(
                "parked {parked_bodies:?}, expected exactly the malformed messages {malformed:?}: {:?}",
                outcome.parked
            ));
        }
        for lost in &self.cloud.stats().undeliverable {
            violations.push(format!("undeliverable: {lost}"));
        }
        for late in &self.cloud.stats().late_invocations {
            violations.push(format!("past the deadline: {late}"));
        }
        outcome.notifications = self.count_notifications(violations);
        self.check_parked_work_not_done(violations);
        outcome
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

/// Made-up customers: every personal value of a run is one of these, so a test can look for
/// each in everything the run left behind.
const GIVEN_NAMES: [&str; 5] = ["Ada", "Grace", "Alan", "Edsger", "Barbara"];
const FAMILY_NAMES: [&str; 4] = ["Lovelace", "Hopper", "Turing", "Liskov"];
/// Shipping destinations: the warehouse's country and abroad.
const CITIES: [(&str, &str, &str); 3] = [
    ("Amsterdam", "1015 CJ", "NL"),
    ("Berlin", "10117", "DE"),
    ("Lyon", "69002", "FR"),
];

/// The name of customer `number`.
pub fn customer_name(number: usize) -> String {
    format!(
        "{} {}",
        GIVEN_NAMES[number % GIVEN_NAMES.len()],
        FAMILY_NAMES[number % FAMILY_NAMES.len()]
    )
}

/// Every personal value order `number` sends, whatever its kind: name, email, street, and the
/// test payment tokens. What a run must never show in clear past order-api.
pub fn personal_values(number: usize) -> Vec<String> {
    let mut values = vec![
        customer_name(number),
        format!("customer.{number}@example.com"),
        format!("Canal Street {}", 100 + number),
    ];
    values.extend(["tok_approve", "tok_flaky", "tok_decline"].map(str::to_owned));
    values
}

/// The shipping address of customer `number`.
pub fn shipping_address(number: usize) -> Value {
    let (city, postal_code, country) = CITIES[number % CITIES.len()];
    json!({ "line1": format!("Canal Street {}", 100 + number), "city": city, "postalCode": postal_code, "country": country })
}

/// Order `number` of `kind` placed through order-api at `at`, with an Idempotency-Key (the
/// same for a client's retry of it).
fn order_step(at: i64, kind: Kind, number: usize, retry: bool) -> Step {
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
fn malformed_order_step(at: i64, number: usize) -> Step {
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
fn malformed_message_step(topology: &Topology, consumer: &str, number: usize) -> Result<Step, String> {
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
    if outcome.violations.is_empty() {
        let _ = writeln!(
            out,
            "Invariants hold: every accepted order ended as its path says (shipped, cancelled with stock released, or rejected), stock adds up, every effect was decided once, every decision told once outside a crash window, nothing parked after its work completed, no invocation past its deadline, nothing lost, nothing dead-lettered but by injected faults alone."
        );
    } else {
        let _ = writeln!(out, "INVARIANTS VIOLATED ({}):", outcome.violations.len());
        for violation in &outcome.violations {
            let _ = writeln!(out, "  - {violation}");
        }
    }
    out
}

/// The orders domain, as the local cloud's CLI bundles it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orders;

impl Domain for Orders {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn sources(&self) -> &'static [&'static str] {
        &[orders::events::SOURCE]
    }

    fn samples(&self) -> &'static str {
        "orders"
    }

    fn functions(&self) -> Vec<Registration> {
        functions()
    }

    fn event_types(&self) -> envelope::Registry {
        orders::registry()
    }

    fn invariants(&self) -> &'static [&'static str] {
        &[
            "every order request is answered: accepted (a retry with the first one's id) or 400",
            "every order reaches its final state in its tracking view",
            "each effect (reservation, charge, shipment, release) is decided once per order",
            "no order is both shipped and cancelled",
            "each decision is notified once, outside a crash between its send and its record",
            "stock per sku equals what was reserved and not released",
            "no message is left unprocessed or undeliverable, none dead-lettered unless every receive failed to an injected fault; only malformed ones are parked",
            "no invocation answers past its timeout",
        ]
    }

    fn demo(&self, template: &Path, options: DemoOptions, registry: &Registry) -> Result<Box<dyn DemoRun>, String> {
        let cloud_options = CloudOptions {
            seed: options.seed,
            faults: options.faults,
            replay: options.replay,
            ..CloudOptions::default()
        };
        let mut shop = Shop::open_with(template, cloud_options, DEMO_STOCK, registry).map_err(|e| e.to_string())?;
        place_mix(&mut shop, options.size, options.seed)?;
        Ok(Box::new(shop))
    }
}

/// Units of each sku the demo's shop starts with.
const DEMO_STOCK: u64 = 1_000_000;

impl DemoRun for Shop {
    fn cloud_mut(&mut self) -> &mut LocalCloud {
        &mut self.cloud
    }

    fn finish(&mut self) -> Pin<Box<dyn Future<Output = DemoReport> + '_>> {
        Box::pin(async move {
            let outcome = self.settle().await;
            DemoReport {
                summary: summary(self, &outcome),
                violations: outcome.violations,
            }
        })
    }

    fn scenario(&self) -> Scenario {
        self.played.clone()
    }
}

//! The shop: a local cloud with stocked shelves, and the order requests and malformed
//! messages played on it, each noted with what it must come to for [`crate::invariants`].

use std::collections::BTreeMap;
use std::path::Path;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::faults::Faults;
use emulator::functions::{BuildError, FunctionCatalogue};
use emulator::scenario::{self, Input, Scenario};
use emulator::topology::{LoadError, Topology};
use order_stores::InMemoryInventory;
use orders::validation::validate_order;
use serde_json::{Value, json};

use crate::invariants::Outcome;
use crate::mix::{Kind, malformed_message_step, malformed_order_step, order_step};

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

/// Units of each in-stock sku the shop starts with when it plays a scenario file: far more
/// than a file orders (the demo's twelve orders take at most three units a line), so only the
/// sold-out sku rejects an order, as each order's path says. The end-to-end harness stocks the
/// deployed inventory table the same, from the outcome's `stock_initial`.
pub const SCENARIO_STOCK: u64 = 1_000;

/// The shop cannot open.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The template cannot be run.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A function cannot be built.
    #[error(transparent)]
    Catalogue(#[from] BuildError),
    /// The template has no function with a Function URL built from order-api.
    #[error("the template has no order-api function with a Function URL")]
    NoApi,
    /// The stock could not be loaded.
    #[error("cannot stock the inventory: {0}")]
    Stock(String),
}

/// One order request.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// Its label in the timeline (`POST /orders #3`).
    pub(crate) label: String,
    /// What it must go through.
    pub(crate) kind: Kind,
    /// Its lines: sku and units.
    pub(crate) lines: Vec<(String, u64)>,
}

/// Orders placed on a local cloud.
#[derive(Debug)]
pub struct Shop {
    pub(crate) cloud: LocalCloud,
    /// The order requests that pass validation, with what each must come to.
    pub(crate) placed: Vec<Placed>,
    /// Labels of the order requests that fail validation: each must be answered 400.
    pub(crate) malformed_requests: Vec<String>,
    /// Bodies of the messages sent straight to a queue: each must be parked.
    pub(crate) malformed_messages: Vec<String>,
    /// Units of each sku on the shelves at the start.
    pub(crate) initial: BTreeMap<String, u64>,
    /// Every input played, as a scenario file holds them.
    pub(crate) played: Scenario,
}

impl Shop {
    /// A shop on the template at `template`, with `stock` units of each sku in stock.
    pub fn open(
        template: &Path,
        seed: u64,
        faults: Faults,
        stock: u64,
        functions: &FunctionCatalogue,
    ) -> Result<Self, ShopError> {
        let options = CloudOptions {
            seed,
            faults,
            ..CloudOptions::default()
        };
        Self::open_with(template, options, stock, functions)
    }

    /// A shop as [`Shop::open`] makes it, its cloud started with `options` (a replay of
    /// recorded choices, say).
    pub fn open_with(
        template: &Path,
        options: CloudOptions,
        stock: u64,
        functions: &FunctionCatalogue,
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
            functions,
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
}

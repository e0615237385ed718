//! The orders domain as the local cloud's CLI asks for it: its functions and event types, the
//! demo (a shop placing the demo's mix), rebuilding the order views from the event store, an
//! order's view as of an instant, and the checked outcome of a scenario file.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::domain::{
    DemoOptions, DemoReport, DemoRun, Domain, DomainError, DomainFuture, RebuildReport, ScenarioOutcome, Story,
};
use emulator::faults::Faults;
use emulator::functions::FunctionCatalogue;
use emulator::scenario::Scenario;
use envelope::Envelope;
use event_store::InMemoryEventStore;
use handler_kit::local::Registration;
use order_stores::InMemoryOrderViews;
use orders::lifecycle::OrderView;
use serde_json::Value;

use crate::expected::expected_json;
use crate::mix::place_mix;
use crate::shop::{SCENARIO_STOCK, Shop};
use crate::story::OrderStories;
use crate::summary::{summary, view};

/// The orders domain, as the local cloud's CLI bundles it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Orders;

impl Domain for Orders {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn story(&self) -> Box<dyn Story> {
        Box::new(OrderStories::default())
    }

    fn sources(&self) -> &'static [&'static str] {
        &[orders::events::SOURCE]
    }

    fn samples(&self) -> &'static str {
        "orders"
    }

    fn functions(&self) -> Vec<Registration> {
        crate::functions()
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
            "each order is one trace: every event and notification after its OrderPlaced travels in its trace",
            "each decision is notified once, outside a crash between its send and its record",
            "stock per sku equals what was reserved and not released",
            "no message is left unprocessed or undeliverable, none dead-lettered unless every receive failed to an injected fault; only malformed ones are parked",
            "no invocation answers past its timeout",
        ]
    }

    fn demo(
        &self,
        template: &Path,
        options: DemoOptions,
        functions: &FunctionCatalogue,
    ) -> Result<Box<dyn DemoRun>, DomainError> {
        let failed = |source: String| DomainError::failed(self.name(), "demo", source);
        let cloud_options = CloudOptions {
            seed: options.seed,
            faults: options.faults,
            replay: options.replay,
            ..CloudOptions::default()
        };
        let mut shop = Shop::open_with(template, cloud_options, DEMO_STOCK, functions)
            .map_err(|e| DomainError::failed(self.name(), "demo", e))?;
        place_mix(&mut shop, options.size, options.seed).map_err(failed)?;
        Ok(Box::new(shop))
    }

    /// The order views rebuilt with order-projection's own fold from the run's event store into
    /// a fresh table, then compared with the live table, order by order.
    fn rebuild<'a>(&'a self, cloud: &'a LocalCloud) -> DomainFuture<'a, RebuildReport> {
        Box::pin(async move {
            let failed = |source: String| DomainError::failed(self.name(), "rebuild", source);
            let (_, store) = cloud
                .tables()
                .all::<InMemoryEventStore>()
                .into_iter()
                .next()
                .ok_or_else(|| failed("the template has no event store table that event-archive writes".to_owned()))?;
            let (_, live) = cloud
                .tables()
                .all::<InMemoryOrderViews>()
                .into_iter()
                .next()
                .ok_or_else(|| failed("the template has no order views table".to_owned()))?;
            let fresh = InMemoryOrderViews::new();
            let rebuilt = order_projection::rebuild(&*store, &fresh, &*live)
                .await
                .map_err(|e| DomainError::failed(self.name(), "rebuild", e))?;
            let mut lines = vec![format!(
                "Rebuilt {} order views from {} events in the store.",
                rebuilt.orders, rebuilt.events
            )];
            lines.extend(
                rebuilt
                    .lagging
                    .iter()
                    .map(|lagging| format!("  live view behind the store: {lagging}")),
            );
            let matches = rebuilt.differences.is_empty() && rebuilt.lagging.is_empty();
            if matches {
                lines.push("Every rebuilt view equals the live one, order by order.".to_owned());
            }
            lines.extend(
                rebuilt
                    .differences
                    .iter()
                    .map(|difference| format!("  differs: {difference}")),
            );
            Ok(RebuildReport { lines, matches })
        })
    }

    /// The scenario played on a shop stocked with [`SCENARIO_STOCK`] of each sku, seed 1, no
    /// faults, as the scenario file's test plays it, and checked with every invariant of the
    /// demo.
    fn outcome<'a>(
        &'a self,
        template: &'a Path,
        scenario: &'a Scenario,
        functions: &'a FunctionCatalogue,
        watch: &'a dyn Fn(&mut LocalCloud),
    ) -> DomainFuture<'a, ScenarioOutcome> {
        Box::pin(async move {
            let failed = |source: String| DomainError::failed(self.name(), "outcome", source);
            let mut shop = Shop::open(template, 1, Faults::none(), SCENARIO_STOCK, functions)
                .map_err(|e| DomainError::failed(self.name(), "outcome", e))?;
            watch(shop.cloud_mut());
            shop.play(scenario).map_err(failed)?;
            let outcome = shop.settle().await;
            let json = expected_json(&shop, &outcome);
            Ok(ScenarioOutcome {
                report: DemoReport {
                    summary: summary(&shop, &outcome),
                    view: view(&outcome),
                    violations: outcome.violations,
                },
                json,
            })
        })
    }

    /// The order's tracking view folded from its events, as JSON.
    fn view_as_of(&self, stream: &str, past: Vec<Envelope<Value>>) -> Result<String, DomainError> {
        let view =
            OrderView::fold(past).map_err(|e| DomainError::failed(self.name(), "history", format!("{stream}: {e}")))?;
        Ok(view.map_or_else(
            || "the order did not exist yet".to_owned(),
            |view| serde_json::to_string_pretty(&view).unwrap_or_default(),
        ))
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
                view: view(&outcome),
                violations: outcome.violations,
            }
        })
    }

    fn scenario(&self) -> Scenario {
        self.played.clone()
    }
}

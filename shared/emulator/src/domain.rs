//! What a domain brings to the local cloud, which knows none: its functions (declarations and
//! builders), its event types, where its samples live, and a demo with its own invariants.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use envelope::Registry;
use handler_kit::local::Registration;

use crate::cloud::LocalCloud;
use crate::faults::{Choice, Faults};
use crate::functions;
use crate::scenario::Scenario;

/// How big and how faulty a demo run is.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How much to do (orders to place, readings to send).
    pub size: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Faults to inject.
    pub faults: Faults,
    /// Replay exactly these choices instead of drawing faults and latencies from the seed
    /// (the seed still makes the scenario).
    pub replay: Option<Arc<Vec<Choice>>>,
    /// A variant of the domain's scenario (one of [`Domain::variants`]), or its usual one.
    pub variant: Option<String>,
}

/// What a demo run ended with.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// A readable summary.
    pub summary: String,
    /// Invariants that do not hold.
    pub violations: Vec<String>,
}

/// A demo run of one domain on a local cloud.
pub trait DemoRun {
    /// Its cloud, e.g. to watch the timeline.
    fn cloud_mut(&mut self) -> &mut LocalCloud;

    /// Runs until nothing is left to do, then checks the domain's invariants.
    fn finish(&mut self) -> Pin<Box<dyn Future<Output = DemoReport> + '_>>;

    /// The inputs it played, as a scenario file holds them.
    fn scenario(&self) -> Scenario;
}

/// A domain, as the local cloud's CLI bundles it.
pub trait Domain {
    /// Its name (`orders`).
    fn name(&self) -> &'static str;

    /// The `source` of its events.
    fn sources(&self) -> &'static [&'static str];

    /// Its folder of sample payloads under `events/` (each function's in `<folder>/<function>/`).
    fn samples(&self) -> &'static str;

    /// Its functions.
    fn functions(&self) -> Vec<Registration>;

    /// The event types it consumes, with their upcasters.
    fn event_types(&self) -> Registry;

    /// A demo on the template at `template`, ready to run, with every function of the
    /// template registered in `registry` (a template deploys every domain's functions).
    fn demo(
        &self,
        template: &Path,
        options: DemoOptions,
        registry: &functions::Registry,
    ) -> Result<Box<dyn DemoRun>, String>;

    /// The invariants its runs check, by name (what a simulation campaign counts).
    fn invariants(&self) -> &'static [&'static str];

    /// Variants of its scenario a simulation can ask for (`DemoOptions::variant`).
    fn variants(&self) -> &'static [&'static str] {
        &[]
    }

    /// The size of one run of the simulation campaign: small enough for a thousand seeds,
    /// large enough for its functions to run many invocations at once.
    fn simulation_size(&self) -> usize {
        12
    }

    /// A run of the simulation campaign: by default the demo at `options.size`.
    fn simulation(
        &self,
        template: &Path,
        options: DemoOptions,
        registry: &functions::Registry,
    ) -> Result<Box<dyn DemoRun>, String> {
        self.demo(template, options, registry)
    }
}

/// Every function of `domains`.
pub fn registry(domains: &[&dyn Domain]) -> functions::Registry {
    functions::Registry::new(domains.iter().flat_map(|d| d.functions()).collect())
}

/// Every event type of `domains`.
pub fn event_types(domains: &[&dyn Domain]) -> Registry {
    domains
        .iter()
        .fold(Registry::new(), |all, domain| all.merge(domain.event_types()))
}

//! What a domain brings to the local cloud, which knows none: its functions (declarations and
//! builders), its event types, where its samples live, a demo with its own invariants, what
//! the CLI asks of it about its streams (which it owns, rebuilding its views, a view as of an
//! instant) and the outcome of a scenario file, checked, for comparing with a deployment. What
//! a domain does not offer answers [`DomainError::Unsupported`].

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use envelope::{Envelope, Registry};
use handler_kit::local::Registration;
use serde_json::Value;

use crate::cloud::LocalCloud;
use crate::faults::{Choice, Faults};
use crate::functions::FunctionCatalogue;
use crate::scenario::Scenario;

/// What a domain could not do.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The domain does not offer this.
    #[error("the {domain} domain does not support {what}")]
    Unsupported {
        /// The domain's name.
        domain: &'static str,
        /// What was asked, with the command that asks it.
        what: &'static str,
    },
    /// It offers this, and it failed.
    #[error("{domain} {doing}: {source}")]
    Failed {
        /// The domain's name.
        domain: &'static str,
        /// What it was doing (`demo`, `rebuild`).
        doing: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl DomainError {
    /// `domain` failed at `doing` for `source`.
    pub fn failed(
        domain: &'static str,
        doing: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Failed {
            domain,
            doing,
            source: source.into(),
        }
    }
}

/// What rebuilding a domain's views from the event store found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    /// What it rebuilt and every difference from the live views, one line each.
    pub lines: Vec<String>,
    /// Every rebuilt view equals the live one.
    pub matches: bool,
}

/// A boxed future of a domain's answer, so [`Domain`] stays usable as `dyn Domain`.
pub type DomainFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + 'a>>;

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
    /// The domain's own view of what the run ended with, for the run page (the orders with
    /// their final states; the sensors' windows against their bands, and the alerts).
    pub view: Value,
}

/// What a scenario file came to on a domain's fault-free run, checked by the domain's own
/// invariants: what `localcloud play --outcome` writes, for the end-to-end tests to compare
/// with what a deployment's resources hold after the same scenario.
#[derive(Debug, Clone, Default)]
pub struct ScenarioOutcome {
    /// The domain's summary and the invariants that do not hold.
    pub report: DemoReport,
    /// What the run ended with, as JSON in the domain's own shape (its `domain` and
    /// `violations` among it), for a harness in another language to read.
    pub json: Value,
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

/// How a person reads a domain's run in the terminal (`localcloud demo` without `--verbose`):
/// the lines worth telling of the run record's lines (without steps: see
/// [`LocalCloud::record_run`]), as they happen, and what is left to tell at the end.
pub trait Story {
    /// What to tell of `line`, each a line without its time (the caller puts `+mm:ss.mmm`
    /// before each).
    fn tell(&mut self, line: &Value) -> Vec<String>;

    /// What to tell when the run has ended.
    fn end(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// The story of a domain with nothing of its own to tell.
struct Untold;

impl Story for Untold {
    fn tell(&mut self, _: &Value) -> Vec<String> {
        Vec::new()
    }
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
    /// template in `functions` (a template deploys every domain's functions).
    fn demo(
        &self,
        template: &Path,
        options: DemoOptions,
        functions: &FunctionCatalogue,
    ) -> Result<Box<dyn DemoRun>, DomainError>;

    /// How a person reads its runs (the platform's own lines, faults and failures, are told
    /// beside it).
    fn story(&self) -> Box<dyn Story> {
        Box::new(Untold)
    }

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
        functions: &FunctionCatalogue,
    ) -> Result<Box<dyn DemoRun>, DomainError> {
        self.demo(template, options, functions)
    }

    /// Whether `stream` (`<source>#<subject>`, as the event store names it) is one of its
    /// streams: by default, one whose source is among its [`sources`](Domain::sources).
    fn owns_stream(&self, stream: &str) -> bool {
        stream
            .split_once('#')
            .is_some_and(|(source, _)| self.sources().contains(&source))
    }

    /// Rebuilds its views from the event store of `cloud` (a finished run) into fresh tables
    /// with its own fold, and compares them with the live ones (`localcloud rebuild`).
    fn rebuild<'a>(&'a self, cloud: &'a LocalCloud) -> DomainFuture<'a, RebuildReport> {
        let _ = cloud;
        Box::pin(std::future::ready(Err(DomainError::Unsupported {
            domain: self.name(),
            what: "rebuilding its views (`localcloud rebuild`)",
        })))
    }

    /// Plays `scenario` on a local cloud with no injected faults, then checks it with the
    /// domain's own invariants (`localcloud play --outcome`): what the local cloud computes
    /// for the scenario, which a deployment playing the same file must come to as well.
    /// `watch` sees the cloud before it runs (to record the run).
    fn outcome<'a>(
        &'a self,
        template: &'a Path,
        scenario: &'a Scenario,
        functions: &'a FunctionCatalogue,
        watch: &'a dyn Fn(&mut LocalCloud),
    ) -> DomainFuture<'a, ScenarioOutcome> {
        let _ = (template, scenario, functions, watch);
        Box::pin(std::future::ready(Err(DomainError::Unsupported {
            domain: self.name(),
            what: "the outcome of a scenario file (`localcloud play --outcome`)",
        })))
    }

    /// Its view of `stream` folded from `past`, the stream's events that had happened by an
    /// instant, as readable text (`localcloud history`).
    fn view_as_of(&self, stream: &str, past: Vec<Envelope<Value>>) -> Result<String, DomainError> {
        let _ = (stream, past);
        Err(DomainError::Unsupported {
            domain: self.name(),
            what: "a view of a stream as of an instant (`localcloud history`)",
        })
    }
}

/// Every event type of `domains`.
pub fn event_types(domains: &[&dyn Domain]) -> Registry {
    domains
        .iter()
        .fold(Registry::new(), |all, domain| all.merge(domain.event_types()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

    use super::*;
    use crate::cloud::CloudOptions;
    use crate::topology::Topology;

    /// A domain that brings only what every domain must: no views.
    struct Bare;

    impl Domain for Bare {
        fn name(&self) -> &'static str {
            "bare"
        }

        fn sources(&self) -> &'static [&'static str] {
            &["shop.bare", "shop.bare-too"]
        }

        fn samples(&self) -> &'static str {
            "bare"
        }

        fn functions(&self) -> Vec<Registration> {
            Vec::new()
        }

        fn event_types(&self) -> Registry {
            Registry::new()
        }

        fn demo(&self, _: &Path, _: DemoOptions, _: &FunctionCatalogue) -> Result<Box<dyn DemoRun>, DomainError> {
            Err(DomainError::failed(self.name(), "demo", "it has none".to_owned()))
        }

        fn invariants(&self) -> &'static [&'static str] {
            &[]
        }
    }

    #[test]
    fn given_a_domain_then_it_owns_the_streams_of_its_sources_and_no_others() {
        assert!(Bare.owns_stream("shop.bare#b-1"));
        assert!(Bare.owns_stream("shop.bare-too#b-1"));
        assert!(!Bare.owns_stream("shop.bare"), "a stream names its subject");
        assert!(!Bare.owns_stream("shop.orders#o-1"));
        assert!(!Bare.owns_stream("shop.bar#b-1"), "the whole source, not a prefix");
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_domain_without_views_or_outcomes_when_asked_for_them_then_the_error_names_it_and_the_command() {
        let template = sam_template::Template::from_yaml(
            "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n",
            &sam_template::Options::default(),
        )
        .unwrap();
        let cloud = LocalCloud::new(
            Topology::from_template(template).unwrap(),
            CloudOptions::default(),
            &FunctionCatalogue::default(),
        )
        .unwrap();
        let rebuild = Bare.rebuild(&cloud).await.unwrap_err();
        assert!(matches!(rebuild, DomainError::Unsupported { domain: "bare", .. }));
        assert_eq!(
            rebuild.to_string(),
            "the bare domain does not support rebuilding its views (`localcloud rebuild`)"
        );
        let outcome = Bare
            .outcome(
                Path::new("template.yaml"),
                &Scenario::default(),
                &FunctionCatalogue::default(),
                &|_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(
            outcome.to_string(),
            "the bare domain does not support the outcome of a scenario file (`localcloud play --outcome`)"
        );
        let view = Bare.view_as_of("shop.bare#b-1", Vec::new()).unwrap_err();
        assert_eq!(
            view.to_string(),
            "the bare domain does not support a view of a stream as of an instant (`localcloud history`)"
        );
        let options = DemoOptions {
            size: 1,
            seed: 1,
            faults: Faults::none(),
            replay: None,
            variant: None,
        };
        let demo = Bare
            .demo(Path::new("template.yaml"), options, &FunctionCatalogue::default())
            .err()
            .unwrap();
        assert_eq!(demo.to_string(), "bare demo: it has none");
    }
}

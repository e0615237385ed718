//! The catalogue of deployable functions: each function of the template (by its crate,
//! `BuildProperties.Binary`) built from its crate's declaration and builder ([`Registration`])
//! on a local platform with the template's environment, exactly as `main.rs` builds it on AWS.
//! The cloud knows nothing else of a function: the registrations come from whoever runs it
//! (the `localcloud` binary, a test).

use std::sync::Arc;
use std::time::Duration;

use handler_kit::config::{ConfigError, Env};
use handler_kit::local::{LocalFunction, LocalPlatform, Outbox, Registration, Tables, World};
use idempotency::Clock;
use ports::FaultPlan;

/// A function of the template, as the catalogue needs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Logical id.
    pub logical_id: String,
    /// Its deployed name (`FunctionName`), which scopes its idempotency records.
    pub name: String,
    /// The crate it is built from.
    pub binary: String,
    /// Its environment (Globals merged), as deployed.
    pub environment: Vec<(String, String)>,
    /// `Timeout`.
    pub timeout: Duration,
}

/// What every function of a run shares.
#[derive(Clone)]
pub struct Wiring {
    /// Where sends go.
    pub outbox: Outbox,
    /// The tables.
    pub tables: Arc<Tables>,
    /// The faults of every port call.
    pub faults: Arc<dyn FaultPlan>,
    /// The virtual clock.
    pub clock: Arc<dyn Clock>,
    /// What the template deploys.
    pub world: Arc<World>,
}

/// A function the catalogue cannot build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No registration for this crate.
    #[error("{function}: no function crate '{binary}' is registered with the local cloud (known: {known})")]
    Unknown {
        /// Logical id.
        function: String,
        /// The crate.
        binary: String,
        /// The registered crates.
        known: String,
    },
    /// Its environment is incomplete or malformed.
    #[error("{function}: {source}")]
    Config {
        /// Logical id.
        function: String,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
}

/// The functions a run can deploy: their registrations, found by crate name. (Not
/// [`envelope::Registry`], which holds event types.)
#[derive(Default)]
pub struct FunctionCatalogue {
    functions: Vec<Registration>,
}

impl std::fmt::Debug for FunctionCatalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.functions.iter().map(|r| r.name)).finish()
    }
}

impl FunctionCatalogue {
    /// A catalogue of `functions`.
    pub fn new(functions: Vec<Registration>) -> Self {
        Self { functions }
    }

    /// The registration of crate `binary`.
    pub fn get(&self, binary: &str) -> Option<&Registration> {
        self.functions.iter().find(|r| r.name == binary)
    }

    /// Every registration.
    pub fn all(&self) -> &[Registration] {
        &self.functions
    }

    /// Builds the function of `spec` on a platform of its own over the run's `wiring`.
    pub fn build(&self, spec: &FunctionSpec, wiring: &Wiring) -> Result<Box<dyn LocalFunction>, BuildError> {
        let registration = self.get(&spec.binary).ok_or_else(|| BuildError::Unknown {
            function: spec.logical_id.clone(),
            binary: spec.binary.clone(),
            known: self.functions.iter().map(|r| r.name).collect::<Vec<_>>().join(", "),
        })?;
        let env = Env::from_pairs(
            spec.environment
                .iter()
                .cloned()
                .chain([("AWS_LAMBDA_FUNCTION_NAME".to_owned(), spec.name.clone())]),
        );
        let platform = LocalPlatform::new(
            env,
            Arc::clone(&wiring.clock),
            Arc::clone(&wiring.faults),
            Arc::clone(&wiring.tables),
            wiring.outbox.clone(),
            Arc::clone(&wiring.world),
        );
        registration.build(platform).map_err(|source| BuildError::Config {
            function: spec.logical_id.clone(),
            source,
        })
    }
}

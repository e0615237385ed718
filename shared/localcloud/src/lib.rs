//! The domains the local cloud's CLI bundles: the one place that names them. The emulator
//! knows none; each domain brings its functions, event types, samples and demo, and answers
//! what the CLI asks of it through [`emulator::domain::Domain`]. A new domain is its crates and
//! one line in [`domains`].

mod audit;
pub mod campaign;
pub mod error;
pub mod operations;
pub mod page;
pub mod repair;
pub mod story;

use emulator::domain::Domain;
use emulator::functions::FunctionCatalogue;
use handler_kit::local::{self, Registration};

pub use audit::audit;
pub use error::Error;

/// Every domain of the project.
pub fn domains() -> Vec<&'static dyn Domain> {
    vec![&orders_demo::Orders, &sensors_demo::Sensors]
}

/// The domain called `name`.
pub fn domain(name: &str) -> Result<&'static dyn Domain, Error> {
    domains()
        .into_iter()
        .find(|d| d.name() == name)
        .ok_or_else(|| Error::UnknownDomain {
            name: name.to_owned(),
            known: domain_names().join(", "),
        })
}

/// The names of [`domains`], in their order.
pub fn domain_names() -> Vec<&'static str> {
    domains().iter().map(|d| d.name()).collect()
}

/// The functions of the platform itself, deployed whatever the domains: the event archive.
pub fn platform_functions() -> Vec<Registration> {
    vec![local::batches(&event_archive::FUNCTION, event_archive::build)]
}

/// Every function the template deploys: each domain's and the platform's.
pub fn functions() -> Vec<Registration> {
    domains()
        .iter()
        .flat_map(|d| d.functions())
        .chain(platform_functions())
        .collect()
}

/// The runtime every local run needs: one thread, tokio's clock paused. Virtual time is that
/// clock's time, so the kit's timeouts and backoffs take no wall time and cannot make two runs
/// of one seed differ. A cloud ties its virtual clock to tokio's at the start of each run, so
/// one runtime serves every run of a thread.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(Error::Runtime)
}

/// The catalogue of [`functions`], for a local cloud.
pub fn catalogue() -> FunctionCatalogue {
    FunctionCatalogue::new(functions())
}

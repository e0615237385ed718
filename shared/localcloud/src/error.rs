//! The one error of the CLI and the campaign. Each message says what failed and where (the
//! file, the flag, the stream, the domain), so it reads on its own after `error: `.

use std::path::PathBuf;

use emulator::domain::DomainError;
use emulator::functions::BuildError;
use emulator::topology::LoadError;

/// What the CLI or a campaign could not do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file, or standard input, cannot be read.
    #[error("cannot read {what}: {source}")]
    Read {
        /// The path, or `standard input`.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A folder cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something cannot be written as JSON.
    #[error("cannot write {what} as JSON: {source}")]
    Json {
        /// What.
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A repair tool (`dlq`, `parked`) could not do what it was asked.
    #[error(transparent)]
    Repair(#[from] repair::RepairError),
    /// `localcloud view` cannot listen on loopback.
    #[error("cannot serve the run page on 127.0.0.1: {0}")]
    Serve(#[source] std::io::Error),
    /// The async runtime cannot start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// What the user gave (a flag's value, a file's content) is not what the command takes.
    #[error("{what}: {reason}")]
    Input {
        /// The flag (`--until`) or file it came from.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The template cannot run on the local cloud.
    #[error(transparent)]
    Template(#[from] LoadError),
    /// A function of the template cannot be built.
    #[error(transparent)]
    Function(#[from] BuildError),
    /// A domain cannot do what was asked of it.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The local cloud refused (a scenario's step, a table's items, a replay), in its own words,
    /// which name what they are about.
    #[error("{0}")]
    Cloud(String),
    /// The template deploys no function by that name.
    #[error("no function {name} in the template (there are: {known})")]
    NoFunction {
        /// The name asked for.
        name: String,
        /// The functions' crates.
        known: String,
    },
    /// The template has no event store.
    #[error("the template has no event store table that event-archive writes")]
    NoEventStore,
    /// The template has no custom event bus.
    #[error("the template has no custom bus")]
    NoBus,
    /// The event store cannot be read.
    #[error("reading {what} from the event store: {reason}")]
    EventStore {
        /// The stream or selection read.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// No domain of the CLI is called that.
    #[error("no domain {name} in this CLI (it bundles: {known})")]
    UnknownDomain {
        /// The name asked for.
        name: String,
        /// The names of the domains it bundles.
        known: String,
    },
    /// A stream name without its source.
    #[error("{0}: a stream is <source>#<subject>")]
    NotAStream(String),
    /// No domain of the CLI owns a stream.
    #[error("{stream}: no domain this CLI bundles owns its source (their sources: {sources})")]
    NoOwner {
        /// The stream.
        stream: String,
        /// Every domain's sources.
        sources: String,
    },
    /// The stream is not in the store after the demo.
    #[error("no stream {stream} in the store after the demo (seed {seed}, size {size}); it holds {known}, ...")]
    NoStream {
        /// The stream asked for.
        stream: String,
        /// The demo's seed.
        seed: u64,
        /// The demo's size.
        size: usize,
        /// The first few streams it holds.
        known: String,
    },
    /// A demo run first (for `replay`, `rebuild`, `history`) broke its invariants.
    #[error("the {domain} demo broke its invariants: {violations:?}")]
    DemoBroken {
        /// The domain.
        domain: &'static str,
        /// What broke.
        violations: Vec<String>,
    },
    /// A fault file names a domain the CLI does not bundle.
    #[error("the fault file names domain {0}, which this CLI does not bundle")]
    FaultFileDomain(String),
    /// A fault file replayed on another scenario than its own.
    #[error(
        "the scenario is not the one the fault file was recorded on ({domain} seed {seed}, size {size}): write it with `localcloud simulate`"
    )]
    FaultFileScenario {
        /// Its domain.
        domain: String,
        /// Its seed.
        seed: u64,
        /// Its size.
        size: usize,
    },
    /// A failing seed's own choices do not break it again: shrinking cannot start.
    #[error(
        "seed {seed}: replaying its {choices} choices does not break \"{target}\" again: the run is not deterministic"
    )]
    NotDeterministic {
        /// The seed.
        seed: u64,
        /// How many choices it made.
        choices: usize,
        /// The violation it broke.
        target: String,
    },
    /// A thread of the campaign panicked.
    #[error("a campaign worker panicked")]
    WorkerPanicked,
}

impl Error {
    /// `what` (a flag or file) is wrong for `reason`.
    pub fn input(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Input {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

//! What the CLI takes: its commands and their flags, as clap reads them.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};
use repair::cli::{DlqCommand, ParkedCommand};

#[derive(Parser)]
#[command(version, about = "Run, route and inspect the event-driven backend on this machine")]
pub(crate) struct Cli {
    /// The SAM template.
    #[arg(long, global = true, default_value = "infra/template.yaml")]
    pub(crate) template: PathBuf,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run every domain's demo on the local cloud: its story (orders end to end; the sensors'
    /// anomalies, revisions and alerts; faults, refusals, parked), a summary, the invariants.
    Demo {
        #[command(flatten)]
        demo: DemoArgs,
        #[command(flatten)]
        keep: Keep,
    },
    /// Play a scenario file (JSON Lines of inputs at virtual times) on the local cloud: the
    /// timeline, then what is left in dead-letter queues and parked; with `--domain`, on that
    /// domain's run with its invariants instead.
    Play {
        /// The scenario (`events/scenarios/*.jsonl`; `-` for standard input).
        scenario: PathBuf,
        /// Load a table first: `<LogicalId>=<items.json>`. Repeatable.
        #[arg(long = "table", value_name = "LOGICAL_ID=FILE")]
        tables: Vec<String>,
        /// Scheduled rules fire until this long after the last input (`10m`, `90s`, ms).
        #[arg(long, default_value = "10m")]
        until: String,
        /// Write every event put on a bus and every message published to a topic here, one
        /// JSON line each with its virtual time.
        #[arg(long)]
        emitted: Option<PathBuf>,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Inject the demo's faults (duplicates, reordering, crashes, table errors, slow publishes).
        #[arg(long)]
        faults: bool,
        /// Replay a fault file: one written by `localcloud simulate` on its domain's run (the
        /// scenario must be the one it was recorded on), with that domain's invariants checked;
        /// one without a domain (`{"faults": {...}, "choices": [...]}`) on this scenario alone.
        #[arg(long, conflicts_with_all = ["faults", "seed"])]
        faults_file: Option<PathBuf>,
        /// The virtual instant the clock starts at (RFC 3339); by default the scenario's
        /// `// start:` line, else 2026-11-23T09:00:00Z.
        #[arg(long)]
        start: Option<String>,
        /// Play on this domain's run instead of the bare cloud: seed 1, no faults, its tables
        /// loaded by the domain, then its invariants checked and its summary printed (exit 1
        /// when one breaks). The sensors domain takes only the scenario it generates.
        #[arg(
            long,
            value_parser = domain_name(),
            conflicts_with_all = ["tables", "until", "emitted", "seed", "faults", "faults_file", "start"]
        )]
        domain: Option<String>,
        /// Write what the domain's run ended with here, as JSON (orders' final states, stock,
        /// parked messages...; windows' verdicts, alerts...): what the end-to-end tests
        /// compare a deployment's resources with.
        #[arg(long, value_name = "FILE", requires = "domain")]
        outcome: Option<PathBuf>,
        #[command(flatten)]
        keep: Keep,
    },
    /// Serve the page of a run record (`--record`) on loopback, for a browser: the event
    /// graph, the timeline, the state at any instant, every event's causes and effects.
    View {
        /// The run record (JSON Lines, as `demo` or `play` wrote it with `--record`).
        record: PathBuf,
        /// The loopback port (0: any free one; the address is printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Run every domain's scenario over many seeds with invocations at once and faults above
    /// the demo's, checking every invariant; shrink each failing seed to a minimal scenario and
    /// fault file that `play --faults-file` replays.
    Simulate(SimulateArgs),
    /// Run one function in process on a sample payload: its response and what it sent.
    Invoke {
        /// The function: crate name (`reserve-inventory`), logical id or deployed name.
        function: String,
        /// The payload file (`-` for standard input).
        event_file: PathBuf,
        /// Load a table first: `<LogicalId>=<items.json>`, a JSON array of the items the
        /// deployed table would hold. Repeatable.
        #[arg(long = "table", value_name = "LOGICAL_ID=FILE")]
        tables: Vec<String>,
    },
    /// Which rules an event matches, and which queues, topics and functions it reaches.
    Route {
        /// An EventBridge event, or any AWS payload carrying envelopes (`-` for standard input).
        event_file: PathBuf,
        /// The bus (default: the template's only custom bus).
        #[arg(long)]
        bus: Option<String>,
        /// Also say why each rule that does not match does not (the first field that fails),
        /// and which topic subscriptions' filter policies refuse what a matching rule sends.
        #[arg(long)]
        explain: bool,
    },
    /// Print the envelopes inside any AWS payload (SQS, SNS, EventBridge, CloudEvents, bare), one JSON line each.
    Decode {
        /// The payload file, or `-` for standard input.
        file: PathBuf,
        /// One readable line per record instead of JSON.
        #[arg(long)]
        summary: bool,
    },
    /// Like `aws events test-event-pattern`: prints true or false; an invalid pattern exits 2.
    TestEventPattern {
        /// The pattern: JSON text, or @file.
        #[arg(long)]
        event_pattern: String,
        /// The event: JSON text, or @file.
        #[arg(long)]
        event: String,
        /// After `false`, print the first field that fails and why.
        #[arg(long)]
        explain: bool,
    },
    /// Run a domain's demo, then replay from its event store or from an EventBridge archive:
    /// what was replayed, where it went, and that consumers absorbed it and told no one.
    Replay {
        #[command(flatten)]
        replay: ReplayArgs,
        #[command(flatten)]
        demo: DemoFirst,
    },
    /// Run a domain's demo, then rebuild its views from the event store into fresh tables with
    /// the domain's own fold, and compare them with the live ones (the orders domain: its order
    /// views, with order-projection's fold).
    Rebuild {
        #[command(flatten)]
        demo: DemoFirst,
    },
    /// Run the demo of a stream's domain, then print the stream from the event store and, when
    /// the domain has one (an order), its view as of an instant.
    History {
        /// The stream: `<source>#<subject>` (e.g. `shop.orders#o-...`).
        stream: String,
        /// Only what had happened by this instant (RFC 3339, event time).
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        demo: DemoFirst,
    },
    /// Run a domain's demo (or a scenario file: `--play`), then list, show or redrive its
    /// dead-letter queues as `events dlq` does on AWS; after a redrive, run the cloud until idle
    /// and say what the consumers did.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
        #[command(flatten)]
        first: RunFirst,
    },
    /// Run a domain's demo (or a scenario file: `--play`), then list, show or resubmit what its
    /// functions parked, as `events parked` does on AWS; after a resubmit, run the cloud until
    /// idle and say what the consumers did.
    Parked {
        #[command(subcommand)]
        command: ParkedCommand,
        #[command(flatten)]
        first: RunFirst,
    },
    /// The template's event graph as a Mermaid flowchart.
    Graph {
        /// Rewrite the generated graph block of this Markdown file instead of printing.
        #[arg(long)]
        update: Option<PathBuf>,
    },
    /// The alarms and dashboard drawn from the template's functions and queues, as its
    /// generated YAML block.
    Operations {
        /// Rewrite the generated block of this template instead of printing.
        #[arg(long)]
        update: Option<PathBuf>,
    },
}

/// How `localcloud demo` runs and what it prints.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// How much each domain's demo does, in its own unit (orders the shop places; the
    /// sensors demo always plays its 65 minutes of readings). `--orders` is its old name.
    #[arg(long, alias = "orders", default_value_t = 12)]
    pub(crate) size: usize,
    /// Seed of every random choice (the same seed replays the same run).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Run without injected faults (duplicates, reordering, crashes, table errors).
    #[arg(long)]
    pub(crate) no_faults: bool,
    /// Print only the summary.
    #[arg(long, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Print every step of the timeline (each event with its routes, each request) instead
    /// of the story.
    #[arg(long)]
    pub(crate) verbose: bool,
    /// Print only the timeline's lines of this X-Ray trace id (one flow: a request, the
    /// events it caused, their notifications); the orders summary names one.
    #[arg(long, value_name = "TRACE_ID", conflicts_with_all = ["quiet", "verbose"])]
    pub(crate) trace: Option<String>,
}

/// Where a run is kept: its record, its page.
#[derive(clap::Args)]
pub(crate) struct Keep {
    /// Write the run record here: JSON Lines of every step (events with their envelopes,
    /// messages sent, received and gone, invocations), for `localcloud view` and tests.
    #[arg(long, value_name = "FILE")]
    pub(crate) record: Option<PathBuf>,
    /// Write the run's page here: one self-contained HTML file (no network) replaying the run
    /// at any virtual instant.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
}

/// The demo run first by `replay`, `rebuild`, `history`, `dlq` and `parked`.
#[derive(clap::Args, Clone)]
pub(crate) struct DemoFirst {
    /// The domain whose demo runs first; for `history`, the stream's.
    #[arg(long, default_value = first_domain(), value_parser = domain_name(), global = true)]
    pub(crate) domain: String,
    /// How much the demo does.
    #[arg(long, default_value_t = 12, global = true)]
    pub(crate) size: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1, global = true)]
    pub(crate) seed: u64,
    /// Run the demo without injected faults.
    #[arg(long, global = true)]
    pub(crate) no_faults: bool,
}

/// What `dlq` and `parked` run first: a domain's demo, or a scenario file.
#[derive(clap::Args)]
pub(crate) struct RunFirst {
    #[command(flatten)]
    pub(crate) demo: DemoFirst,
    /// Play this scenario file on the bare cloud instead of the demo (as `localcloud play`
    /// does, with `--seed`, and faults only with `--faults`).
    #[arg(long, value_name = "FILE", global = true)]
    pub(crate) play: Option<PathBuf>,
    /// With `--play`: inject the demo's faults.
    #[arg(long, requires = "play", global = true)]
    pub(crate) faults: bool,
    /// With `--play`: load a table first (`<LogicalId>=<items.json>`). Repeatable.
    #[arg(long = "table", value_name = "LOGICAL_ID=FILE", requires = "play", global = true)]
    pub(crate) tables: Vec<String>,
}

/// What `replay` replays.
#[derive(clap::Args)]
pub(crate) struct ReplayArgs {
    /// Replay the template's `AWS::Events::Archive` with this logical id (as EventBridge's
    /// StartReplay does, `replay-name` on each event) instead of the event store.
    #[arg(long)]
    pub(crate) archive: Option<String>,
    /// From the store: one stream (`<source>#<subject>`, e.g. `shop.orders#o-...`), whole.
    #[arg(long, conflicts_with_all = ["archive", "types", "from", "to"])]
    pub(crate) stream: Option<String>,
    /// From the store: only these event types (repeatable).
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "archive")]
    pub(crate) types: Vec<String>,
    /// Events with an event time at or after this instant (RFC 3339; default: all).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Events with an event time before this instant (RFC 3339; default: all).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Deliver only to this rule's targets (logical id), as a replay's rule filter does.
    #[arg(long)]
    pub(crate) rule: Option<String>,
}

/// How to run a simulation campaign.
#[derive(clap::Args)]
pub(crate) struct SimulateArgs {
    /// How many seeds per domain.
    #[arg(long, default_value_t = 100)]
    pub(crate) seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub(crate) first_seed: u64,
    /// Only this domain (repeatable); all by default.
    #[arg(long = "domain", value_parser = domain_name())]
    pub(crate) domains: Vec<String>,
    /// A variant of the domains' scenarios (`backlog`: a sensor uploads ten minutes of
    /// buffered readings at once); every chosen domain must have it.
    #[arg(long)]
    pub(crate) variant: Option<String>,
    /// Where reproducers are written.
    #[arg(long, default_value = "target/simulate")]
    pub(crate) out: PathBuf,
    /// Runs the shrinking of one failing seed may take.
    #[arg(long, default_value_t = 300)]
    pub(crate) shrink_runs: usize,
    /// Shrink at most this many failing seeds per domain.
    #[arg(long, default_value_t = 1)]
    pub(crate) shrink_seeds: usize,
    /// Breaks an issue will fix (a JSON list of `{class, issue, why}`): seeds that break only
    /// these are reported as known, not failed.
    #[arg(long)]
    pub(crate) known: Option<PathBuf>,
    /// Threads running seeds side by side (each run is single-threaded and deterministic).
    #[arg(long, default_value_t = std::thread::available_parallelism().map_or(1, std::num::NonZero::get))]
    pub(crate) workers: usize,
}

/// The domain `--domain` takes when not given: the first the CLI bundles.
fn first_domain() -> &'static str {
    localcloud::domain_names().first().copied().unwrap_or_default()
}

/// `--domain` takes the name of a domain the CLI bundles, and lists them when it does not.
fn domain_name() -> PossibleValuesParser {
    PossibleValuesParser::new(localcloud::domain_names())
}

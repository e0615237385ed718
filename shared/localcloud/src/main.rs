//! `localcloud`: the developer CLI of the event-driven backend.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::decode::{Format, decode};
use emulator::domain::{self, DemoOptions};
use emulator::faults::Faults;
use emulator::scenario::{self, Scenario};
use emulator::topology::Topology;
use event_pattern::Pattern;
use handler_kit::local::Sent;
use localcloud::campaign::{self, FaultFile};
use localcloud::{domains, runtime};
use serde_json::Value;

#[derive(Parser)]
#[command(version, about = "Run, route and inspect the event-driven backend on this machine")]
struct Cli {
    /// The SAM template.
    #[arg(long, global = true, default_value = "infra/template.yaml")]
    template: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every domain's demo on the local cloud: the timeline, a summary, the invariants.
    Demo {
        /// How much each domain's demo does (orders placed, readings sent).
        #[arg(long, alias = "size", default_value_t = 12)]
        orders: usize,
        /// Seed of every random choice (the same seed replays the same run).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run without injected faults (duplicates, reordering, crashes, table errors).
        #[arg(long)]
        no_faults: bool,
        /// Print only the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// Play a scenario file (JSON Lines of inputs at virtual times) on the local cloud: the
    /// timeline, then what is left in dead-letter queues and parked.
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
    },
    /// Run every domain's scenario over many seeds with invocations at once and faults above
    /// the demo's, checking every invariant; shrink each failing seed to a minimal scenario and
    /// fault file that `play --faults-file` replays.
    Simulate(Simulate),
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
        demo: DemoArgs,
    },
    /// Run the orders demo, then rebuild the order views from the event store into a fresh
    /// table with order-projection's own fold, and compare them with the live ones.
    Rebuild {
        #[command(flatten)]
        demo: DemoArgs,
    },
    /// Run the demo of a stream's domain, then print the stream from the event store and, for an
    /// order, its view as of an instant.
    History {
        /// The stream: `<source>#<subject>` (e.g. `shop.orders#o-...`).
        stream: String,
        /// Only what had happened by this instant (RFC 3339, event time).
        #[arg(long)]
        as_of: Option<String>,
        #[command(flatten)]
        demo: DemoArgs,
    },
    /// The template's event graph as a Mermaid flowchart.
    Graph {
        /// Rewrite the generated graph block of this Markdown file instead of printing.
        #[arg(long)]
        update: Option<PathBuf>,
    },
}

/// The demo run first by `replay`, `rebuild` and `history`.
#[derive(clap::Args, Clone, Copy)]
struct DemoArgs {
    /// The domain whose demo runs first (`orders`, `sensors`); for `history`, the stream's.
    #[arg(long, default_value = "orders")]
    domain: Domain,
    /// How much the demo does.
    #[arg(long, default_value_t = 12)]
    size: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run the demo without injected faults.
    #[arg(long)]
    no_faults: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum Domain {
    Orders,
    Sensors,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            orders,
            seed,
            no_faults,
            quiet,
        } => demo(&cli.template, orders, seed, no_faults, quiet),
        Command::Invoke {
            function,
            event_file,
            tables,
        } => invoke(&cli.template, &function, &event_file, &tables),
        Command::Play {
            scenario,
            tables,
            until,
            emitted,
            seed,
            faults,
            faults_file,
            start,
        } => play(
            &cli.template,
            &scenario,
            &Play {
                tables,
                until,
                emitted,
                seed,
                faults,
                faults_file,
                start,
            },
        ),
        Command::Simulate(options) => simulate(&cli.template, &options),
        Command::Route {
            event_file,
            bus,
            explain,
        } => route(&cli.template, &event_file, bus.as_deref(), explain),
        Command::Decode { file, summary } => decode_file(&file, summary),
        Command::TestEventPattern {
            event_pattern,
            event,
            explain,
        } => return test_event_pattern(&event_pattern, &event, explain),
        Command::Graph { update } => graph(&cli.template, update.as_deref()),
        Command::Replay { replay: args, demo } => replay(&cli.template, &demo, &args),
        Command::Rebuild { demo } => rebuild(&cli.template, &demo),
        Command::History { stream, as_of, demo } => history(&cli.template, &stream, as_of.as_deref(), demo),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::FAILURE
    })
}

/// Prints to stdout; a closed pipe (`| head`) is not worth a panic.
fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end_matches('\n'));
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    let mut payload = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut payload)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
    } else {
        payload = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    }
    Ok(payload)
}

fn demo(template: &Path, size: usize, seed: u64, no_faults: bool, quiet: bool) -> Result<ExitCode, String> {
    let started = Instant::now();
    let faults = if no_faults { Faults::none() } else { Faults::demo() };
    let mut failed = false;
    let registry = localcloud::registry();
    for domain in domains() {
        let options = DemoOptions {
            size,
            seed,
            faults,
            replay: None,
            variant: None,
        };
        let mut run = domain.demo(template, options, &registry)?;
        let cloud = run.cloud_mut();
        cloud.keep_timeline(false);
        if !quiet {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            cloud.observe(move |entry| {
                let _ = writeln!(out, "{entry}");
            });
            print(&format!(
                "Local cloud: {} (seed {seed}, faults {}); {} demo, size {size}\n",
                template.display(),
                if no_faults { "off" } else { "on" },
                domain.name()
            ));
        }
        let report = runtime()?.block_on(run.finish());
        // Flush the timeline before the summary.
        run.cloud_mut().observe(|_| {});
        print(&report.summary);
        failed |= !report.violations.is_empty();
        match runtime()?.block_on(localcloud::audit(run.cloud_mut())) {
            Ok(line) => print(&line),
            Err(failures) => {
                failed = true;
                print("Event store audit FAILED:");
                for failure in failures {
                    print(&format!("  {failure}"));
                }
            }
        }
    }
    print(&format!("Wall time: {:.2} s", started.elapsed().as_secs_f64()));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn graph(template: &Path, update: Option<&Path>) -> Result<ExitCode, String> {
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let graph = emulator::graph::mermaid(&topology, &localcloud::registry());
    let Some(file) = update else {
        print(&graph);
        return Ok(ExitCode::SUCCESS);
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let updated = emulator::graph::embed(&text, &graph)
        .ok_or_else(|| format!("{} has no line `{}`", file.display(), emulator::graph::MARKER))?;
    std::fs::write(file, updated).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn find_function(topology: &Topology, name: &str) -> Option<String> {
    topology
        .functions
        .values()
        .find(|f| f.spec.binary == name || f.spec.logical_id == name || f.spec.name == name)
        .map(|f| f.spec.logical_id.clone())
}

/// How to play a scenario.
struct Play {
    tables: Vec<String>,
    until: String,
    emitted: Option<PathBuf>,
    seed: u64,
    faults: bool,
    faults_file: Option<PathBuf>,
    start: Option<String>,
}

fn play(template: &Path, file: &Path, options: &Play) -> Result<ExitCode, String> {
    let text = String::from_utf8(read(file)?).map_err(|_| format!("{}: not UTF-8 text", file.display()))?;
    let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let until = scenario::parse_offset(&options.until).map_err(|e| format!("--until: {e}"))?;
    let fault_file = match &options.faults_file {
        Some(path) => Some(
            serde_json::from_slice::<FaultFile>(&read(path)?)
                .map_err(|e| format!("{}: not a fault file: {e}", path.display()))?,
        ),
        None => None,
    };
    // A domain's fault file replays on its domain's run; one without a domain replays its
    // choices on this scenario alone.
    let (faults, replay) = match fault_file {
        Some(file) if !file.domain.is_empty() => return replay_fault_file(template, &scenario, &file),
        Some(file) => (file.faults, Some(std::sync::Arc::new(file.choices))),
        None if options.faults => (Faults::demo(), None),
        None => (Faults::none(), None),
    };
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let start = match &options.start {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| format!("--start {text}: not an RFC 3339 instant: {e}"))?
                .with_timezone(&chrono::Utc),
        ),
        None => scenario.start,
    };
    let cloud_options = CloudOptions {
        seed: options.seed,
        faults,
        schedules_until: scenario.last_at() + until,
        start: start.unwrap_or(CloudOptions::default().start),
        replay,
    };
    let mut cloud = LocalCloud::new(topology, cloud_options, &localcloud::registry()).map_err(|e| e.to_string())?;
    load_tables(&cloud, &options.tables)?;
    if options.emitted.is_some() {
        cloud.keep_emitted();
    }
    cloud.keep_timeline(false);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    cloud.observe(move |entry| {
        let _ = writeln!(out, "{entry}");
    });
    scenario.schedule(&mut cloud)?;
    runtime()?.block_on(cloud.run(i64::MAX));
    cloud.observe(|_| {});
    print(&format!(
        "\n== After {} of virtual time ==",
        emulator::cloud::clock_text(cloud.now())
    ));
    let mut left = 0;
    for queue in cloud.queues() {
        for message in queue.messages() {
            left += 1;
            let why = message.sent.attributes.get("parked-reason").map_or_else(
                || cloud.failure_of(&message.id).unwrap_or("not processed").to_owned(),
                Clone::clone,
            );
            print(&format!("{}: {} ({why})", queue.config().logical_id, message.id));
        }
    }
    for lost in &cloud.stats().undeliverable {
        print(&format!("undeliverable: {lost}"));
    }
    if left == 0 && cloud.stats().undeliverable.is_empty() {
        print("Every queue drained; nothing undeliverable.");
    }
    if let Some(path) = &options.emitted {
        let lines: String = cloud
            .emitted()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
            .collect();
        std::fs::write(path, lines).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        print(&format!(
            "{} emitted events and messages written to {}",
            cloud.emitted().len(),
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays `fault`'s choices on its domain's run of `scenario`: the timeline around the break,
/// the domain's summary and whether the break reproduces.
fn replay_fault_file(template: &Path, scenario: &Scenario, fault: &FaultFile) -> Result<ExitCode, String> {
    let domain = domains()
        .into_iter()
        .find(|d| d.name() == fault.domain)
        .ok_or_else(|| {
            format!(
                "the fault file names domain {}, which this CLI does not bundle",
                fault.domain
            )
        })?;
    let options = DemoOptions {
        size: fault.size,
        seed: fault.seed,
        faults: fault.faults,
        replay: Some(std::sync::Arc::new(fault.choices.clone())),
        variant: fault.variant.clone(),
    };
    let mut run = domain.simulation(template, options, &localcloud::registry())?;
    if run.scenario() != *scenario {
        return Err(format!(
            "the scenario is not the one the fault file was recorded on ({} seed {}, size {}): write it with `localcloud simulate`",
            fault.domain, fault.seed, fault.size
        ));
    }
    let cloud = run.cloud_mut();
    cloud.keep_timeline(false);
    let mut out = std::io::BufWriter::new(std::io::stdout());
    cloud.observe(move |entry| {
        let _ = writeln!(out, "{entry}");
    });
    let report = runtime()?.block_on(run.finish());
    run.cloud_mut().observe(|_| {});
    print(&report.summary);
    let class = campaign::invariant_class(&fault.breaks);
    if let Some(found) = report.violations.iter().find(|v| campaign::invariant_class(v) == class) {
        print(&format!("The break reproduces: {found}"));
        Ok(ExitCode::FAILURE)
    } else if report.violations.is_empty() {
        print(&format!(
            "Every invariant holds: the break no longer reproduces ({})",
            fault.breaks
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        print("Other invariants break than the fault file names.");
        Ok(ExitCode::FAILURE)
    }
}

/// How to run a simulation campaign.
#[derive(clap::Args)]
struct Simulate {
    /// How many seeds per domain.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Only this domain (repeatable); all by default.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// A variant of the domains' scenarios (`backlog`: a sensor uploads ten minutes of
    /// buffered readings at once); every chosen domain must have it.
    #[arg(long)]
    variant: Option<String>,
    /// Where reproducers are written.
    #[arg(long, default_value = "target/simulate")]
    out: PathBuf,
    /// Runs the shrinking of one failing seed may take.
    #[arg(long, default_value_t = 300)]
    shrink_runs: usize,
    /// Shrink at most this many failing seeds per domain.
    #[arg(long, default_value_t = 1)]
    shrink_seeds: usize,
    /// Breaks an issue will fix (a JSON list of `{class, issue, why}`): seeds that break only
    /// these are reported as known, not failed.
    #[arg(long)]
    known: Option<PathBuf>,
    /// Threads running seeds side by side (each run is single-threaded and deterministic).
    #[arg(long, default_value_t = std::thread::available_parallelism().map_or(1, std::num::NonZero::get))]
    workers: usize,
}

fn simulate(template: &Path, options: &Simulate) -> Result<ExitCode, String> {
    let started = Instant::now();
    let registry = localcloud::registry();
    let known: Vec<&str> = domains().iter().map(|d| d.name()).collect();
    for name in &options.domains {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "--domain {name}: no such domain (there are: {})",
                known.join(", ")
            ));
        }
    }
    let chosen: Vec<_> = domains()
        .into_iter()
        .filter(|d| options.domains.is_empty() || options.domains.iter().any(|n| n == d.name()))
        .collect();
    let known: Vec<campaign::KnownBreak> = match &options.known {
        Some(path) => serde_json::from_slice(&read(path)?)
            .map_err(|e| format!("{}: not a list of known breaks: {e}", path.display()))?,
        None => Vec::new(),
    };
    let runtime = runtime()?;
    let mut failed = false;
    let mut total = 0;
    for domain in chosen {
        let size = domain.simulation_size();
        let variant = options.variant.as_deref();
        if let Some(variant) = variant
            && !domain.variants().contains(&variant)
        {
            return Err(format!(
                "--variant {variant}: the {} scenario has no such variant (it has: {})",
                domain.name(),
                domain.variants().join(", ")
            ));
        }
        let summary = campaign::campaign(
            domain.name(),
            template,
            options.first_seed..options.first_seed.saturating_add(options.seeds),
            size,
            variant,
            options.workers,
            &known,
        )?;
        total += summary.seeds;
        print(&summary.report());
        for (seed, violations) in &summary.known {
            let issue = known
                .iter()
                .find(|k| k.class == campaign::invariant_class(&violations[0]))
                .map_or("?", |k| k.issue.as_str());
            print(&format!(
                "  known (issue {issue}) seed {seed}: {} violations, the first: {}",
                violations.len(),
                violations[0]
            ));
        }
        for (seed, violations) in &summary.failures {
            failed = true;
            print(&format!(
                "  FAILED seed {seed}: {} violations, the first: {}",
                violations.len(),
                violations[0]
            ));
        }
        for (seed, violations) in summary.failures.iter().take(options.shrink_seeds) {
            let spec = campaign::spec(*seed, size, variant);
            let failing = runtime.block_on(campaign::run(domain, template, &registry, &spec))?;
            let shrunk = runtime.block_on(campaign::shrink(
                domain,
                template,
                &registry,
                &spec,
                &failing,
                &violations[0],
                options.shrink_runs,
            ))?;
            std::fs::create_dir_all(&options.out)
                .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
            let name = match variant {
                Some(variant) => format!("{}-{variant}-seed-{seed}", domain.name()),
                None => format!("{}-seed-{seed}", domain.name()),
            };
            let base = options.out.join(name);
            let scenario_path = base.with_extension("jsonl");
            let faults_path = base.with_extension("faults.json");
            std::fs::write(&scenario_path, shrunk.scenario.to_jsonl())
                .map_err(|e| format!("cannot write {}: {e}", scenario_path.display()))?;
            let json = serde_json::to_string_pretty(&shrunk.file).map_err(|e| e.to_string())?;
            std::fs::write(&faults_path, json + "\n")
                .map_err(|e| format!("cannot write {}: {e}", faults_path.display()))?;
            print(&format!(
                "  seed {seed} shrunk from {} choices to {} in {} runs; replay it:\n    localcloud play {} --faults-file {}\n  the minimal run's timeline about the break:",
                shrunk.from,
                shrunk.file.choices.len(),
                shrunk.runs,
                scenario_path.display(),
                faults_path.display()
            ));
            for line in &shrunk.timeline {
                print(&format!("    {line}"));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    print(&format!(
        "Simulation: {total} runs in {seconds:.1} s ({:.1} runs per second)",
        total as f64 / seconds.max(1e-9)
    ));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Loads each `<LogicalId>=<items.json>` into `cloud`.
fn load_tables(cloud: &LocalCloud, tables: &[String]) -> Result<(), String> {
    for table in tables {
        let (logical_id, file) = table
            .split_once('=')
            .ok_or_else(|| format!("--table {table}: expected <LogicalId>=<items.json>"))?;
        let items: Vec<Value> = serde_json::from_slice(&read(Path::new(file))?)
            .map_err(|e| format!("--table {table}: {file} is not a JSON array of items: {e}"))?;
        cloud.load_table(logical_id, &items)?;
    }
    Ok(())
}

fn invoke(template: &Path, function: &str, event_file: &Path, tables: &[String]) -> Result<ExitCode, String> {
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let logical_id = find_function(&topology, function).ok_or_else(|| {
        let names: Vec<&str> = topology.functions.values().map(|f| f.spec.binary.as_str()).collect();
        format!(
            "no function {function} in the template (there are: {})",
            names.join(", ")
        )
    })?;
    let payload: Value =
        serde_json::from_slice(&read(event_file)?).map_err(|e| format!("{}: not JSON: {e}", event_file.display()))?;
    let mut cloud =
        LocalCloud::new(topology, CloudOptions::default(), &localcloud::registry()).map_err(|e| e.to_string())?;
    load_tables(&cloud, tables)?;
    let (response, sent) = runtime()?.block_on(cloud.invoke_alone(&logical_id, payload));
    let failed = response.is_err();
    match response {
        Ok(response) => print(&format!(
            "response:\n{}",
            serde_json::to_string_pretty(&response).unwrap_or_default()
        )),
        Err(error) => print(&format!("function error: {error}")),
    }
    print("sent:");
    for sent in &sent {
        match sent {
            Sent::Events { bus, events } => {
                for event in events {
                    print(&format!(
                        "  PutEvents {bus}: {} {} (id {})",
                        event.metadata.event_type, event.metadata.subject, event.metadata.id
                    ));
                }
            }
            Sent::Notifications { topic_arn, messages } => {
                for message in messages {
                    print(&format!("  Publish {topic_arn}: {}", message.body));
                }
            }
            Sent::Messages { queue_url, messages } => {
                for message in messages {
                    let reason = message
                        .attributes
                        .iter()
                        .find(|(name, _)| name == "parked-reason")
                        .map_or("", |(_, reason)| reason.as_str());
                    print(&format!("  SendMessage {queue_url}: parked: {reason}"));
                }
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn route(template: &Path, event_file: &Path, bus: Option<&str>, explain: bool) -> Result<ExitCode, String> {
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let known = domain::event_types(&domains());
    let routed = emulator::route::route(&topology, &read(event_file)?, bus, known, explain)?;
    for event in routed {
        if event.routes.is_empty() {
            print(&format!("{}: no rule matches", event.event_type));
        }
        for route in event.routes.iter().chain(&event.not_routed) {
            print(&format!("{}: {route}", event.event_type));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_file(file: &Path, summary: bool) -> Result<ExitCode, String> {
    let payload = read(file)?;
    let format = if summary { Format::Summary } else { Format::JsonLines };
    // The domains' event types: their versions are checked and old ones upcast.
    let report = decode(&domain::event_types(&domains()), &payload, format);
    for line in &report.lines {
        print(line);
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// JSON text, or the contents of `@file`.
fn argument(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}")),
        None => Ok(text.to_owned()),
    }
}

fn test_event_pattern(pattern: &str, event: &str, explain: bool) -> ExitCode {
    let invalid = |reason: String| {
        eprintln!("InvalidEventPatternException: {reason}");
        ExitCode::from(2)
    };
    // An invalid pattern reads as PutRule's error: `Event pattern is not valid. Reason: ...`.
    let pattern = match argument(pattern).and_then(|text| text.parse::<Pattern>().map_err(|e| e.aws_message())) {
        Ok(pattern) => pattern,
        Err(reason) => return invalid(reason),
    };
    let event: Value = match argument(event).and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string())) {
        Ok(event) => event,
        Err(reason) => return invalid(format!("the event is not JSON: {reason}")),
    };
    if pattern.matches(&event) {
        print("true");
    } else {
        print("false");
        // Only asked for: the walk that explains costs nothing when not wanted.
        if explain && let Some(why) = pattern.explain(&event) {
            print(&why.to_string());
        }
    }
    ExitCode::SUCCESS
}

/// Runs `args`' demo to its end and returns it, the timeline unprinted.
fn demo_run(template: &Path, args: &DemoArgs) -> Result<Box<dyn emulator::domain::DemoRun>, String> {
    let name = match args.domain {
        Domain::Orders => "orders",
        Domain::Sensors => "sensors",
    };
    let domain = domains()
        .into_iter()
        .find(|d| d.name() == name)
        .ok_or_else(|| format!("no domain {name}"))?;
    let faults = if args.no_faults { Faults::none() } else { Faults::demo() };
    let options = DemoOptions {
        size: args.size,
        seed: args.seed,
        faults,
        replay: None,
        variant: None,
    };
    let mut run = domain.demo(template, options, &localcloud::registry())?;
    run.cloud_mut().keep_timeline(false);
    let report = runtime()?.block_on(run.finish());
    if !report.violations.is_empty() {
        return Err(format!("the {name} demo broke its invariants: {:?}", report.violations));
    }
    Ok(run)
}

fn instant(
    text: Option<&str>,
    what: &str,
    default: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    text.map_or(Ok(default), |text| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| format!("--{what}: '{text}' is not an RFC 3339 date-time with an offset ({e})"))
    })
}

/// Later than any event time: the end of a range left open.
const END_OF_TIME: chrono::DateTime<chrono::Utc> = chrono::DateTime::<chrono::Utc>::MAX_UTC;

/// The run's event store.
fn store_of(cloud: &LocalCloud) -> Result<std::sync::Arc<event_store::InMemoryEventStore>, String> {
    cloud
        .tables()
        .all::<event_store::InMemoryEventStore>()
        .into_iter()
        .next()
        .map(|(_, store)| store)
        .ok_or_else(|| "the template has no event store table that event-archive writes".to_owned())
}

/// What `replay` replays.
#[derive(clap::Args)]
struct ReplayArgs {
    /// Replay the template's `AWS::Events::Archive` with this logical id (as EventBridge's
    /// StartReplay does, `replay-name` on each event) instead of the event store.
    #[arg(long)]
    archive: Option<String>,
    /// From the store: one stream (`<source>#<subject>`, e.g. `shop.orders#o-...`), whole.
    #[arg(long, conflicts_with_all = ["archive", "types", "from", "to"])]
    stream: Option<String>,
    /// From the store: only these event types (repeatable).
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "archive")]
    types: Vec<String>,
    /// Events with an event time at or after this instant (RFC 3339; default: all).
    #[arg(long)]
    from: Option<String>,
    /// Events with an event time before this instant (RFC 3339; default: all).
    #[arg(long)]
    to: Option<String>,
    /// Deliver only to this rule's targets (logical id), as a replay's rule filter does.
    #[arg(long)]
    rule: Option<String>,
}

fn replay(template: &Path, demo: &DemoArgs, args: &ReplayArgs) -> Result<ExitCode, String> {
    // Everything by default: the local store is in memory, so a wide range costs nothing.
    let from = instant(
        args.from.as_deref(),
        "from",
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    )?;
    let to = instant(args.to.as_deref(), "to", END_OF_TIME)?;
    let mut run = demo_run(template, demo)?;
    let cloud = run.cloud_mut();
    let name = event_store::replay::default_name(chrono::Utc::now());
    let bus = cloud
        .topology()
        .buses
        .values()
        .next()
        .map(|b| b.name.clone())
        .ok_or("the template has no custom bus")?;
    cloud.keep_emitted();
    let before = cloud.emitted().len();
    let replayed = match &args.archive {
        Some(archive) => cloud.replay_archive(archive, from, to, args.rule.as_deref(), &name)?,
        None => {
            let selection = match &args.stream {
                Some(stream) => event_store::replay::Selection::Stream(stream.clone()),
                None => event_store::replay::Selection::Range {
                    from,
                    to,
                    types: args.types.clone(),
                },
            };
            let store = store_of(cloud)?;
            let events = runtime()?
                .block_on(selection.read(&*store))
                .map_err(|e| e.to_string())?;
            let count = events.len();
            let events = event_store::replay::marked(events, &name);
            cloud.put_events_to(&bus, events, &format!("replay {name}"), args.rule.as_deref());
            count
        }
    };
    runtime()?.block_on(cloud.run(i64::MAX));
    let sent: Vec<&emulator::cloud::Emitted> = cloud.emitted()[before..].iter().collect();
    let told = sent.iter().filter(|e| e.topic.is_some()).count();
    let new_events = sent
        .iter()
        .filter(|e| {
            e.bus.is_some()
                && e.event.get("replay-name").is_none()
                && e.event.pointer("/detail/metadata/replay").is_none()
        })
        .count();
    print(&format!(
        "Replay {name}: {replayed} events from {} to {}; consumers published {new_events} new events and told no one ({told} notifications or alerts sent).",
        args.archive
            .as_deref()
            .map_or_else(|| "the event store".to_owned(), |a| format!("archive {a}")),
        args.rule
            .as_deref()
            .map_or_else(|| "every matching rule".to_owned(), |r| format!("rule {r} only")),
    ));
    let audit = runtime()?.block_on(localcloud::audit(cloud));
    match &audit {
        Ok(line) => print(line),
        Err(failures) => print(&format!("Event store audit FAILED: {failures:?}")),
    }
    Ok(if told == 0 && audit.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn rebuild(template: &Path, demo: &DemoArgs) -> Result<ExitCode, String> {
    let mut run = demo_run(
        template,
        &DemoArgs {
            domain: Domain::Orders,
            ..*demo
        },
    )?;
    let cloud = run.cloud_mut();
    let store = store_of(cloud)?;
    let (_, live) = cloud
        .tables()
        .all::<order_stores::InMemoryOrderViews>()
        .into_iter()
        .next()
        .ok_or("the template has no order views table")?;
    let fresh = order_stores::InMemoryOrderViews::new();
    let rebuilt = runtime()?
        .block_on(order_projection::rebuild(&*store, &fresh, &*live))
        .map_err(|e| e.to_string())?;
    print(&format!(
        "Rebuilt {} order views from {} events in the store.",
        rebuilt.orders, rebuilt.events
    ));
    for lagging in &rebuilt.lagging {
        print(&format!("  live view behind the store: {lagging}"));
    }
    if rebuilt.differences.is_empty() && rebuilt.lagging.is_empty() {
        print("Every rebuilt view equals the live one, order by order.");
        return Ok(ExitCode::SUCCESS);
    }
    for difference in &rebuilt.differences {
        print(&format!("  differs: {difference}"));
    }
    Ok(ExitCode::FAILURE)
}

fn history(template: &Path, stream: &str, as_of: Option<&str>, demo: DemoArgs) -> Result<ExitCode, String> {
    let domain = match stream.split_once('#').map(|(source, _)| source) {
        Some(orders::events::SOURCE) => Domain::Orders,
        Some(_) => Domain::Sensors,
        None => return Err(format!("{stream}: a stream is <source>#<subject>")),
    };
    let mut run = demo_run(template, &DemoArgs { domain, ..demo })?;
    let store = store_of(run.cloud_mut())?;
    let events = runtime()?
        .block_on(event_store::EventStore::stream(&*store, stream))
        .map_err(|e| e.to_string())?;
    if events.is_empty() {
        let mut known: Vec<String> = store.events().into_iter().map(|e| e.stream).collect();
        known.dedup();
        known.truncate(5);
        return Err(format!(
            "no stream {stream} in the store after the demo (seed {}, size {}); it holds {}, ...",
            demo.seed,
            demo.size,
            known.join(", ")
        ));
    }
    let at = instant(as_of, "as-of", END_OF_TIME)?;
    for line in event_store::history::lines(&events, at) {
        print(&line);
    }
    let past = event_store::history::as_of(&events, at);
    if domain == Domain::Orders {
        match orders::lifecycle::OrderView::fold(past.map(|e| e.envelope.clone())).map_err(|e| e.to_string())? {
            Some(view) => print(&serde_json::to_string_pretty(&view).unwrap_or_default()),
            None => print("the order did not exist yet"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

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
use localcloud::domains;
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
    },
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
    /// The template's event graph as a Mermaid flowchart.
    Graph {
        /// Rewrite the generated graph block of this Markdown file instead of printing.
        #[arg(long)]
        update: Option<PathBuf>,
    },
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
        } => play(
            &cli.template,
            &scenario,
            &Play {
                tables,
                until,
                emitted,
                seed,
                faults,
            },
        ),
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

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        // The kit's timeouts and backoffs run on tokio's clock: paused, they cannot make two
        // runs of one seed differ.
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
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
        let mut run = domain.demo(template, DemoOptions { size, seed, faults }, &registry)?;
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
        match localcloud::audit(run.cloud_mut()) {
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
}

fn play(template: &Path, file: &Path, options: &Play) -> Result<ExitCode, String> {
    let text = String::from_utf8(read(file)?).map_err(|_| format!("{}: not UTF-8 text", file.display()))?;
    let scenario = Scenario::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let until = scenario::parse_offset(&options.until).map_err(|e| format!("--until: {e}"))?;
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let cloud_options = CloudOptions {
        seed: options.seed,
        faults: if options.faults { Faults::demo() } else { Faults::none() },
        schedules_until: scenario.last_at() + until,
        ..CloudOptions::default()
    };
    let mut cloud =
        LocalCloud::new(topology, cloud_options, &localcloud::registry()).map_err(|e| e.to_string())?;
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

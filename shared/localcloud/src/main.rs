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
        Command::Route { event_file, bus } => route(&cli.template, &event_file, bus.as_deref()),
        Command::Decode { file, summary } => decode_file(&file, summary),
        Command::TestEventPattern { event_pattern, event } => return test_event_pattern(&event_pattern, &event),
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
    for domain in domains() {
        let mut run = domain.demo(template, DemoOptions { size, seed, faults })?;
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
    }
    print(&format!("Wall time: {:.2} s", started.elapsed().as_secs_f64()));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn graph(template: &Path, update: Option<&Path>) -> Result<ExitCode, String> {
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let graph = emulator::graph::mermaid(&topology, &domain::registry(&domains()));
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
        LocalCloud::new(topology, CloudOptions::default(), &domain::registry(&domains())).map_err(|e| e.to_string())?;
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

fn route(template: &Path, event_file: &Path, bus: Option<&str>) -> Result<ExitCode, String> {
    let topology = Topology::load(template, &sam_template::Options::default()).map_err(|e| e.to_string())?;
    let routed = emulator::route::route(&topology, &read(event_file)?, bus, domain::event_types(&domains()))?;
    for event in routed {
        if event.routes.is_empty() {
            print(&format!("{}: no rule matches", event.event_type));
        }
        for route in event.routes {
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

fn test_event_pattern(pattern: &str, event: &str) -> ExitCode {
    let invalid = |reason: String| {
        eprintln!("InvalidEventPatternException: {reason}");
        ExitCode::from(2)
    };
    let pattern = match argument(pattern).and_then(|text| text.parse::<Pattern>().map_err(|e| e.to_string())) {
        Ok(pattern) => pattern,
        Err(reason) => return invalid(reason),
    };
    let event: Value = match argument(event).and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string())) {
        Ok(event) => event,
        Err(reason) => return invalid(format!("the event is not JSON: {reason}")),
    };
    print(if pattern.matches(&event) { "true" } else { "false" });
    ExitCode::SUCCESS
}

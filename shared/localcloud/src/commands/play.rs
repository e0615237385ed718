//! `localcloud play`: a scenario file on the local cloud, its timeline, then what is left in
//! queues; with a domain's fault file, that domain's run replayed with its invariants; with
//! `--domain`, the file on that domain's fault-free run with its invariants, and what it ended
//! with written as JSON (`--outcome`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::domain::{DemoOptions, DemoReport};
use emulator::faults::Faults;
use emulator::scenario::{self, Scenario};
use emulator::topology::Topology;
use localcloud::Error;
use localcloud::campaign::{self, FaultFile};
use localcloud::page::{RunRecord, Shared};
use tokio::runtime::Runtime;

use crate::args::Keep;
use crate::input::{load_tables, read};
use crate::output::{print, print_timeline, stop_timeline};

/// How to play a scenario.
pub(crate) struct Play {
    pub(crate) tables: Vec<String>,
    pub(crate) until: String,
    pub(crate) emitted: Option<PathBuf>,
    pub(crate) seed: u64,
    pub(crate) faults: bool,
    pub(crate) faults_file: Option<PathBuf>,
    pub(crate) start: Option<String>,
    /// Play on this domain's run, with its invariants.
    pub(crate) domain: Option<String>,
    /// Where to write what the domain's run ended with.
    pub(crate) outcome: Option<PathBuf>,
    /// Where to keep the run: its record, its page.
    pub(crate) keep: Keep,
}

/// Plays the scenario in `file` as `options` say.
pub(crate) fn play(runtime: &Runtime, template: &Path, file: &Path, options: &Play) -> Result<ExitCode, Error> {
    let scenario = parse(file)?;
    if let Some(domain) = &options.domain {
        return play_checked(runtime, template, (file, &scenario), domain, options);
    }
    let until = scenario::parse_offset(&options.until).map_err(|e| Error::input("--until", e))?;
    let fault_file = match &options.faults_file {
        Some(path) => Some(
            serde_json::from_slice::<FaultFile>(&read(path)?)
                .map_err(|e| Error::input(path.display().to_string(), format!("not a fault file: {e}")))?,
        ),
        None => None,
    };
    // A domain's fault file replays on its domain's run; one without a domain replays its
    // choices on this scenario alone.
    let (faults, replay) = match fault_file {
        Some(file) if !file.domain.is_empty() => {
            return replay_fault_file(runtime, template, &scenario, &file, &options.keep);
        }
        Some(file) => (file.faults, Some(Arc::new(file.choices))),
        None if options.faults => (Faults::demo(), None),
        None => (Faults::none(), None),
    };
    let start = match &options.start {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|e| Error::input(format!("--start {text}"), format!("not an RFC 3339 instant: {e}")))?
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
    let mut cloud = bare_cloud(template, cloud_options, &options.tables)?;
    if options.emitted.is_some() {
        cloud.keep_emitted();
    }
    cloud.keep_timeline(false);
    print_timeline(&mut cloud);
    let record = RunRecord::open(options.keep.record.as_deref(), options.keep.html.as_deref())?;
    if let Some(record) = &record {
        let title = format!("{} played, seed {}", file.display(), options.seed);
        record.borrow_mut().start_run(&cloud, None, &title, template);
        RunRecord::attach(record, &mut cloud);
    }
    scenario.schedule(&mut cloud).map_err(Error::Cloud)?;
    runtime.block_on(cloud.run(i64::MAX));
    stop_timeline(&mut cloud);
    let left = format!(
        "\n== After {} of virtual time ==\n{}",
        emulator::cloud::clock_text(cloud.now()),
        what_is_left(&cloud)
    );
    print(&left);
    let report = DemoReport {
        summary: left,
        ..DemoReport::default()
    };
    end_record(record, None, &report)?;
    if let Some(path) = &options.emitted {
        let lines: String = cloud
            .emitted()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
            .collect();
        std::fs::write(path, lines).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        print(&format!(
            "{} emitted events and messages written to {}",
            cloud.emitted().len(),
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Ends the run in `record` (if one is kept) with `report`, writes its files and says where.
fn end_record(record: Option<Shared>, domain: Option<&str>, report: &DemoReport) -> Result<(), Error> {
    if let Some(record) = record {
        record.borrow_mut().end_run(domain, report, "");
        for line in RunRecord::finish(record)? {
            print(&line);
        }
    }
    Ok(())
}

/// The cloud of `template` with `options`, its `tables` (`<LogicalId>=<items.json>`) loaded.
fn bare_cloud(template: &Path, options: CloudOptions, tables: &[String]) -> Result<LocalCloud, Error> {
    let topology = Topology::load(template, &sam_template::Options::default())?;
    let cloud = LocalCloud::new(topology, options, &localcloud::catalogue())?;
    load_tables(&cloud, tables)?;
    Ok(cloud)
}

/// The cloud after playing the scenario in `file` as `localcloud play` does (seed `seed`,
/// the demo's faults when `faults`, scheduled rules until 10 minutes after the last input),
/// with nothing printed: what the repair tools work on.
pub(crate) fn played(
    runtime: &Runtime,
    template: &Path,
    file: &Path,
    (seed, faults): (u64, bool),
    tables: &[String],
) -> Result<LocalCloud, Error> {
    let scenario = parse(file)?;
    let until = scenario::parse_offset("10m").map_err(|e| Error::input("--until", e))?;
    let options = CloudOptions {
        seed,
        faults: if faults { Faults::demo() } else { Faults::none() },
        schedules_until: scenario.last_at() + until,
        start: scenario.start.unwrap_or(CloudOptions::default().start),
        replay: None,
    };
    let mut cloud = bare_cloud(template, options, tables)?;
    cloud.keep_timeline(false);
    scenario.schedule(&mut cloud).map_err(Error::Cloud)?;
    runtime.block_on(cloud.run(i64::MAX));
    Ok(cloud)
}

/// The scenario in `file`.
fn parse(file: &Path) -> Result<Scenario, Error> {
    let text =
        String::from_utf8(read(file)?).map_err(|_| Error::input(file.display().to_string(), "not UTF-8 text"))?;
    Scenario::parse(&text).map_err(|e| Error::input(file.display().to_string(), e.to_string()))
}

/// Plays `scenario` on `domain`'s fault-free run with its invariants: its summary, and what it
/// ended with written to `outcome` as pretty JSON. Exit 1 when an invariant breaks, after
/// writing the file, whose `violations` say which.
fn play_checked(
    runtime: &Runtime,
    template: &Path,
    (file, scenario): (&Path, &Scenario),
    domain: &str,
    options: &Play,
) -> Result<ExitCode, Error> {
    let domain = localcloud::domain(domain)?;
    let functions = localcloud::catalogue();
    let record = RunRecord::open(options.keep.record.as_deref(), options.keep.html.as_deref())?;
    let title = format!(
        "{} played on the {} domain, seed 1, no faults",
        file.display(),
        domain.name()
    );
    let watch = |cloud: &mut LocalCloud| {
        if let Some(record) = &record {
            record
                .borrow_mut()
                .start_run(cloud, Some(domain.name()), &title, template);
            RunRecord::attach(record, cloud);
        }
    };
    let played = runtime.block_on(domain.outcome(template, scenario, &functions, &watch))?;
    print(&played.report.summary);
    end_record(record, Some(domain.name()), &played.report)?;
    if let Some(path) = options.outcome.as_deref() {
        let text = serde_json::to_string_pretty(&played.json).map_err(|source| Error::Json {
            what: "the outcome",
            source,
        })?;
        std::fs::write(path, text + "\n").map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })?;
        print(&format!("The {} outcome written to {}", domain.name(), path.display()));
    }
    Ok(if played.report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every message left in a queue with why (parked, or its last failure), and what could not
/// be delivered, a line each.
fn what_is_left(cloud: &LocalCloud) -> String {
    let mut lines = Vec::new();
    for queue in cloud.queues() {
        for message in queue.messages() {
            let why = message.sent.attributes.get("parked-reason").map_or_else(
                || cloud.failure_of(&message.id).unwrap_or("not processed").to_owned(),
                Clone::clone,
            );
            lines.push(format!("{}: {} ({why})", queue.config().logical_id, message.id));
        }
    }
    for lost in &cloud.stats().undeliverable {
        lines.push(format!("undeliverable: {lost}"));
    }
    if lines.is_empty() {
        lines.push("Every queue drained; nothing undeliverable.".to_owned());
    }
    lines.join("\n")
}

/// Replays `fault`'s choices on its domain's run of `scenario`: the timeline around the break,
/// the domain's summary and whether the break reproduces.
fn replay_fault_file(
    runtime: &Runtime,
    template: &Path,
    scenario: &Scenario,
    fault: &FaultFile,
    keep: &Keep,
) -> Result<ExitCode, Error> {
    let domain = localcloud::domain(&fault.domain).map_err(|_| Error::FaultFileDomain(fault.domain.clone()))?;
    let options = DemoOptions {
        size: fault.size,
        seed: fault.seed,
        faults: fault.faults,
        replay: Some(Arc::new(fault.choices.clone())),
        variant: fault.variant.clone(),
    };
    let mut run = domain.simulation(template, options, &localcloud::catalogue())?;
    if run.scenario() != *scenario {
        return Err(Error::FaultFileScenario {
            domain: fault.domain.clone(),
            seed: fault.seed,
            size: fault.size,
        });
    }
    let cloud = run.cloud_mut();
    cloud.keep_timeline(false);
    print_timeline(cloud);
    let record = RunRecord::open(keep.record.as_deref(), keep.html.as_deref())?;
    if let Some(record) = &record {
        let title = format!("{} demo, seed {}, replaying a fault file", fault.domain, fault.seed);
        record
            .borrow_mut()
            .start_run(cloud, Some(&fault.domain), &title, template);
        RunRecord::attach(record, cloud);
    }
    let report = runtime.block_on(run.finish());
    stop_timeline(run.cloud_mut());
    print(&report.summary);
    end_record(record, Some(&fault.domain), &report)?;
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

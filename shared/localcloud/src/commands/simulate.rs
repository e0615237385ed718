//! `localcloud simulate`: the campaign over each chosen domain, its summary, and each failing
//! seed shrunk to a scenario and fault file that `play --faults-file` replays.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use emulator::domain::Domain;
use emulator::functions::FunctionCatalogue;
use localcloud::campaign::{self, KnownBreak};
use localcloud::{Error, domains};
use tokio::runtime::Runtime;

use crate::args::SimulateArgs;
use crate::input::read;
use crate::output::print;

/// Runs the campaign as `options` say; fails when a seed breaks an invariant not known.
pub(crate) fn simulate(runtime: &Runtime, template: &Path, options: &SimulateArgs) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let functions = localcloud::catalogue();
    // `--domain` is one of `domains()` already (its value parser).
    let chosen: Vec<_> = domains()
        .into_iter()
        .filter(|d| options.domains.is_empty() || options.domains.iter().any(|n| n == d.name()))
        .collect();
    let known: Vec<KnownBreak> = match &options.known {
        Some(path) => serde_json::from_slice(&read(path)?)
            .map_err(|e| Error::input(path.display().to_string(), format!("not a list of known breaks: {e}")))?,
        None => Vec::new(),
    };
    let mut failed = false;
    let mut total = 0;
    for domain in chosen {
        let size = domain.simulation_size();
        let variant = options.variant.as_deref();
        if let Some(variant) = variant
            && !domain.variants().contains(&variant)
        {
            return Err(Error::input(
                format!("--variant {variant}"),
                format!(
                    "the {} scenario has no such variant (it has: {})",
                    domain.name(),
                    domain.variants().join(", ")
                ),
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
            let failing = Failing {
                domain,
                seed: *seed,
                size,
                variant,
                violation: &violations[0],
            };
            shrink(
                runtime,
                template,
                &functions,
                &failing,
                options.shrink_runs,
                &options.out,
            )?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    print(&format!(
        "Simulation: {total} runs in {seconds:.1} s ({:.1} runs per second)",
        total as f64 / seconds.max(1e-9)
    ));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// A seed of a domain's campaign that broke an invariant.
struct Failing<'a> {
    domain: &'a dyn Domain,
    seed: u64,
    size: usize,
    variant: Option<&'a str>,
    /// Its first violation: the one shrinking keeps.
    violation: &'a str,
}

/// Shrinks `failing` in at most `budget` runs and writes its scenario and fault file to
/// `out`, then prints how to replay it and the minimal run's timeline about the break.
fn shrink(
    runtime: &Runtime,
    template: &Path,
    functions: &FunctionCatalogue,
    failing: &Failing<'_>,
    budget: usize,
    out: &Path,
) -> Result<(), Error> {
    let (domain, seed) = (failing.domain, failing.seed);
    let spec = campaign::spec(seed, failing.size, failing.variant);
    let run = runtime.block_on(campaign::run(domain, template, functions, &spec))?;
    let shrunk = runtime.block_on(campaign::shrink(
        domain,
        template,
        functions,
        &spec,
        &run,
        failing.violation,
        budget,
    ))?;
    std::fs::create_dir_all(out).map_err(|source| Error::CreateDir {
        path: out.to_owned(),
        source,
    })?;
    let name = match failing.variant {
        Some(variant) => format!("{}-{variant}-seed-{seed}", domain.name()),
        None => format!("{}-seed-{seed}", domain.name()),
    };
    let base = out.join(name);
    let scenario_path = base.with_extension("jsonl");
    let faults_path = base.with_extension("faults.json");
    write(&scenario_path, shrunk.scenario.to_jsonl())?;
    let json = serde_json::to_string_pretty(&shrunk.file).map_err(|source| Error::Json {
        what: "the fault file",
        source,
    })?;
    write(&faults_path, json + "\n")?;
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
    Ok(())
}

/// Writes `text` to `path`.
fn write(path: &PathBuf, text: String) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })
}

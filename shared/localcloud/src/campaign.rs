//! The simulation campaign: every domain's scenario run over many seeds with invocations
//! running at once and faults above the demo's, every invariant the domain declares checked
//! on each run (and the event store's audit). A failing seed is shrunk by delta debugging over
//! the run's choices (faults, latencies, orders: [`emulator::faults::Choice`]) to a minimal
//! set that still breaks the same invariant, written as a scenario file and a fault file that
//! `localcloud play --faults-file` replays exactly.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use emulator::cloud::{Entry, What};
use emulator::domain::{DemoOptions, Domain};
use emulator::faults::{Choice, Faults, Injected};
use emulator::functions::FunctionCatalogue;
use emulator::scenario::Scenario;
use serde::{Deserialize, Serialize};

use crate::Error;

/// What a fault file holds: where the run came from, what broke, and the choices that break it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultFile {
    /// The domain whose scenario and invariants the run has (none: any scenario).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The seed the scenario was generated from.
    #[serde(default)]
    pub seed: u64,
    /// The run's size (orders, minutes of readings).
    #[serde(default)]
    pub size: usize,
    /// The scenario's variant, if not the usual one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The fault rates and latency ranges the choices were drawn under.
    pub faults: Faults,
    /// The invariant's violation the choices reproduce.
    #[serde(default)]
    pub breaks: String,
    /// The choices: every other draw of the run takes its default.
    pub choices: Vec<Choice>,
}

/// One run of a domain's scenario.
#[derive(Debug, Clone)]
pub struct Run {
    /// Invariants that did not hold.
    pub violations: Vec<String>,
    /// Faults injected.
    pub injected: Injected,
    /// Port calls made, how many beside another invocation in flight, and a digest of their order.
    pub schedule: (u64, u64, u64),
    /// The most invocations of one function in flight at once.
    pub peak_concurrency: usize,
    /// The choices the run made (none when it replayed a fault file).
    pub choices: Vec<Choice>,
    /// The scenario it played.
    pub scenario: Scenario,
    /// Its timeline, when asked for.
    pub timeline: Vec<Entry>,
}

/// How one run is made.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The run's size.
    pub size: usize,
    /// Its seed.
    pub seed: u64,
    /// Its fault rates.
    pub faults: Faults,
    /// Choices to replay instead of drawing from the seed.
    pub replay: Option<Arc<Vec<Choice>>>,
    /// The scenario's variant.
    pub variant: Option<String>,
    /// Keep the timeline.
    pub timeline: bool,
}

/// Runs `domain`'s simulation as `spec` says, on the template at `template`.
pub async fn run(
    domain: &dyn Domain,
    template: &Path,
    functions: &FunctionCatalogue,
    spec: &RunSpec,
) -> Result<Run, Error> {
    let options = DemoOptions {
        size: spec.size,
        seed: spec.seed,
        faults: spec.faults,
        replay: spec.replay.clone(),
        variant: spec.variant.clone(),
    };
    let mut demo = domain.simulation(template, options, functions)?;
    demo.cloud_mut().keep_timeline(spec.timeline);
    let report = demo.finish().await;
    let mut violations = report.violations;
    let cloud = demo.cloud_mut();
    if let Err(audit) = crate::audit(cloud).await {
        violations.extend(audit.into_iter().map(|failure| format!("event store audit: {failure}")));
    }
    Ok(Run {
        violations,
        injected: cloud.injected(),
        schedule: cloud.schedule_digest(),
        peak_concurrency: cloud.stats().peak_concurrency.values().copied().max().unwrap_or(0),
        choices: cloud.choices(),
        timeline: cloud.timeline().to_vec(),
        scenario: demo.scenario(),
    })
}

/// A failing seed, shrunk.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The fault file of the minimal choices.
    pub file: FaultFile,
    /// How many choices the failing run made.
    pub from: usize,
    /// Runs the shrinking took.
    pub runs: usize,
    /// The scenario.
    pub scenario: Scenario,
    /// The timeline of the minimal run around the break.
    pub timeline: Vec<String>,
}

/// Shrinks the choices of a failing run of `domain` (`failed`, from `spec`) to a minimal set
/// that still breaks `target` (one of its violations): delta debugging by complements, in
/// at most `budget` runs.
pub async fn shrink(
    domain: &dyn Domain,
    template: &Path,
    functions: &FunctionCatalogue,
    spec: &RunSpec,
    failed: &Run,
    target: &str,
    budget: usize,
) -> Result<Shrunk, Error> {
    let mut runs = 0;
    let breaks = async |choices: &[Choice], runs: &mut usize| -> Result<bool, Error> {
        *runs += 1;
        let replay = RunSpec {
            replay: Some(Arc::new(choices.to_vec())),
            timeline: false,
            ..spec.clone()
        };
        let class = invariant_class(target);
        Ok(run(domain, template, functions, &replay)
            .await?
            .violations
            .iter()
            .any(|v| invariant_class(v) == class))
    };
    let mut current = failed.choices.clone();
    if !breaks(&current, &mut runs).await? {
        return Err(Error::NotDeterministic {
            seed: spec.seed,
            choices: current.len(),
            target: target.to_owned(),
        });
    }
    let mut parts = 2;
    while current.len() >= 2 && runs < budget {
        let chunk = current.len().div_ceil(parts);
        let mut reduced = false;
        for start in (0..current.len()).step_by(chunk) {
            if runs >= budget {
                break;
            }
            let complement: Vec<Choice> = current[..start]
                .iter()
                .chain(current[(start + chunk).min(current.len())..].iter())
                .cloned()
                .collect();
            if breaks(&complement, &mut runs).await? {
                current = complement;
                parts = (parts - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if parts >= current.len() {
                break;
            }
            parts = (parts * 2).min(current.len());
        }
    }
    if current.len() == 1 && runs < budget && breaks(&[], &mut runs).await? {
        current.clear();
    }
    let minimal = run(
        domain,
        template,
        functions,
        &RunSpec {
            replay: Some(Arc::new(current.clone())),
            timeline: true,
            ..spec.clone()
        },
    )
    .await?;
    // The minimal run's own violation of that invariant: its windows and figures, not the
    // failing seed's.
    let class = invariant_class(target);
    let breaks = minimal
        .violations
        .iter()
        .find(|v| invariant_class(v) == class)
        .map_or_else(|| target.to_owned(), Clone::clone);
    Ok(Shrunk {
        file: FaultFile {
            domain: domain.name().to_owned(),
            seed: spec.seed,
            size: spec.size,
            variant: spec.variant.clone(),
            faults: spec.faults,
            breaks,
            choices: current,
        },
        from: failed.choices.len(),
        runs,
        scenario: minimal.scenario,
        timeline: around(&minimal.timeline, target),
    })
}

/// Which invariant a violation breaks, whatever it breaks it for: its text after the first
/// `: ` (what it is about comes before), without parenthesised details, every word holding a
/// digit (a number, an id, a time) as `#`. Shrinking keeps a smaller set of choices when it
/// breaks the same invariant, on any window or order; known breaks are listed by it.
pub fn invariant_class(violation: &str) -> String {
    let claim = violation.split_once(": ").map_or(violation, |(_, rest)| rest);
    let mut plain = String::with_capacity(claim.len());
    let mut depth = 0_u32;
    for c in claim.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c => plain.push(c),
        }
    }
    plain
        .split_whitespace()
        .map(|word| {
            if word.chars().any(|c| c.is_ascii_digit()) {
                "#"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A break the campaign knows and an issue will fix: runs that break only such invariants
/// are reported as known, not failed (`events/scenarios/known-breaks.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KnownBreak {
    /// The invariant's class ([`invariant_class`]).
    pub class: String,
    /// Where it is fixed.
    pub issue: String,
    /// What breaks, and why.
    pub why: String,
}

/// The timeline around the break: the events about what `violation` names (its first word:
/// a sensor, an order, a queue) but the run's routine input (its most frequent event type),
/// and every failure, fault or parking within 2 s of one of them; at most 60 lines.
fn around(timeline: &[Entry], violation: &str) -> Vec<String> {
    let subject = violation
        .split([' ', ':'])
        .find(|word| !word.is_empty())
        .unwrap_or_default();
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for entry in timeline {
        if let What::Event { event_type, .. } = &entry.what {
            *counts.entry(event_type.as_str()).or_default() += 1;
        }
    }
    let routine = counts.into_iter().max_by_key(|(_, n)| *n).map(|(t, _)| t);
    let about: Vec<i64> = timeline
        .iter()
        .filter(|entry| match &entry.what {
            What::Event {
                event_type,
                subject: of,
                ..
            } => of.contains(subject) && Some(event_type.as_str()) != routine,
            _ => false,
        })
        .map(|entry| entry.at)
        .collect();
    let near = |at: i64| about.iter().any(|a| (a - at).abs() <= 2_000);
    let lines: Vec<String> = timeline
        .iter()
        .filter(|entry| match &entry.what {
            What::Event { .. } | What::Notification { .. } => {
                about.contains(&entry.at) && entry.to_string().contains(subject)
            }
            What::Request { .. } => false,
            _ => near(entry.at) || entry.to_string().contains(subject),
        })
        .map(ToString::to_string)
        .collect();
    lines[lines.len().saturating_sub(60)..].to_vec()
}

/// What a campaign over one domain found.
#[derive(Debug, Clone, Default)]
pub struct DomainSummary {
    /// The domain.
    pub domain: String,
    /// Seeds run.
    pub seeds: u64,
    /// Invariant checks made (seeds times the invariants the domain declares, plus the audit).
    pub checks: u64,
    /// Faults injected by kind.
    pub injected: Injected,
    /// Port calls made, and how many of them beside another invocation in flight.
    pub port_calls: u64,
    /// Port calls made while another invocation was in flight.
    pub overlapping_calls: u64,
    /// Distinct orders of port calls over the seeds.
    pub interleavings: usize,
    /// The most invocations of one function in flight at once.
    pub peak_concurrency: usize,
    /// Failing seeds with their violations.
    pub failures: Vec<(u64, Vec<String>)>,
    /// Seeds that broke known invariants only, with their violations.
    pub known: Vec<(u64, Vec<String>)>,
}

impl DomainSummary {
    /// The summary's lines.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let i = &self.injected;
        let _ = writeln!(
            out,
            "{}: {} seeds, {} failed, {} broke only known invariants; {} invariant checks",
            self.domain,
            self.seeds,
            self.failures.len(),
            self.known.len(),
            self.checks
        );
        let _ = writeln!(
            out,
            "  faults injected: {} duplicate deliveries, {} crashes after publish, {} crashes before a record, {} throttled table calls, {} calls failed after their effect, {} slow publishes, {} throttled deliveries, {} throttled invocations ({} in all)",
            i.duplicates,
            i.crashes,
            i.crashes_before_record,
            i.store_errors,
            i.failed_after_effect,
            i.slow_publishes,
            i.throttled_deliveries,
            i.throttled_invocations,
            i.total()
        );
        let _ = writeln!(
            out,
            "  interleavings: {} distinct port-call orders over {} seeds; {} of {} port calls made while another invocation was in flight; up to {} invocations of one function at once",
            self.interleavings, self.seeds, self.overlapping_calls, self.port_calls, self.peak_concurrency
        );
        out
    }
}

/// Runs domain `name` over `seeds` under the campaign's faults, on `workers` threads (each
/// run is single-threaded and deterministic; which thread runs a seed changes nothing).
pub fn campaign(
    name: &str,
    template: &Path,
    seeds: std::ops::Range<u64>,
    size: usize,
    variant: Option<&str>,
    workers: usize,
    known: &[KnownBreak],
) -> Result<DomainSummary, Error> {
    let domain = crate::domain(name)?;
    let seeds: Vec<u64> = seeds.collect();
    let workers = workers.clamp(1, seeds.len().max(1));
    let outcomes: Vec<Result<Vec<(u64, Run)>, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let mine: Vec<u64> = seeds.iter().copied().skip(worker).step_by(workers).collect();
                // A runtime per worker: a current-thread runtime drives one run at a time, and
                // its paused clock must move for that run alone.
                scope.spawn(move || -> Result<Vec<(u64, Run)>, Error> {
                    let runtime = crate::runtime()?;
                    let functions = crate::catalogue();
                    let domain = crate::domain(name)?;
                    mine.into_iter()
                        .map(|seed| {
                            let spec = spec(seed, size, variant);
                            let outcome = runtime.block_on(run(domain, template, &functions, &spec))?;
                            Ok((seed, outcome))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(Error::WorkerPanicked)))
            .collect()
    });
    let mut runs = Vec::new();
    for outcome in outcomes {
        runs.extend(outcome?);
    }
    runs.sort_by_key(|(seed, _)| *seed);
    let mut summary = DomainSummary {
        domain: name.to_owned(),
        ..DomainSummary::default()
    };
    let mut digests = BTreeSet::new();
    for (seed, outcome) in runs {
        summary.seeds += 1;
        summary.checks += domain.invariants().len() as u64 + 1;
        summary.injected.add(&outcome.injected);
        let (calls, overlapping, digest) = outcome.schedule;
        summary.port_calls += calls;
        summary.overlapping_calls += overlapping;
        digests.insert(digest);
        summary.peak_concurrency = summary.peak_concurrency.max(outcome.peak_concurrency);
        let is_known = |v: &String| {
            let class = invariant_class(v);
            known.iter().any(|k| k.class == class)
        };
        if outcome.violations.is_empty() {
        } else if outcome.violations.iter().all(is_known) {
            summary.known.push((seed, outcome.violations));
        } else {
            summary.failures.push((seed, outcome.violations));
        }
    }
    summary.interleavings = digests.len();
    Ok(summary)
}

/// The campaign's run of `seed`: its faults drawn from the seed, above the demo's.
pub fn spec(seed: u64, size: usize, variant: Option<&str>) -> RunSpec {
    RunSpec {
        size,
        seed,
        faults: Faults::campaign(seed),
        replay: None,
        variant: variant.map(str::to_owned),
        timeline: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_two_violations_of_one_invariant_on_other_windows_then_their_class_is_the_same() {
        let one = "s-kolkata-1 humidity window 2026-03-29T00:52:00Z: AnomalyDetected revision 1 (9c3d) went out twice with different data (mean 79.47 then 85.42): consumers keep the first";
        let other = "s-london-1 humidity window 2026-03-29T00:50:00Z: AnomalyDetected revision 20 (f431) went out twice with different data (count 25 then 24): consumers keep the first";
        assert_eq!(invariant_class(one), invariant_class(other));
        assert_eq!(
            invariant_class(one),
            "AnomalyDetected revision # went out twice with different data : consumers keep the first"
        );
        let verdict =
            "s-x t window 2026-03-29T00:50:00Z: final verdict None, but the bus last said \"AnomalyDetected\"";
        assert_ne!(invariant_class(one), invariant_class(verdict));
    }
}

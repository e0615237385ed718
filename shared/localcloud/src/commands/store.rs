//! Commands that run a domain's demo first, then work on its event store: `replay` (from the
//! store or an archive), `rebuild` (the domain's views), `history` (a stream, and the domain's
//! view of it as of an instant).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use emulator::cloud::{Emitted, LocalCloud};
use emulator::domain::{DemoOptions, DemoRun, Domain, DomainError};
use emulator::faults::Faults;
use event_store::replay::Selection;
use event_store::{EventStore, InMemoryEventStore};
use localcloud::{Error, domains};
use tokio::runtime::Runtime;

use crate::args::{DemoFirst, ReplayArgs};
use crate::input::{END_OF_TIME, instant};
use crate::output::print;

/// Runs `demo`'s domain's demo to its end and returns it, the timeline unprinted; an
/// invariant that does not hold is an error (what follows would read a broken run).
pub(crate) fn demo_run(runtime: &Runtime, template: &Path, demo: &DemoFirst) -> Result<Box<dyn DemoRun>, Error> {
    let domain = localcloud::domain(&demo.domain)?;
    let faults = if demo.no_faults { Faults::none() } else { Faults::demo() };
    let options = DemoOptions {
        size: demo.size,
        seed: demo.seed,
        faults,
        replay: None,
        variant: None,
    };
    let mut run = domain.demo(template, options, &localcloud::catalogue())?;
    run.cloud_mut().keep_timeline(false);
    let report = runtime.block_on(run.finish());
    if !report.violations.is_empty() {
        return Err(Error::DemoBroken {
            domain: domain.name(),
            violations: report.violations,
        });
    }
    Ok(run)
}

/// The run's event store.
fn store_of(cloud: &LocalCloud) -> Result<Arc<InMemoryEventStore>, Error> {
    cloud
        .tables()
        .all::<InMemoryEventStore>()
        .into_iter()
        .next()
        .map(|(_, store)| store)
        .ok_or(Error::NoEventStore)
}

/// Replays what `args` select to the demo's bus; fails when a consumer told anyone again or
/// the audit fails.
pub(crate) fn replay(
    runtime: &Runtime,
    template: &Path,
    demo: &DemoFirst,
    args: &ReplayArgs,
) -> Result<ExitCode, Error> {
    // Everything by default: the local store is in memory, so a wide range costs nothing.
    let from = instant(args.from.as_deref(), "from", DateTime::<Utc>::UNIX_EPOCH)?;
    let to = instant(args.to.as_deref(), "to", END_OF_TIME)?;
    let mut run = demo_run(runtime, template, demo)?;
    let cloud = run.cloud_mut();
    let name = event_store::replay::default_name(Utc::now());
    let bus = cloud
        .topology()
        .buses
        .values()
        .next()
        .map(|b| b.name.clone())
        .ok_or(Error::NoBus)?;
    cloud.keep_emitted();
    let before = cloud.emitted().len();
    let replayed = match &args.archive {
        Some(archive) => cloud
            .replay_archive(archive, from, to, args.rule.as_deref(), &name)
            .map_err(Error::Cloud)?,
        None => {
            let selection = match &args.stream {
                Some(stream) => Selection::Stream(stream.clone()),
                None => Selection::Range {
                    from,
                    to,
                    types: args.types.clone(),
                },
            };
            let store = store_of(cloud)?;
            let events = runtime
                .block_on(selection.read(&*store))
                .map_err(|e| Error::EventStore {
                    what: args.stream.clone().unwrap_or_else(|| "the events to replay".to_owned()),
                    reason: e.to_string(),
                })?;
            let count = events.len();
            let events = event_store::replay::marked(events, &name);
            cloud.put_events_to(&bus, events, &format!("replay {name}"), args.rule.as_deref());
            count
        }
    };
    runtime.block_on(cloud.run(i64::MAX));
    let sent: Vec<&Emitted> = cloud.emitted()[before..].iter().collect();
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
    let audit = runtime.block_on(localcloud::audit(cloud));
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

/// Rebuilds the views of `demo`'s domain after its demo; fails when one differs from the live one.
pub(crate) fn rebuild(runtime: &Runtime, template: &Path, demo: &DemoFirst) -> Result<ExitCode, Error> {
    let domain = localcloud::domain(&demo.domain)?;
    let mut run = demo_run(runtime, template, demo)?;
    let report = runtime.block_on(domain.rebuild(run.cloud_mut()))?;
    for line in &report.lines {
        print(line);
    }
    Ok(if report.matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The domain that owns `stream`.
fn owner_of(stream: &str) -> Result<&'static dyn Domain, Error> {
    if !stream.contains('#') {
        return Err(Error::NotAStream(stream.to_owned()));
    }
    domains()
        .into_iter()
        .find(|d| d.owns_stream(stream))
        .ok_or_else(|| Error::NoOwner {
            stream: stream.to_owned(),
            sources: domains()
                .iter()
                .flat_map(|d| d.sources().iter().copied())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Prints `stream` after its domain's demo (`demo` but its domain), as of `as_of`, then the
/// domain's view of it then, when the domain has one.
pub(crate) fn history(
    runtime: &Runtime,
    template: &Path,
    stream: &str,
    as_of: Option<&str>,
    demo: &DemoFirst,
) -> Result<ExitCode, Error> {
    let domain = owner_of(stream)?;
    let at = instant(as_of, "as-of", END_OF_TIME)?;
    let demo = DemoFirst {
        domain: domain.name().to_owned(),
        ..demo.clone()
    };
    let mut run = demo_run(runtime, template, &demo)?;
    let store = store_of(run.cloud_mut())?;
    let events = runtime
        .block_on(EventStore::stream(&*store, stream))
        .map_err(|e| Error::EventStore {
            what: stream.to_owned(),
            reason: e.to_string(),
        })?;
    if events.is_empty() {
        let mut known: Vec<String> = store.events().into_iter().map(|e| e.stream).collect();
        known.dedup();
        known.truncate(5);
        return Err(Error::NoStream {
            stream: stream.to_owned(),
            seed: demo.seed,
            size: demo.size,
            known: known.join(", "),
        });
    }
    for line in event_store::history::lines(&events, at) {
        print(&line);
    }
    let past = event_store::history::as_of(&events, at)
        .map(|e| e.envelope.clone())
        .collect();
    match domain.view_as_of(stream, past) {
        Ok(view) => print(&view),
        // A domain without views has only its stream to show.
        Err(DomainError::Unsupported { .. }) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(ExitCode::SUCCESS)
}

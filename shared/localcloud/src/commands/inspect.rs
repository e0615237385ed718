//! Commands that answer from the template and payloads alone, without a run: `route`,
//! `decode`, `test-event-pattern`, `graph`.

use std::path::Path;
use std::process::ExitCode;

use emulator::decode::Format;
use emulator::domain;
use emulator::topology::Topology;
use event_pattern::Pattern;
use localcloud::{Error, domains};
use serde_json::Value;

use crate::input::{argument, read};
use crate::output::print;

/// Which rules the event in `event_file` matches on `bus`, and where they lead.
pub(crate) fn route(template: &Path, event_file: &Path, bus: Option<&str>, explain: bool) -> Result<ExitCode, Error> {
    let topology = Topology::load(template, &sam_template::Options::default())?;
    let known = domain::event_types(&domains());
    let routed = emulator::route::route(&topology, &read(event_file)?, bus, known, explain).map_err(Error::Cloud)?;
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

/// The envelopes inside the payload in `file`; fails when a record does not decode.
pub(crate) fn decode(file: &Path, summary: bool) -> Result<ExitCode, Error> {
    let payload = read(file)?;
    let format = if summary { Format::Summary } else { Format::JsonLines };
    // The domains' event types: their versions are checked and old ones upcast.
    let report = emulator::decode::decode(&domain::event_types(&domains()), &payload, format);
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

/// `true` or `false`, as `aws events test-event-pattern` answers; an invalid pattern exits 2
/// with PutRule's error.
pub(crate) fn test_event_pattern(pattern: &str, event: &str, explain: bool) -> ExitCode {
    let invalid = |reason: String| {
        eprintln!("InvalidEventPatternException: {reason}");
        ExitCode::from(2)
    };
    // An invalid pattern reads as PutRule's error: `Event pattern is not valid. Reason: ...`.
    let pattern = match argument(pattern)
        .map_err(|e| e.to_string())
        .and_then(|text| text.parse::<Pattern>().map_err(|e| e.aws_message()))
    {
        Ok(pattern) => pattern,
        Err(reason) => return invalid(reason),
    };
    let event: Value = match argument(event)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
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

/// The template's event graph as Mermaid, printed or written into `update`'s graph block.
pub(crate) fn graph(template: &Path, update: Option<&Path>) -> Result<ExitCode, Error> {
    let topology = Topology::load(template, &sam_template::Options::default())?;
    let graph = emulator::graph::mermaid(&topology, &localcloud::catalogue());
    let Some(file) = update else {
        print(&graph);
        return Ok(ExitCode::SUCCESS);
    };
    let text = std::fs::read_to_string(file).map_err(|source| Error::Read {
        what: file.display().to_string(),
        source,
    })?;
    let updated = emulator::graph::embed(&text, &graph).ok_or_else(|| {
        Error::input(
            file.display().to_string(),
            format!("has no line `{}`", emulator::graph::MARKER),
        )
    })?;
    std::fs::write(file, updated).map_err(|source| Error::Write {
        path: file.to_owned(),
        source,
    })?;
    Ok(ExitCode::SUCCESS)
}

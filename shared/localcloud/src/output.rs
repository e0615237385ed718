//! Writing to the terminal: results on stdout, a run's timeline as it happens.

use std::io::Write;

use emulator::cloud::LocalCloud;

/// Prints to stdout; a closed pipe (`| head`) is not worth a panic.
pub(crate) fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end_matches('\n'));
}

/// Prints `cloud`'s timeline to stdout, buffered, as it runs; [`stop_timeline`] flushes it.
pub(crate) fn print_timeline(cloud: &mut LocalCloud) {
    print_trace(cloud, None);
}

/// Prints the lines of `cloud`'s timeline in X-Ray trace `only` (its requests, events and
/// notifications: one flow across functions), or every line without one.
pub(crate) fn print_trace(cloud: &mut LocalCloud, only: Option<String>) {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    cloud.observe(move |entry| {
        if only.is_none() || entry.trace_id() == only.as_deref() {
            let _ = writeln!(out, "{entry}");
        }
    });
}

/// Stops printing `cloud`'s timeline, flushing what is buffered (before a summary follows it).
pub(crate) fn stop_timeline(cloud: &mut LocalCloud) {
    cloud.observe(|_| {});
}

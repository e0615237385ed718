//! `localcloud demo`: every domain's demo in turn, its timeline, summary and event store audit.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use emulator::domain::DemoOptions;
use emulator::faults::Faults;
use localcloud::{Error, domains};
use tokio::runtime::Runtime;

use crate::output::{print, print_trace, stop_timeline};

/// Runs each domain's demo of `size` on `seed` (its timeline, or only trace `trace`'s lines);
/// fails when an invariant or the audit does.
pub(crate) fn demo(
    runtime: &Runtime,
    template: &Path,
    size: usize,
    seed: u64,
    no_faults: bool,
    quiet: bool,
    trace: Option<String>,
) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let faults = if no_faults { Faults::none() } else { Faults::demo() };
    let mut failed = false;
    let functions = localcloud::catalogue();
    for domain in domains() {
        let options = DemoOptions {
            size,
            seed,
            faults,
            replay: None,
            variant: None,
        };
        let mut run = domain.demo(template, options, &functions)?;
        let cloud = run.cloud_mut();
        cloud.keep_timeline(false);
        if !quiet {
            print_trace(cloud, trace.clone());
            print(&format!(
                "Local cloud: {} (seed {seed}, faults {}); {} demo, size {size}\n",
                template.display(),
                if no_faults { "off" } else { "on" },
                domain.name()
            ));
        }
        let report = runtime.block_on(run.finish());
        stop_timeline(run.cloud_mut());
        print(&report.summary);
        failed |= !report.violations.is_empty();
        match runtime.block_on(localcloud::audit(run.cloud_mut())) {
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

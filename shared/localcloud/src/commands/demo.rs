//! `localcloud demo`: every domain's demo in turn, told as a person reads it (or every step
//! with `--verbose`), its summary and event store audit; `--record` and `--html` keep the run.

use std::cell::RefCell;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

use emulator::domain::DemoOptions;
use emulator::faults::Faults;
use localcloud::page::RunRecord;
use localcloud::story::Teller;
use localcloud::{Error, domains};
use tokio::runtime::Runtime;

use crate::args::{DemoArgs, Keep};
use crate::output::{print, print_trace, stop_timeline};

/// How much of a run the terminal shows.
enum Shown {
    /// The summary alone.
    Summary,
    /// The story: what a person reads.
    Story,
    /// Every step of the timeline (or of one trace).
    Steps(Option<String>),
}

/// Runs each domain's demo as `args` say; fails when an invariant or the audit does.
pub(crate) fn demo(runtime: &Runtime, template: &Path, args: &DemoArgs, keep: &Keep) -> Result<ExitCode, Error> {
    let started = Instant::now();
    let DemoArgs {
        size, seed, no_faults, ..
    } = *args;
    let shown = match (&args.trace, args.verbose, args.quiet) {
        (Some(trace), _, _) => Shown::Steps(Some(trace.clone())),
        (None, true, _) => Shown::Steps(None),
        (None, false, true) => Shown::Summary,
        (None, false, false) => Shown::Story,
    };
    let faults = if no_faults { Faults::none() } else { Faults::demo() };
    let record = RunRecord::open(keep.record.as_deref(), keep.html.as_deref())?;
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
        let heading = format!(
            "{} demo, size {size}, seed {seed}, faults {}",
            domain.name(),
            if no_faults { "off" } else { "on" }
        );
        if !matches!(shown, Shown::Summary) {
            print(&format!("Local cloud: {}; {heading}", template.display()));
        }
        if let Some(record) = &record {
            record
                .borrow_mut()
                .start_run(cloud, Some(domain.name()), &heading, template);
        }
        let teller = matches!(shown, Shown::Story).then(|| Rc::new(RefCell::new(Teller::new(domain.story()))));
        if let Shown::Steps(trace) = &shown {
            print_trace(cloud, trace.clone());
        }
        if record.is_some() || teller.is_some() {
            let (record, teller) = (record.clone(), teller.clone());
            cloud.record_run(record.is_some(), move |line| {
                if let Some(record) = &record {
                    record.borrow_mut().line(line);
                }
                if let Some(teller) = &teller {
                    teller.borrow_mut().line(line);
                }
            });
        }
        let report = runtime.block_on(run.finish());
        stop_timeline(run.cloud_mut());
        if let Some(teller) = &teller {
            teller.borrow_mut().end();
        }
        print(&report.summary);
        failed |= !report.violations.is_empty();
        let audit = match runtime.block_on(localcloud::audit(run.cloud_mut())) {
            Ok(line) => line,
            Err(failures) => {
                failed = true;
                format!("Event store audit FAILED:\n  {}", failures.join("\n  "))
            }
        };
        print(&audit);
        if let Some(record) = &record {
            record.borrow_mut().end_run(Some(domain.name()), &report, &audit);
        }
    }
    if let Some(record) = record {
        for line in RunRecord::finish(record)? {
            print(&line);
        }
    }
    print(&format!("Wall time: {:.2} s", started.elapsed().as_secs_f64()));
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

//! `localcloud dlq ...` and `localcloud parked ...`: the repair tools of `events`, on the state a
//! domain's demo (or a scenario file) left, in the same process: runs are deterministic by
//! seed, so the same arguments find the same messages. After a redrive or a resubmit the cloud
//! runs until idle and the timeline says what the consumers did.

use std::path::Path;
use std::process::ExitCode;

use emulator::cloud::LocalCloud;
use emulator::domain::{self, DemoRun};
use localcloud::repair::{LocalQueues, PARKING_QUEUE, what_consumers_did};
use localcloud::{Error, domains};
use repair::memory::MemoryLedger;
use repair::parked::{Resubmitted, Selection};
use repair::{dlq as dead_letters, parked as parking};
use tokio::runtime::Runtime;

use super::play::played;
use super::store::demo_run;
use crate::args::{DlqCommand, ParkedCommand, RunFirst};
use crate::input::read;
use crate::output::print;

/// The run the tools work on.
enum Ran {
    Demo(Box<dyn DemoRun>),
    Play(Box<LocalCloud>),
}

impl Ran {
    fn cloud(&mut self) -> &mut LocalCloud {
        match self {
            Self::Demo(run) => run.cloud_mut(),
            Self::Play(cloud) => cloud,
        }
    }
}

/// Runs the demo, or plays the file, that `first` names, to its end.
fn run_first(runtime: &Runtime, template: &Path, first: &RunFirst) -> Result<Ran, Error> {
    match &first.play {
        Some(file) => Ok(Ran::Play(Box::new(played(
            runtime,
            template,
            file,
            (first.demo.seed, first.faults),
            &first.tables,
        )?))),
        None => Ok(Ran::Demo(demo_run(runtime, template, &first.demo)?)),
    }
}

fn print_all(lines: Vec<String>) -> ExitCode {
    for line in lines {
        print(&line);
    }
    ExitCode::SUCCESS
}

/// Runs `cloud` until idle after a repair and says what the consumers did since `before` (an
/// index into the timeline, kept from the repair on).
fn run_until_idle(runtime: &Runtime, cloud: &mut LocalCloud, before: usize, sent: usize) {
    if sent == 0 {
        print("nothing was sent back, so nothing ran");
        return;
    }
    runtime.block_on(cloud.run(i64::MAX));
    print(&format!(
        "ran until idle (virtual {}):",
        emulator::cloud::clock_text(cloud.now())
    ));
    for line in what_consumers_did(&cloud.timeline()[before..]) {
        print(&format!("  {line}"));
    }
}

/// `localcloud dlq list|show|redrive`.
pub(crate) fn dlq(
    runtime: &Runtime,
    template: &Path,
    command: &DlqCommand,
    first: &RunFirst,
) -> Result<ExitCode, Error> {
    let mut ran = run_first(runtime, template, first)?;
    let cloud = ran.cloud();
    let known = domain::event_types(&domains());
    match command {
        DlqCommand::List => Ok(print_all(
            runtime.block_on(dead_letters::list(&LocalQueues::new(cloud)))?,
        )),
        DlqCommand::Show { queue } => Ok(print_all(runtime.block_on(dead_letters::show(
            &LocalQueues::new(cloud),
            queue,
            &known,
        ))?)),
        DlqCommand::Redrive { queue, rate } => {
            cloud.keep_timeline(true);
            let before = cloud.timeline().len();
            let redriven = runtime.block_on(dead_letters::redrive(
                &LocalQueues::new(cloud),
                queue,
                *rate,
                &mut |line: &str| print(line),
            ))?;
            run_until_idle(
                runtime,
                cloud,
                before,
                usize::try_from(redriven.moved).unwrap_or(usize::MAX),
            );
            Ok(if redriven.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// `localcloud parked list|show|resubmit`. The ledger lives as long as the command: each
/// command runs its demo afresh.
pub(crate) fn parked(
    runtime: &Runtime,
    template: &Path,
    command: &ParkedCommand,
    first: &RunFirst,
) -> Result<ExitCode, Error> {
    let mut ran = run_first(runtime, template, first)?;
    let cloud = ran.cloud();
    let known = domain::event_types(&domains());
    match command {
        ParkedCommand::List { reason } => Ok(print_all(runtime.block_on(parking::list(
            &LocalQueues::new(cloud),
            PARKING_QUEUE,
            reason.as_deref(),
        ))?)),
        ParkedCommand::Show { id } => Ok(print_all(runtime.block_on(parking::show(
            &LocalQueues::new(cloud),
            PARKING_QUEUE,
            id,
            &known,
        ))?)),
        ParkedCommand::Resubmit { id, reason, body } => {
            let selection = match (id, reason) {
                (Some(id), _) => Selection::One {
                    id: id.clone(),
                    edited: body
                        .as_deref()
                        .map(|path| {
                            String::from_utf8(read(path)?)
                                .map_err(|_| Error::input(format!("--body {}", path.display()), "not UTF-8 text"))
                        })
                        .transpose()?,
                },
                (None, Some(kind)) => Selection::Kind(kind.clone()),
                (None, None) => {
                    return Err(Error::input(
                        "parked resubmit",
                        "say what to resubmit: <id>, or --reason <kind>",
                    ));
                }
            };
            cloud.keep_timeline(true);
            let before = cloud.timeline().len();
            let done = runtime.block_on(parking::resubmit(
                &LocalQueues::new(cloud),
                &MemoryLedger::new(),
                PARKING_QUEUE,
                &selection,
            ))?;
            if done.is_empty() {
                print("nothing parked of that kind");
            }
            for outcome in &done {
                print(&outcome.to_string());
            }
            let sent = done.iter().filter(|d| matches!(d, Resubmitted::Sent { .. })).count();
            run_until_idle(runtime, cloud, before, sent);
            Ok(if done.iter().any(|d| matches!(d, Resubmitted::Refused(_))) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

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
use repair::cli::{self, DlqCommand, Done, ParkedCommand};
use repair::memory::MemoryLedger;
use tokio::runtime::Runtime;

use super::play::played;
use super::store::demo_run;
use crate::args::RunFirst;
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

/// Runs `cloud` until idle after a repair that sent `done.sent` messages, says what the
/// consumers did since `before` (an index into the timeline, kept from the repair on), and
/// exits 1 when something asked was refused or left.
fn run_until_idle(runtime: &Runtime, cloud: &mut LocalCloud, before: usize, done: Done) -> ExitCode {
    if done.sent > 0 {
        runtime.block_on(cloud.run(i64::MAX));
        print(&format!(
            "ran until idle (virtual {}):",
            emulator::cloud::clock_text(cloud.now())
        ));
        for line in what_consumers_did(&cloud.timeline()[before..]) {
            print(&format!("  {line}"));
        }
    }
    if done.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// What to repair.
pub(crate) enum Repair<'a> {
    /// `localcloud dlq list|show|redrive`.
    Dlq(&'a DlqCommand),
    /// `localcloud parked list|show|resubmit`. The ledger lives as long as the command: each
    /// command runs its demo afresh.
    Parked(&'a ParkedCommand),
}

/// Runs what `first` names, then `command` on the cloud it left.
pub(crate) fn repair(
    runtime: &Runtime,
    template: &Path,
    command: Repair<'_>,
    first: &RunFirst,
) -> Result<ExitCode, Error> {
    let mut ran = run_first(runtime, template, first)?;
    let cloud = ran.cloud();
    cloud.keep_timeline(true);
    let before = cloud.timeline().len();
    let known = domain::event_types(&domains());
    let queues = LocalQueues::new(cloud);
    let say = &mut |line: &str| print(line);
    let done = match command {
        Repair::Dlq(command) => runtime.block_on(cli::dlq(&queues, command, &known, say)),
        Repair::Parked(command) => runtime.block_on(cli::parked(
            &queues,
            Ok(&MemoryLedger::new()),
            PARKING_QUEUE,
            command,
            &known,
            say,
        )),
    }?;
    drop(queues);
    Ok(run_until_idle(runtime, ran.cloud(), before, done))
}

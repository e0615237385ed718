//! The commands, one module each by what they work on: [`demo`] runs every domain's demo,
//! [`play`] a scenario file, [`simulate`] the campaign, [`invoke`] one function; [`inspect`]
//! answers from the template and payloads alone (route, decode, test-event-pattern, graph);
//! [`store`] runs a demo and works on its event store (replay, rebuild, history); [`repair`]
//! runs a demo or a play and repairs what it left (dlq, parked).

mod demo;
mod inspect;
mod invoke;
mod play;
mod repair;
mod simulate;
mod store;

use std::process::ExitCode;

use localcloud::Error;
use tokio::runtime::Runtime;

use crate::args::{Cli, Command};

/// Runs `cli`'s command on `runtime`.
pub(crate) fn run(cli: Cli, runtime: &Runtime) -> Result<ExitCode, Error> {
    let template = cli.template.as_path();
    match cli.command {
        Command::Demo { demo, keep } => demo::demo(runtime, template, &demo, &keep),
        Command::View { record, port } => {
            let html = localcloud::page::page_of_file(&record)?;
            localcloud::page::serve(&html, port, |address| {
                crate::output::print(&format!(
                    "Serving the page of {} at {address} (Ctrl-C stops it)",
                    record.display()
                ));
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Invoke {
            function,
            event_file,
            tables,
        } => invoke::invoke(runtime, template, &function, &event_file, &tables),
        Command::Play {
            scenario,
            tables,
            until,
            emitted,
            seed,
            faults,
            faults_file,
            start,
            domain,
            outcome,
            keep,
        } => play::play(
            runtime,
            template,
            &scenario,
            &play::Play {
                tables,
                until,
                emitted,
                seed,
                faults,
                faults_file,
                start,
                domain,
                outcome,
                keep,
            },
        ),
        Command::Simulate(options) => simulate::simulate(runtime, template, &options),
        Command::Route {
            event_file,
            bus,
            explain,
        } => inspect::route(template, &event_file, bus.as_deref(), explain),
        Command::Decode { file, summary } => inspect::decode(&file, summary),
        Command::TestEventPattern {
            event_pattern,
            event,
            explain,
        } => Ok(inspect::test_event_pattern(&event_pattern, &event, explain)),
        Command::Graph { update } => inspect::graph(template, update.as_deref()),
        Command::Operations { update } => {
            if let Some(block) = localcloud::operations::operations(template, update.as_deref())? {
                crate::output::print(&block);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq { command, first } => repair::repair(runtime, template, repair::Repair::Dlq(&command), &first),
        Command::Parked { command, first } => {
            repair::repair(runtime, template, repair::Repair::Parked(&command), &first)
        }
        Command::Replay { replay, demo } => store::replay(runtime, template, &demo, &replay),
        Command::Rebuild { demo } => store::rebuild(runtime, template, &demo),
        Command::History { stream, as_of, demo } => store::history(runtime, template, &stream, as_of.as_deref(), &demo),
    }
}

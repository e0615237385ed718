//! `localcloud invoke`: one function, in process, on a payload: its response and what it sent.

use std::path::Path;
use std::process::ExitCode;

use emulator::cloud::{CloudOptions, LocalCloud};
use emulator::topology::Topology;
use handler_kit::local::Sent;
use localcloud::Error;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::input::{load_tables, read};
use crate::output::print;

/// Invokes `function` (crate name, logical id or deployed name) on the payload in `event_file`,
/// with `tables` loaded first; fails when the function does.
pub(crate) fn invoke(
    runtime: &Runtime,
    template: &Path,
    function: &str,
    event_file: &Path,
    tables: &[String],
) -> Result<ExitCode, Error> {
    let topology = Topology::load(template, &sam_template::Options::default())?;
    let logical_id = find_function(&topology, function).ok_or_else(|| {
        let names: Vec<&str> = topology.functions.values().map(|f| f.spec.binary.as_str()).collect();
        Error::NoFunction {
            name: function.to_owned(),
            known: names.join(", "),
        }
    })?;
    let payload: Value = serde_json::from_slice(&read(event_file)?)
        .map_err(|e| Error::input(event_file.display().to_string(), format!("not JSON: {e}")))?;
    let mut cloud = LocalCloud::new(topology, CloudOptions::default(), &localcloud::catalogue())?;
    load_tables(&cloud, tables)?;
    let (response, sent) = runtime.block_on(cloud.invoke_alone(&logical_id, payload));
    let failed = response.is_err();
    match response {
        Ok(response) => print(&format!(
            "response:\n{}",
            serde_json::to_string_pretty(&response).unwrap_or_default()
        )),
        Err(error) => print(&format!("function error: {error}")),
    }
    print("sent:");
    for sent in &sent {
        print_sent(sent);
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The logical id of the function `name` names: its crate, logical id or deployed name.
fn find_function(topology: &Topology, name: &str) -> Option<String> {
    topology
        .functions
        .values()
        .find(|f| f.spec.binary == name || f.spec.logical_id == name || f.spec.name == name)
        .map(|f| f.spec.logical_id.clone())
}

/// One line per event, notification or parked message a function sent.
fn print_sent(sent: &Sent) {
    match sent {
        Sent::Events { bus, events } => {
            for event in events {
                print(&format!(
                    "  PutEvents {bus}: {} {} (id {})",
                    event.metadata.event_type, event.metadata.subject, event.metadata.id
                ));
            }
        }
        Sent::Notifications { topic_arn, messages } => {
            for message in messages {
                print(&format!("  Publish {topic_arn}: {}", message.body));
            }
        }
        Sent::Messages { queue_url, messages } => {
            for message in messages {
                let reason = message
                    .attributes
                    .iter()
                    .find(|(name, _)| name == "parked-reason")
                    .map_or("", |(_, reason)| reason.as_str());
                print(&format!("  SendMessage {queue_url}: parked: {reason}"));
            }
        }
    }
}

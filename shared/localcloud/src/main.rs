//! `localcloud`: the developer CLI of the event-driven backend.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use localcloud::decode::{Format, decode};

#[derive(Parser)]
#[command(version, about = "Run, route and inspect the event-driven backend on this machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the envelopes inside any AWS payload (SQS, SNS, EventBridge, CloudEvents, bare), one JSON line each.
    Decode {
        /// The payload file, or `-` for standard input.
        file: PathBuf,
        /// One readable line per record instead of JSON.
        #[arg(long)]
        summary: bool,
    },
}

fn main() -> ExitCode {
    let Command::Decode { file, summary } = Cli::parse().command;
    let payload = match read(&file) {
        Ok(payload) => payload,
        Err(err) => {
            eprintln!("error: cannot read {}: {err}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let format = if summary { Format::Summary } else { Format::JsonLines };
    // The domains' event types: their versions are checked and old ones upcast.
    let report = decode(&orders::registry(), &payload, format);
    let mut out = std::io::stdout().lock();
    for line in &report.lines {
        // A closed pipe (`| head`) is not an error worth a panic.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read(file: &PathBuf) -> std::io::Result<Vec<u8>> {
    let mut payload = Vec::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut payload)?;
    } else {
        payload = std::fs::read(file)?;
    }
    Ok(payload)
}

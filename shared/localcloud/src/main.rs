//! `localcloud`: the developer CLI of the event-driven backend. [`args`] is what it takes,
//! [`commands`] what each command does; every run shares one runtime (see
//! [`localcloud::runtime`]), and every failure is a [`localcloud::Error`] printed once here.

mod args;
mod commands;
mod input;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    localcloud::runtime()
        .and_then(|runtime| commands::run(cli, &runtime))
        .unwrap_or_else(|error| {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        })
}

//! The developer CLI's library: each subcommand is a function from input to report, so tests
//! call it directly and `main.rs` only parses arguments and prints.

pub mod decode;

//! event-archive on Lambda.

// The runtime's service stack around the batch's future nests deeper than the default allows.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_batches(&event_archive::FUNCTION, event_archive::build).await
}

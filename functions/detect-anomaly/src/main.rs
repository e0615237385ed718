//! detect-anomaly on Lambda.

// The runtime's service stack around the batch's future nests deeper than the default allows.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_batches(&detect_anomaly::FUNCTION, detect_anomaly::build).await
}

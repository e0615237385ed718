//! sensor-api on Lambda.

// The runtime's service stack around the API's future nests deeper than the default allows.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_http(&sensor_api::FUNCTION, sensor_api::build).await
}

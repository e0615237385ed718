//! order-api on Lambda.

// The runtime's service stack around the API's future nests deeper than the default allows.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_http(&order_api::FUNCTION, order_api::build).await
}

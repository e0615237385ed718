//! ship-order on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_events(&ship_order::FUNCTION, ship_order::build).await
}

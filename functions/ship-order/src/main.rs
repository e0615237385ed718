//! ship-order on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&ship_order::FUNCTION, ship_order::build).await
}

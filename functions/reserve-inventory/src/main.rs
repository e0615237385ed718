//! reserve-inventory on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_events(&reserve_inventory::FUNCTION, reserve_inventory::build).await
}

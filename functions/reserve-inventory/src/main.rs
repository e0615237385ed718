//! reserve-inventory on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&reserve_inventory::FUNCTION, reserve_inventory::build).await
}

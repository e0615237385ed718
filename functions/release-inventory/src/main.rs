//! release-inventory on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&release_inventory::FUNCTION, release_inventory::build).await
}

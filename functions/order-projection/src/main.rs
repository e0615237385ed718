//! order-projection on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&order_projection::FUNCTION, order_projection::build).await
}

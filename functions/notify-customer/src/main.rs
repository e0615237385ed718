//! notify-customer on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&notify_customer::FUNCTION, notify_customer::build).await
}

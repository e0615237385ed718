//! process-payment on Lambda.

#[tokio::main]
async fn main() -> Result<(), handler_kit::lambda::Error> {
    handler_kit::lambda::serve_records(&process_payment::FUNCTION, process_payment::build).await
}

//! order-projection on Lambda: SQS in, views in `ORDERS_TABLE`.

use handler_kit::lambda::{Bus, Trigger, run};
use order_projection::OrderProjection;
use order_stores::DynamoOrderViews;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Trigger::Sqs, Bus, |aws| async move {
        let table = aws
            .env
            .required("ORDERS_TABLE", "the DynamoDB table of order-tracking views")?;
        Ok(OrderProjection::new(DynamoOrderViews::new(
            aws_sdk_dynamodb::Client::new(&aws.config),
            table,
        )))
    })
    .await
}

//! release-inventory on Lambda: SQS in, events to the bus, stock in `INVENTORY_TABLE`.

use std::sync::Arc;

use handler_kit::SystemClock;
use handler_kit::lambda::{Bus, Trigger, run};
use order_stores::DynamoInventory;
use release_inventory::ReleaseInventory;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Trigger::Sqs, Bus, |aws| async move {
        let table = aws
            .env
            .required("INVENTORY_TABLE", "the DynamoDB table of stock per sku")?;
        let inventory = DynamoInventory::new(aws_sdk_dynamodb::Client::new(&aws.config), table);
        Ok(ReleaseInventory::new(inventory, Arc::new(SystemClock)))
    })
    .await
}

//! ship-order on Lambda: SQS in, events to the bus.

use std::sync::Arc;

use handler_kit::SystemClock;
use handler_kit::lambda::{Bus, Trigger, run};
use ship_order::ShipOrder;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Trigger::Sqs, Bus, |_aws| async {
        Ok(ShipOrder::new(Arc::new(SystemClock)))
    })
    .await
}

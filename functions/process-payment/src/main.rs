//! process-payment on Lambda: SQS in, events to the bus. The gateway is the simulated one:
//! a real gateway is one more adapter of `PaymentGateway`.

use std::sync::Arc;

use handler_kit::SystemClock;
use handler_kit::lambda::{Bus, Trigger, run};
use process_payment::{ProcessPayment, SimulatedGateway};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run(Trigger::Sqs, Bus, |_aws| async {
        Ok(ProcessPayment::new(SimulatedGateway::default(), Arc::new(SystemClock)))
    })
    .await
}

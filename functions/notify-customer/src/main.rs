//! notify-customer on Lambda: SQS in, notifications to `NOTIFICATIONS_TOPIC_ARN`.

use std::sync::Arc;

use handler_kit::SystemClock;
use handler_kit::lambda::{Topic, Trigger, run};
use notify_customer::{NotifyCustomer, attributes};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let outputs = Topic {
        variable: "NOTIFICATIONS_TOPIC_ARN",
        attributes,
    };
    run(Trigger::Sqs, outputs, |_aws| async {
        Ok(NotifyCustomer::new(Arc::new(SystemClock)))
    })
    .await
}

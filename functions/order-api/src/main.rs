//! order-api on Lambda: Function URL requests in, `OrderPlaced` to the bus, views from `ORDERS_TABLE`.

use std::sync::Arc;

use handler_kit::SystemClock;
use handler_kit::config::Env;
use handler_kit::publish::EventBridgePublisher;
use idempotency::{DynamoDbStore, Idempotency};
use lambda_http::{Request, service_fn};
use order_api::{ApiRequest, OrderApi};
use order_stores::DynamoOrderViews;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    handler_kit::observability::init_logging();
    let env = Env::from_process();
    let config = aws_config::load_from_env().await;
    let idempotency = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&config),
        env.required("IDEMPOTENCY_TABLE", "idempotency records")?,
    );
    let api = OrderApi::new(
        EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&config),
            env.required("EVENT_BUS_NAME", "the bus orders are placed on")?,
        ),
        Idempotency::new("order-api", idempotency),
        DynamoOrderViews::new(
            aws_sdk_dynamodb::Client::new(&config),
            env.required("ORDERS_TABLE", "order-tracking views")?,
        ),
        Arc::new(SystemClock),
    );
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(api.handle(&ApiRequest::from_http(&request)).await.into_http())
    }))
    .await
}

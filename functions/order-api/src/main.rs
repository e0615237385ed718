//! order-api on Lambda: Function URL requests in, `OrderPlaced` to the bus, views from `ORDERS_TABLE`.

use std::sync::Arc;
use std::time::Duration;

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
    let (env, config) = (Env::from_process(), handler_kit::lambda::sdk_loader().load().await);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let bus = env.required("EVENT_BUS_NAME", "the bus orders are placed on")?;
    let store = DynamoDbStore::new(
        dynamodb.clone(),
        env.required("IDEMPOTENCY_TABLE", "idempotency records")?,
    );
    let ttl = Duration::from_secs(env.parsed("IDEMPOTENCY_TTL_SECONDS", 3600)?);
    let api = OrderApi::new(
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus),
        Idempotency::new("order-api", store).with_ttl(ttl),
        DynamoOrderViews::new(dynamodb, env.required("ORDERS_TABLE", "order-tracking views")?),
        Arc::new(SystemClock),
    );
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, lambda_http::Error>(api.handle(&ApiRequest::from_http(&request)).await.into_http())
    }))
    .await
}

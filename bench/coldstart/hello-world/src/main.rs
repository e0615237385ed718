//! Hello world on `lambda_runtime`, as its documentation writes it: the baseline that
//! `bench/coldstart` starts next to every function.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let records = event
            .payload
            .get("Records")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        Ok::<_, Error>(json!({ "message": "hello", "records": records }))
    }))
    .await
}

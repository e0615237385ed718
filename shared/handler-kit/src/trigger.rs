//! How events reach a function, as a type: each trigger names the payload Lambda delivers (its
//! `aws_lambda_events` type, read once) and the answer it expects. A function declares its
//! trigger ([`crate::Function::trigger`]); the entry points take only the triggers they serve,
//! so a function handed to the wrong one does not compile. An HTTP function registers as one:
//!
//! ```
//! use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
//! use handler_kit::trigger::FunctionUrl;
//! use handler_kit::{Function, HttpHandler, Nowhere, local};
//!
//! struct Api;
//! impl HttpHandler for Api {
//!     async fn handle(&self, _: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
//!         LambdaFunctionUrlResponse::default()
//!     }
//! }
//! static API: Function<FunctionUrl, Nowhere> =
//!     Function { name: "api", trigger: FunctionUrl, outputs: Nowhere, settings: &[], idempotent: false };
//!
//! let registration = local::http(&API, |_| Ok(Api));
//! assert_eq!(registration.trigger, handler_kit::TriggerKind::FunctionUrl);
//! ```
//!
//! and the same function handed to the entry point of record handlers does not compile (a
//! Function URL is no [`crate::dispatch::RecordTrigger`], and `Api` no record handler):
//!
//! ```compile_fail
//! # use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
//! # use handler_kit::trigger::FunctionUrl;
//! # use handler_kit::{Function, HttpHandler, Nowhere, local};
//! # struct Api;
//! # impl HttpHandler for Api {
//! #     async fn handle(&self, _: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
//! #         LambdaFunctionUrlResponse::default()
//! #     }
//! # }
//! # static API: Function<FunctionUrl, Nowhere> =
//! #     Function { name: "api", trigger: FunctionUrl, outputs: Nowhere, settings: &[], idempotent: false };
//! let registration = local::records(&API, |_| Ok(Api));
//! ```

use std::fmt::Debug;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which AWS carrier invokes a function, as the template declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// An SQS event source mapping with `ReportBatchItemFailures`.
    Sqs,
    /// An EventBridge rule targeting the function directly.
    EventBridge,
    /// An SNS subscription with protocol `lambda`.
    Sns,
    /// A Lambda Function URL (HTTP).
    FunctionUrl,
}

/// A way events reach a function.
pub trait Trigger: Debug + Copy + Send + Sync + 'static {
    /// What Lambda delivers.
    type Payload: DeserializeOwned + Send + 'static;
    /// What the function answers.
    type Response: Serialize + Send + 'static;
    /// The carrier, for the template and the local cloud.
    const KIND: TriggerKind;
    /// What the payload is, for an error about one that is not.
    const PAYLOAD: &'static str;

    /// The expression of a scheduled rule that also invokes the function (`rate(1 minute)`).
    fn schedule(&self) -> Option<&'static str> {
        None
    }
}

/// An SQS event source mapping; each record handled on its own. The answer names exactly the
/// records to retry (`ReportBatchItemFailures`).
#[derive(Debug, Clone, Copy)]
pub struct Sqs;

impl Trigger for Sqs {
    type Payload = SqsEvent;
    type Response = SqsBatchResponse;
    const KIND: TriggerKind = TriggerKind::Sqs;
    const PAYLOAD: &'static str = "an SQS event";
}

/// An EventBridge rule with the function as its target. The answer is ignored (the invocation
/// is asynchronous): a failure fails the invocation, and Lambda retries it.
#[derive(Debug, Clone, Copy)]
pub struct EventBridge;

impl Trigger for EventBridge {
    type Payload = EventBridgeEvent<Value>;
    type Response = ();
    const KIND: TriggerKind = TriggerKind::EventBridge;
    const PAYLOAD: &'static str = "an EventBridge event";
}

/// An SNS subscription of protocol `lambda` (failures as for [`EventBridge`]).
#[derive(Debug, Clone, Copy)]
pub struct Sns;

impl Trigger for Sns {
    type Payload = SnsEvent;
    type Response = ();
    const KIND: TriggerKind = TriggerKind::Sns;
    const PAYLOAD: &'static str = "an SNS event";
}

/// A Lambda Function URL: one HTTP request, its response.
#[derive(Debug, Clone, Copy)]
pub struct FunctionUrl;

impl Trigger for FunctionUrl {
    type Payload = LambdaFunctionUrlRequest;
    type Response = LambdaFunctionUrlResponse;
    const KIND: TriggerKind = TriggerKind::FunctionUrl;
    const PAYLOAD: &'static str = "a Function URL request";
}

/// An SQS event source mapping whose batches are handled whole (an aggregate's, folded into
/// its state), and the ticks of a scheduled rule, if it declares one.
#[derive(Debug, Clone, Copy)]
pub struct SqsBatches {
    /// The scheduled rule's expression, for what time alone decides (a window closing).
    pub schedule: Option<&'static str>,
}

impl Trigger for SqsBatches {
    type Payload = BatchPayload;
    type Response = Option<SqsBatchResponse>;
    const KIND: TriggerKind = TriggerKind::Sqs;
    const PAYLOAD: &'static str = "an SQS event or a scheduled rule's event";

    fn schedule(&self) -> Option<&'static str> {
        self.schedule
    }
}

/// What a function triggered by [`SqsBatches`] receives. Told apart by shape, once: SQS sends
/// `Records`, a scheduled rule an EventBridge event (checked to be a tick when it is handled).
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "an SQS event (`Records`) or a scheduled rule's event (`detail-type`)"
)]
pub enum BatchPayload {
    /// A batch of messages.
    Messages(SqsEvent),
    /// What a scheduled rule sent.
    Tick(EventBridgeEvent<Value>),
}

impl BatchPayload {
    /// Whether `event` is what a scheduled rule sends the functions it targets.
    pub fn is_tick(event: &EventBridgeEvent<Value>) -> bool {
        event.detail_type == "Scheduled Event" && event.source == "aws.events"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_default()
    }

    #[test]
    fn a_batch_payload_is_read_once_as_messages_or_a_tick_and_anything_else_is_named() {
        let tick: BatchPayload =
            serde_json::from_str(&sample("sensors/detect-anomaly/scheduled-tick.eventbridge.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&tick, BatchPayload::Tick(event) if BatchPayload::is_tick(event)));
        let messages: BatchPayload =
            serde_json::from_str(&sample("carriers/bad-json.sqs-eventbridge.json")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(messages, BatchPayload::Messages(event) if event.records.len() == 2));
        let err = serde_json::from_str::<BatchPayload>(r#"{"hello": 1}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("an SQS event (`Records`) or a scheduled rule's event"),
            "{err}"
        );
    }
}

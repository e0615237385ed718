//! Functions behind a Lambda Function URL: a request in, a response out, in the shapes
//! `aws_lambda_events` gives them, so the same handler runs on Lambda and in the local cloud.

use std::future::Future;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};

/// An HTTP function's decision.
pub trait HttpHandler: Send + Sync {
    /// Answers one request.
    fn handle(&self, request: LambdaFunctionUrlRequest) -> impl Future<Output = LambdaFunctionUrlResponse> + Send;
}

//! Functions behind a Lambda Function URL: a request in, a response out, in the shapes
//! `aws_lambda_events` gives them, so the same handler runs on Lambda and in the local cloud.

use std::future::Future;

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use serde_json::Value;

/// An HTTP function's decision.
pub trait HttpHandler: Send + Sync {
    /// Answers one request.
    fn handle(&self, request: LambdaFunctionUrlRequest) -> impl Future<Output = LambdaFunctionUrlResponse> + Send;
}

/// The parts of a Function URL request an API reads.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, e.g. `/orders/o-1`.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, decoded if it came base64-encoded.
    pub body: Vec<u8>,
}

impl Request {
    /// The parts of `request`. A base64 body that does not decode is kept as sent, so the API
    /// answers 400 for it rather than the runtime failing.
    pub fn from_function_url(request: &LambdaFunctionUrlRequest) -> Self {
        let text = request.body.as_deref().unwrap_or_default();
        let body = if request.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_else(|_| text.as_bytes().to_vec())
        } else {
            text.as_bytes().to_vec()
        };
        Self {
            method: request.request_context.http.method.clone().unwrap_or_default(),
            path: request.raw_path.clone().unwrap_or_else(|| "/".to_owned()),
            headers: request.headers.clone(),
            body,
        }
    }

    /// The value of header `name`, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The path's segments, without empty ones (`/sensors/s-1` -> `["sensors", "s-1"]`).
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }
}

/// A JSON answer: `application/problem+json` for a status of 400 or more (RFC 9457), with a
/// `Location` when given.
pub fn json_response(status: u16, body: &Value, location: Option<&str>) -> LambdaFunctionUrlResponse {
    let content_type = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert("location", location);
    }
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(body.to_string());
    response
}

/// An RFC 9457 problem-details body.
pub fn problem(status: u16, title: &str, detail: impl Into<String>) -> Value {
    serde_json::json!({ "type": "about:blank", "title": title, "status": status, "detail": detail.into() })
}

//! Lambda: invocations (by a poller, asynchronously with Lambda's retries, or by an HTTP client
//! with its retries), and what a function sends, dispatched to buses, topics and queues.

use handler_kit::local::{LocalMessage, Sent};
use serde_json::Value;

use super::{LocalCloud, Task, What};
use crate::sqs::Outgoing;

/// A function's message as a queue or topic takes it.
fn outgoing(message: LocalMessage) -> Outgoing {
    Outgoing {
        body: message.body,
        attributes: message.attributes.into_iter().collect(),
        ..Outgoing::default()
    }
}

/// An HTTP exchange with a function.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The caller's label.
    pub label: String,
    /// The response payload (statusCode, headers, body) or the function's error.
    pub response: Result<Value, String>,
}

/// How often an HTTP client retries a request answered 5xx or 409 (same request, same
/// Idempotency-Key), with exponential backoff from 100 ms capped at 5 s: about a minute in all,
/// longer than an API holds an idempotency key, so a client always learns what became of its
/// request.
pub const CLIENT_RETRIES: u32 = 20;

/// How often Lambda retries a failed asynchronous invocation (a rule or a subscription
/// invoking a function directly).
pub const ASYNC_RETRIES: u32 = 2;

impl LocalCloud {
    /// An asynchronous invocation (a rule or subscription targeting a function), shortly.
    pub(super) fn invoke_later(&mut self, function: &str, payload: Value) {
        let at = self.now + self.dice.between(5, 25);
        self.schedule(
            at,
            Task::Invoke {
                function: function.to_owned(),
                payload,
                label: None,
                attempt: 0,
            },
        );
    }

    /// Runs an asynchronous invocation (a rule or a subscription invoking a function directly),
    /// attempt `attempt`.
    pub(super) async fn invoke_async(&mut self, function: String, payload: Value, attempt: u32) {
        // Lambda retries a failed asynchronous invocation twice, a minute and then
        // two minutes later; what still fails is kept, payload and all.
        if let Err(error) = self.invoke(&function, payload.clone()).await {
            if attempt < ASYNC_RETRIES {
                self.schedule(
                    self.now + 60_000 * i64::from(attempt + 1),
                    Task::Invoke {
                        function,
                        payload,
                        label: None,
                        attempt: attempt + 1,
                    },
                );
            } else {
                let crate_name = self.topology.crate_of(&function).to_owned();
                self.undeliverable(
                    crate_name,
                    format!(
                        "asynchronous invocation failed {} times ({error}); event: {payload}",
                        attempt + 1
                    ),
                );
            }
        }
    }

    /// An HTTP client's request, retried as [`CLIENT_RETRIES`] says while it fails or is answered
    /// 5xx or 409; its last answer is the exchange.
    pub(super) async fn client_request(&mut self, function: String, payload: Value, label: String, attempt: u32) {
        let result = self.invoke(&function, payload.clone()).await;
        let status = result
            .as_ref()
            .ok()
            .and_then(|r| r.get("statusCode"))
            .and_then(Value::as_u64);
        let retryable = result.is_err() || status.is_some_and(|s| s >= 500 || s == 409);
        if retryable && attempt < CLIENT_RETRIES {
            self.record(What::Request {
                function: self.topology.crate_of(&function).to_owned(),
                request: label.clone(),
                status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                detail: "(the client retries)".into(),
            });
            self.schedule(
                self.now + (100_i64 << attempt.min(6)).min(5_000),
                Task::Invoke {
                    function,
                    payload,
                    label: Some(label),
                    attempt: attempt + 1,
                },
            );
        } else {
            self.exchanged(&function, label, result);
        }
    }

    fn exchanged(&mut self, function: &str, label: String, response: Result<Value, String>) {
        let (status, detail) = match &response {
            Ok(response) => {
                let body: Value = response
                    .get("body")
                    .and_then(Value::as_str)
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                let location = response.pointer("/headers/location").and_then(Value::as_str);
                let detail = location
                    .or_else(|| body.get("detail").and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                let status = response.get("statusCode").and_then(Value::as_u64).unwrap_or(0);
                (u16::try_from(status).unwrap_or(0), detail)
            }
            Err(error) => (500, error.clone()),
        };
        self.record(What::Request {
            function: self.topology.crate_of(function).to_owned(),
            request: label.clone(),
            status,
            detail,
        });
        self.exchanges.push(Exchange { label, response });
    }

    /// Invokes function `logical_id` on `payload` now and handles what it sent.
    pub(super) async fn invoke(&mut self, logical_id: &str, payload: Value) -> Result<Value, String> {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            return Err(format!("no function {logical_id}"));
        };
        let crate_name = deployed.crate_name.clone();
        let timeout = deployed.timeout;
        *self.stats.invocations.entry(crate_name.clone()).or_default() += 1;
        self.dice.begin_invocation();
        let started = tokio::time::Instant::now();
        let mut result = deployed.function.invoke(payload, &request_id, timeout).await;
        let took = started.elapsed();
        if took > timeout {
            self.stats.late_invocations.push(format!(
                "{crate_name} ({request_id}) answered after {} ms, past its {} ms timeout",
                took.as_millis(),
                timeout.as_millis()
            ));
        }
        if self.dice.crashed_inside() {
            self.record(What::CrashBeforeRecord {
                function: crate_name.clone(),
            });
            result = Err("Runtime.ExitError: crashed before recording its work (injected)".into());
        }
        let sent = self.outbox.drain();
        self.dispatching_at_risk = self.dice.record_failed_inside();
        self.dispatch(sent, &crate_name);
        self.dispatching_at_risk = false;
        result
    }

    /// Invokes function `logical_id` on `payload` now, without routing what it sends: the
    /// response and the sends, for `localcloud invoke`.
    pub async fn invoke_alone(&mut self, logical_id: &str, payload: Value) -> (Result<Value, String>, Vec<Sent>) {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            return (Err(format!("no function {logical_id} in the template")), Vec::new());
        };
        let result = deployed.function.invoke(payload, &request_id, deployed.timeout).await;
        (result, self.outbox.drain())
    }

    /// Handles a function's sends, now.
    fn dispatch(&mut self, sent: Vec<Sent>, from: &str) {
        for sent in sent {
            match sent {
                Sent::Events { bus, events } => self.put_events(&bus, events, from),
                Sent::Notifications { topic_arn, messages } => {
                    let topic = self
                        .topology
                        .topics
                        .values()
                        .find(|t| t.arn == topic_arn)
                        .map(|t| t.logical_id.clone());
                    for message in messages {
                        match &topic {
                            Some(topic) => self.publish(topic, outgoing(message), from),
                            None => self.undeliverable(topic_arn.clone(), "no such topic in the template".into()),
                        }
                    }
                }
                Sent::Messages { queue_url, messages } => {
                    let queue = self
                        .queues
                        .values()
                        .find(|q| q.config().url == queue_url)
                        .map(|q| q.config().logical_id.clone());
                    for message in messages.into_iter().map(outgoing) {
                        if let Some(reason) = message.attributes.get("parked-reason") {
                            self.record(What::Parked {
                                by: from.to_owned(),
                                kind: message.attributes.get("parked-kind").cloned().unwrap_or_default(),
                                reason: reason.clone(),
                            });
                        }
                        match &queue {
                            Some(queue) => self.deliver(queue, message, None),
                            None => self.undeliverable(queue_url.clone(), "no such queue in the template".into()),
                        }
                    }
                }
            }
        }
    }
}

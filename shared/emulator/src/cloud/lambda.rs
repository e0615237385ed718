//! Lambda: invocations (by a poller, asynchronously with Lambda's retries, or by an HTTP client
//! with its retries), and what a function sends, dispatched to buses, topics and queues.

use std::rc::Rc;

use handler_kit::local::{LocalMessage, Sent};
use serde_json::{Value, json};

use super::{After, Ended, LocalCloud, Task, What};
use crate::sqs::Outgoing;
use crate::topology::Endpoint;

/// A function's message as a queue or topic takes it.
fn outgoing(message: LocalMessage) -> Outgoing {
    Outgoing {
        body: message.body,
        attributes: message.attributes.into_iter().collect(),
        trace_header: message.trace_header,
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

/// The detail of a request's timeline entry whose answer its client retries.
pub const RETRIED_BY_CLIENT: &str = "(the client retries)";

impl LocalCloud {
    /// An asynchronous invocation (a rule or subscription targeting a function), shortly.
    pub(super) fn invoke_later(&mut self, function: &str, payload: Value) {
        let at = self.now + self.dice.between(&format!("function:{function}/async-latency"), 5, 25);
        self.schedule(
            at,
            Task::Invoke {
                function: function.to_owned(),
                payload,
                label: None,
                attempt: 0,
                first_at: self.now,
            },
        );
    }

    /// Starts invoking function `logical_id` on `payload` now; `after` says what its end means.
    /// It runs beside every other invocation in flight, and interleaves with them at its port
    /// calls.
    pub(super) fn start_invocation(&mut self, logical_id: &str, payload: Value, after: After) {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            let missing = format!("no function {logical_id}");
            self.settle_invocation(after, &request_id, Err(missing), None);
            return;
        };
        let function = Rc::clone(&deployed.function);
        let (crate_name, timeout) = (deployed.crate_name.clone(), deployed.timeout);
        let trace = self.invocation_trace(&request_id);
        self.invocations += 1;
        let id = self.invocations;
        *self.stats.invocations.entry(crate_name.clone()).or_default() += 1;
        self.dice.begin_invocation(id, &crate_name);
        self.in_flight.insert(id, crate_name.clone());
        self.note_invoked(id, &crate_name, &request_id, &after, &trace);
        let running = self.in_flight.values().filter(|c| **c == crate_name).count();
        let peak = self.stats.peak_concurrency.entry(crate_name.clone()).or_default();
        *peak = (*peak).max(running);
        self.running.push(Box::pin(async move {
            let started = tokio::time::Instant::now();
            let result =
                handler_kit::local::in_invocation(id, function.invoke(payload, &request_id, Some(&trace), timeout))
                    .await;
            Ended {
                id,
                function: crate_name,
                request_id,
                timeout,
                result,
                took: started.elapsed(),
                after,
            }
        }));
    }

    /// An invocation ended: its faults, then what its end means for its caller.
    pub(super) fn ended(&mut self, ended: Ended) {
        let Ended {
            id,
            function,
            request_id,
            timeout,
            mut result,
            took,
            after,
        } = ended;
        self.in_flight.remove(&id);
        let inside = self.dice.end_invocation(id);
        if took > timeout {
            self.stats.late_invocations.push(format!(
                "{function} ({request_id}) answered after {} ms, past its {} ms timeout",
                took.as_millis(),
                timeout.as_millis()
            ));
        }
        if inside.crashed {
            self.record(What::CrashBeforeRecord { function });
            result = Err("Runtime.ExitError: crashed before recording its work (injected)".into());
        }
        self.note_step(|cloud| json!({ "k": "ended", "at": cloud.now, "invocation": id, "ok": result.is_ok(), "error": result.as_ref().err() }));
        let notified = self.notified_by.remove(&id).unwrap_or_default();
        // A fault in the invocation (a crash, a failed or slow call) may leave what it sent
        // unrecorded as sent (an outbox not cleared, a record not completed): sent again.
        if inside.record_failed || inside.faulted {
            for index in notified {
                if let Some(notification) = self.notifications.get_mut(index) {
                    notification.at_risk = true;
                }
            }
        }
        self.settle_invocation(after, &request_id, result, Some(inside.faulted));
    }

    /// The X-Ray trace header Lambda (with `Tracing: Active`) gives an invocation that arrives
    /// in none: a new root, whose time part is the run's start and whose random part comes
    /// from the request id, so a seed replays the same traces.
    pub(super) fn invocation_trace(&self, request_id: &str) -> String {
        let digits = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, request_id.as_bytes())
            .simple()
            .to_string();
        format!(
            "Root=1-{:08x}-{};Parent={};Sampled=1",
            self.start.timestamp(),
            &digits[..24],
            &digits[16..]
        )
    }

    /// The trace id (as X-Ray shows it) of the invocation with `request_id`.
    fn invocation_trace_id(&self, request_id: &str) -> Option<String> {
        envelope::TraceContext::from_xray(&self.invocation_trace(request_id)).and_then(|t| t.xray_trace_id())
    }

    /// What an invocation's end means for its caller; `faulted`: whether it ran, and with a
    /// fault injected into it.
    fn settle_invocation(
        &mut self,
        after: After,
        request_id: &str,
        result: Result<Value, String>,
        faulted: Option<bool>,
    ) {
        match after {
            After::Batch { mapping, batch } => self.settle_batch(mapping, batch, result, faulted),
            After::Async {
                function,
                payload,
                attempt,
                first_at,
            } => self.async_ended(function, payload, attempt, first_at, result),
            After::Client {
                function,
                payload,
                label,
                attempt,
            } => {
                let trace_id = self.invocation_trace_id(request_id);
                self.client_answered(function, payload, label, attempt, result, trace_id);
            }
        }
    }

    /// An asynchronous invocation ended. Lambda retries a failed one a minute and then two
    /// minutes later, as often as the function's `EventInvokeConfig` allows and while the
    /// event is younger than its maximum age; what still fails goes to the on-failure
    /// destination, payload and all, or is dropped without one (said in the timeline).
    fn async_ended(
        &mut self,
        function: String,
        payload: Value,
        attempt: u32,
        first_at: i64,
        result: Result<Value, String>,
    ) {
        let Err(error) = result else {
            return;
        };
        let config = self
            .topology
            .functions
            .get(&function)
            .map(|f| f.async_config.clone())
            .unwrap_or_default();
        let retry_at = self.now + 60_000 * i64::from(attempt + 1);
        let too_old = retry_at - first_at > config.maximum_event_age_ms;
        if attempt < config.maximum_retry_attempts && !too_old {
            self.schedule(
                retry_at,
                Task::Invoke {
                    function,
                    payload,
                    label: None,
                    attempt: attempt + 1,
                    first_at,
                },
            );
            return;
        }
        let condition = if too_old {
            "EventAgeExceeded"
        } else {
            "RetriesExhausted"
        };
        let crate_name = self.topology.crate_of(&function).to_owned();
        let arn = self
            .topology
            .template
            .resource(&function)
            .and_then(|r| r.arn.clone())
            .unwrap_or_default();
        // The invocation record Lambda sends an on-failure destination.
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": (self.start + chrono::Duration::milliseconds(self.now)).to_rfc3339(),
            "requestContext": {
                "requestId": self.next_id("request"),
                "functionArn": format!("{arn}:$LATEST"),
                "condition": condition,
                "approximateInvokeCount": attempt + 1,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": error},
        });
        let reason = format!(
            "asynchronous invocation failed {} times ({condition}: {error})",
            attempt + 1
        );
        let Some(destination) = config.on_failure else {
            self.undeliverable(
                crate_name,
                format!("{reason}; dropped (no on-failure destination); event: {payload}"),
            );
            return;
        };
        self.record(What::Undeliverable {
            target: crate_name.clone(),
            reason: format!("{reason}; sent to {}", destination.logical_id()),
        });
        match destination {
            Endpoint::Queue(queue) => self.deliver(&queue, Outgoing::body(record.to_string()), None, &crate_name),
            Endpoint::Topic(topic) => self.publish(&topic, Outgoing::body(record.to_string()), &crate_name),
            Endpoint::Function(target) => self.invoke_later(&target, record),
        }
    }

    /// An HTTP client's request was answered: retried as [`CLIENT_RETRIES`] says while it
    /// failed or was answered 5xx or 409; its last answer is the exchange.
    fn client_answered(
        &mut self,
        function: String,
        payload: Value,
        label: String,
        attempt: u32,
        result: Result<Value, String>,
        trace_id: Option<String>,
    ) {
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
                detail: RETRIED_BY_CLIENT.into(),
                trace_id,
            });
            self.schedule(
                self.now + (100_i64 << attempt.min(6)).min(5_000),
                Task::Invoke {
                    function,
                    payload,
                    label: Some(label),
                    attempt: attempt + 1,
                    first_at: self.now,
                },
            );
        } else {
            self.exchanged(&function, label, result, trace_id);
        }
    }
    fn exchanged(&mut self, function: &str, label: String, response: Result<Value, String>, trace_id: Option<String>) {
        let (status, detail) = match &response {
            Ok(response) => {
                let body: Value = response
                    .get("body")
                    .and_then(Value::as_str)
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                let location = response.pointer("/headers/location").and_then(Value::as_str);
                let mut detail = location
                    .or_else(|| body.get("detail").and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                // A request accepted in part names what it refused, and where.
                if let Some(refusals) = body.get("refusals").and_then(Value::as_array).filter(|r| !r.is_empty()) {
                    let named: Vec<String> = refusals
                        .iter()
                        .map(|r| {
                            let field = r.get("field").and_then(Value::as_str).unwrap_or("?");
                            let message = r.get("message").and_then(Value::as_str).unwrap_or_default();
                            format!("{field}: {message}")
                        })
                        .collect();
                    let refused = format!("{} refused ({})", refusals.len(), named.join("; "));
                    detail = if detail.is_empty() {
                        refused
                    } else {
                        format!("{detail}; {refused}")
                    };
                }
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
            trace_id,
        });
        self.exchanges.push(Exchange { label, response });
    }

    /// Invokes function `logical_id` on `payload` now, alone, without routing what it sends:
    /// the response and the sends, for `localcloud invoke`.
    pub async fn invoke_alone(&mut self, logical_id: &str, payload: Value) -> (Result<Value, String>, Vec<Sent>) {
        let request_id = self.next_id("request");
        let Some(deployed) = self.functions.get(logical_id) else {
            return (Err(format!("no function {logical_id} in the template")), Vec::new());
        };
        let function = Rc::clone(&deployed.function);
        let trace = self.invocation_trace(&request_id);
        let result = function
            .invoke(payload, &request_id, Some(&trace), deployed.timeout)
            .await;
        (result, self.outbox.drain())
    }

    /// Routes what invocations sent since the last time, in the order they sent it, each as
    /// the function that sent it.
    pub(super) fn route_sends(&mut self) {
        for (invocation, sent) in self.outbox.drain_by_invocation() {
            let from = invocation
                .and_then(|id| self.in_flight.get(&id).cloned())
                .unwrap_or_else(|| "outside".to_owned());
            let before = self.notifications.len();
            self.dispatch(vec![sent], &from);
            if let Some(id) = invocation {
                self.notified_by
                    .entry(id)
                    .or_default()
                    .extend(before..self.notifications.len());
            }
        }
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
                            Some(queue) => self.deliver(queue, message, None, from),
                            None => self.undeliverable(queue_url.clone(), "no such queue in the template".into()),
                        }
                    }
                }
            }
        }
    }
}

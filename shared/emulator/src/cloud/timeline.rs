//! The timeline: what happened in a run ([`What`]), when ([`Entry`]), and how a line of it reads.

use std::fmt;

use serde::Serialize;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Virtual milliseconds since the start.
    pub at: i64,
    /// What happened.
    pub what: What,
}

/// What happened (in the run record, its variant is `what`, kebab-case, beside its fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum What {
    /// An HTTP request to a function.
    Request {
        /// The function's crate.
        function: String,
        /// The request's label (`POST /orders`).
        request: String,
        /// HTTP status.
        status: u16,
        /// Where the created resource is (`Location`), or the problem's detail.
        detail: String,
        /// The X-Ray trace id Lambda gave the invocation that answered.
        trace_id: Option<String>,
    },
    /// An event on a bus and where it went (`rule -> queue -> function` each).
    Event {
        /// detail-type.
        event_type: String,
        /// The envelope's subject (the aggregate's id).
        subject: String,
        /// Who published it.
        from: String,
        /// Each matching rule's route.
        routes: Vec<String>,
        /// The X-Ray trace id of its entry's `TraceHeader`.
        trace_id: Option<String>,
    },
    /// A batch that did not fully succeed.
    Batch {
        /// The function's crate.
        function: String,
        /// Records in the batch.
        size: usize,
        /// Records left to come back.
        retried: usize,
        /// Why the whole batch failed, if it did.
        failure: Option<String>,
    },
    /// A fault: the function crashed after publishing.
    Crash {
        /// The function's crate.
        function: String,
        /// Records in the batch.
        size: usize,
    },
    /// A fault: the function crashed after publishing a record's outputs, before recording
    /// the record done.
    CrashBeforeRecord {
        /// The function's crate.
        function: String,
    },
    /// A fault: a rule delivered an event twice.
    Duplicate {
        /// The queue.
        queue: String,
    },
    /// A message moved to a dead-letter queue.
    DeadLetter {
        /// The queue it left.
        queue: String,
        /// The dead-letter queue.
        dead_letter_queue: String,
        /// Receives it had.
        receives: u32,
    },
    /// A message outlived its queue's retention period and was deleted unread.
    Expired {
        /// The queue.
        queue: String,
        /// The message id.
        id: String,
    },
    /// A function parked a message.
    Parked {
        /// The function that parked it.
        by: String,
        /// Error kind.
        kind: String,
        /// The reason.
        reason: String,
    },
    /// A message published to a topic.
    Notification {
        /// The topic.
        topic: String,
        /// The message's `subject` attribute (the aggregate's id).
        subject: String,
        /// Who published it.
        from: String,
        /// Subscriptions it reached.
        delivered: usize,
        /// The X-Ray trace id the publish call carried.
        trace_id: Option<String>,
    },
    /// A fault: Lambda throttled the invocation of a batch; the poller tries again later while
    /// the batch's visibility timeout runs.
    Throttled {
        /// The function's crate.
        function: String,
        /// Records in the batch.
        size: usize,
        /// How long until the invocation goes through.
        for_ms: i64,
    },
    /// A fault: a rule's target throttled a delivery; EventBridge retries it.
    TargetThrottled {
        /// The rule and target.
        target: String,
        /// Attempts so far.
        attempts: u32,
    },
    /// Something could not be delivered where the template sends it.
    Undeliverable {
        /// Where it was going.
        target: String,
        /// Why not.
        reason: String,
    },
}

impl Entry {
    /// The X-Ray trace id of what it records (a request, an event, a notification), if any.
    pub fn trace_id(&self) -> Option<&str> {
        match &self.what {
            What::Request { trace_id, .. } | What::Event { trace_id, .. } | What::Notification { trace_id, .. } => {
                trace_id.as_deref()
            }
            _ => None,
        }
    }

    /// The subject (aggregate id) of an event or a notification, and its kind: the event's
    /// type, or `(notification)`.
    pub fn subject_and_kind(&self) -> Option<(&str, &str)> {
        match &self.what {
            What::Event {
                subject, event_type, ..
            } => Some((subject, event_type)),
            What::Notification { subject, .. } => Some((subject, "(notification)")),
            _ => None,
        }
    }
}

/// Formats virtual milliseconds as `+mm:ss.mmm`.
pub fn clock_text(at: i64) -> String {
    format!("+{:02}:{:02}.{:03}", at / 60_000, (at / 1000) % 60, at % 1000)
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  ", clock_text(self.at))?;
        match &self.what {
            What::Request {
                function,
                request,
                status,
                detail,
                ..
            } => write!(f, "HTTP {request} -> {function} -> {status} {detail}"),
            What::Event {
                event_type,
                subject,
                from,
                routes,
                ..
            } => {
                let head = format!("{event_type:<18} {subject:<35} {from:<17}");
                write!(f, "{head}")?;
                if routes.is_empty() {
                    return write!(f, " -> (no rule matches)");
                }
                // Under the first arrow: the time column is 12 wide.
                let indent = 12 + head.len();
                for (index, route) in routes.iter().enumerate() {
                    if index > 0 {
                        write!(f, "\n{:indent$}", "")?;
                    }
                    write!(f, " -> {route}")?;
                }
                Ok(())
            }
            What::Batch {
                function,
                size,
                retried,
                failure,
            } => match failure {
                Some(reason) => write!(f, "  {function}: whole batch of {size} retried: {reason}"),
                None => write!(
                    f,
                    "  {function}: {retried} of {size} records retried (batch item failures)"
                ),
            },
            What::Crash { function, size } => write!(
                f,
                "  FAULT {function} crashed after publishing; its batch of {size} comes back after the visibility timeout"
            ),
            What::CrashBeforeRecord { function } => write!(
                f,
                "  FAULT {function} crashed after publishing, before recording its records done; they run again when redelivered"
            ),
            What::Duplicate { queue } => write!(f, "  FAULT event delivered twice to {queue}"),
            What::DeadLetter {
                queue,
                dead_letter_queue,
                receives,
            } => write!(
                f,
                "  {queue}: message moved to {dead_letter_queue} after {receives} receives"
            ),
            What::Expired { queue, id } => {
                write!(f, "  {queue}: message {id} expired unread after the retention period")
            }
            What::Parked { by, kind, reason } => write!(f, "  PARKED by {by} ({kind}): {reason}"),
            What::Notification {
                topic,
                subject,
                from,
                delivered,
                ..
            } => write!(
                f,
                "{:<18} {subject:<35} {from:<17} -> {topic} ({delivered} subscriptions)",
                "(notification)"
            ),
            What::Throttled { function, size, for_ms } => write!(
                f,
                "  FAULT {function} throttled; its batch of {size} waits {} s for an invocation",
                for_ms / 1000
            ),
            What::TargetThrottled { target, attempts } => write!(
                f,
                "  FAULT {target} throttled the delivery (attempt {attempts}); EventBridge retries it"
            ),
            What::Undeliverable { target, reason } => write!(f, "  UNDELIVERABLE to {target}: {reason}"),
        }
    }
}

//! The invocation a batch arrived in, and the processors' tuning: when each step must end so
//! the invocation answers before Lambda's deadline.

use std::time::Duration;

use envelope::TraceContext;
use tokio::time::Instant;

/// The invocation a batch arrived in.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Lambda's request id.
    pub request_id: String,
    /// When Lambda stops the invocation.
    pub deadline: Instant,
    /// The X-Ray trace Lambda began or continued for it (`Lambda-Runtime-Trace-Id`, with
    /// `Tracing: Active`): the trace of a request that arrives with none of its own.
    pub trace: Option<TraceContext>,
}

impl Invocation {
    /// An invocation with `remaining` time left from now.
    pub fn with_remaining(request_id: impl Into<String>, remaining: Duration) -> Self {
        Self {
            request_id: request_id.into(),
            deadline: Instant::now() + remaining,
            trace: None,
        }
    }

    /// The same invocation in the trace of X-Ray header `header` (none when it is not one).
    #[must_use]
    pub fn in_trace(mut self, header: Option<&str>) -> Self {
        self.trace = header.and_then(TraceContext::from_xray);
        self
    }
}

/// Tuning of a processor.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records processed at once.
    pub concurrency: usize,
    /// A record is not started with less time than this left, and its work is stopped when
    /// only this is left. Publishing gets until half of it is left, recording and parking
    /// until a tenth is: what is not done by then is reported for retry.
    pub deadline_margin: Duration,
}

impl Limits {
    pub(crate) fn publish_by(&self, invocation: &Invocation) -> Instant {
        before(invocation.deadline, self.deadline_margin / 2)
    }

    pub(crate) fn settle_by(&self, invocation: &Invocation) -> Instant {
        before(invocation.deadline, self.deadline_margin / 10)
    }
}

/// `margin` before `deadline` (an instant can only go back as far as the clock began).
fn before(deadline: Instant, margin: Duration) -> Instant {
    deadline.checked_sub(margin).unwrap_or(deadline)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            concurrency: 10,
            deadline_margin: Duration::from_secs(2),
        }
    }
}

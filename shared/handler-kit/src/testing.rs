//! Helpers for functions' tests: a processor on in-memory adapters, and sample payloads.

use std::path::Path;

use aws_lambda_events::event::sqs::SqsEvent;
use idempotency::{Idempotency, InMemoryStore};

use crate::processor::{Handler, Processor};
use crate::publish::{InMemoryParking, InMemoryPublisher};

/// A processor whose store, publisher and parking are in memory.
pub type InMemoryProcessor<H> = Processor<H, InMemoryStore, InMemoryPublisher, InMemoryParking>;

/// `handler` behind in-memory idempotency, publisher and parking.
pub fn in_memory<H: Handler>(function: &str, handler: H) -> InMemoryProcessor<H> {
    Processor::new(
        function,
        handler,
        Idempotency::new(function, InMemoryStore::new()),
        InMemoryPublisher::new(),
        InMemoryParking::new(),
    )
}

/// Reads an SQS sample payload (e.g. `events/orders/ship-order/...json`) relative to `root`.
pub fn sqs_sample(root: &Path, relative: &str) -> Result<SqsEvent, String> {
    let path = root.join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not an SQS event: {e}", path.display()))
}

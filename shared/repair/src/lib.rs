//! Repairing what failed, on AWS (`events dlq ...`, `events parked ...`) and on the local cloud
//! (`localcloud dlq ...`, `localcloud parked ...`): one core over two ports.
//!
//! - [`dlq`]: every dead-letter queue of the stack (a queue some queue's `RedrivePolicy`, a rule
//!   target's `DeadLetterConfig` or a subscription's `RedrivePolicy` names) with its depth and
//!   the age of its oldest message; its messages, not consumed, with their receive count, the
//!   failure recorded and their envelopes; a redrive back where they failed (SQS's move task
//!   for queues' DLQs, message by message to the `TARGET_ARN` queue for a rule's).
//! - [`parked`]: the parking queue's messages, by kind; a resubmit to the queue each came from
//!   (`parked-from`), claimed once in a [`Ledger`] first, then sent, then deleted; a message
//!   that can never succeed as it is goes only with an edited body.
//!
//! Both are safe to repeat because every consumer is idempotent: a redriven or resubmitted
//! message whose work completed is a duplicate to its consumer, which sends nothing again.
//!
//! The ports are [`Queues`] and [`Ledger`]; [`memory`] has in-memory adapters (the tests'), and
//! the feature `aws` the SQS and DynamoDB ones (`aws`). The local cloud's CLI brings its own.
//! The feature `cli` has the commands as both CLIs take them (`cli`).

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "cli")]
pub mod cli;
pub mod dlq;
pub mod error;
pub mod memory;
pub mod parked;
pub mod ports;

use envelope::{Decoder, Location, Registry};

pub use error::RepairError;
pub use ports::{Claim, DeadLetterSource, Ledger, MoveProgress, Peeked, QueueInfo, Queues};

/// How long resubmits are remembered in the ledger: as long as consumers remember what they
/// handled (the idempotency records' TTL, 30 days), after which a resubmit would not be a
/// duplicate to them either.
pub const LEDGER_DAYS: i64 = 30;

/// The queue `name` names (name, URL or ARN) among `queues`.
fn resolve<'a>(queues: &'a [QueueInfo], name: &str) -> Result<&'a QueueInfo, RepairError> {
    queues.iter().find(|q| q.is(name)).ok_or_else(|| RepairError::NoQueue {
        name: name.to_owned(),
        known: queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// A duration as people read it: `45s`, `12m05s`, `3h20m`, `2d04h`.
pub fn age(duration: chrono::TimeDelta) -> String {
    let seconds = duration.num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3_600, s % 3_600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3_600),
    }
}

/// The envelopes `body` carries, one line each as JSON (upcast when `known` knows the type, as
/// a consumer reads them; a sealed field stays sealed), or why it carries none.
fn decoded_lines(body: &str, known: &Registry) -> Vec<String> {
    let records = match Decoder::new().decode_slice(body.as_bytes()) {
        Ok(records) => records,
        Err(err) => return vec![format!("  not an envelope: {err} [{}]", err.kind())],
    };
    records
        .into_iter()
        .map(|record| {
            let envelope = record.envelope.and_then(|envelope| {
                if known.knows(&envelope.metadata.event_type) {
                    known.upcast(
                        envelope,
                        &Location::record(record.index, record.message_id.as_deref(), ""),
                    )
                } else {
                    Ok(envelope)
                }
            });
            match envelope {
                Ok(envelope) => format!(
                    "  envelope [{}]: {}",
                    record.carrier.name(),
                    serde_json::to_string(&envelope).unwrap_or_default()
                ),
                Err(err) => format!("  not an envelope: {err} [{}]", err.kind()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;

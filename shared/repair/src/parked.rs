//! The parking queue: what functions set aside because it can never be processed as it is
//! ([`list`], [`show`]), and sending it back to the queue it came from once the cause is fixed
//! ([`resubmit`]), each resubmit claimed once in a [`Ledger`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use envelope::{Decoder, Registry};
use handler_kit::publish::{ORIGINAL_MESSAGE_ID, PARKED_BY, PARKED_FROM, PARKED_KIND, PARKED_REASON};

use crate::error::RepairError;
use crate::ports::{Claim, Ledger, Peeked, QueueInfo, Queues};
use crate::{age, decoded_lines};

/// The kinds of parking whose message can never succeed as it is: its body is the fault (not
/// JSON, not a payload any carrier takes, a field missing or invalid, a sealed field that can
/// never open, over a size limit), or, for `too-late`, its time (a reading past the lateness
/// horizon stays past it). They are resubmitted only with an edited body (`--body FILE`).
/// Every other kind (an unknown type or version a new deployment learns, a refused output, a
/// domain rule or state repaired since) can pass unchanged once its cause is fixed.
pub const NEEDS_AN_EDIT: &[&str] = &[
    "malformed-json",
    "unrecognized-payload",
    "missing-field",
    "invalid-field",
    "carrier-mismatch",
    "too-large",
    "sealed-field",
    "too-late",
];

/// A parked message, as the kit parks it (`handler_kit::publish::ParkedMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    /// The message on the parking queue.
    pub message: Peeked,
    /// The kind of error (`parked-kind`).
    pub kind: String,
    /// The full reason (`parked-reason`).
    pub reason: String,
    /// The function that parked it (`parked-by`).
    pub by: String,
    /// The id it arrived with (`original-message-id`).
    pub original_id: Option<String>,
    /// The ARN of the queue it was received from (`parked-from`).
    pub from: Option<String>,
}

impl Parked {
    /// A parked message from what the parking queue holds.
    pub fn read(message: Peeked) -> Self {
        let text = |name: &str| message.attribute(name).unwrap_or("unknown").to_owned();
        Self {
            kind: text(PARKED_KIND),
            reason: text(PARKED_REASON),
            by: text(PARKED_BY),
            original_id: message.attribute(ORIGINAL_MESSAGE_ID).map(str::to_owned),
            from: message.attribute(PARKED_FROM).map(str::to_owned),
            message,
        }
    }

    /// Its id: the parking queue's message id.
    pub fn id(&self) -> &str {
        &self.message.id
    }

    /// Whether it can never succeed as it is ([`NEEDS_AN_EDIT`]).
    pub fn needs_an_edit(&self) -> bool {
        NEEDS_AN_EDIT.contains(&self.kind.as_str())
    }

    /// The key its resubmit is claimed under: the function and the message it arrived as, so
    /// the same record parked twice (a redelivery parked again) is resubmitted once.
    pub fn ledger_key(&self) -> String {
        match &self.original_id {
            Some(original) => format!("resubmit#{}#{original}", self.by),
            None => format!("resubmit#parked#{}", self.message.id),
        }
    }
}

/// The parking queue among the stack's queues (its name, URL or ARN).
async fn parking_queue(queues: &impl Queues, parking: &str) -> Result<QueueInfo, RepairError> {
    let all = queues.queues().await?;
    crate::resolve(&all, parking).cloned()
}

/// Every parked message (of `kind`, when given), oldest first as the queue hands them out.
pub async fn parked(queues: &impl Queues, parking: &str, kind: Option<&str>) -> Result<Vec<Parked>, RepairError> {
    let queue = parking_queue(queues, parking).await?;
    Ok(queues
        .peek(&queue)
        .await?
        .into_iter()
        .map(Parked::read)
        .filter(|p| kind.is_none_or(|k| p.kind == k))
        .collect())
}

/// The name of the queue with ARN `arn` (its last part).
fn queue_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// `parked list [--reason R]`: one line per parked message: id, kind, who parked it, from
/// which queue, how long ago, and whether it needs an edit.
pub async fn list(queues: &impl Queues, parking: &str, kind: Option<&str>) -> Result<Vec<String>, RepairError> {
    let parked = parked(queues, parking, kind).await?;
    let now = queues.now();
    let mut lines = vec![format!(
        "{} parked message(s){}",
        parked.len(),
        kind.map(|k| format!(" of kind {k}")).unwrap_or_default()
    )];
    for p in &parked {
        lines.push(format!(
            "{}  [{}] by {} from {}{}{}",
            p.id(),
            p.kind,
            p.by,
            p.from.as_deref().map_or("no queue", queue_name),
            p.message
                .sent_at
                .map(|at| format!(", {} ago", age(now - at)))
                .unwrap_or_default(),
            if p.needs_an_edit() {
                " (resubmit only with --body: it cannot succeed as it is)"
            } else {
                ""
            }
        ));
        lines.push(format!("    {}", p.reason));
    }
    Ok(lines)
}

/// `parked show <id>`: everything about one parked message: why, by whom, from where, its
/// body as it arrived, and the envelopes in it.
pub async fn show(queues: &impl Queues, parking: &str, id: &str, known: &Registry) -> Result<Vec<String>, RepairError> {
    let p = find(queues, parking, id).await?;
    let mut lines = vec![
        format!("parked message {}", p.id()),
        format!("  kind: {}", p.kind),
        format!("  reason: {}", p.reason),
        format!("  parked by: {}", p.by),
        format!("  original message id: {}", p.original_id.as_deref().unwrap_or("none")),
        format!(
            "  came from: {}",
            p.from
                .as_deref()
                .unwrap_or("no queue (EventBridge or SNS invoked the function)")
        ),
        format!(
            "  resubmit: {}",
            if p.needs_an_edit() {
                "only with an edited body (--body FILE): it cannot succeed as it is"
            } else {
                "as it is, once the cause is fixed"
            }
        ),
        format!("  body: {}", p.message.body),
    ];
    lines.extend(decoded_lines(&p.message.body, known));
    Ok(lines)
}

async fn find(queues: &impl Queues, parking: &str, id: &str) -> Result<Parked, RepairError> {
    parked(queues, parking, None)
        .await?
        .into_iter()
        .find(|p| p.id() == id)
        .ok_or_else(|| RepairError::NoParkedMessage { id: id.to_owned() })
}

/// Which parked messages to resubmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One, by id, with its body as it arrived or an edited one.
    One {
        /// Its id on the parking queue.
        id: String,
        /// The body to send instead of the one it arrived with.
        edited: Option<String>,
    },
    /// Every parked message of a kind, unchanged.
    Kind(String),
}

/// What became of one parked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resubmitted {
    /// Sent back to its queue, as a new message, and taken off the parking queue.
    Sent {
        /// The parked message.
        id: String,
        /// The queue's name.
        to: String,
        /// The new message's id.
        message_id: String,
    },
    /// The ledger had it: resubmitted before (by this or another operator); the leftover
    /// parked message was deleted.
    AlreadyDone {
        /// The parked message.
        id: String,
        /// When it was resubmitted.
        at: DateTime<Utc>,
    },
    /// Left parked, with why.
    Refused(RepairError),
}

impl std::fmt::Display for Resubmitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sent { id, to, message_id } => {
                write!(
                    f,
                    "{id}: resubmitted to {to} as {message_id}; deleted from the parking queue"
                )
            }
            Self::AlreadyDone { id, at } => write!(
                f,
                "{id}: already resubmitted at {}; deleted the leftover parked message, sent nothing",
                at.to_rfc3339()
            ),
            Self::Refused(why) => write!(f, "{why}"),
        }
    }
}

/// `parked resubmit <id> [--body FILE] | --reason R`: each selected message goes back to the
/// queue it came from, claimed first in `ledger` (so however many operators resubmit at once,
/// each parked record is sent once), then sent, then deleted from the parking queue. A claim
/// already there means it was resubmitted before: the leftover is deleted, nothing sent. A
/// message that cannot succeed as it is ([`NEEDS_AN_EDIT`]) goes only with an edited body,
/// which must decode to an envelope; one parked from no queue cannot go back.
pub async fn resubmit(
    queues: &impl Queues,
    ledger: &impl Ledger,
    parking: &str,
    selection: &Selection,
) -> Result<Vec<Resubmitted>, RepairError> {
    let queue = parking_queue(queues, parking).await?;
    let stack = queues.queues().await?;
    let (chosen, edited) = match selection {
        Selection::One { id, edited } => (vec![find(queues, parking, id).await?], edited.as_deref()),
        Selection::Kind(kind) => (parked(queues, parking, Some(kind)).await?, None),
    };
    let mut done = Vec::with_capacity(chosen.len());
    for p in chosen {
        let outcome = match destination(&p, &stack, edited) {
            Err(why) => Resubmitted::Refused(RepairError::Refused {
                id: p.id().to_owned(),
                why,
            }),
            Ok(to) => send_once(queues, ledger, &queue, &p, to, edited.unwrap_or(&p.message.body)).await?,
        };
        done.push(outcome);
    }
    Ok(done)
}

/// The queue `p` goes back to, or why it cannot go.
fn destination<'a>(p: &Parked, stack: &'a [QueueInfo], edited: Option<&str>) -> Result<&'a QueueInfo, String> {
    let from = p.from.as_deref().ok_or_else(|| {
        format!(
            "{} parked it from a carrier with no queue to send it back to (EventBridge or SNS invoked it \
             directly, or it was parked before `parked-from` was recorded); republish its event instead \
             (`events replay --stream ...`)",
            p.by
        )
    })?;
    let to = stack
        .iter()
        .find(|q| q.arn == from)
        .ok_or_else(|| format!("the queue it came from, {from}, is not a queue of the stack any more"))?;
    match edited {
        None if p.needs_an_edit() => Err(format!(
            "parked as {}, it cannot succeed as it is; fix the body and resubmit it with --body FILE ({})",
            p.kind, p.reason
        )),
        None => Ok(to),
        Some(body) => match Decoder::new().decode_slice(body.as_bytes()) {
            Err(err) => Err(format!("the edited body does not decode: {err} [{}]", err.kind())),
            Ok(records) => match records.into_iter().find_map(|r| r.envelope.err()) {
                Some(err) => Err(format!("the edited body does not decode: {err} [{}]", err.kind())),
                None => Ok(to),
            },
        },
    }
}

async fn send_once(
    queues: &impl Queues,
    ledger: &impl Ledger,
    parking: &QueueInfo,
    p: &Parked,
    to: &QueueInfo,
    body: &str,
) -> Result<Resubmitted, RepairError> {
    let key = p.ledger_key();
    match ledger.claim(&key, queues.now()).await? {
        Claim::Already(at) => {
            queues.delete(parking, p.id()).await?;
            Ok(Resubmitted::AlreadyDone {
                id: p.id().to_owned(),
                at,
            })
        }
        Claim::Claimed => {
            let sent = match queues.send(to, body, &BTreeMap::new()).await {
                Ok(sent) => sent,
                Err(err) => {
                    // Not sent: give the claim back so a later resubmit can go.
                    ledger.release(&key).await?;
                    return Err(err);
                }
            };
            queues.delete(parking, p.id()).await?;
            Ok(Resubmitted::Sent {
                id: p.id().to_owned(),
                to: to.name.clone(),
                message_id: sent,
            })
        }
    }
}

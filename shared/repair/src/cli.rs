//! The commands `dlq` and `parked` as both CLIs take them (`events` on AWS, `localcloud` on the
//! local cloud), and what each does over the ports, printing through `say`: one shape, one
//! behaviour, two sets of adapters.

use std::path::PathBuf;

use envelope::Registry;

use crate::error::RepairError;
use crate::parked::{Resubmitted, Selection};
use crate::ports::{Ledger, Queues};
use crate::{dlq, parked};

/// `dlq ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// Every dead-letter queue, with its depth and the age of its oldest message.
    List,
    /// A dead-letter queue's messages (not consumed): receive count, the failure recorded, the
    /// envelopes they carry.
    Show {
        /// The queue: name, URL or ARN (locally, its logical id).
        queue: String,
    },
    /// Send a dead-letter queue's messages back where they failed (SQS's message move task)
    /// and watch it until done.
    Redrive {
        /// The queue: name, URL or ARN (locally, its logical id).
        queue: String,
        /// At most this many messages a second (default: as fast as SQS goes).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
        rate: Option<u32>,
    },
}

/// `parked ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ParkedCommand {
    /// Every parked message (of a kind), with who parked it, why and from where.
    List {
        /// Only those parked for this kind of error (`malformed-json`, `too-late`, ...).
        #[arg(long = "reason", value_name = "KIND")]
        reason: Option<String>,
    },
    /// One parked message: why, by whom, from where, its body and envelopes.
    Show {
        /// Its id (the parking queue's message id, as `parked list` prints it).
        id: String,
    },
    /// Send parked messages back to the queue they came from, once each (claimed in the
    /// ledger first), then delete them from the parking queue.
    Resubmit {
        /// One parked message's id.
        #[arg(required_unless_present = "reason", conflicts_with = "reason")]
        id: Option<String>,
        /// Every parked message of this kind, unchanged.
        #[arg(long = "reason", value_name = "KIND")]
        reason: Option<String>,
        /// Send this file's content instead of the body it arrived with (for a message that
        /// cannot succeed as it is, e.g. `malformed-json`).
        #[arg(long, value_name = "FILE", requires = "id", conflicts_with = "reason")]
        body: Option<PathBuf>,
    },
}

/// What a command came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Everything asked was done (nothing refused or left).
    pub ok: bool,
    /// Messages sent back to a queue (for the local cloud: whether there is anything to run).
    pub sent: u64,
}

const LOOKED: Done = Done { ok: true, sent: 0 };

fn say_all(lines: Vec<String>, say: &mut impl FnMut(&str)) -> Done {
    for line in &lines {
        say(line);
    }
    LOOKED
}

/// Runs `command` on `queues`, envelopes read with `known`'s types.
pub async fn dlq(
    queues: &impl Queues,
    command: &DlqCommand,
    known: &Registry,
    say: &mut impl FnMut(&str),
) -> Result<Done, RepairError> {
    match command {
        DlqCommand::List => Ok(say_all(dlq::list(queues).await?, say)),
        DlqCommand::Show { queue } => Ok(say_all(dlq::show(queues, queue, known).await?, say)),
        DlqCommand::Redrive { queue, rate } => {
            let redriven = dlq::redrive(queues, queue, *rate, say).await?;
            Ok(Done {
                ok: redriven.refused.is_empty(),
                sent: redriven.moved,
            })
        }
    }
}

/// Runs `command` on the parking queue `parking` of `queues`, resubmits claimed in `ledger`
/// (required only to resubmit: an `Err` names what is missing).
pub async fn parked<L: Ledger>(
    queues: &impl Queues,
    ledger: Result<&L, &str>,
    parking: &str,
    command: &ParkedCommand,
    known: &Registry,
    say: &mut impl FnMut(&str),
) -> Result<Done, RepairError> {
    match command {
        ParkedCommand::List { reason } => Ok(say_all(parked::list(queues, parking, reason.as_deref()).await?, say)),
        ParkedCommand::Show { id } => Ok(say_all(parked::show(queues, parking, id, known).await?, say)),
        ParkedCommand::Resubmit { id, reason, body } => {
            let ledger = ledger.map_err(|missing| RepairError::Missing {
                what: missing.to_owned(),
            })?;
            let selection = match (id, reason) {
                (Some(id), _) => Selection::One {
                    id: id.clone(),
                    edited: body.as_deref().map(read_body).transpose()?,
                },
                (None, Some(kind)) => Selection::Kind(kind.clone()),
                (None, None) => {
                    return Err(RepairError::Missing {
                        what: "what to resubmit: <id>, or --reason <kind>".to_owned(),
                    });
                }
            };
            let done = parked::resubmit(queues, ledger, parking, &selection).await?;
            if done.is_empty() {
                say("nothing parked of that kind");
            }
            for outcome in &done {
                say(&outcome.to_string());
            }
            Ok(Done {
                ok: !done.iter().any(|d| matches!(d, Resubmitted::Refused(_))),
                sent: done.iter().filter(|d| matches!(d, Resubmitted::Sent { .. })).count() as u64,
            })
        }
    }
}

/// The edited body in `path`.
fn read_body(path: &std::path::Path) -> Result<String, RepairError> {
    std::fs::read_to_string(path).map_err(|e| RepairError::Edit {
        path: format!("--body {}", path.display()),
        reason: format!("cannot read it as UTF-8 text ({e})"),
    })
}

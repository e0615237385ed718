//! `events`: replay, rebuild and history against the deployed stack, and the repair tools for
//! its dead-letter queues and parking queue (`dlq`, `parked`). AWS settings come from the
//! environment as for any AWS tool (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL` for moto);
//! assume the stack's `EventReplayRole` first. Exit 0 when done, 1 when AWS or the data failed
//! (or a rebuild differs from the live view, or a message was left where it was), 2 for bad
//! usage.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use event_store::replay::Selection;
use event_store::{DynamoEventStore, EventStore};
use event_tools::check_range;
use order_stores::DynamoOrderViews;
use repair::cli::{DlqCommand, ParkedCommand};

#[derive(Parser)]
#[command(
    version,
    about = "Replay events, rebuild read models and read history from the event store; list, show and redrive dead-letter queues and parked messages"
)]
struct Cli {
    /// The event store table (the stack's `EventStoreTableName` output).
    #[arg(long, global = true, env = "EVENT_STORE_TABLE")]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Republish a stream, a time range, or a time range of some types, in order, with their
    /// original ids and `metadata.replay`; to every rule of the bus, or to one rule's targets.
    Replay {
        /// One stream (`<source>#<subject>`).
        #[arg(long, conflicts_with_all = ["from", "to", "types"])]
        stream: Option<String>,
        /// Start of the range (RFC 3339, event time, inclusive).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// End of the range (RFC 3339, event time, exclusive).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Only events of this type (repeatable).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// The bus (the stack's `EventBusName` output).
        #[arg(long, env = "EVENT_BUS_NAME")]
        bus: String,
        /// Deliver only to this rule's targets (its name on the bus).
        #[arg(long)]
        rule: Option<String>,
        /// The replay's name, carried by every replayed event (default: from the time).
        #[arg(long)]
        name: Option<String>,
        /// Replay events older than consumers remember (30 days, the idempotency TTL) too:
        /// their effects run again, so only for a projection's rule.
        #[arg(long)]
        older_than_remembered: bool,
    },
    /// Rebuild a read model from history into a fresh table and report what differs from the
    /// live one. Known: `order-projection`.
    Rebuild {
        /// The read model.
        projection: String,
        /// The live table (the stack's `OrdersTable`).
        #[arg(long)]
        live: String,
        /// The fresh table to write (key `orderId`), named `<stack>-rebuild-...` for the role.
        #[arg(long)]
        into: String,
    },
    /// The stack's dead-letter queues: list them, show what one holds, send it back.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
        #[command(flatten)]
        stack: Stack,
    },
    /// The parking queue: what functions set aside as never processable, and resubmitting it to
    /// the queue it came from once the cause is fixed.
    Parked {
        #[command(subcommand)]
        command: ParkedCommand,
        #[command(flatten)]
        stack: Stack,
        /// The parking queue (the stack's `ParkingQueueUrl` output).
        #[arg(long, env = "PARKING_QUEUE_URL", global = true)]
        parking_queue: Option<String>,
        /// Where resubmits are claimed: the stack's idempotency table.
        #[arg(long, env = "IDEMPOTENCY_TABLE", global = true)]
        ledger_table: Option<String>,
    },
    /// Print a stream, and for an order its view as of an instant.
    History {
        /// The stream (`<source>#<subject>`).
        stream: String,
        /// Only what had happened by this instant (RFC 3339, event time).
        #[arg(long)]
        as_of: Option<String>,
    },
}

/// Which stack the repair tools work on.
#[derive(clap::Args)]
struct Stack {
    /// The stack's name: its queues are those whose names start with it.
    #[arg(long = "stack", env = "STACK_NAME", global = true)]
    name: Option<String>,
    /// The stack's bus (the `EventBusName` output): its rules' targets' dead-letter queues.
    #[arg(long, env = "EVENT_BUS_NAME", global = true)]
    bus: Option<String>,
}

/// Prints a line; a closed pipe (`| head`) is not worth a panic.
fn say(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn instant(text: &str, what: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("--{what}: '{text}' is not an RFC 3339 date-time with an offset ({e})"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Dlq { command, stack } => repair_tools::dlq(command, stack).await,
        Command::Parked {
            command,
            stack,
            parking_queue,
            ledger_table,
        } => repair_tools::parked(command, stack, parking_queue, ledger_table).await,
        command => {
            let Some(table) = cli.table.clone() else {
                eprintln!("error: --table <event store table> (or EVENT_STORE_TABLE) is required");
                return ExitCode::from(2);
            };
            run(command, &table).await
        }
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, table: &str) -> Result<ExitCode, String> {
    let config = handler_kit::lambda::sdk_loader().load().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let store = DynamoEventStore::new(dynamodb.clone(), table);
    match command {
        Command::Replay {
            stream,
            from,
            to,
            types,
            bus,
            rule,
            name,
            older_than_remembered,
        } => {
            let selection = match (stream, from, to) {
                (Some(stream), ..) => Selection::Stream(stream),
                (None, Some(from), Some(to)) => {
                    let (from, to) = (instant(&from, "from")?, instant(&to, "to")?);
                    check_range(from, to)?;
                    Selection::Range { from, to, types }
                }
                _ => return Err("say what to replay: --stream, or --from and --to (with --type)".to_owned()),
            };
            let name = name.unwrap_or_else(|| event_store::replay::default_name(Utc::now()));
            let oldest =
                (!older_than_remembered).then(|| Utc::now() - chrono::Duration::days(event_tools::REMEMBERED_DAYS));
            let done = event_tools::replay(&config, &store, &selection, (&bus, rule.as_deref()), &name, oldest).await?;
            say(&done);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild { projection, live, into } => {
            if projection != "order-projection" {
                return Err(format!(
                    "no read model {projection} to rebuild (known: order-projection)"
                ));
            }
            let rebuilt = order_projection::rebuild(
                &store,
                &DynamoOrderViews::new(dynamodb.clone(), into.as_str()),
                &DynamoOrderViews::new(dynamodb, live.as_str()),
            )
            .await
            .map_err(|e| e.to_string())?;
            say(&format!(
                "rebuilt {} order views from {} events into {into}",
                rebuilt.orders, rebuilt.events
            ));
            for lagging in &rebuilt.lagging {
                say(&format!("  live view behind the store (still projecting?): {lagging}"));
            }
            for difference in &rebuilt.differences {
                say(&format!("  differs: {difference}"));
            }
            Ok(if rebuilt.differences.is_empty() {
                say("every rebuilt view equals the live one");
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::History { stream, as_of } => {
            let events = store.stream(&stream).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                return Err(format!("no stream {stream} in {table}"));
            }
            let at = as_of
                .as_deref()
                .map(|t| instant(t, "as-of"))
                .transpose()?
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            for line in event_store::history::lines(&events, at) {
                say(&line.to_string());
            }
            let past: Vec<_> = event_store::history::as_of(&events, at)
                .map(|e| e.envelope.clone())
                .collect();
            if stream.starts_with(&format!("{}#", orders::events::SOURCE)) {
                match orders::lifecycle::OrderView::fold(past).map_err(|e| format!("{stream}: {e}"))? {
                    Some(view) => say(&serde_json::to_string_pretty(&view).unwrap_or_default()),
                    None => say("the order did not exist yet"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq { .. } | Command::Parked { .. } => Err("the repair tools need no event store".to_owned()),
    }
}

/// `dlq` and `parked`, on the stack's queues and idempotency table.
mod repair_tools {
    use std::process::ExitCode;

    use repair::aws::{DynamoLedger, SqsQueues};
    use repair::cli::{self, DlqCommand, Done, ParkedCommand};

    use super::{Stack, say};

    /// Every event type the stack's domains define, so envelopes read as consumers read them.
    fn known() -> envelope::Registry {
        orders::events::registry().merge(sensors::events::registry())
    }

    async fn queues(stack: &Stack) -> Result<(aws_config::SdkConfig, SqsQueues), String> {
        let name = stack
            .name
            .as_deref()
            .ok_or("--stack <stack name> (or STACK_NAME) is required: the stack's queues are named after it")?;
        let config = handler_kit::lambda::sdk_loader().load().await;
        let queues = SqsQueues::new(&config, name, stack.bus.as_deref());
        Ok((config, queues))
    }

    fn exit(done: Done) -> ExitCode {
        if done.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
    }

    pub(super) async fn dlq(command: DlqCommand, stack: Stack) -> Result<ExitCode, String> {
        let (_, queues) = queues(&stack).await?;
        let done = cli::dlq(&queues, &command, &known(), &mut |line: &str| say(line))
            .await
            .map_err(|e| e.to_string())?;
        Ok(exit(done))
    }

    pub(super) async fn parked(
        command: ParkedCommand,
        stack: Stack,
        parking_queue: Option<String>,
        ledger_table: Option<String>,
    ) -> Result<ExitCode, String> {
        let parking_queue = parking_queue
            .ok_or("--parking-queue <url> (or PARKING_QUEUE_URL, the stack's ParkingQueueUrl output) is required")?;
        let (config, queues) = queues(&stack).await?;
        let ledger = ledger_table.map(|table| DynamoLedger::new(&config, &table));
        let ledger = ledger
            .as_ref()
            .ok_or("--ledger-table <table> (or IDEMPOTENCY_TABLE, the stack's idempotency table)");
        let done = cli::parked(
            &queues,
            ledger,
            &parking_queue,
            &command,
            &known(),
            &mut |line: &str| say(line),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(exit(done))
    }
}

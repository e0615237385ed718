//! What the `events` command does, against the deployed stack (or moto):
//!
//! - **replay**: events read from the store ([`event_store::replay::Selection`]) go back on the
//!   bus with their original ids and `metadata.replay` set, so every rule sees them; or, with
//!   a rule, only to that rule's targets, as EventBridge's archive replay with a rule filter
//!   does ([`RuleTargets`]): the rule's pattern is applied and each SQS target gets the event
//!   as EventBridge would deliver it, with `replay-name`.
//! - **rebuild** and **history** use the projection's fold ([`order_projection::rebuild`],
//!   [`orders::lifecycle::OrderView::fold`]) on the DynamoDB adapters.
//!
//! Run it as the stack's `EventReplayRole`, which allows exactly what [`access::GRANTS`]
//! declares (`infra/README.md` says what it may do):
//!
//! ```sh
//! cargo run -p event-tools --bin events -- --table <EventStoreTableName> replay --bus <EventBusName> \
//!   --from 2026-11-30T00:00:00Z --to 2026-12-01T00:00:00Z --type OrderShipped --rule <rule name>
//! cargo run -p event-tools --bin events -- --table <EventStoreTableName> rebuild order-projection \
//!   --live <OrdersTable> --into <stack>-rebuild-1
//! cargo run -p event-tools --bin events -- --table <EventStoreTableName> history 'shop.orders#o-1001' \
//!   --as-of 2026-11-23T05:00:00Z
//! ```
//!
//! - `replay` reads a stream (`--stream`), a time range (`--from --to`, at most 400 days) or a
//!   time range of some types (`--type`, repeatable) and republishes it in order, one
//!   `PutEvents` of 10 after the other. It refuses events older than consumers remember
//!   ([`REMEMBERED_DAYS`]), whose effects would run again, unless told
//!   `--older-than-remembered` (for a projection's rule).
//! - `rebuild` writes a fresh table (an order it already holds stops it), then names every order
//!   whose rebuilt view differs from the live one, field by field, and apart from those, every
//!   order whose live view is only behind the store (its projection still catching up).
//! - `history` prints a stream and, for an order, its view as of `--as-of`.
//!
//! And the repair tools (the `repair` crate, with its SQS/DynamoDB adapters), on the stack named
//! by `STACK_NAME` (its queues' name prefix), `EVENT_BUS_NAME` (its rules' targets' DLQs),
//! `PARKING_QUEUE_URL` and `IDEMPOTENCY_TABLE` (the ledger of resubmits):
//!
//! ```sh
//! events dlq list                         # every DLQ: depth, oldest message, what sends to it
//! events dlq show <queue>                 # its messages, not consumed: receives, failure, envelopes
//! events dlq redrive <queue> --rate 10    # StartMessageMoveTask back to the source, watched to the end
//! events parked list --reason <kind>      # what functions parked, by kind
//! events parked show <id>
//! events parked resubmit <id> | --reason <kind> | <id> --body fixed.json
//! ```

pub mod access;
#[cfg(feature = "aws")]
mod rule;

#[cfg(feature = "aws")]
pub use rule::{Delivered, RuleTargets, Target};

/// How long consumers remember what they handled: the template's `IDEMPOTENCY_TTL_SECONDS`
/// (30 days). An event older than that is no longer a duplicate to them: replayed, its effects
/// (a reservation, a charge) would run again.
pub const REMEMBERED_DAYS: i64 = 30;

/// Refuses a replay holding events older than `oldest` (unless `oldest` is `None`: the
/// operator accepted it), naming how many and the oldest.
pub fn check_remembered(
    events: &[event_store::StoredEvent],
    oldest: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), String> {
    let Some(oldest) = oldest else { return Ok(()) };
    let old: Vec<_> = events.iter().filter(|e| e.envelope.metadata.time < oldest).collect();
    match old.iter().map(|e| e.envelope.metadata.time).min() {
        None => Ok(()),
        Some(first) => Err(format!(
            "{} of {} events happened before {oldest} (the oldest at {first}): consumers no longer remember them \
             ({REMEMBERED_DAYS} days), so their effects would run again; replay a later range, or only to a \
             projection's rule with --older-than-remembered",
            old.len(),
            events.len()
        )),
    }
}

/// Replays `selection` from `store` as replay `name`: onto `bus` for every rule, or to the
/// targets of `rule` only; events before `oldest` are refused (see [`check_remembered`]).
/// Returns what it did, in a line.
#[cfg(feature = "aws")]
pub async fn replay(
    config: &aws_config::SdkConfig,
    store: &impl event_store::EventStore,
    selection: &event_store::replay::Selection,
    (bus, rule): (&str, Option<&str>),
    name: &str,
    oldest: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<String, String> {
    use handler_kit::publish::{EventBridgePublisher, Publisher};
    let events = selection.read(store).await.map_err(|e| e.to_string())?;
    check_remembered(&events, oldest)?;
    let count = events.len();
    let events = event_store::replay::marked(events, name);
    match rule {
        None => {
            let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(config), bus);
            // One PutEvents after the other, each retried until it is through, so the events
            // go out in order and a long replay does not burst into throttling.
            for (sent, chunk) in events.chunks(10).enumerate() {
                publisher
                    .publish(chunk)
                    .await
                    .map_err(|e| format!("after {} events: {e}", sent * 10))?;
            }
            Ok(format!(
                "replay {name}: {count} events put on {bus}, in order, with their original ids"
            ))
        }
        Some(rule) => {
            let sqs = aws_sdk_sqs::Client::new(config);
            let targets = RuleTargets::load(&aws_sdk_eventbridge::Client::new(config), &sqs, bus, rule).await?;
            let delivered = targets.deliver(&sqs, &events, name).await?;
            Ok(format!(
                "replay {name}: {} of {count} events matched rule {rule}, sent to its {} target(s); {} did not match",
                delivered.matched,
                targets.targets().len(),
                delivered.skipped
            ))
        }
    }
}

/// The longest time range a replay reads: one query per day per type, so a range is bounded;
/// split longer replays.
pub const MAX_RANGE_DAYS: i64 = 400;

/// Checks a replay's time range: `from` before `to`, at most [`MAX_RANGE_DAYS`] apart.
pub fn check_range(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    if to <= from {
        return Err(format!("--to ({to}) must be after --from ({from})"));
    }
    let days = (to - from).num_days();
    if days > MAX_RANGE_DAYS {
        return Err(format!(
            "the range is {days} days; replay at most {MAX_RANGE_DAYS} days at a time (one query per day and type)"
        ));
    }
    Ok(())
}

/// The EventBridge event a rule's target receives for `envelope`, replayed as `replay`: the
/// entry EventBridge would make of it, with a fresh event id derived from the envelope's and
/// the replay's (so one replay delivers one event per envelope), and `replay-name`.
pub fn replayed_event(
    envelope: &envelope::Envelope<serde_json::Value>,
    replay: &str,
    account: &str,
    region: &str,
) -> Result<serde_json::Value, envelope::EnvelopeError> {
    let id = envelope::Metadata::derived_id(envelope.metadata.id, replay, 0);
    let event = envelope
        .to_put_events_entry()?
        .to_event(&id.to_string(), account, region)?;
    let mut value = serde_json::to_value(event).unwrap_or_default();
    if let serde_json::Value::Object(fields) = &mut value {
        fields.insert("replay-name".into(), serde_json::Value::String(replay.to_owned()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn given_a_range_then_it_must_run_forward_and_be_bounded() {
        let now = Utc::now();
        assert!(check_range(now, now + Duration::days(30)).is_ok());
        assert!(check_range(now, now).unwrap_err().contains("after"));
        assert!(
            check_range(now, now + Duration::days(401))
                .unwrap_err()
                .contains("at most 400")
        );
    }

    #[test]
    fn given_events_older_than_consumers_remember_then_the_replay_is_refused_unless_accepted() {
        let at = |t: &str| t.parse::<chrono::DateTime<Utc>>().unwrap();
        let metadata: envelope::Metadata = serde_json::from_value(serde_json::json!({
            "id": "6a1f2e3d-4c5b-4a69-8877-665544332211", "type": "OrderPlaced", "version": 2,
            "source": "shop.orders", "time": "2026-10-01T00:00:00Z", "subject": "o-1", "correlationId": "c"
        }))
        .unwrap();
        let old = event_store::StoredEvent::new(
            envelope::Envelope {
                metadata,
                data: serde_json::Value::Null,
            },
            Utc::now(),
        );
        let refused = check_remembered(std::slice::from_ref(&old), Some(at("2026-10-31T00:00:00Z"))).unwrap_err();
        assert!(
            refused.starts_with("1 of 1 events happened before 2026-10-31"),
            "{refused}"
        );
        assert!(check_remembered(&[old], None).is_ok(), "accepted by the operator");
    }

    #[test]
    fn given_an_envelope_then_its_replayed_event_reads_back_as_the_same_event_marked() {
        let envelope: envelope::Envelope<serde_json::Value> = serde_json::from_value(serde_json::json!({
            "metadata": {"id": "6a1f2e3d-4c5b-4a69-8877-665544332211", "type": "OrderShipped", "version": 1,
                         "source": "shop.orders", "time": "2026-11-30T10:00:00.250Z", "subject": "o-1",
                         "sequence": 4, "correlationId": "c-1"},
            "data": {"orderId": "o-1"}
        }))
        .unwrap();
        let event = replayed_event(&envelope, "fix-42", "123456789012", "eu-west-1").unwrap();
        assert_eq!(event["replay-name"], "fix-42");
        assert_eq!(event["time"], "2026-11-30T10:00:00Z");
        let read = envelope::Decoder::new()
            .decode_value(event)
            .unwrap()
            .remove(0)
            .envelope
            .unwrap();
        assert_eq!(read.metadata.id, envelope.metadata.id, "the original id");
        assert_eq!(read.metadata.replay.as_deref(), Some("fix-42"));
        assert_eq!(read.data, envelope.data);
    }
}

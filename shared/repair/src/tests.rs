#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use chrono::{DateTime, Duration, Utc};
use envelope::Registry;

use crate::memory::{MemoryLedger, MemoryQueues};
use crate::parked::{Resubmitted, Selection};
use crate::{RepairError, dlq, parked};

fn now() -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

/// A bare envelope, as a queue's body.
fn envelope_body(id: &str, event_type: &str) -> String {
    serde_json::json!({
        "metadata": {"id": id, "type": event_type, "version": 1, "source": "shop.orders",
                     "time": "2026-12-01T11:00:00Z", "subject": "o-1", "correlationId": "c-1"},
        "data": {"orderId": "o-1"}
    })
    .to_string()
}

/// GIVEN a stack: reserve-inventory's queue with its DLQ, a rule target's DLQ, the parking
/// queue (a DLQ of nothing).
fn stack() -> MemoryQueues {
    let queues = MemoryQueues::new(now()).with_source(
        "rule order-placed target reserve-inventory",
        "arn:aws:sqs:local:000000000000:reserve",
        "undelivered",
    );
    queues.add_queue("reserve-dlq", None);
    queues.add_queue("reserve", Some("reserve-dlq"));
    queues.add_queue("undelivered", None);
    queues.add_queue("parking", None);
    queues
}

fn say_nothing(_: &str) {}

/// Resubmits `selection` from the parking queue.
async fn resubmit(queues: &MemoryQueues, ledger: &MemoryLedger, selection: Selection) -> Vec<Resubmitted> {
    parked::resubmit(queues, ledger, "parking", &selection).await.unwrap()
}

/// Parked message `id`, unchanged or `edited`.
fn one(id: &str, edited: Option<String>) -> Selection {
    Selection::One {
        id: id.to_owned(),
        edited,
    }
}

#[tokio::test]
async fn given_a_stack_when_listing_dlqs_then_each_dlq_shows_depth_oldest_age_and_sources() {
    let queues = stack();
    let id = queues.put(
        "reserve",
        &envelope_body("6a1f2e3d-4c5b-4a69-8877-665544332211", "OrderPlaced"),
        &[],
        now() - Duration::minutes(12),
    );
    queues.dead_letter("reserve", &id, 5);

    let lines = dlq::list(&queues).await.unwrap();

    assert_eq!(lines.len(), 2, "parking and the source queue are no DLQs: {lines:?}");
    assert!(lines[0].starts_with("reserve-dlq"), "{lines:?}");
    assert!(
        lines[0].contains("depth    1") && lines[0].contains("12m00s"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with("dead-letter queue of queue reserve"), "{}", lines[0]);
    assert!(
        lines[1].contains("depth    0") && lines[1].contains("oldest        -"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].ends_with("rule order-placed target reserve-inventory"),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn given_dead_letters_when_shown_then_receive_count_failure_and_envelope_are_printed_and_nothing_consumed() {
    let queues = stack();
    queues.put(
        "undelivered",
        &envelope_body("6a1f2e3d-4c5b-4a69-8877-665544332211", "OrderPlaced"),
        &[
            ("ERROR_CODE", "SQS_SEND_FAILED"),
            ("ERROR_MESSAGE", "queue policy refused"),
            ("RULE_ARN", "arn:rule/r"),
        ],
        now(),
    );
    queues.put("undelivered", "{\"not\": ", &[], now());

    let lines = dlq::show(&queues, "undelivered", &Registry::new()).await.unwrap();
    let text = lines.join("\n");

    assert!(text.starts_with("undelivered: 2 message(s)"), "{text}");
    assert!(text.contains("received 0 time(s)"), "{text}");
    assert!(
        text.contains("failure: SQS_SEND_FAILED: queue policy refused (rule arn:rule/r)"),
        "{text}"
    );
    assert!(
        text.contains("\"id\":\"6a1f2e3d-4c5b-4a69-8877-665544332211\""),
        "{text}"
    );
    assert!(text.contains("failure: none recorded"), "{text}");
    assert!(
        text.contains("not an envelope") && text.contains("[malformed-json]"),
        "{text}"
    );
    assert_eq!(queues.messages("undelivered").len(), 2, "shown, not consumed");
}

#[tokio::test]
async fn given_a_queue_that_is_no_dlq_when_shown_or_redriven_then_the_error_names_the_dlqs() {
    let queues = stack();
    let err = dlq::redrive(&queues, "parking", None, &mut say_nothing)
        .await
        .unwrap_err();
    assert!(matches!(err, RepairError::NotADeadLetterQueue { .. }), "{err}");
    assert!(err.to_string().contains("reserve-dlq, undelivered"), "{err}");
    let err = dlq::show(&queues, "nowhere", &Registry::new()).await.unwrap_err();
    assert!(err.to_string().contains("no queue 'nowhere'"), "{err}");
}

#[tokio::test]
async fn given_a_queues_dlq_when_redriven_then_a_move_task_returns_each_message_to_its_source() {
    let queues = stack();
    for n in 0..3 {
        let id = queues.put("reserve", &format!("{{\"n\": {n}}}"), &[], now());
        queues.dead_letter("reserve", &id, 5);
    }
    let mut said = Vec::new();

    let redriven = dlq::redrive(&queues, "reserve-dlq", Some(10), &mut |line: &str| {
        said.push(line.to_owned());
    })
    .await
    .unwrap();

    assert_eq!(redriven.moved, 3);
    assert!(queues.messages("reserve-dlq").is_empty());
    let back: Vec<String> = queues.messages("reserve").into_iter().map(|m| m.body).collect();
    assert_eq!(back, ["{\"n\": 0}", "{\"n\": 1}", "{\"n\": 2}"], "in order");
    assert!(said[0].contains("at most 10 a second"), "{said:?}");
    assert_eq!(said.last().unwrap(), "  COMPLETED: 3 moved of 3");
}

#[tokio::test]
async fn given_a_rule_targets_dlq_when_redriven_then_each_message_goes_to_its_target_queue_or_stays_with_why() {
    let queues = stack();
    let body = envelope_body("6a1f2e3d-4c5b-4a69-8877-665544332211", "OrderPlaced");
    queues.put(
        "undelivered",
        &body,
        &[
            ("ERROR_CODE", "ThrottlingException"),
            ("TARGET_ARN", "arn:aws:sqs:local:000000000000:reserve"),
            ("type", "OrderPlaced"),
        ],
        now(),
    );
    queues.put(
        "undelivered",
        &body,
        &[
            ("ERROR_CODE", "ThrottlingException"),
            ("TARGET_ARN", "arn:aws:lambda:local:000000000000:function:tick"),
        ],
        now(),
    );
    let mut said = Vec::new();

    let redriven = dlq::redrive(&queues, "undelivered", None, &mut |line: &str| {
        said.push(line.to_owned());
    })
    .await
    .unwrap();

    assert!(
        said[0].contains("StartMessageMoveTask only returns messages to SQS source queues"),
        "{said:?}"
    );
    assert_eq!(redriven.moved, 1);
    assert_eq!(redriven.refused.len(), 1);
    assert!(
        redriven.refused[0].contains("is not an SQS queue of the stack"),
        "{redriven:?}"
    );
    let arrived = queues.messages("reserve");
    assert_eq!(arrived.len(), 1);
    assert_eq!(arrived[0].body, body);
    let names: Vec<&str> = arrived[0].attributes.keys().map(String::as_str).collect();
    assert_eq!(names, ["type"], "EventBridge's error attributes are left off");
    assert_eq!(
        queues.messages("undelivered").len(),
        1,
        "the function's dead letter stays"
    );
}

/// GIVEN the parking queue holding what reserve-inventory parked: a malformed body, an unknown
/// version (fixed by a deployment), the same record parked twice, one parked from no queue.
fn parking() -> MemoryQueues {
    let queues = stack();
    let from = "arn:aws:sqs:local:000000000000:reserve";
    let park = |body: &str, kind: &str, original: &str, from: Option<&str>| {
        let mut attributes = vec![
            ("parked-kind", kind),
            ("parked-reason", "because"),
            ("parked-by", "reserve-inventory"),
            ("original-message-id", original),
        ];
        attributes.extend(from.map(|f| ("parked-from", f)));
        queues.put("parking", body, &attributes, now() - Duration::hours(2))
    };
    park("{\"detail\": ", "malformed-json", "r-1", Some(from));
    let upgraded = envelope_body("7b2f2e3d-4c5b-4a69-8877-665544332211", "OrderPlaced");
    park(&upgraded, "unsupported-version", "r-2", Some(from));
    park(&upgraded, "unsupported-version", "r-2", Some(from));
    park(&upgraded, "unknown-type", "r-3", None);
    queues
}

#[tokio::test]
async fn given_parked_messages_when_listed_by_kind_then_only_that_kind_with_where_they_came_from() {
    let queues = parking();
    let all = parked::list(&queues, "parking", None).await.unwrap();
    assert_eq!(all[0], "4 parked message(s)");
    assert!(
        all[1].starts_with(
            "m-1  [malformed-json] by reserve-inventory from reserve, 2h00m ago (resubmit only with --body"
        ),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|l| l.contains("[unknown-type] by reserve-inventory from no queue")),
        "{all:?}"
    );

    let versions = parked::list(&queues, "parking", Some("unsupported-version"))
        .await
        .unwrap();
    assert_eq!(versions[0], "2 parked message(s) of kind unsupported-version");
    assert_eq!(versions.len(), 5, "two messages, two lines each");

    let shown = parked::show(&queues, "parking", "m-2", &Registry::new())
        .await
        .unwrap()
        .join("\n");
    assert!(
        shown.contains("came from: arn:aws:sqs:local:000000000000:reserve"),
        "{shown}"
    );
    assert!(shown.contains("resubmit: as it is, once the cause is fixed"), "{shown}");
    assert!(
        shown.contains("envelope [envelope]: {\"metadata\":{\"id\":\"7b2f2e3d"),
        "{shown}"
    );
    let err = parked::show(&queues, "parking", "m-9", &Registry::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no parked message 'm-9'"), "{err}");
}

#[tokio::test]
async fn given_a_malformed_parked_record_when_resubmitted_unedited_then_it_is_refused_and_stays() {
    let queues = parking();
    let ledger = MemoryLedger::new();
    let done = resubmit(&queues, &ledger, one("m-1", None)).await;
    let [Resubmitted::Refused(why)] = done.as_slice() else {
        panic!("{done:?}")
    };
    assert!(
        why.to_string().contains(
            "parked as malformed-json, it cannot succeed as it is; fix the body and resubmit it with --body FILE"
        ),
        "{why}"
    );
    assert_eq!(queues.messages("parking").len(), 4);
    assert!(queues.messages("reserve").is_empty());
    assert!(ledger.claims().is_empty(), "nothing claimed");

    // An edit that still does not decode is refused too.
    let edited = Some("{\"metadata\": {}}".to_owned());
    let done = resubmit(&queues, &ledger, one("m-1", edited)).await;
    assert!(
        done[0].to_string().contains("the edited body does not decode"),
        "{}",
        done[0]
    );
}

#[tokio::test]
async fn given_a_malformed_parked_record_when_resubmitted_with_a_fixed_body_then_it_is_sent_claimed_and_unparked() {
    let queues = parking();
    let ledger = MemoryLedger::new();
    let fixed = envelope_body("8c3f2e3d-4c5b-4a69-8877-665544332211", "OrderPlaced");
    let done = resubmit(&queues, &ledger, one("m-1", Some(fixed.clone()))).await;
    assert!(
        matches!(&done[0], Resubmitted::Sent { to, .. } if to == "reserve"),
        "{done:?}"
    );
    assert_eq!(queues.messages("reserve")[0].body, fixed);
    assert_eq!(queues.messages("parking").len(), 3, "taken off the parking queue");
    assert_eq!(
        ledger.claims().keys().collect::<Vec<_>>(),
        ["resubmit#reserve-inventory#r-1"]
    );
}

#[tokio::test]
async fn given_one_record_parked_twice_when_its_kind_is_resubmitted_then_it_is_sent_once_and_the_leftover_deleted() {
    let queues = parking();
    let ledger = MemoryLedger::new();
    let done = resubmit(&queues, &ledger, Selection::Kind("unsupported-version".into())).await;
    assert!(matches!(done[0], Resubmitted::Sent { .. }), "{done:?}");
    assert!(
        matches!(done[1], Resubmitted::AlreadyDone { at, .. } if at == now()),
        "{done:?}"
    );
    assert!(
        done[1]
            .to_string()
            .contains("already resubmitted at 2026-12-01T12:00:00+00:00; deleted the leftover"),
        "{}",
        done[1]
    );
    assert_eq!(queues.messages("reserve").len(), 1, "sent once");
    let left: Vec<String> = queues.messages("parking").into_iter().map(|m| m.id).collect();
    assert_eq!(left, ["m-1", "m-4"]);
}

#[tokio::test]
async fn given_a_record_parked_from_no_queue_when_resubmitted_then_it_is_refused_naming_why() {
    let queues = parking();
    let done = resubmit(&queues, &MemoryLedger::new(), one("m-4", None)).await;
    let text = done[0].to_string();
    assert!(
        text.starts_with("m-4 not resubmitted: reserve-inventory parked it from a carrier with no queue"),
        "{text}"
    );
    assert_eq!(queues.messages("parking").len(), 4);
}

#[test]
fn ages_read_as_people_say_them() {
    assert_eq!(crate::age(Duration::seconds(45)), "45s");
    assert_eq!(crate::age(Duration::seconds(725)), "12m05s");
    assert_eq!(crate::age(Duration::minutes(200)), "3h20m");
    assert_eq!(crate::age(Duration::hours(52)), "2d04h");
    assert_eq!(
        crate::age(Duration::seconds(-3)),
        "0s",
        "a clock skew is no negative age"
    );
}

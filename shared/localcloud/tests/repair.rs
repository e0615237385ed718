//! The repair tools on the orders demo's local cloud: what `localcloud parked ...` and
//! `localcloud dlq ...` do, through the library, so one run carries a ledger across two
//! resubmits. Idempotency makes both repairs safe: a message whose work completed is a
//! duplicate to its consumer, which sends nothing; a message never handled is not (the control).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::path::{Path, PathBuf};

use chrono::Duration;
use emulator::cloud::{LocalCloud, What};
use emulator::domain::{DemoOptions, DemoRun};
use emulator::faults::Faults;
use emulator::sqs::Outgoing;
use event_store::InMemoryEventStore;
use event_store::replay::Selection;
use localcloud::repair::{LocalQueues, PARKING_QUEUE, what_consumers_did};
use repair::memory::MemoryLedger;
use repair::parked::{Resubmitted, Selection as Resubmit};
use repair::{dlq, parked};

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml")
}

/// GIVEN the orders demo of `localcloud demo` (seed 1, faults on) run to its end.
fn orders_demo(runtime: &tokio::runtime::Runtime) -> Box<dyn DemoRun> {
    let options = DemoOptions {
        size: 12,
        seed: 1,
        faults: Faults::demo(),
        replay: None,
        variant: None,
    };
    let mut run = localcloud::domain("orders")
        .unwrap()
        .demo(&template(), options, &localcloud::catalogue())
        .unwrap();
    run.cloud_mut().keep_timeline(false);
    let report = runtime.block_on(run.finish());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    run
}

/// An OrderPlaced reserve-inventory handled, as its rule delivers it (an EventBridge event);
/// with `new_id`, the same event under an id nobody handled.
fn order_placed(runtime: &tokio::runtime::Runtime, cloud: &LocalCloud, new_id: bool) -> String {
    let (_, store) = cloud.tables().all::<InMemoryEventStore>().into_iter().next().unwrap();
    let (from, to) = (
        cloud.instant(0) - Duration::days(1),
        cloud.instant(cloud.now()) + Duration::days(1),
    );
    let selection = Selection::Range {
        from,
        to,
        types: vec!["OrderPlaced".to_owned()],
    };
    let mut envelope = runtime.block_on(selection.read(&*store)).unwrap().remove(0).envelope;
    if new_id {
        envelope.metadata.id = uuid::Uuid::new_v4();
    }
    let event = envelope
        .to_put_events_entry()
        .unwrap()
        .to_event(&uuid::Uuid::new_v4().to_string(), "000000000000", "us-east-1")
        .unwrap();
    serde_json::to_string(&event).unwrap()
}

/// Runs the cloud until idle and returns what its consumers sent meanwhile (events, notifications, parkings, dead letters).
fn run_until_idle(runtime: &tokio::runtime::Runtime, cloud: &mut LocalCloud) -> Vec<String> {
    let before = cloud.timeline().len();
    runtime.block_on(cloud.run(i64::MAX));
    cloud.timeline()[before..]
        .iter()
        .filter(|e| {
            matches!(
                e.what,
                What::Event { .. } | What::Notification { .. } | What::Parked { .. } | What::DeadLetter { .. }
            )
        })
        .map(ToString::to_string)
        .collect()
}

#[test]
fn given_the_orders_demo_when_its_malformed_record_is_resubmitted_fixed_then_once_only_and_a_duplicate_sends_nothing() {
    let runtime = localcloud::runtime().unwrap();
    let mut run = orders_demo(&runtime);
    let fixed = order_placed(&runtime, run.cloud_mut(), false);
    let cloud = run.cloud_mut();
    cloud.keep_timeline(true);
    let ledger = MemoryLedger::new();

    // THEN the tools list exactly what `make demo` prints under "Parked (1)".
    let listed = runtime
        .block_on(parked::list(&LocalQueues::new(cloud), PARKING_QUEUE, None))
        .unwrap();
    assert_eq!(listed[0], "1 parked message(s)");
    assert!(
        listed[1].starts_with(
            "parkingqueue-000001  [malformed-json] by local-reserve-inventory from local-ReserveInventoryQueue"
        ),
        "{listed:?}"
    );
    let id = "parkingqueue-000001";

    // WHEN resubmitted as it is THEN refused: it can never succeed unedited.
    let done = runtime
        .block_on(parked::resubmit(
            &LocalQueues::new(cloud),
            &ledger,
            PARKING_QUEUE,
            &Resubmit::One {
                id: id.to_owned(),
                edited: None,
            },
        ))
        .unwrap();
    assert!(matches!(&done[..], [Resubmitted::Refused(_)]), "{done:?}");
    assert!(
        done[0]
            .to_string()
            .contains("fix the body and resubmit it with --body FILE"),
        "{}",
        done[0]
    );

    // GIVEN a second parking of the same record (a redelivery parked again).
    let original = cloud
        .queue(PARKING_QUEUE)
        .unwrap()
        .messages()
        .next()
        .unwrap()
        .sent
        .clone();
    let copy = cloud.send_now(PARKING_QUEUE, original).unwrap();

    // WHEN resubmitted with the body the sender meant (an order already placed).
    let done = runtime
        .block_on(parked::resubmit(
            &LocalQueues::new(cloud),
            &ledger,
            PARKING_QUEUE,
            &Resubmit::One {
                id: id.to_owned(),
                edited: Some(fixed.clone()),
            },
        ))
        .unwrap();
    assert!(
        matches!(&done[0], Resubmitted::Sent { to, .. } if to == "ReserveInventoryQueue"),
        "{done:?}"
    );
    // THEN reserve-inventory takes it as a duplicate: nothing published, told or parked.
    let sent = run_until_idle(&runtime, cloud);
    assert!(sent.is_empty(), "a duplicate sent: {sent:?}");
    assert!(cloud.queue("ReserveInventoryQueue").unwrap().is_empty(), "consumed");

    // WHEN the second parking is resubmitted THEN the ledger refuses it and it is deleted.
    let done = runtime
        .block_on(parked::resubmit(
            &LocalQueues::new(cloud),
            &ledger,
            PARKING_QUEUE,
            &Resubmit::One {
                id: copy,
                edited: Some(fixed),
            },
        ))
        .unwrap();
    assert!(matches!(&done[..], [Resubmitted::AlreadyDone { .. }]), "{done:?}");
    assert!(done[0].to_string().contains("already resubmitted at"), "{}", done[0]);
    assert!(cloud.queue(PARKING_QUEUE).unwrap().is_empty(), "nothing left parked");
    assert!(
        cloud.queue("ReserveInventoryQueue").unwrap().is_empty(),
        "nothing sent twice"
    );
    assert_eq!(ledger.claims().len(), 1);
}

#[test]
fn given_a_processed_message_in_a_dlq_when_redriven_then_it_is_a_duplicate_and_an_unprocessed_one_is_not() {
    let runtime = localcloud::runtime().unwrap();
    let mut run = orders_demo(&runtime);
    let processed = order_placed(&runtime, run.cloud_mut(), false);
    let unprocessed = order_placed(&runtime, run.cloud_mut(), true);
    let cloud = run.cloud_mut();
    cloud.keep_timeline(true);
    let dlq_name = "ReserveInventoryDeadLetterQueue";

    // GIVEN a copy of a handled OrderPlaced in reserve-inventory's DLQ.
    cloud.send_now(dlq_name, Outgoing::body(processed)).unwrap();
    let listed = runtime.block_on(dlq::list(&LocalQueues::new(cloud))).unwrap();
    let line = listed.iter().find(|l| l.starts_with(dlq_name)).unwrap();
    assert!(line.contains("depth    1"), "{line}");
    let shown = runtime
        .block_on(dlq::show(
            &LocalQueues::new(cloud),
            dlq_name,
            &envelope::Registry::new(),
        ))
        .unwrap()
        .join("\n");
    assert!(shown.contains("\"type\":\"OrderPlaced\""), "{shown}");

    // WHEN redriven at 10 a second THEN it goes back to its queue, where it is a duplicate.
    let redriven = runtime
        .block_on(dlq::redrive(&LocalQueues::new(cloud), dlq_name, Some(10), &mut |_| {}))
        .unwrap();
    assert_eq!(redriven.moved, 1);
    let sent = run_until_idle(&runtime, cloud);
    assert!(sent.is_empty(), "a duplicate sent: {sent:?}");
    let said = what_consumers_did(&cloud.timeline()[cloud.timeline().len()..]);
    assert!(said[0].starts_with("consumers sent nothing"), "{said:?}");
    assert!(cloud.queue(dlq_name).unwrap().is_empty());

    // Control: the same event under a new id is not a duplicate, and reserve-inventory acts.
    cloud.send_now(dlq_name, Outgoing::body(unprocessed)).unwrap();
    runtime
        .block_on(dlq::redrive(&LocalQueues::new(cloud), dlq_name, None, &mut |_| {}))
        .unwrap();
    let sent = run_until_idle(&runtime, cloud);
    assert!(
        sent.iter().any(|line| line.contains("reserve-inventory ->")),
        "reserve-inventory publishes its decision on an event it never handled: {sent:?}"
    );
}

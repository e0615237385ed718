//! The repair tools' AWS adapters on moto, through the real SDK: the stack's queues found by
//! prefix with their redrive policies, a look that leaves every message where it was, a delete
//! by id, and the ledger's conditional claim in a table declared as the idempotency table.
//! (SQS's message move tasks are not in moto 5.2.5: the e2e run, whose moto_server.py adds
//! them, redrives on the real wire.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic is how a test reports failure

use std::collections::BTreeMap;

use repair::aws::{DynamoLedger, SqsQueues};
use repair::memory::MemoryLedger;
use repair::parked::{Resubmitted, Selection};
use repair::{Claim, Ledger, Queues, dlq, parked};

fn run() -> String {
    format!("repair{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn given_the_idempotency_table_when_a_resubmit_is_claimed_twice_then_the_second_gets_the_first_time() {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let table = format!("{}-idempotency", run());
    system_tests::declared_table("IdempotencyTable", &table, None).await;
    let ledger = DynamoLedger::new(&config, &table);
    let first: chrono::DateTime<chrono::Utc> = "2026-12-01T12:00:00Z".parse().unwrap();

    assert_eq!(ledger.claim("resubmit#f#m-1", first).await.unwrap(), Claim::Claimed);
    let again = ledger
        .claim("resubmit#f#m-1", first + chrono::Duration::hours(1))
        .await
        .unwrap();

    assert_eq!(again, Claim::Already(first), "the old item comes back with the refusal");
    ledger.release("resubmit#f#m-1").await.unwrap();
    assert_eq!(
        ledger.claim("resubmit#f#m-1", first).await.unwrap(),
        Claim::Claimed,
        "released"
    );
}

#[tokio::test]
async fn given_a_stacks_queues_when_looked_at_then_dlqs_are_found_messages_stay_and_a_parked_record_goes_back_once() {
    let moto = motoserver::shared().expect("moto server");
    let config = moto.sdk_config().await;
    let stack = run();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let dlq_url = moto.create_queue(&config, &format!("{stack}-WorkDLQ")).await.unwrap();
    let work_url = moto.create_queue(&config, &format!("{stack}-Work")).await.unwrap();
    let parking_url = moto.create_queue(&config, &format!("{stack}-Parking")).await.unwrap();
    let arn = |url: &str| format!("arn:aws:sqs:us-east-1:123456789012:{}", url.rsplit('/').next().unwrap());
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sqs.set_queue_attributes()
        .queue_url(&work_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}).to_string(),
        )
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&dlq_url)
        .message_body("{\"n\": 1}")
        .send()
        .await
        .unwrap();
    let queues = SqsQueues::new(&config, &stack, None);

    // THEN the DLQ is found by its source's redrive policy, and a look leaves it there.
    let listed = dlq::list(&queues).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].starts_with(&format!("{stack}-WorkDLQ")) && listed[0].contains("depth    1"),
        "{listed:?}"
    );
    let shown = dlq::show(&queues, &dlq_url, &envelope::Registry::new())
        .await
        .unwrap()
        .join("\n");
    // SQS shows a message only by receiving it: `list`'s look (for the oldest age) counts,
    // `show`'s own does not.
    assert!(shown.contains("received 1 time(s)"), "{shown}");
    let dead = queues
        .queues()
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.url == dlq_url)
        .unwrap();
    assert_eq!(queues.peek(&dead).await.unwrap().len(), 1, "still there, visible");

    // GIVEN a record parked from the work queue, twice (a redelivery parked again).
    let body = serde_json::json!({
        "metadata": {"id": "6a1f2e3d-4c5b-4a69-8877-665544332211", "type": "WorkAsked", "version": 1,
                     "source": "shop.work", "time": "2026-12-01T11:00:00Z", "subject": "w-1", "correlationId": "c-1"},
        "data": {}
    })
    .to_string();
    let parking = queues
        .queues()
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.url == parking_url)
        .unwrap();
    let attributes = BTreeMap::from([
        ("parked-kind".to_owned(), "unknown-type".to_owned()),
        ("parked-reason".to_owned(), "unknown-type: WorkAsked".to_owned()),
        ("parked-by".to_owned(), "work".to_owned()),
        ("original-message-id".to_owned(), "m-1".to_owned()),
        ("parked-from".to_owned(), arn(&work_url)),
    ]);
    let first = queues.send(&parking, &body, &attributes).await.unwrap();
    let second = queues.send(&parking, &body, &attributes).await.unwrap();
    let ledger = MemoryLedger::new();

    // WHEN its kind is resubmitted THEN it goes back once; the leftover is deleted.
    let done = parked::resubmit(&queues, &ledger, &parking_url, &Selection::Kind("unknown-type".into()))
        .await
        .unwrap();
    let ids: Vec<&str> = done
        .iter()
        .map(|d| match d {
            Resubmitted::Sent { id, .. } | Resubmitted::AlreadyDone { id, .. } => id.as_str(),
            Resubmitted::Refused(why) => panic!("{why}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()));
    assert_eq!(done.iter().filter(|d| matches!(d, Resubmitted::Sent { .. })).count(), 1);
    let work = queues
        .queues()
        .await
        .unwrap()
        .into_iter()
        .find(|q| q.url == work_url)
        .unwrap();
    assert_eq!(queues.peek(&work).await.unwrap().len(), 1, "sent once");
    assert!(queues.peek(&parking).await.unwrap().is_empty(), "both parkings deleted");
}

//! The behaviour every store must give the executor, written once and run on each store by
//! `store_contract!` (in-memory in `memory.rs`, DynamoDB on moto in `dynamodb.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use envelope::{Arrival, Envelope, ErrorClass, EventType, TraceContext};
use idempotency::{
    Claim, Completed, Idempotency, IdempotencyError, Kept, ManualClock, Outcome, Status, Store, StoreError, Ticket,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

pub(crate) const FUNCTION: &str = "reserve-inventory";
const REMAINING: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reserved {
    pub(crate) order_id: String,
    pub(crate) reservation: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("inventory service timed out")]
pub(crate) struct WorkFailed;

pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()))
}

pub(crate) fn executor<S: Store>(store: S, clock: &Arc<ManualClock>) -> Idempotency<S> {
    Idempotency::new(FUNCTION, store).with_clock(clock.clone())
}

/// A store behind an executor on a stopped clock, and a count of the work's runs.
pub(crate) struct Given<S> {
    pub(crate) executor: Idempotency<S>,
    pub(crate) clock: Arc<ManualClock>,
    runs: Arc<AtomicUsize>,
}

impl<S: Store> Given<S> {
    pub(crate) fn new(store: S) -> Self {
        let clock = clock();
        Self {
            executor: executor(store, &clock),
            clock,
            runs: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Delivers event `e-1` with `payload` to counted work.
    pub(crate) async fn deliver(&self, payload: &Value) -> Result<Outcome<Reserved>, IdempotencyError<WorkFailed>> {
        self.executor
            .execute("e-1", payload, REMAINING, counted(&self.runs))
            .await
    }

    /// Delivers `envelope` to counted work, keyed as the executor is configured.
    pub(crate) async fn deliver_envelope(&self, envelope: &Envelope<Value>) -> Outcome<Reserved> {
        let work = counted(&self.runs);
        self.executor.execute_envelope(envelope, REMAINING, work).await.unwrap()
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    pub(crate) async fn stored(&self) -> Option<idempotency::Record> {
        self.executor.store().get(&format!("{FUNCTION}#e-1")).await.unwrap()
    }
}

/// Work that counts its runs and returns a reservation.
pub(crate) fn counted(
    runs: &Arc<AtomicUsize>,
) -> impl FnOnce() -> std::future::Ready<Result<Reserved, WorkFailed>> + use<> {
    let runs = runs.clone();
    move || {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(Ok(Reserved {
            order_id: "o-1".into(),
            reservation: u32::try_from(n).unwrap(),
        }))
    }
}

fn reserved(reservation: u32) -> Reserved {
    Reserved {
        order_id: "o-1".into(),
        reservation,
    }
}

fn order() -> Value {
    json!({ "orderId": "o-1", "lines": [{ "sku": "SKU-RED-MUG", "quantity": 2 }] })
}

pub(crate) async fn first_execution_runs_once_and_stores_the_result<S: Store>(store: S) {
    let given = Given::new(store);
    let outcome = given.deliver(&order()).await.unwrap();
    assert_eq!(outcome, Outcome::Executed(reserved(1)));
    assert_eq!(given.runs(), 1);
    let record = given.stored().await.unwrap();
    assert_eq!(record.status, Status::Completed);
    assert_eq!(
        serde_json::from_str::<Reserved>(record.result.as_deref().unwrap()).unwrap(),
        reserved(1)
    );
    let an_hour_later = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    assert_eq!(record.expires_at, an_hour_later.timestamp(), "default TTL: 1 hour");
}

pub(crate) async fn a_duplicate_gets_the_stored_result_and_does_not_run<S: Store>(store: S) {
    let given = Given::new(store);
    let first = given.deliver(&order()).await.unwrap();
    let second = given.deliver(&order()).await.unwrap();
    assert!(second.is_duplicate());
    assert_eq!(second.into_result(), first.into_result());
    assert_eq!(given.runs(), 1);
}

pub(crate) async fn of_50_concurrent_deliveries_one_runs_and_the_others_are_told_in_progress<S: Store + 'static>(
    store: S,
) {
    let runs = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let executor = Arc::new(executor(store, &clock()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (executor, runs, release) = (executor.clone(), runs.clone(), release.clone());
        tasks.spawn(async move {
            executor
                .execute("e-1", &order(), REMAINING, || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Hold the key until every other delivery has been turned away.
                    release.notified().await;
                    Ok::<_, WorkFailed>(Reserved {
                        order_id: "o-1".into(),
                        reservation: 1,
                    })
                })
                .await
        });
    }
    let (mut in_progress, mut executed) = (0, 0);
    let all = async {
        while let Some(joined) = tasks.join_next().await {
            match joined.unwrap() {
                Err(err @ IdempotencyError::InProgress { .. }) => {
                    assert_eq!(err.class_with(|_| ErrorClass::Permanent), ErrorClass::Transient);
                    in_progress += 1;
                    if in_progress == 49 {
                        release.notify_one();
                    }
                }
                Ok(Outcome::Executed(_)) => executed += 1,
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("the 50 deliveries finish");
    assert_eq!((executed, in_progress), (1, 49));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

pub(crate) async fn a_crashed_invocation_blocks_the_key_only_until_its_deadline<S: Store>(store: S) {
    let given = Given::new(store);
    // The invocation has 2 s left and dies mid-work (its future is dropped, as at a timeout).
    let payload = order();
    let crashed = given.executor.execute("e-1", &payload, Duration::from_secs(2), || {
        std::future::pending::<Result<Reserved, WorkFailed>>()
    });
    assert!(tokio::time::timeout(Duration::from_millis(50), crashed).await.is_err());

    let err = given.deliver(&order()).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::InProgress { .. }), "{err}");
    given.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(given.deliver(&order()).await.unwrap(), Outcome::Executed(reserved(1)));
}

pub(crate) async fn an_expired_completed_record_runs_again<S: Store>(store: S) {
    let mut given = Given::new(store);
    given.executor = given.executor.with_ttl(Duration::from_secs(600));
    given.deliver(&order()).await.unwrap();
    given.clock.advance(chrono::Duration::seconds(599));
    assert!(given.deliver(&order()).await.unwrap().is_duplicate());
    // Expired in code, though no TTL sweep has deleted the item.
    given.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(given.deliver(&order()).await.unwrap(), Outcome::Executed(reserved(2)));
}

pub(crate) async fn the_same_key_with_another_payload_is_a_permanent_error<S: Store>(store: S) {
    let given = Given::new(store);
    given.deliver(&order()).await.unwrap();
    let other = json!({ "orderId": "o-1", "lines": [{ "sku": "SKU-RED-MUG", "quantity": 3 }] });
    let err = given.deliver(&other).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::PayloadMismatch { .. }), "{err}");
    assert_eq!(err.class_with(|_| ErrorClass::Transient), ErrorClass::Permanent);
    assert_eq!(given.runs(), 1);
}

pub(crate) async fn key_order_and_whitespace_do_not_make_a_different_payload<S: Store>(store: S) {
    let given = Given::new(store);
    given.deliver(&order()).await.unwrap();
    let respelled = "{\n  \"lines\" : [ { \"quantity\" : 2, \"sku\" : \"SKU-RED-MUG\" } ],\n  \"orderId\" : \"o-1\" }";
    assert!(
        given
            .deliver(&serde_json::from_str(respelled).unwrap())
            .await
            .unwrap()
            .is_duplicate()
    );
}

pub(crate) async fn failed_work_deletes_its_record_so_a_retry_runs<S: Store>(store: S) {
    let given = Given::new(store);
    let failing = || async { Err::<Reserved, _>(WorkFailed) };
    let err = given
        .executor
        .execute("e-1", &order(), REMAINING, failing)
        .await
        .unwrap_err();
    assert!(matches!(err, IdempotencyError::Work(WorkFailed)));
    assert_eq!(
        err.class_with(|_| ErrorClass::Transient),
        ErrorClass::Transient,
        "the work's own class"
    );
    assert_eq!(given.stored().await, None);
    assert_eq!(given.deliver(&order()).await.unwrap(), Outcome::Executed(reserved(1)));
}

pub(crate) async fn a_result_over_the_item_limit_is_a_clear_error_and_frees_the_key<S: Store>(store: S) {
    let given = Given::new(store);
    let oversize = || async { Ok::<_, WorkFailed>("x".repeat(401 * 1024)) };
    let err = given
        .executor
        .execute("e-1", &order(), REMAINING, oversize)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdempotencyError::Store(StoreError::TooLarge { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("over the 409600-byte item limit"), "{err}");
    assert_eq!(given.stored().await, None);
}

#[derive(Debug, Serialize, Deserialize)]
struct OrderPlaced(Value);
impl EventType for OrderPlaced {
    const TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;
    const SOURCE: &'static str = "shop.orders";
}

pub(crate) async fn envelopes_are_keyed_by_id_unless_told_otherwise<S: Store>(store: S) {
    let mut given = Given::new(store);
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let placed = Envelope::new("o-1", time, OrderPlaced(order())).to_untyped().unwrap();
    given.deliver_envelope(&placed).await;
    let key = format!("{FUNCTION}#{}", placed.metadata.id);
    assert!(given.executor.store().get(&key).await.unwrap().is_some());

    // A redelivery re-sent with a new time and trace context is still the same event.
    let mut resent = placed.clone();
    resent.metadata.time = time + chrono::Duration::seconds(1);
    resent.metadata.trace = Some(TraceContext {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        tracestate: None,
    });
    assert!(given.deliver_envelope(&resent).await.is_duplicate());

    // Keyed by subject: a second event about the same order is a duplicate of the first.
    given.executor = given
        .executor
        .with_key(Arc::new(|e: &Envelope<Value>| Some(e.metadata.subject.clone())));
    let another = Envelope::new("o-1", time, OrderPlaced(order())).to_untyped().unwrap();
    assert!(!given.deliver_envelope(&placed).await.is_duplicate());
    assert!(given.deliver_envelope(&another).await.is_duplicate());
    assert_eq!(given.runs(), 2);
}

/// Claims `e-1` for `order()`.
async fn claim<S: Store>(given: &Given<S>) -> Claim<Value> {
    given
        .executor
        .claim::<_, Value, WorkFailed>("e-1", &order(), REMAINING)
        .await
        .unwrap()
}

fn ticket(claim: Claim<Value>) -> Ticket {
    match claim {
        Claim::Acquired(ticket) => ticket,
        Claim::Completed(completed) => panic!("expected the key to be free, found {completed:?}"),
    }
}

fn completed(claim: Claim<Value>) -> Completed<Value> {
    match claim {
        Claim::Completed(completed) => completed,
        Claim::Acquired(ticket) => panic!("expected a duplicate, the key {} was free", ticket.key()),
    }
}

pub(crate) async fn undelivered_outputs_are_handed_to_duplicates_until_marked_delivered<S: Store>(store: S) {
    let given = Given::new(store);
    let outputs = json!([{ "type": "InventoryReserved" }]);
    // GIVEN work completed whose outputs could not be sent
    let held = ticket(claim(&given).await);
    let kept = given
        .executor
        .complete::<_, WorkFailed>(&held, &outputs, false)
        .await
        .unwrap();
    assert_eq!(kept, Kept::Result(outputs.to_string()));
    // WHEN it is redelivered THEN the duplicate gets the outputs, to send them
    let duplicate = completed(claim(&given).await);
    assert_eq!(
        (duplicate.result.as_ref(), duplicate.delivered),
        (Some(&outputs), false)
    );
    // WHEN they went out and are marked delivered THEN later duplicates send nothing
    given.executor.mark_delivered(&duplicate.key).await.unwrap();
    let later = completed(claim(&given).await);
    assert!(later.delivered);
    assert_eq!(later.result, Some(outputs));
}

pub(crate) async fn marking_an_absent_key_delivered_creates_nothing<S: Store>(store: S) {
    let given = Given::new(store);
    given.executor.mark_delivered(&format!("{FUNCTION}#e-1")).await.unwrap();
    assert_eq!(given.stored().await, None);
    // Nor does it mark a key a new invocation holds in progress.
    let _held = ticket(claim(&given).await);
    given.executor.mark_delivered(&format!("{FUNCTION}#e-1")).await.unwrap();
    assert_eq!(given.stored().await.unwrap().status, Status::InProgress);
}

pub(crate) async fn a_delivered_result_over_the_item_limit_keeps_its_digest<S: Store>(store: S) {
    let given = Given::new(store);
    let huge = Value::String("x".repeat(401 * 1024));
    let held = ticket(claim(&given).await);
    let kept = given
        .executor
        .complete::<_, WorkFailed>(&held, &huge, true)
        .await
        .unwrap();
    assert!(matches!(&kept, Kept::Digest(digest) if digest.len() == 64), "{kept:?}");
    let duplicate = completed(claim(&given).await);
    assert_eq!(
        (duplicate.result, duplicate.delivered),
        (None, true),
        "recognised, with nothing to send"
    );
}

pub(crate) async fn an_undelivered_result_over_the_item_limit_frees_the_key<S: Store>(store: S) {
    let given = Given::new(store);
    let huge = Value::String("x".repeat(401 * 1024));
    let held = ticket(claim(&given).await);
    let err = given
        .executor
        .complete::<_, WorkFailed>(&held, &huge, false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdempotencyError::Store(StoreError::TooLarge { .. })),
        "{err}"
    );
    // Neither kept nor sent: a retry must run the work again to recover the outputs.
    assert_eq!(given.stored().await, None);
    ticket(claim(&given).await);
}

pub(crate) async fn results_that_may_not_be_kept_leave_a_digest_or_free_the_key<S: Store>(store: S) {
    let mut given = Given::new(store);
    given.executor = given.executor.keeping_digests_only();
    let message = json!([{ "recipient": { "email": "ada@example.com" } }]);
    // Delivered: only the digest is stored, and a duplicate is recognised with nothing to send.
    let held = ticket(claim(&given).await);
    let kept = given
        .executor
        .complete::<_, WorkFailed>(&held, &message, true)
        .await
        .unwrap();
    assert!(matches!(&kept, Kept::Digest(digest) if digest.len() == 64), "{kept:?}");
    let stored = given.stored().await.unwrap();
    assert_eq!(stored.result, None);
    assert!(!format!("{stored:?}").contains("ada@example.com"));
    let duplicate = completed(claim(&given).await);
    assert_eq!((duplicate.result, duplicate.delivered), (None, true));
}

pub(crate) async fn undelivered_results_that_may_not_be_kept_free_the_key<S: Store>(store: S) {
    let mut given = Given::new(store);
    given.executor = given.executor.keeping_digests_only();
    let message = json!([{ "recipient": { "email": "ada@example.com" } }]);
    let held = ticket(claim(&given).await);
    let kept = given
        .executor
        .complete::<_, WorkFailed>(&held, &message, false)
        .await
        .unwrap();
    assert_eq!(kept, Kept::Released);
    // Not kept, not sent: a retry runs the work again.
    assert_eq!(given.stored().await, None);
    ticket(claim(&given).await);
}

pub(crate) async fn the_payload_is_the_event_as_it_arrived_not_as_upcast<S: Store>(store: S) {
    let given = Given::new(store);
    let time = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let v1 = Envelope::new("o-1", time, OrderPlaced(json!({ "cents": 1250 })))
        .to_untyped()
        .unwrap();
    // First handled by a consumer that read version 1 as it is.
    let held = ticket(
        given
            .executor
            .claim_envelope::<Value, WorkFailed>(&v1, None, REMAINING)
            .await
            .unwrap(),
    );
    given
        .executor
        .complete::<_, WorkFailed>(&held, &json!([]), true)
        .await
        .unwrap();
    // Redelivered to a consumer that upcasts it to version 2: still the same event.
    let mut upcast = v1.clone();
    upcast.metadata.version = 2;
    upcast.data = json!({ "amount": { "cents": 1250, "currency": "EUR" } });
    let arrived = Arrival {
        version: 1,
        data: v1.data.clone(),
    };
    let again = given
        .executor
        .claim_envelope::<Value, WorkFailed>(&upcast, Some(&arrived), REMAINING)
        .await
        .unwrap();
    assert!(completed(again).delivered);
    // Without what arrived, the upcast data would not match what the key was first seen with.
    let err = given
        .executor
        .claim_envelope::<Value, WorkFailed>(&upcast, None, REMAINING)
        .await
        .unwrap_err();
    assert!(matches!(err, IdempotencyError::PayloadMismatch { .. }), "{err}");
}

/// Generates one `#[tokio::test]` per contract scenario, each on a fresh store from `$make`.
macro_rules! store_contract {
    ($make:expr) => {
        store_contract!(@tests $make;
            first_execution_runs_once_and_stores_the_result,
            a_duplicate_gets_the_stored_result_and_does_not_run,
            of_50_concurrent_deliveries_one_runs_and_the_others_are_told_in_progress,
            a_crashed_invocation_blocks_the_key_only_until_its_deadline,
            an_expired_completed_record_runs_again,
            the_same_key_with_another_payload_is_a_permanent_error,
            key_order_and_whitespace_do_not_make_a_different_payload,
            failed_work_deletes_its_record_so_a_retry_runs,
            a_result_over_the_item_limit_is_a_clear_error_and_frees_the_key,
            envelopes_are_keyed_by_id_unless_told_otherwise,
            undelivered_outputs_are_handed_to_duplicates_until_marked_delivered,
            marking_an_absent_key_delivered_creates_nothing,
            a_delivered_result_over_the_item_limit_keeps_its_digest,
            an_undelivered_result_over_the_item_limit_frees_the_key,
            results_that_may_not_be_kept_leave_a_digest_or_free_the_key,
            undelivered_results_that_may_not_be_kept_free_the_key,
            the_payload_is_the_event_as_it_arrived_not_as_upcast,
        );
    };
    (@tests $make:expr; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() {
                contract::$scenario($make().await).await;
            }
        )*
    };
}

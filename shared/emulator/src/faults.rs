//! Fault injection and interleaving, from seeded streams: the same seed gives the same faults
//! and the same virtual latencies, in the same places, so a failing run can be replayed.
//!
//! Every random decision belongs to a stream named for the component that draws it
//! (`rule:OrderPlacedRule:reserve-inventory/duplicate`, `port:detect-anomaly:WindowStore::save/latency`,
//! ...), each seeded from the run's seed and its own name. Adding a rule, a schedule or a
//! function therefore adds streams and changes no other component's draws.
//!
//! Each decision that differs from its default (a fault that happens, a latency above the
//! minimum, a shuffled batch) is recorded as a [`Choice`]: stream, draw number, value. The
//! choices of a run replay it exactly ([`Dice::replaying`]): a draw listed there takes its
//! value, any other its default. The campaign's shrinker removes choices until no smaller set
//! breaks the same invariant.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ports::{Fault, FaultPlan};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How often each fault happens (probabilities in 0..=1), and how far calls spread in time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// A rule delivers an event to its queue twice (EventBridge and SQS are at-least-once).
    pub duplicate_delivery: f64,
    /// Extra random delivery delay, up to this many ms, so events overtake each other.
    pub reorder_ms: i64,
    /// A function crashes after it published its outputs, before it answered the batch:
    /// the whole batch comes back after the visibility timeout.
    pub crash_after_publish: f64,
    /// A table call (idempotency, inventory, order views) fails as a throttled DynamoDB would.
    pub store_errors: f64,
    /// A function crashes after publishing a record's outputs, before recording the record
    /// done: its key stays in progress until it expires, and the redelivery runs the work
    /// again. The one window in which people can be told twice.
    pub crash_before_record: f64,
    /// A publish call answers only after 1 to 12 s (a throttled bus retried by the SDK), so
    /// functions must answer before their deadline all the same.
    pub slow_publish: f64,
    /// A rule's delivery to a target is throttled: EventBridge retries it as the target's
    /// `RetryPolicy` says, then keeps it in the target's `DeadLetterConfig` queue.
    pub target_throttled: f64,
    /// Lambda throttles the invocation an event source mapping starts for a batch: the poller
    /// retries it for up to 90 s while the batch's visibility timeout runs, so the messages
    /// can come back to another poller while the first invocation is still to run.
    pub invoke_throttled: f64,
    /// Each port call (a table, the bus, a key service, a third party) takes up to this many
    /// ms of virtual time: where the invocations running at once interleave.
    pub port_latency_ms: i64,
    /// A port call fails after it took effect (a timeout on the answer, a crash after the
    /// step): the write happened, the caller is told it did not.
    pub fail_after_effect: f64,
}

impl Faults {
    /// No faults; port calls still take up to 20 ms, so invocations overlap as on AWS.
    pub fn none() -> Self {
        Self {
            port_latency_ms: 20,
            ..Self::default()
        }
    }

    /// The faults the demo runs with: rare enough to read the timeline, there to show the recovery.
    pub fn demo() -> Self {
        Self {
            duplicate_delivery: 0.05,
            reorder_ms: 400,
            crash_after_publish: 0.03,
            store_errors: 0.02,
            crash_before_record: 0.01,
            slow_publish: 0.01,
            target_throttled: 0.01,
            invoke_throttled: 0.0,
            port_latency_ms: 20,
            fail_after_effect: 0.0,
        }
    }

    /// Random rates drawn from `seed`, for seeded fault runs: up to 30% duplicate deliveries,
    /// 2 s of reordering, 10% crashes after publish, 3% failed table calls, 3% crashes before
    /// a record is recorded, 3% slow publishes and 3% throttled deliveries. Higher crash or
    /// table error rates exhaust a queue's receives (the template's
    /// `Delivery.Queue.MaxReceiveCount`) now and then: the record goes to its DLQ, as it would
    /// in AWS, its order stops short of its end, and the demo's invariants (rightly) fail.
    pub fn random(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_fa17);
        Self {
            duplicate_delivery: rng.f64() * 0.3,
            reorder_ms: rng.i64(0..=2000),
            crash_after_publish: rng.f64() * 0.1,
            store_errors: rng.f64() * 0.03,
            crash_before_record: rng.f64() * 0.03,
            slow_publish: rng.f64() * 0.03,
            target_throttled: rng.f64() * 0.03,
            invoke_throttled: 0.0,
            port_latency_ms: rng.i64(1..=50),
            fail_after_effect: 0.0,
        }
    }

    /// The simulation campaign's rates, drawn from `seed`: above the demo's on every kind, with
    /// throttled invocations whose batches outlive their visibility timeout, and wide latencies.
    pub fn campaign(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xca3a_1a11);
        Self {
            duplicate_delivery: 0.05 + rng.f64() * 0.25,
            // Half the seeds deliver within seconds; the other half spread deliveries over up
            // to three minutes (a backlog, retries), so readings arrive after later ones.
            reorder_ms: if rng.bool() {
                rng.i64(400..=3000)
            } else {
                rng.i64(60_000..=180_000)
            },
            crash_after_publish: 0.02 + rng.f64() * 0.06,
            store_errors: 0.01 + rng.f64() * 0.02,
            crash_before_record: 0.01 + rng.f64() * 0.02,
            slow_publish: 0.01 + rng.f64() * 0.03,
            target_throttled: 0.01 + rng.f64() * 0.03,
            invoke_throttled: rng.f64() * 0.02,
            port_latency_ms: rng.i64(5..=100),
            fail_after_effect: rng.f64() * 0.02,
        }
    }
}

/// How many faults of each kind were injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Injected {
    /// Extra deliveries.
    pub duplicates: u64,
    /// Crashes after publish.
    pub crashes: u64,
    /// Failed table calls.
    pub store_errors: u64,
    /// Crashes between publishing a record's outputs and recording it done.
    pub crashes_before_record: u64,
    /// Slow publish calls.
    pub slow_publishes: u64,
    /// Deliveries a target throttled (each retried as its rule's `RetryPolicy` says).
    pub throttled_deliveries: u64,
    /// Invocations Lambda throttled before they started.
    pub throttled_invocations: u64,
    /// Port calls that failed after they took effect.
    pub failed_after_effect: u64,
}

impl Injected {
    /// Every fault injected.
    pub fn total(&self) -> u64 {
        self.duplicates
            + self.crashes
            + self.store_errors
            + self.crashes_before_record
            + self.slow_publishes
            + self.throttled_deliveries
            + self.throttled_invocations
            + self.failed_after_effect
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        self.duplicates += other.duplicates;
        self.crashes += other.crashes;
        self.store_errors += other.store_errors;
        self.crashes_before_record += other.crashes_before_record;
        self.slow_publishes += other.slow_publishes;
        self.throttled_deliveries += other.throttled_deliveries;
        self.throttled_invocations += other.throttled_invocations;
        self.failed_after_effect += other.failed_after_effect;
    }
}

/// One decision of a run that differs from its default: draw number `draw` of stream
/// `stream` came out as `value` (`true` for a fault that happens, a number of ms, an order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The stream: component and decision, e.g. `port:detect-anomaly:WindowStore::save/latency`.
    pub stream: String,
    /// The draw's number in its stream, from 0.
    pub draw: u64,
    /// What it came out as.
    pub value: Value,
}

/// What faults did inside one invocation.
#[derive(Debug, Default, Clone)]
pub struct Inside {
    /// The function (crate name).
    pub function: String,
    /// Whether the crash-before-record dice were rolled in this invocation (once each).
    rolled: bool,
    /// Whether it has published: a state save after that records what went out.
    published: bool,
    /// Whether the invocation crashed.
    pub crashed: bool,
    /// Whether recording a record done failed in it (crashed, or a table write failed): what
    /// it sent may be sent again by the record's rerun.
    pub record_failed: bool,
    /// Whether any fault was injected into it (a failed port call, a crash): the records it
    /// reports failed may owe their failure to that.
    pub faulted: bool,
}

/// Where draws come from.
#[derive(Debug)]
enum Source {
    /// Each stream seeded from the run's seed and its name; non-default draws are recorded.
    Seeded {
        seed: u64,
        streams: HashMap<String, fastrand::Rng>,
        recorded: Vec<Choice>,
    },
    /// Exactly these choices; every other draw takes its default.
    Replay { choices: HashMap<(String, u64), Value> },
}

#[derive(Debug)]
struct State {
    source: Source,
    draws: HashMap<String, u64>,
    injected: Injected,
    /// Port calls, and how many of them were made while another invocation was in flight.
    port_calls: u64,
    overlapping_calls: u64,
    /// A digest of the order in which invocations made their port calls: two runs that
    /// interleaved differently differ here.
    schedule_digest: u64,
    invocations: BTreeMap<u64, Inside>,
}

/// The seeded source of randomness every part of the cloud draws from.
#[derive(Debug)]
pub struct Dice {
    faults: Faults,
    state: Mutex<State>,
}

/// FNV-1a: a stream's seed from its name, the same on every machine and Rust release.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Dice {
    /// Dice for `faults`, seeded.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self::with_source(
            faults,
            Source::Seeded {
                seed,
                streams: HashMap::new(),
                recorded: Vec::new(),
            },
        )
    }

    /// Dice that replay `choices` and draw every other decision's default.
    pub fn replaying(faults: Faults, choices: &[Choice]) -> Self {
        let choices = choices
            .iter()
            .map(|c| ((c.stream.clone(), c.draw), c.value.clone()))
            .collect();
        Self::with_source(faults, Source::Replay { choices })
    }

    fn with_source(faults: Faults, source: Source) -> Self {
        Self {
            faults,
            state: Mutex::new(State {
                source,
                draws: HashMap::new(),
                injected: Injected::default(),
                port_calls: 0,
                overlapping_calls: 0,
                schedule_digest: 0,
                invocations: BTreeMap::new(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault rates.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Injected {
        self.state().injected
    }

    /// The choices this run made so far (none when it replays).
    pub fn choices(&self) -> Vec<Choice> {
        match &self.state().source {
            Source::Seeded { recorded, .. } => recorded.clone(),
            Source::Replay { .. } => Vec::new(),
        }
    }

    /// Port calls made so far, how many while another invocation was in flight, and a
    /// digest of their order.
    pub fn schedule(&self) -> (u64, u64, u64) {
        let state = self.state();
        (state.port_calls, state.overlapping_calls, state.schedule_digest)
    }

    /// Draw the next decision of `stream`: `draw` makes it from the stream's generator and
    /// answers `Value::Null` for the default. Returns the decision when it is not the default.
    fn decide(&self, stream: &str, draw: impl FnOnce(&mut fastrand::Rng) -> Value) -> Option<Value> {
        let mut state = self.state();
        let number = {
            let count = state.draws.entry(stream.to_owned()).or_default();
            *count += 1;
            *count - 1
        };
        match &mut state.source {
            Source::Seeded {
                seed,
                streams,
                recorded,
            } => {
                let rng = streams
                    .entry(stream.to_owned())
                    .or_insert_with(|| fastrand::Rng::with_seed(*seed ^ name_hash(stream)));
                let value = draw(rng);
                if value.is_null() {
                    return None;
                }
                recorded.push(Choice {
                    stream: stream.to_owned(),
                    draw: number,
                    value: value.clone(),
                });
                Some(value)
            }
            Source::Replay { choices } => choices.get(&(stream.to_owned(), number)).cloned(),
        }
    }

    /// Whether a fault of probability `p` happens at this draw of `stream`, counted in
    /// `count` if it does.
    fn hit(&self, stream: &str, p: f64, count: fn(&mut Injected) -> &mut u64) -> bool {
        let hit = self
            .decide(stream, |rng| {
                if p > 0.0 && rng.f64() < p {
                    Value::Bool(true)
                } else {
                    Value::Null
                }
            })
            .is_some_and(|v| v == Value::Bool(true));
        if hit {
            *count(&mut self.state().injected) += 1;
        }
        hit
    }

    /// `low` plus an extra of up to `high - low` drawn from `stream` (the extra is the choice).
    pub fn between(&self, stream: &str, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let extra = self.decide(stream, |rng| match rng.i64(0..=high - low) {
            0 => Value::Null,
            extra => Value::from(extra),
        });
        low + extra.and_then(|v| v.as_i64()).unwrap_or(0).clamp(0, high - low)
    }

    /// A random order of `items` from `stream`, unless reordering is off.
    pub fn shuffle<T>(&self, stream: &str, items: &mut Vec<T>) {
        if self.faults.reorder_ms <= 0 || items.len() < 2 {
            return;
        }
        let len = items.len();
        let order = self.decide(stream, |rng| {
            let mut order: Vec<usize> = (0..len).collect();
            rng.shuffle(&mut order);
            if order.iter().enumerate().all(|(i, o)| i == *o) {
                Value::Null
            } else {
                Value::from(order)
            }
        });
        let Some(order) = order.and_then(|o| serde_json::from_value::<Vec<usize>>(o).ok()) else {
            return;
        };
        let mut valid = order.clone();
        valid.sort_unstable();
        if valid != (0..len).collect::<Vec<_>>() {
            return; // a hand-edited fault file naming another batch size: keep the order
        }
        let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
        items.extend(order.into_iter().filter_map(|i| slots[i].take()));
    }

    /// Whether to deliver this event a second time (`stream`: the rule's target).
    pub fn duplicate(&self, stream: &str) -> bool {
        self.hit(&format!("{stream}/duplicate"), self.faults.duplicate_delivery, |i| {
            &mut i.duplicates
        })
    }

    /// A delivery's latency: 5 to 25 ms, plus the reordering delay.
    pub fn delivery_latency(&self, stream: &str) -> i64 {
        self.between(&format!("{stream}/latency"), 5, 25 + self.faults.reorder_ms.max(0))
    }

    /// Whether the target throttles this delivery.
    pub fn target_throttled(&self, stream: &str) -> bool {
        self.hit(&format!("{stream}/throttled"), self.faults.target_throttled, |i| {
            &mut i.throttled_deliveries
        })
    }

    /// How long Lambda throttles the invocation of a batch of mapping `stream` (0: not).
    pub fn invoke_throttle_ms(&self, stream: &str) -> i64 {
        if self.hit(&format!("{stream}/throttled"), self.faults.invoke_throttled, |i| {
            &mut i.throttled_invocations
        }) {
            self.between(&format!("{stream}/throttled-for"), 30_000, 90_000)
        } else {
            0
        }
    }

    /// Whether this invocation of mapping `stream` crashes after publishing.
    pub fn crash(&self, stream: &str) -> bool {
        self.hit(&format!("{stream}/crash"), self.faults.crash_after_publish, |i| {
            &mut i.crashes
        })
    }

    /// Starts invocation `id` of `function`: nothing has crashed or failed in it yet.
    pub fn begin_invocation(&self, id: u64, function: &str) {
        self.state().invocations.insert(
            id,
            Inside {
                function: function.to_owned(),
                ..Inside::default()
            },
        );
    }

    /// Ends invocation `id`: what faults did inside it.
    pub fn end_invocation(&self, id: u64) -> Inside {
        self.state().invocations.remove(&id).unwrap_or_default()
    }

    /// Recording a record done, after its outputs went out: where a crash costs a repeat.
    fn before_record(&self, invocation: Option<u64>, function: &str, port: &str) -> Fault {
        let first = invocation.is_some_and(|id| {
            self.state()
                .invocations
                .get_mut(&id)
                .is_some_and(|inside| !std::mem::replace(&mut inside.rolled, true))
        });
        let crashes = first
            && self.hit(
                &format!("function:{function}/crash-before-record"),
                self.faults.crash_before_record,
                |i| &mut i.crashes_before_record,
            );
        let fault = if crashes {
            Fault::Fail("the function crashed before recording its work (injected)".to_owned())
        } else {
            self.table_fault(port)
        };
        if let Some(id) = invocation {
            let mut state = self.state();
            if let Some(inside) = state.invocations.get_mut(&id) {
                inside.crashed |= crashes;
                if inside.crashed {
                    inside.record_failed = true;
                    return Fault::Fail("the function crashed before recording its work (injected)".to_owned());
                }
                inside.record_failed |= fault != Fault::None;
            }
        }
        fault
    }

    fn table_fault(&self, port: &str) -> Fault {
        if self.hit(&format!("{port}/store-error"), self.faults.store_errors, |i| {
            &mut i.store_errors
        }) {
            Fault::Fail("ProvisionedThroughputExceededException (injected by the local cloud)".to_owned())
        } else {
            Fault::None
        }
    }

    fn has_published(&self, invocation: Option<u64>) -> bool {
        invocation.is_some_and(|id| self.state().invocations.get(&id).is_some_and(|i| i.published))
    }

    fn count_call(&self, invocation: Option<u64>, operation: &str) {
        let mut state = self.state();
        state.port_calls += 1;
        if state.invocations.len() > 1 {
            state.overlapping_calls += 1;
        }
        let who = invocation.unwrap_or(u64::MAX);
        state.schedule_digest = (state.schedule_digest ^ who ^ name_hash(operation))
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(7);
    }
}

/// Every port call of every function goes through the dice: it takes a seeded virtual latency
/// (where invocations running at once interleave), publishing may be slow, a record's
/// bookkeeping (the idempotency record, or any port's `save` of state after outputs) may crash
/// the invocation, and any other port (a table, a third party) may be throttled.
impl FaultPlan for Dice {
    fn before(&self, operation: &'static str) -> Fault {
        let invocation = handler_kit::local::current_invocation();
        let function = invocation
            .and_then(|id| self.state().invocations.get(&id).map(|i| i.function.clone()))
            .unwrap_or_else(|| "outside".to_owned());
        self.count_call(invocation, operation);
        let port = format!("port:{function}:{operation}");
        let latency = self.between(&format!("{port}/latency"), 0, self.faults.port_latency_ms);
        let fault = match operation {
            "Publisher::publish" => {
                if let Some(id) = invocation
                    && let Some(inside) = self.state().invocations.get_mut(&id)
                {
                    inside.published = true;
                }
                if self.hit(&format!("{port}/slow"), self.faults.slow_publish, |i| {
                    &mut i.slow_publishes
                }) {
                    Fault::Delay(std::time::Duration::from_millis(
                        self.between(&format!("{port}/slow-for"), 1_000, 12_000).unsigned_abs(),
                    ))
                } else {
                    Fault::None
                }
            }
            "Store::complete" | "Store::mark_delivered" => self.before_record(invocation, &function, &port),
            // An aggregating function's state save once it has published (`WindowStore::save`
            // clearing its outbox, ...) is its record: it comes after the batch's outputs went
            // out, like the idempotency record. Its save before (the commit) fails as any
            // table call may.
            saves if saves.ends_with("::save") && self.has_published(invocation) => {
                self.before_record(invocation, &function, &port)
            }
            _ => self.table_fault(&port),
        };
        // A slow publish counts as a fault too: it may outlive the caller's budget after it
        // took effect.
        if let (Fault::Fail(_) | Fault::Delay(_), Some(id)) = (&fault, invocation)
            && let Some(inside) = self.state().invocations.get_mut(&id)
        {
            inside.faulted = true;
        }
        let latency = std::time::Duration::from_millis(latency.unsigned_abs());
        match fault {
            Fault::None if latency.is_zero() => Fault::None,
            Fault::None => Fault::Delay(latency),
            Fault::Delay(delay) => Fault::Delay(delay + latency),
            failed @ Fault::Fail(_) => failed,
        }
    }

    fn after(&self, operation: &'static str, succeeded: bool) -> Fault {
        if !succeeded || self.faults.fail_after_effect <= 0.0 {
            return Fault::None;
        }
        let invocation = handler_kit::local::current_invocation();
        let function = invocation
            .and_then(|id| self.state().invocations.get(&id).map(|i| i.function.clone()))
            .unwrap_or_else(|| "outside".to_owned());
        let stream = format!("port:{function}:{operation}/fail-after");
        if !self.hit(&stream, self.faults.fail_after_effect, |i| &mut i.failed_after_effect) {
            return Fault::None;
        }
        // The record is retried though its step took effect: what the invocation sent may be
        // sent again, as after a failed write between a send and its record.
        if let Some(id) = invocation
            && let Some(inside) = self.state().invocations.get_mut(&id)
        {
            inside.faulted = true;
            inside.record_failed = true;
        }
        Fault::Fail(format!("{operation} took effect, but its answer timed out (injected)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roll(dice: &Dice) -> Vec<(bool, bool, i64, i64)> {
        (0..200)
            .map(|_| {
                (
                    dice.duplicate("rule:R:t"),
                    dice.crash("mapping:M"),
                    dice.delivery_latency("rule:R:t"),
                    dice.between("queue:Q/x", 0, 9),
                )
            })
            .collect()
    }

    #[test]
    fn given_the_same_seed_then_the_same_faults_fall_in_the_same_places() {
        let run = |seed| roll(&Dice::new(seed, Faults::random(seed)));
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn given_no_faults_then_none_is_injected() {
        let dice = Dice::new(1, Faults::default());
        assert!((0..1000).all(|_| {
            !dice.duplicate("r")
                && !dice.crash("m")
                && dice.before("Inventory::reserve") == Fault::None
                && dice.before("Store::complete") == Fault::None
                && dice.before("Publisher::publish") == Fault::None
        }));
        assert_eq!(dice.injected(), Injected::default());
    }

    #[test]
    fn given_another_component_drawing_then_a_streams_draws_do_not_change() {
        let alone = Dice::new(3, Faults::random(3));
        let crowded = Dice::new(3, Faults::random(3));
        let mut mine = Vec::new();
        let mut beside = Vec::new();
        for _ in 0..100 {
            mine.push(alone.delivery_latency("rule:A:t"));
            crowded.delivery_latency("rule:New:t");
            crowded.duplicate("rule:New:t");
            beside.push(crowded.delivery_latency("rule:A:t"));
        }
        assert_eq!(mine, beside);
    }

    #[test]
    fn given_the_choices_of_a_run_then_replaying_them_draws_the_same_and_no_choice_draws_defaults() {
        let seeded = Dice::new(11, Faults::campaign(11));
        let first = roll(&seeded);
        let replayed = Dice::replaying(Faults::campaign(11), &seeded.choices());
        assert_eq!(roll(&replayed), first);
        let bare = Dice::replaying(Faults::campaign(11), &[]);
        assert!(
            roll(&bare)
                .iter()
                .all(|&(dup, crash, latency, extra)| !dup && !crash && latency == 5 && extra == 0)
        );
    }

    #[test]
    fn given_a_shuffle_then_its_order_is_a_choice_that_replays() {
        let faults = Faults {
            reorder_ms: 10,
            ..Faults::default()
        };
        let seeded = Dice::new(5, faults);
        let mut shuffled: Vec<u32> = (0..10).collect();
        seeded.shuffle("queue:Q/order", &mut shuffled);
        assert_ne!(shuffled, (0..10).collect::<Vec<_>>());
        let replayed = Dice::replaying(faults, &seeded.choices());
        let mut again: Vec<u32> = (0..10).collect();
        replayed.shuffle("queue:Q/order", &mut again);
        assert_eq!(again, shuffled);
    }
}

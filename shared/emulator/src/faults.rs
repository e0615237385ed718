//! Fault injection with a seeded random source: the same seed gives the same faults, in the
//! same places, so a failing run can be replayed.

use std::sync::{Mutex, PoisonError};

use ports::{Fault, FaultPlan};

/// How often each fault happens (probabilities in 0..=1).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
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
        }
    }

    /// Random rates drawn from `seed`, for seeded fault runs: up to 30% duplicate deliveries,
    /// 2 s of reordering, 10% crashes after publish, 3% failed table calls, 3% crashes before
    /// a record is recorded and 3% slow publishes. Higher crash or table error
    /// rates exhaust a queue's 5 receives now and then: the record goes to its DLQ, as it would
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
}

/// What faults did inside the current invocation.
#[derive(Debug, Default)]
struct Inside {
    /// Whether the crash-before-record dice were rolled in this invocation (once each).
    rolled: bool,
    /// Whether the invocation crashed.
    crashed: bool,
    /// Whether recording a record done failed in it (crashed, or a table write failed): what
    /// it sent may be sent again by the record's rerun.
    record_failed: bool,
}

/// The seeded source of randomness every part of the cloud draws from.
#[derive(Debug)]
pub struct Dice {
    faults: Faults,
    state: Mutex<(fastrand::Rng, Injected)>,
    inside: Mutex<Inside>,
}

impl Dice {
    /// Dice for `faults`, seeded.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            faults,
            state: Mutex::new((fastrand::Rng::with_seed(seed), Injected::default())),
            inside: Mutex::new(Inside::default()),
        }
    }

    /// The fault rates.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Injected {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1
    }

    fn with<T>(&self, f: impl FnOnce(&mut fastrand::Rng, &mut Injected) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (rng, injected) = &mut *state;
        f(rng, injected)
    }

    /// A number in `range`.
    pub fn between(&self, low: i64, high: i64) -> i64 {
        self.with(|rng, _| rng.i64(low..=high))
    }

    /// A random order of `items`.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        self.with(|rng, _| rng.shuffle(items));
    }

    /// Whether a fault of probability `p` happens now, counted in `count` if it does.
    fn roll(&self, p: f64, count: fn(&mut Injected) -> &mut u64) -> bool {
        self.with(|rng, injected| {
            let hit = p > 0.0 && rng.f64() < p;
            *count(injected) += u64::from(hit);
            hit
        })
    }

    /// Whether to deliver this event a second time.
    pub fn duplicate(&self) -> bool {
        self.roll(self.faults.duplicate_delivery, |i| &mut i.duplicates)
    }

    /// Extra delay of one delivery.
    pub fn delay(&self) -> i64 {
        if self.faults.reorder_ms > 0 {
            self.between(0, self.faults.reorder_ms)
        } else {
            0
        }
    }

    /// Whether this invocation crashes after publishing.
    pub fn crash(&self) -> bool {
        self.roll(self.faults.crash_after_publish, |i| &mut i.crashes)
    }

    /// Whether this table call fails.
    pub fn store_error(&self) -> bool {
        self.roll(self.faults.store_errors, |i| &mut i.store_errors)
    }

    /// How long a publish call takes, in ms: 0, or 1 to 12 s when it is slow.
    pub fn publish_latency_ms(&self) -> u64 {
        if self.roll(self.faults.slow_publish, |i| &mut i.slow_publishes) {
            self.between(1_000, 12_000).unsigned_abs()
        } else {
            0
        }
    }

    /// Starts an invocation: nothing has crashed or failed in it yet.
    pub fn begin_invocation(&self) {
        *self.inside.lock().unwrap_or_else(PoisonError::into_inner) = Inside::default();
    }

    /// Whether the current invocation crashed inside (its answer is a crash, whatever it said).
    pub fn crashed_inside(&self) -> bool {
        self.inside.lock().unwrap_or_else(PoisonError::into_inner).crashed
    }

    /// Whether recording a record done failed in the current invocation: what it sent may
    /// be sent again when the record runs again (the one window of repeats people can see).
    pub fn record_failed_inside(&self) -> bool {
        self.inside.lock().unwrap_or_else(PoisonError::into_inner).record_failed
    }

    /// Recording a record done, after its outputs went out: where a crash costs a repeat.
    fn before_record(&self) -> Fault {
        let first = !std::mem::replace(
            &mut self.inside.lock().unwrap_or_else(PoisonError::into_inner).rolled,
            true,
        );
        let crashes = first && self.roll(self.faults.crash_before_record, |i| &mut i.crashes_before_record);
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        inside.crashed |= crashes;
        if inside.crashed {
            inside.record_failed = true;
            return Fault::Fail("the function crashed before recording its work (injected)".to_owned());
        }
        drop(inside);
        let fault = self.table_fault();
        if fault != Fault::None {
            self.inside.lock().unwrap_or_else(PoisonError::into_inner).record_failed = true;
        }
        fault
    }

    fn table_fault(&self) -> Fault {
        if self.store_error() {
            Fault::Fail("ProvisionedThroughputExceededException (injected by the local cloud)".to_owned())
        } else {
            Fault::None
        }
    }
}

/// Every port call of every function goes through the dice: publishing may be slow, a record's
/// bookkeeping (the idempotency record, or any port's `save` of state after outputs) may crash
/// the invocation, and any other port (a table, a third party) may be throttled.
impl FaultPlan for Dice {
    fn before(&self, operation: &'static str) -> Fault {
        match operation {
            "Publisher::publish" => match self.publish_latency_ms() {
                0 => Fault::None,
                ms => Fault::Delay(std::time::Duration::from_millis(ms)),
            },
            "Store::complete" | "Store::mark_delivered" => self.before_record(),
            // An aggregating function's state save (`WindowStore::save`, ...) is its record:
            // it comes after the batch's outputs went out, like the idempotency record.
            saves if saves.ends_with("::save") => self.before_record(),
            _ => self.table_fault(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_same_seed_then_the_same_faults_fall_in_the_same_places() {
        let roll = |seed| {
            let dice = Dice::new(seed, Faults::random(seed));
            (0..200)
                .map(|_| (dice.duplicate(), dice.crash(), dice.store_error(), dice.delay()))
                .collect::<Vec<_>>()
        };
        assert_eq!(roll(7), roll(7));
        assert_ne!(roll(7), roll(8));
    }

    #[test]
    fn given_no_faults_then_none_is_injected() {
        let dice = Dice::new(1, Faults::none());
        assert!((0..1000).all(|_| {
            !dice.duplicate()
                && !dice.crash()
                && dice.before("Inventory::reserve") == Fault::None
                && dice.before("Store::complete") == Fault::None
                && dice.publish_latency_ms() == 0
        }));
        assert_eq!(dice.injected(), Injected::default());
    }
}

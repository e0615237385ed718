//! Fault injection with a seeded random source: the same seed gives the same faults, in the
//! same places, so a failing run can be replayed.

use std::sync::{Mutex, PoisonError};

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
        }
    }

    /// Random rates drawn from `seed`, for seeded fault runs: up to 30% duplicate deliveries,
    /// 2 s of reordering, 10% crashes and 3% failed table calls. Higher crash or table error
    /// rates exhaust a queue's 5 receives now and then: the record goes to its DLQ, as it would
    /// in AWS, its order stops short of its end, and the demo's invariants (rightly) fail.
    pub fn random(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_fa17);
        Self {
            duplicate_delivery: rng.f64() * 0.3,
            reorder_ms: rng.i64(0..=2000),
            crash_after_publish: rng.f64() * 0.1,
            store_errors: rng.f64() * 0.03,
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
}

/// The seeded source of randomness every part of the cloud draws from.
#[derive(Debug)]
pub struct Dice {
    faults: Faults,
    state: Mutex<(fastrand::Rng, Injected)>,
}

impl Dice {
    /// Dice for `faults`, seeded.
    pub fn new(seed: u64, faults: Faults) -> Self {
        Self {
            faults,
            state: Mutex::new((fastrand::Rng::with_seed(seed), Injected::default())),
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
        assert!((0..1000).all(|_| !dice.duplicate() && !dice.crash() && !dice.store_error()));
        assert_eq!(dice.injected(), Injected::default());
    }
}

//! How long to wait before trying again, and how many times: one type for every retry the
//! code makes itself, and each policy named once here. (The retries AWS makes for us,
//! `maxReceiveCount` and a rule target's `MaximumRetryAttempts`, live in the template's
//! `Delivery` mapping.)

use std::time::Duration;

/// Exponential backoff: the n-th retry (from 0) waits up to `min(cap, base * 2^n)`, with full
/// jitter (a uniform draw in `[0, ceiling]`, so writers racing on one item spread out instead
/// of colliding again, as AWS advises) or exactly the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// Tries in all, the first included.
    pub attempts: u32,
    /// Whether each wait is drawn in `[0, ceiling]` rather than the ceiling itself.
    pub jitter: bool,
}

/// Publishing a batch's outputs: entries that failed for now, again (EventBridge, SNS, SQS).
pub const PUBLISH: Backoff = Backoff::full_jitter(Duration::from_millis(50), Duration::from_secs(2), 4);

/// Recording a record's result in the idempotency table that failed for now. 50 then 100 ms:
/// the record's outputs are out, and the deadline is near.
pub const RECORD_RESULT: Backoff = Backoff::exact(Duration::from_millis(50), Duration::from_millis(100), 3);

/// A conditional write of an aggregate's state (sensors' streams and alert periods) another
/// invocation won: re-read, re-apply, write again, within the deadline. Twelve tries: one busy
/// stream fed by up to 10 invocations at once (its queue's `MaximumConcurrency`) loses at most
/// 9 races in a row; then the records come back to the queue.
pub const AFTER_CONFLICT: Backoff = Backoff::full_jitter(Duration::from_millis(5), Duration::from_millis(100), 12);

/// A conditional write of an order's view another record of the same order won.
pub const VIEW_CONFLICT: Backoff = Backoff::exact(Duration::from_millis(10), Duration::from_secs(1), 8);

/// A DynamoDB batch call (BatchGetItem, BatchWriteItem) that left entries unprocessed (the
/// table is throttled): the rest is sent again; after the last round it is a transient failure.
pub const UNPROCESSED_ITEMS: Backoff = Backoff::full_jitter(Duration::from_millis(25), Duration::from_millis(800), 6);

impl Backoff {
    /// Waits drawn in `[0, ceiling]`.
    pub const fn full_jitter(base: Duration, cap: Duration, attempts: u32) -> Self {
        Self {
            base,
            cap,
            attempts,
            jitter: true,
        }
    }

    /// Waits of exactly the ceiling.
    pub const fn exact(base: Duration, cap: Duration, attempts: u32) -> Self {
        Self {
            base,
            cap,
            attempts,
            jitter: false,
        }
    }

    /// The same policy with `attempts` tries.
    #[must_use]
    pub const fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The longest wait before retry `retry` (0 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base.saturating_mul(2u32.saturating_pow(retry)).min(self.cap)
    }

    /// The wait before retry `retry`, drawn at random.
    pub fn delay(&self, retry: u32) -> Duration {
        self.drawn(retry, |millis| fastrand::u64(0..=millis))
    }

    /// The wait before retry `retry`, drawn from `salt` (say, a hash of what the batch holds)
    /// rather than a random source: a simulated run replays exactly, and different batches
    /// still draw differently.
    pub fn delay_salted(&self, retry: u32, salt: u64) -> Duration {
        self.drawn(retry, |millis| {
            splitmix64(salt ^ u64::from(retry).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % millis.saturating_add(1)
        })
    }

    /// Sleeps [`Self::delay`].
    pub async fn wait(&self, retry: u32) {
        tokio::time::sleep(self.delay(retry)).await;
    }

    /// Sleeps [`Self::delay_salted`].
    pub async fn wait_salted(&self, retry: u32, salt: u64) {
        tokio::time::sleep(self.delay_salted(retry, salt)).await;
    }

    /// The ceiling, or `draw(ceiling in ms)` with jitter.
    fn drawn(&self, retry: u32, draw: impl FnOnce(u64) -> u64) -> Duration {
        let ceiling = self.ceiling(retry);
        if !self.jitter {
            return ceiling;
        }
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(draw(millis))
    }
}

/// A well-spread 64-bit draw from one number.
fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let ceilings: Vec<u128> = (0..7).map(|n| UNPROCESSED_ITEMS.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [25, 50, 100, 200, 400, 800, 800]);
        assert_eq!(RECORD_RESULT.ceiling(0), Duration::from_millis(50));
        assert_eq!(RECORD_RESULT.ceiling(1), Duration::from_millis(100));
        assert_eq!(AFTER_CONFLICT.ceiling(40), Duration::from_millis(100), "no overflow");
    }

    #[test]
    fn an_exact_policy_waits_the_ceiling_and_a_jittered_one_within_it() {
        assert_eq!(VIEW_CONFLICT.delay(1), Duration::from_millis(20));
        for retry in 0..10 {
            assert!(PUBLISH.delay(retry) <= PUBLISH.ceiling(retry));
            assert!(AFTER_CONFLICT.delay_salted(retry, 7) <= AFTER_CONFLICT.ceiling(retry));
        }
    }

    #[test]
    fn a_salted_draw_replays_and_spreads() {
        assert_eq!(AFTER_CONFLICT.delay_salted(3, 42), AFTER_CONFLICT.delay_salted(3, 42));
        let draws: std::collections::BTreeSet<Duration> =
            (0..64).map(|salt| AFTER_CONFLICT.delay_salted(4, salt)).collect();
        assert!(draws.len() > 20, "{} distinct waits of 64", draws.len());
    }
}

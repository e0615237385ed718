//! Rounds of a batch call (BatchGetItem, BatchWriteItem) whose answer leaves entries
//! unprocessed (the table is throttled): each round sends only what is left, after the kit's
//! [`UNPROCESSED_ITEMS`] backoff; after its last round the rest is a transient failure, so the
//! records are retried later rather than the invocation spent waiting.

use handler_kit::backoff::UNPROCESSED_ITEMS;

use crate::error::StoreFailure;

/// The rounds of one batch call.
#[derive(Debug)]
pub(crate) struct Rounds {
    operation: &'static str,
    sent: u32,
}

impl Rounds {
    /// The first round of `operation` is about to be sent.
    pub(crate) fn new(operation: &'static str) -> Self {
        Self { operation, sent: 1 }
    }

    /// A round left `left` entries unprocessed: waits before the next one, or, after the last,
    /// fails transiently.
    pub(crate) async fn backoff(&mut self, left: usize) -> Result<(), StoreFailure> {
        if self.sent >= UNPROCESSED_ITEMS.attempts {
            return Err(StoreFailure::transient(
                self.operation,
                format!(
                    "{left} entries still unprocessed after {} calls (the table is throttled): retry later",
                    UNPROCESSED_ITEMS.attempts
                ),
            ));
        }
        UNPROCESSED_ITEMS.wait(self.sent - 1).await;
        self.sent += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a panic is how a test reports failure

    use std::time::Duration;

    use envelope::ErrorClass;
    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn given_entries_left_every_round_then_it_fails_transiently_after_the_last_within_the_backoff_bounds() {
        let started = Instant::now();
        let mut rounds = Rounds::new("put sensors");
        for _ in 1..UNPROCESSED_ITEMS.attempts {
            rounds.backoff(3).await.unwrap();
        }
        let failed = rounds.backoff(3).await.unwrap_err();
        assert_eq!(failed.class, ErrorClass::Transient);
        assert_eq!(
            failed.to_string(),
            "put sensors: 3 entries still unprocessed after 6 calls (the table is throttled): retry later"
        );
        // 25 + 50 + 100 + 200 + 400 ms at most.
        assert!(
            started.elapsed() <= Duration::from_millis(775),
            "{:?}",
            started.elapsed()
        );
    }
}

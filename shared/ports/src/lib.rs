//! Ports declared once, and faults for any of them.
//!
//! A port is an async trait a domain's logic calls (a store, a gateway). [`port!`] declares
//! it and, with it, the implementation of the port for [`Faulty<T>`]: the same port, with the
//! faults a [`FaultPlan`] decides injected around each call. So the local cloud (or a test)
//! can make any port slow, fail it, or fail it after its effect happened, without a wrapper
//! written by hand per trait:
//!
//! ```
//! # use std::sync::Arc;
//! #[derive(Debug, thiserror::Error)]
//! #[error("{0}")]
//! pub struct GatewayDown(String);
//! impl From<ports::Injected> for GatewayDown {
//!     fn from(injected: ports::Injected) -> Self {
//!         Self(injected.to_string())
//!     }
//! }
//!
//! ports::port! {
//!     /// Charges cards.
//!     pub trait Gateway {
//!         /// Charges `cents`.
//!         fn charge(&self, cents: u64) -> Result<String, GatewayDown>;
//!     }
//! }
//!
//! struct Approve;
//! impl Gateway for Approve {
//!     async fn charge(&self, cents: u64) -> Result<String, GatewayDown> {
//!         Ok(format!("charged {cents}"))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let failing = ports::Faulty::new(Approve, Arc::new(ports::FailEvery("Gateway::charge")));
//! assert!(failing.charge(5).await.is_err());
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

/// What to do to one call of a port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Nothing: the call goes through.
    #[default]
    None,
    /// The call answers only after this long (a throttled or distant service).
    Delay(Duration),
    /// The call fails with this reason (before it runs: no effect; after: its effect stays).
    Fail(String),
}

/// Decides the faults of every port call, by operation name (`Trait::method`).
pub trait FaultPlan: Send + Sync {
    /// Before `operation` runs: go on, wait, or fail without running it.
    fn before(&self, operation: &'static str) -> Fault;

    /// After `operation` ran (`succeeded` or not): the caller may still be told it failed, as
    /// after a timeout or a crash that came after the effect. Delays here delay the answer.
    fn after(&self, operation: &'static str, succeeded: bool) -> Fault {
        let _ = (operation, succeeded);
        Fault::None
    }
}

/// No faults at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFaults;

impl FaultPlan for NoFaults {
    fn before(&self, _: &'static str) -> Fault {
        Fault::None
    }
}

/// Fails every call of one operation, before it runs (for tests).
#[derive(Debug, Clone, Copy)]
pub struct FailEvery(pub &'static str);

impl FaultPlan for FailEvery {
    fn before(&self, operation: &'static str) -> Fault {
        if operation == self.0 {
            Fault::Fail(format!("{operation} failed (injected)"))
        } else {
            Fault::None
        }
    }
}

/// A failure a [`FaultPlan`] injected. A port's error type converts from it (as a transient
/// failure: it is what a throttled or unreachable service looks like).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {reason}")]
pub struct Injected {
    /// The operation (`Trait::method`).
    pub operation: &'static str,
    /// Why, as the plan said.
    pub reason: String,
}

/// A port with faults injected around each call, as its [`FaultPlan`] decides. Implemented for
/// every port declared with [`port!`].
pub struct Faulty<T> {
    inner: T,
    plan: Arc<dyn FaultPlan>,
}

impl<T> std::fmt::Debug for Faulty<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faulty").finish_non_exhaustive()
    }
}

impl<T> Faulty<T> {
    /// `inner`, with the faults of `plan`.
    pub fn new(inner: T, plan: Arc<dyn FaultPlan>) -> Self {
        Self { inner, plan }
    }

    /// The port without faults.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Applies the plan before `operation`.
    pub async fn before(&self, operation: &'static str) -> Result<(), Injected> {
        apply(operation, self.plan.before(operation)).await
    }

    /// Applies the plan after `operation`.
    pub async fn after(&self, operation: &'static str, succeeded: bool) -> Result<(), Injected> {
        apply(operation, self.plan.after(operation, succeeded)).await
    }
}

async fn apply(operation: &'static str, fault: Fault) -> Result<(), Injected> {
    match fault {
        Fault::None => Ok(()),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
        Fault::Fail(reason) => Err(Injected { operation, reason }),
    }
}

/// Declares a port: an async trait (`Send + Sync`, each method returning a `Send` future of a
/// `Result` whose error converts from [`Injected`]), its implementation for [`Faulty<T>`], and
/// for `Arc<T>` (a port shared by several users).
///
/// Each method is written `fn name(&self, arg: Type, ...) -> Result<Ok, Err>;` and is
/// implemented with `async fn` as usual.
#[macro_export]
macro_rules! port {
    (
        $(#[$meta:meta])*
        $vis:vis trait $name:ident {
            $(
                $(#[$method_meta:meta])*
                fn $method:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> Result<$ok:ty, $err:ty>;
            )*
        }
    ) => {
        $(#[$meta])*
        $vis trait $name: Send + Sync {
            $(
                $(#[$method_meta])*
                fn $method(&self $(, $arg: $ty)*)
                    -> impl ::core::future::Future<Output = Result<$ok, $err>> + Send;
            )*
        }

        /// The port shared by several users (functions of one run share a table).
        impl<T: $name + ?Sized> $name for ::std::sync::Arc<T> {
            $(
                fn $method(&self $(, $arg: $ty)*)
                    -> impl ::core::future::Future<Output = Result<$ok, $err>> + Send {
                    (**self).$method($($arg),*)
                }
            )*
        }

        impl<T: $name> $name for $crate::Faulty<T> {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> Result<$ok, $err> {
                    const OPERATION: &str = concat!(stringify!($name), "::", stringify!($method));
                    self.before(OPERATION).await?;
                    let result = self.inner().$method($($arg),*).await;
                    self.after(OPERATION, result.is_ok()).await?;
                    result
                }
            )*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error("{0}")]
    struct Down(String);
    impl From<Injected> for Down {
        fn from(injected: Injected) -> Self {
            Self(injected.to_string())
        }
    }

    port! {
        /// A counter.
        trait Counter {
            /// Adds `n`.
            fn add(&self, n: u64, label: &str) -> Result<u64, Down>;
        }
    }

    #[derive(Default)]
    struct Memory(Mutex<u64>);
    impl Counter for Memory {
        async fn add(&self, n: u64, _label: &str) -> Result<u64, Down> {
            let mut total = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *total += n;
            Ok(*total)
        }
    }

    /// Fails after the step: the effect happens, the caller is told it failed.
    struct AfterAdd;
    impl FaultPlan for AfterAdd {
        fn before(&self, _: &'static str) -> Fault {
            Fault::None
        }
        fn after(&self, operation: &'static str, _: bool) -> Fault {
            Fault::Fail(format!("crashed after {operation}"))
        }
    }

    struct Slow;
    impl FaultPlan for Slow {
        fn before(&self, _: &'static str) -> Fault {
            Fault::Delay(Duration::from_secs(3))
        }
    }

    #[tokio::test]
    async fn given_no_faults_then_the_port_answers_as_itself() {
        let counter = Faulty::new(Memory::default(), Arc::new(NoFaults));
        assert_eq!(counter.add(2, "a").await, Ok(2));
    }

    #[tokio::test]
    async fn given_a_failure_before_then_the_call_does_not_run_and_its_operation_is_named() {
        let counter = Faulty::new(Memory::default(), Arc::new(FailEvery("Counter::add")));
        assert_eq!(
            counter.add(2, "a").await,
            Err(Down("Counter::add: Counter::add failed (injected)".into()))
        );
        assert_eq!(counter.inner().add(0, "b").await, Ok(0), "nothing was added");
    }

    #[tokio::test]
    async fn given_a_failure_after_then_the_effect_stays_and_the_caller_sees_a_failure() {
        let counter = Faulty::new(Memory::default(), Arc::new(AfterAdd));
        assert!(counter.add(2, "a").await.is_err());
        assert_eq!(counter.inner().add(0, "b").await, Ok(2), "the step happened");
    }

    #[tokio::test(start_paused = true)]
    async fn given_a_delay_then_the_answer_comes_that_much_later() {
        let counter = Faulty::new(Memory::default(), Arc::new(Slow));
        let started = tokio::time::Instant::now();
        assert_eq!(counter.add(1, "a").await, Ok(1));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}

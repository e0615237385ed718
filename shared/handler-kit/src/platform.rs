//! Where a function runs: the adapters a builder gets. One composition root per function
//! (its `build`), generic over the platform: AWS (`aws::AwsPlatform`, in `main.rs`) or the local
//! cloud ([`crate::local::LocalPlatform`]). A domain adds its own ports as traits over
//! [`Platform`] (e.g. `Inventories`), implemented beside each port for both platforms.

use std::sync::Arc;

use idempotency::{Clock, Idempotency, Store};

use crate::aggregate::{BatchHandler, BatchProcessor};
use crate::config::{ConfigError, Env, KitConfig};
use crate::function::{Function, IDEMPOTENCY_TABLE, Outputs, Setting};
use crate::publish::{Parking, Publisher};
use crate::records::{RecordHandler, RecordProcessor};

/// The adapters every function gets from where it runs.
pub trait Platform: Send + Sync + 'static {
    /// The idempotency store.
    type Store: Store + 'static;
    /// Where unprocessable records are parked.
    type Parking: Parking + 'static;

    /// The function's environment, read once.
    fn env(&self) -> &Env;

    /// The clock event times come from.
    fn clock(&self) -> Arc<dyn Clock>;

    /// The idempotency store over `table`.
    fn idempotency_store(&self, table: &str) -> Self::Store;

    /// Parking on the queue at `queue_url`.
    fn parking(&self, queue_url: &str) -> Self::Parking;

    /// The value of `setting`, which must be set (and, where the platform can tell, name a
    /// resource that exists).
    fn setting(&self, setting: &Setting) -> Result<String, ConfigError> {
        self.env().required(setting.variable, setting.purpose)
    }
}

/// A platform that can publish to `O`'s destination.
pub trait PublishesTo<O: Outputs>: Platform {
    /// The publisher.
    type Publisher: Publisher + 'static;

    /// The publisher to `outputs`' destination.
    fn publisher(&self, outputs: &O) -> Result<Self::Publisher, ConfigError>;
}

/// The batch processor of aggregating handler `H` on platform `P` publishing to `O`.
pub type BatchProcessorOn<P, O, H> = BatchProcessor<H, <P as PublishesTo<O>>::Publisher, <P as Platform>::Parking>;

/// The processor of an aggregating function, with the function's deployed name: `handler`
/// behind the platform's publisher and parking (its state is its own: no idempotency store).
pub fn batch_processor<P, T, O, H>(
    platform: &P,
    function: &Function<T, O>,
    handler: H,
) -> Result<(String, BatchProcessorOn<P, O, H>), ConfigError>
where
    P: PublishesTo<O>,
    O: Outputs,
    H: BatchHandler,
{
    let kit = KitConfig::from_env(platform.env())?;
    let processor = BatchProcessor::new(
        &kit.function_name,
        handler,
        platform.publisher(&function.outputs)?,
        platform.parking(&kit.parking_queue_url),
    )
    .with_limits(kit.limits());
    Ok((kit.function_name, processor))
}

/// The processor of handler `H` on platform `P` publishing to `O`.
pub type ProcessorOn<P, O, H> =
    RecordProcessor<H, <P as Platform>::Store, <P as PublishesTo<O>>::Publisher, <P as Platform>::Parking>;

/// The processor of an event-driven function, with the function's deployed name: `handler` behind the platform's idempotency
/// store, publisher and parking, tuned by the kit's settings.
pub fn processor<P, T, O, H>(
    platform: &P,
    function: &Function<T, O>,
    handler: H,
) -> Result<(String, ProcessorOn<P, O, H>), ConfigError>
where
    P: PublishesTo<O>,
    O: Outputs,
    H: RecordHandler,
{
    let kit = KitConfig::from_env(platform.env())?;
    // Only a function whose work the kit keeps once reads the idempotency table.
    let table = platform.setting(&IDEMPOTENCY_TABLE)?;
    let mut idempotency = Idempotency::new(&kit.function_name, platform.idempotency_store(&table))
        .with_ttl(kit.idempotency_ttl)
        .with_clock(platform.clock());
    if !function.outputs.may_be_kept() {
        idempotency = idempotency.keeping_digests_only();
    }
    let processor = RecordProcessor::new(
        &kit.function_name,
        handler,
        idempotency,
        platform.publisher(&function.outputs)?,
        platform.parking(&kit.parking_queue_url),
    )
    .with_limits(kit.limits());
    Ok((kit.function_name, processor))
}

//! process-payment: on `InventoryReserved`, charges the order through a [`PaymentGateway`] and
//! publishes `PaymentCompleted`, or `PaymentFailed` carrying the reserved lines for release.
//! A gateway that cannot answer is a transient failure (the record is retried); a decline is an
//! outcome, not a failure, and is never retried. The gateway here is [`SimulatedGateway`], whose
//! test tokens (`tok_approve`, `tok_decline`, `tok_unavailable`, `tok_flaky`, ...) the demo uses.
//!
//! The payment token arrives sealed; this function alone may open it ([`FIELD_KEY`]), and
//! only to hand it to the gateway: it is in no event it publishes and in no log line. It opens
//! only for the order being charged (its event's subject and order id): a token copied from
//! another order's event is parked naming the field, never its value, and so is a token in
//! clear, whatever version the event claims (an upcast `InventoryReserved` v1 or `OrderPlaced`
//! v2 still carries one): a clear token is bound to no order, and anyone who may put an event
//! could write an old version with any token they know.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use envelope::{Envelope, Location, Metadata, Registry};
use field_crypto::{FieldCipher, KeyService};
use handler_kit::config::ConfigError;
use handler_kit::local::{LocalPlatform, LocalTable};
use handler_kit::trigger::Sqs;
use handler_kit::{Bus, Clock, FieldKeysPort, Function, HandlerError, Platform, RecordHandler, Setting};
use orders::decisions::{self, PaymentOutcome};
use orders::events::{InventoryReserved, personal};
use ports::Faulty;
use serde_json::Value;

/// What to charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The order.
    pub order_id: String,
    /// In minor units.
    pub amount: u64,
    /// ISO 4217 code.
    pub currency: String,
    /// The payment method's token.
    pub token: Option<String>,
    /// The gateway's idempotency key: a retried charge must not charge twice.
    pub idempotency_key: String,
}

/// The gateway did not answer; the same charge may succeed later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment gateway unavailable for order {order_id}")]
pub struct GatewayUnavailable {
    /// The order.
    pub order_id: String,
}

/// A fault injected into the gateway (the local cloud) is a gateway that did not answer.
impl From<ports::Injected> for GatewayUnavailable {
    fn from(injected: ports::Injected) -> Self {
        Self {
            order_id: injected.reason,
        }
    }
}

ports::port! {
    /// The payment gateway port.
    pub trait PaymentGateway {
        /// Charges, answering approved or declined, or that it could not answer.
        fn charge(&self, charge: &Charge) -> Result<PaymentOutcome, GatewayUnavailable>;
    }
}

/// A deterministic gateway for tests, the local cloud and demos. Test tokens:
///
/// | token | answer |
/// |---|---|
/// | `tok_approve` | approved; payment id derived from the idempotency key |
/// | `tok_decline` | declined: card declined |
/// | `tok_insufficient_funds` | declined: insufficient funds |
/// | `tok_unavailable` | gateway unavailable, always |
/// | `tok_flaky` | gateway unavailable on the first attempt of each charge, then approved |
/// | none | declined: no payment method |
/// | anything else | declined: unknown payment token |
///
/// Like a real gateway it keeps a ledger: one charge per idempotency key, however often asked.
#[derive(Debug, Default)]
pub struct SimulatedGateway {
    attempted: Mutex<HashSet<String>>,
    approved: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl SimulatedGateway {
    /// How many distinct charges `order_id` got.
    pub fn charges(&self, order_id: &str) -> usize {
        self.approved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order_id)
            .map_or(0, BTreeSet::len)
    }

    fn record(&self, charge: &Charge) {
        self.approved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(charge.order_id.clone())
            .or_default()
            .insert(charge.idempotency_key.clone());
    }
}

/// The simulated third party, shared by every invocation of a local run.
impl LocalTable for SimulatedGateway {}

impl PaymentGateway for SimulatedGateway {
    async fn charge(&self, charge: &Charge) -> Result<PaymentOutcome, GatewayUnavailable> {
        let approved = || {
            self.record(charge);
            PaymentOutcome::Approved {
                payment_id: format!(
                    "pay-{}",
                    &charge.idempotency_key.replace('-', "")[..12.min(charge.idempotency_key.len())]
                ),
            }
        };
        let declined = |reason: &str| PaymentOutcome::Declined {
            reason: reason.to_owned(),
        };
        let unavailable = || GatewayUnavailable {
            order_id: charge.order_id.clone(),
        };
        match charge.token.as_deref() {
            Some("tok_approve") => Ok(approved()),
            Some("tok_decline") => Ok(declined("card declined")),
            Some("tok_insufficient_funds") => Ok(declined("insufficient funds")),
            Some("tok_unavailable") => Err(unavailable()),
            Some("tok_flaky") => {
                let first = self
                    .attempted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(charge.idempotency_key.clone());
                if first { Err(unavailable()) } else { Ok(approved()) }
            }
            None => Ok(declined("no payment method")),
            Some(_) => Ok(declined("unknown payment token")),
        }
    }
}

/// Charges reserved orders.
pub struct ProcessPayment<G, K> {
    gateway: G,
    cipher: FieldCipher<K>,
    clock: Arc<dyn Clock>,
}

impl<G: PaymentGateway, K: KeyService> ProcessPayment<G, K> {
    /// Charges through `gateway`, opening tokens with `cipher`, with event times from `clock`.
    pub fn new(gateway: G, cipher: FieldCipher<K>, clock: Arc<dyn Clock>) -> Self {
        Self { gateway, cipher, clock }
    }

    async fn charge_of(&self, metadata: &Metadata, reserved: &InventoryReserved) -> Result<Charge, HandlerError> {
        let token = match &reserved.payment_token {
            Some(token) => {
                let order = personal::subject(metadata, &reserved.order_id)?;
                Some(self.cipher.reveal(personal::PAYMENT_TOKEN, order, token).await?)
            }
            None => None,
        };
        Ok(Charge {
            order_id: reserved.order_id.clone(),
            amount: reserved.total,
            currency: reserved.currency.clone(),
            token,
            idempotency_key: metadata.id.to_string(),
        })
    }
}

impl<G: PaymentGateway, K: KeyService> RecordHandler for ProcessPayment<G, K> {
    fn event_types(&self) -> Registry {
        Registry::new().register::<InventoryReserved>()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let reserved = event.into_typed::<InventoryReserved>(&Location::root())?;
        let charge = self.charge_of(&reserved.metadata, &reserved.data).await?;
        let outcome = self
            .gateway
            .charge(&charge)
            .await
            .map_err(|e| HandlerError::transient("gateway-unavailable", e))?;
        Ok(vec![decisions::payment_decided(&reserved, outcome, self.clock.now())?])
    }
}

/// A platform that gives the payment gateway port.
pub trait GatewayPort: Platform {
    /// The adapter.
    type Gateway: PaymentGateway + 'static;

    /// The gateway.
    fn gateway(&self) -> Result<Self::Gateway, ConfigError>;
}

/// The name the local cloud keeps the simulated gateway (and its ledger) under.
pub const LOCAL_GATEWAY: &str = "payment-gateway";

impl GatewayPort for LocalPlatform {
    type Gateway = Faulty<Arc<SimulatedGateway>>;

    fn gateway(&self) -> Result<Self::Gateway, ConfigError> {
        Ok(self.faulty(self.table(LOCAL_GATEWAY, SimulatedGateway::default)?))
    }
}

/// On AWS the gateway is the simulated one too: a real gateway is one more adapter of
/// [`PaymentGateway`], and one more implementation here.
#[cfg(feature = "aws")]
impl GatewayPort for handler_kit::lambda::AwsPlatform {
    type Gateway = SimulatedGateway;

    fn gateway(&self) -> Result<SimulatedGateway, ConfigError> {
        Ok(SimulatedGateway::default())
    }
}

/// process-payment, declared once: SQS in, events to the bus.
pub const FUNCTION: Function<Sqs, Bus> = Function {
    name: "process-payment",
    trigger: Sqs,
    outputs: Bus {
        sources: &[orders::events::SOURCE],
    },
    settings: &[FIELD_KEY],
    idempotent: true,
};

/// The key personal fields are sealed under: this function may open the payment token alone.
pub const FIELD_KEY: Setting = Setting::key("FIELD_KEY_ID", "the KMS key personal fields are sealed under")
    .calls(&[field_crypto::DECRYPT])
    .fields(&[personal::PAYMENT_TOKEN]);

/// The function's one composition root, on any platform.
pub fn build<P: GatewayPort + FieldKeysPort>(platform: &P) -> Result<ProcessPayment<P::Gateway, P::Keys>, ConfigError> {
    Ok(ProcessPayment::new(
        platform.gateway()?,
        platform.field_cipher(&FIELD_KEY)?,
        platform.clock(),
    ))
}

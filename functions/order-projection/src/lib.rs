//! order-projection: the CQRS query side. On every order event, applies it to the order's
//! tracking view if it is newer than the view; duplicates and late events change nothing.
//! An event older than the view only adds its step and details. Records of one order racing
//! in a batch cannot lose each other's updates: a save only succeeds if the view is unchanged
//! since it was read, else the event is applied again.

use envelope::{Envelope, ErrorClass, Registry};
use handler_kit::config::ConfigError;
use handler_kit::{Function, Handler, HandlerError, Nowhere, Setting, Trigger};
use order_stores::{OrderViews, Saved, ViewsPort};
use orders::lifecycle::{Applied, OrderEvent, OrderView};
use serde_json::Value;

/// Attempts of read, apply, conditional save before the record is retried later.
const ATTEMPTS: usize = 8;

/// Keeps order-tracking views.
pub struct OrderProjection<V> {
    views: V,
}

impl<V: OrderViews> OrderProjection<V> {
    /// Keeps views in `views`.
    pub fn new(views: V) -> Self {
        Self { views }
    }

    /// The views, e.g. to inspect in-memory ones.
    pub fn views(&self) -> &V {
        &self.views
    }
}

impl<V: OrderViews> Handler for OrderProjection<V> {
    fn event_types(&self) -> Registry {
        orders::registry()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let (metadata, event) = OrderEvent::from_envelope(event)?;
        let store = |e: order_stores::StoreFailure| HandlerError::classified(e.class, "order-views", e);
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Another record of this order won the race: give it a moment, then re-read.
                tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
            }
            let current = self.views.get(event.order_id()).await.map_err(store)?;
            let view = match OrderView::apply(current.as_ref(), &metadata, &event) {
                Ok(Applied::Updated(view)) => view,
                Ok(Applied::Stale { current, received }) => {
                    tracing::info!(current, received, "stale event: the view is already newer");
                    return Ok(Vec::new());
                }
                Err(err) => return Err(HandlerError::permanent("invalid-transition", err)),
            };
            let revision = current.map(|c| c.timeline.len());
            if self.views.save_if_unchanged(&view, revision).await.map_err(store)? == Saved::Written {
                return Ok(Vec::new());
            }
        }
        Err(HandlerError::classified(
            ErrorClass::Transient,
            "order-views",
            format!(
                "order {}: the view kept changing under {ATTEMPTS} attempts",
                event.order_id()
            ),
        ))
    }
}

/// The table of order-tracking views.
pub const ORDERS_TABLE: Setting = Setting::table("ORDERS_TABLE", "the DynamoDB table of order-tracking views");

/// order-projection, declared once: SQS in, views in `ORDERS_TABLE`, nothing published.
pub const FUNCTION: Function<Nowhere> = Function {
    name: "order-projection",
    trigger: Trigger::Sqs,
    schedule: None,
    outputs: Nowhere,
    settings: &[ORDERS_TABLE],
};

/// The function's one composition root, on any platform.
pub fn build<P: ViewsPort>(platform: &P) -> Result<OrderProjection<P::Views>, ConfigError> {
    Ok(OrderProjection::new(platform.views(&platform.setting(&ORDERS_TABLE)?)?))
}

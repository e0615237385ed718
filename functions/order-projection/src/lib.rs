//! order-projection: the CQRS query side. On every order event, applies it to the order's
//! tracking view if it is newer than the view; duplicates and late events change nothing.
//! An event older than the view only adds its step and details. Records of one order racing
//! in a batch cannot lose each other's updates: a save only succeeds if the view is unchanged
//! since it was read, else the event is applied again.

use envelope::{Envelope, ErrorClass, Registry};
use handler_kit::backoff::VIEW_CONFLICT;
use handler_kit::config::ConfigError;
use handler_kit::trigger::Sqs;
use handler_kit::{Function, HandlerError, Nowhere, RecordHandler, Setting};
use order_stores::{OrderViews, Saved, ViewsPort};
use orders::lifecycle::{Applied, OrderEvent, OrderView};
use serde_json::Value;

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

impl<V: OrderViews> RecordHandler for OrderProjection<V> {
    fn event_types(&self) -> Registry {
        orders::registry()
    }

    async fn handle(&self, event: Envelope<Value>) -> Result<Vec<Envelope<Value>>, HandlerError> {
        let (metadata, event) = OrderEvent::from_envelope(event)?;
        let store = |e: order_stores::StoreFailure| HandlerError::classified(e.class, "order-views", e);
        for attempt in 0..VIEW_CONFLICT.attempts {
            if attempt > 0 {
                // Another record of this order won the race: give it a moment, then re-read.
                VIEW_CONFLICT.wait(attempt - 1).await;
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
                "order {}: the view kept changing under {} attempts",
                event.order_id(),
                VIEW_CONFLICT.attempts
            ),
        ))
    }
}

/// The table of order-tracking views.
pub const ORDERS_TABLE: Setting = Setting::table("ORDERS_TABLE", "the DynamoDB table of order-tracking views");

/// order-projection, declared once: SQS in, views in `ORDERS_TABLE`, nothing published.
pub const FUNCTION: Function<Sqs, Nowhere> = Function {
    name: "order-projection",
    trigger: Sqs,
    outputs: Nowhere,
    // Read the view, write it if unchanged (a conditional Put).
    settings: &[ORDERS_TABLE.calls(&["dynamodb:GetItem", "dynamodb:PutItem"])],
    idempotent: true,
};

/// The function's one composition root, on any platform.
pub fn build<P: ViewsPort>(platform: &P) -> Result<OrderProjection<P::Views>, ConfigError> {
    Ok(OrderProjection::new(platform.views(&platform.setting(&ORDERS_TABLE)?)?))
}

/// What a rebuild did and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Order streams folded.
    pub orders: usize,
    /// Events read.
    pub events: usize,
    /// Each order whose rebuilt view differs from the live one, with the fields that differ.
    pub differences: Vec<String>,
    /// Each order whose live view is behind the store (its newest events not projected yet:
    /// the projection and the archive each lag the bus on their own), not a difference.
    pub lagging: Vec<String>,
}

/// Why a rebuild stopped.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The store or a table failed.
    #[error("{0}")]
    Store(String),
    /// A stored event cannot be read by the projection's code.
    #[error("stream {stream}: {reason}")]
    Unreadable {
        /// The stream.
        stream: String,
        /// Why.
        reason: String,
    },
    /// The table to rebuild into already holds a view.
    #[error("order {0}: the table to rebuild into already holds it; rebuild into a fresh table")]
    NotFresh(String),
}

/// Rebuilds the order-tracking views from history: every order stream in `store` folded with
/// the projection's own rule (not through the bus, so no idempotency record absorbs it) into
/// the fresh views `into`, then compared with `live`, order by order.
pub async fn rebuild<S, V, L>(store: &S, into: &V, live: &L) -> Result<Rebuilt, RebuildError>
where
    S: event_store::EventStore,
    V: OrderViews,
    L: OrderViews,
{
    let failed = |e: &dyn std::fmt::Display| RebuildError::Store(e.to_string());
    let mut events = store.all_from(orders::events::SOURCE).await.map_err(|e| failed(&e))?;
    let mut rebuilt = Rebuilt {
        events: events.len(),
        ..Rebuilt::default()
    };
    // Streams one after the other, each in its order (a scan returns them in none).
    events.sort_unstable_by(|a, b| (&a.stream, &a.position).cmp(&(&b.stream, &b.position)));
    let mut views = std::collections::BTreeMap::new();
    let mut events = events.into_iter().peekable();
    while let Some(first) = events.next() {
        let stream = first.stream.clone();
        let rest = std::iter::from_fn(|| events.next_if(|e| e.stream == stream));
        let view = OrderView::fold(std::iter::once(first).chain(rest).map(|e| e.envelope)).map_err(|e| {
            RebuildError::Unreadable {
                stream: stream.clone(),
                reason: e.to_string(),
            }
        })?;
        let Some(view) = view else { continue };
        if into.save_if_unchanged(&view, None).await.map_err(|e| failed(&e))? == Saved::Conflict {
            return Err(RebuildError::NotFresh(view.order_id));
        }
        views.insert(view.order_id.clone(), view);
    }
    rebuilt.orders = views.len();
    let mut live: std::collections::BTreeMap<String, OrderView> = live
        .all()
        .await
        .map_err(|e| failed(&e))?
        .into_iter()
        .map(|v| (v.order_id.clone(), v))
        .collect();
    for (order_id, view) in &views {
        match live.remove(order_id) {
            None => rebuilt.differences.push(format!("{order_id}: not in the live view")),
            Some(current) if current.sequence < view.sequence => rebuilt.lagging.push(format!(
                "{order_id}: live at sequence {}, the store at {}",
                current.sequence, view.sequence
            )),
            Some(current) if current != *view => {
                rebuilt
                    .differences
                    .push(format!("{order_id}: {}", fields_differing(&current, view)));
            }
            Some(_) => {}
        }
    }
    for order_id in live.keys() {
        rebuilt
            .differences
            .push(format!("{order_id}: in the live view, no events in the store"));
    }
    Ok(rebuilt)
}

/// The fields of two views that differ, each with the live and the rebuilt value.
fn fields_differing(live: &OrderView, rebuilt: &OrderView) -> String {
    let (Ok(Value::Object(live)), Ok(Value::Object(rebuilt))) =
        (serde_json::to_value(live), serde_json::to_value(rebuilt))
    else {
        return "the views differ".to_owned();
    };
    let mut names: Vec<&String> = live.keys().chain(rebuilt.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| live.get(*name) != rebuilt.get(*name))
        .map(|name| {
            let show = |v: Option<&Value>| v.map_or_else(|| "absent".to_owned(), Value::to_string);
            format!(
                "{name} live {} rebuilt {}",
                show(live.get(name)),
                show(rebuilt.get(name))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

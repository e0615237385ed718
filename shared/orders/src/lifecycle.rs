//! An order's lifecycle: which step follows which, and the order-tracking view built from its
//! events (the CQRS query side), which ignores stale and duplicate events by sequence.
//!
//! ```text
//! placed(1) -> reserved(2) -> paid(3) -> shipped(4)
//!           \-> rejected(2)  \-> payment-failed(3) -> cancelled(4, stock released)
//! ```

use chrono::{DateTime, Utc};
use envelope::{Envelope, EnvelopeError, Location, Metadata};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{
    Contact, InventoryReleased, InventoryReserved, OrderLine, OrderPlaced, OrderRejected, OrderShipped,
    PaymentCompleted, PaymentFailed,
};

/// An orders event, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// See [`OrderPlaced`].
    Placed(OrderPlaced),
    /// See [`InventoryReserved`].
    Reserved(InventoryReserved),
    /// See [`OrderRejected`].
    Rejected(OrderRejected),
    /// See [`PaymentCompleted`].
    PaymentCompleted(PaymentCompleted),
    /// See [`PaymentFailed`].
    PaymentFailed(PaymentFailed),
    /// See [`InventoryReleased`].
    Released(InventoryReleased),
    /// See [`OrderShipped`].
    Shipped(OrderShipped),
}

impl OrderEvent {
    /// Types an (upcast) envelope; other types and schema violations are errors naming the field.
    pub fn from_envelope(envelope: Envelope<Value>) -> Result<(Metadata, Self), EnvelopeError> {
        let at = Location::root();
        let typed = match envelope.metadata.event_type.as_str() {
            "OrderPlaced" => envelope.into_typed(&at).map(|e| (e.metadata, Self::Placed(e.data))),
            "InventoryReserved" => envelope.into_typed(&at).map(|e| (e.metadata, Self::Reserved(e.data))),
            "OrderRejected" => envelope.into_typed(&at).map(|e| (e.metadata, Self::Rejected(e.data))),
            "PaymentCompleted" => envelope
                .into_typed(&at)
                .map(|e| (e.metadata, Self::PaymentCompleted(e.data))),
            "PaymentFailed" => envelope
                .into_typed(&at)
                .map(|e| (e.metadata, Self::PaymentFailed(e.data))),
            "InventoryReleased" => envelope.into_typed(&at).map(|e| (e.metadata, Self::Released(e.data))),
            "OrderShipped" => envelope.into_typed(&at).map(|e| (e.metadata, Self::Shipped(e.data))),
            other => Err(EnvelopeError::UnknownType {
                at: at.field("metadata.type"),
                event_type: other.to_owned(),
                known: "the orders lifecycle events".into(),
            }),
        }?;
        Ok(typed)
    }

    /// The order the event is about.
    pub fn order_id(&self) -> &str {
        match self {
            Self::Placed(e) => &e.order_id,
            Self::Reserved(e) => &e.order_id,
            Self::Rejected(e) => &e.order_id,
            Self::PaymentCompleted(e) => &e.order_id,
            Self::PaymentFailed(e) => &e.order_id,
            Self::Released(e) => &e.order_id,
            Self::Shipped(e) => &e.order_id,
        }
    }

    /// The customer the order belongs to.
    pub fn customer_id(&self) -> &str {
        match self {
            Self::Placed(e) => &e.customer.id,
            Self::Reserved(e) => &e.customer_id,
            Self::Rejected(e) => &e.customer_id,
            Self::PaymentCompleted(e) => &e.customer_id,
            Self::PaymentFailed(e) => &e.customer_id,
            Self::Released(e) => &e.customer_id,
            Self::Shipped(e) => &e.customer_id,
        }
    }

    /// How to reach the customer, sealed, where the event carries it.
    pub fn contact(&self) -> Option<&Contact> {
        match self {
            Self::Placed(e) => e.customer.contact.as_ref(),
            Self::Reserved(e) => e.contact.as_ref(),
            Self::Rejected(e) => e.contact.as_ref(),
            Self::PaymentCompleted(e) => e.contact.as_ref(),
            Self::PaymentFailed(e) => e.contact.as_ref(),
            Self::Released(_) => None,
            Self::Shipped(e) => e.contact.as_ref(),
        }
    }

    /// The status the order is in after this event.
    pub fn status(&self) -> OrderStatus {
        match self {
            Self::Placed(_) => OrderStatus::Placed,
            Self::Reserved(_) => OrderStatus::Reserved,
            Self::Rejected(_) => OrderStatus::Rejected,
            Self::PaymentCompleted(_) => OrderStatus::Paid,
            Self::PaymentFailed(_) => OrderStatus::PaymentFailed,
            Self::Released(_) => OrderStatus::Cancelled,
            Self::Shipped(_) => OrderStatus::Shipped,
        }
    }
}

/// Where an order is, as a customer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    /// Accepted, stock not yet reserved.
    Placed,
    /// Stock reserved, not yet paid.
    Reserved,
    /// Not accepted (out of stock): final.
    Rejected,
    /// Paid, not yet shipped.
    Paid,
    /// Payment declined; stock about to be released.
    PaymentFailed,
    /// Payment declined and stock released: final.
    Cancelled,
    /// On its way: final.
    Shipped,
}

impl OrderStatus {
    /// The statuses that may directly follow this one.
    fn next(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Placed => &[Reserved, Rejected],
            Reserved => &[Paid, PaymentFailed],
            Paid => &[Shipped],
            PaymentFailed => &[Cancelled],
            Rejected | Cancelled | Shipped => &[],
        }
    }

    /// Whether `to` can come after this status, directly or through steps whose events have
    /// not arrived yet (events may arrive out of order).
    pub fn can_reach(self, to: OrderStatus) -> bool {
        self.next().iter().any(|&n| n == to || n.can_reach(to))
    }
}

/// One step of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// The event type.
    pub event: String,
    /// Its sequence.
    pub sequence: u64,
    /// Its event time.
    pub time: DateTime<Utc>,
}

/// The order-tracking read model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// The order.
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// Where it is.
    pub status: OrderStatus,
    /// Sequence of the last event applied.
    pub sequence: u64,
    /// ISO 4217 code, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Order total in minor units, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// What was ordered, once known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<OrderLine>,
    /// Carrier and tracking number, once shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    /// Why it was rejected or its payment failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The events applied, in order.
    pub timeline: Vec<TimelineEntry>,
}

/// What applying an event to a view did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The view moved on.
    Updated(OrderView),
    /// The event is a duplicate or older than the view: nothing to do.
    Stale {
        /// The view's sequence.
        current: u64,
        /// The event's.
        received: u64,
    },
}

/// Why an event cannot be applied, however often it is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// Orders events carry their position in the order's history.
    #[error("{event_type} {event_id} has no sequence; orders events must carry metadata.sequence")]
    MissingSequence {
        /// The event type.
        event_type: String,
        /// The event id.
        event_id: String,
    },
    /// The event cannot follow the order's status.
    #[error("order {order_id} is {from:?}; {event_type} (sequence {sequence}) cannot follow it")]
    InvalidTransition {
        /// The order.
        order_id: String,
        /// Its status.
        from: OrderStatus,
        /// The event type.
        event_type: String,
        /// The event's sequence.
        sequence: u64,
    },
}

impl OrderView {
    /// Applies an event to the current view (`None` for an order not seen yet). The newest event
    /// decides the status: an older one arriving late only adds its step to the timeline and the
    /// details only it carries (an order placed after it was reserved still gets its total), and
    /// an event already applied changes nothing.
    pub fn apply(
        current: Option<&OrderView>,
        metadata: &Metadata,
        event: &OrderEvent,
    ) -> Result<Applied, LifecycleError> {
        let sequence = metadata.sequence.ok_or_else(|| LifecycleError::MissingSequence {
            event_type: metadata.event_type.clone(),
            event_id: metadata.id.to_string(),
        })?;
        let mut view = match current {
            Some(view) if view.timeline.iter().any(|step| step.sequence == sequence) => {
                return Ok(Applied::Stale {
                    current: view.sequence,
                    received: sequence,
                });
            }
            Some(view) if view.sequence > sequence => {
                let mut view = view.clone();
                view.record_details(event);
                let at = view.timeline.partition_point(|step| step.sequence < sequence);
                view.timeline.insert(
                    at,
                    TimelineEntry {
                        event: metadata.event_type.clone(),
                        sequence,
                        time: metadata.time,
                    },
                );
                return Ok(Applied::Updated(view));
            }
            Some(view) if !view.status.can_reach(event.status()) => {
                return Err(LifecycleError::InvalidTransition {
                    order_id: view.order_id.clone(),
                    from: view.status,
                    event_type: metadata.event_type.clone(),
                    sequence,
                });
            }
            Some(view) => view.clone(),
            // The first event to arrive need not be the first that happened.
            None => OrderView {
                order_id: event.order_id().to_owned(),
                customer_id: event.customer_id().to_owned(),
                status: event.status(),
                sequence,
                currency: None,
                total: None,
                lines: Vec::new(),
                tracking: None,
                reason: None,
                timeline: Vec::new(),
            },
        };
        view.status = event.status();
        view.sequence = sequence;
        view.record_details(event);
        view.timeline.push(TimelineEntry {
            event: metadata.event_type.clone(),
            sequence,
            time: metadata.time,
        });
        Ok(Applied::Updated(view))
    }
}

impl OrderView {
    /// The details each event alone carries; each field is set by one event type only, so the
    /// order events arrive in does not matter.
    fn record_details(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed(placed) => {
                self.currency = Some(placed.currency.clone());
                self.total = Some(placed.total);
                self.lines.clone_from(&placed.lines);
            }
            OrderEvent::Rejected(rejected) => {
                self.reason = Some(format!("{}: {}", rejected.reason, rejected.skus.join(", ")));
            }
            OrderEvent::PaymentFailed(failed) => self.reason = Some(failed.reason.clone()),
            OrderEvent::Shipped(shipped) => {
                self.tracking = Some(format!("{} {}", shipped.carrier, shipped.tracking_number));
            }
            OrderEvent::Reserved(_) | OrderEvent::PaymentCompleted(_) | OrderEvent::Released(_) => {}
        }
    }
}

/// The current version of every orders event type, built once.
static REGISTRY: std::sync::LazyLock<envelope::Registry> = std::sync::LazyLock::new(crate::registry);

impl OrderView {
    /// The view an order's events make, applied in the order given (its stream's), with the
    /// projection's own rule: a rebuild or an as-of query agrees with the live view. Events
    /// are upcast first (a stream keeps them as sent). An event the projection refuses (an
    /// invalid transition, no sequence) changes nothing here either: live, it was parked.
    pub fn fold(events: impl IntoIterator<Item = Envelope<Value>>) -> Result<Option<OrderView>, EnvelopeError> {
        let mut view: Option<OrderView> = None;
        for envelope in events {
            // Callers name the stream an error comes from; no location is built per event.
            let (metadata, event) = OrderEvent::from_envelope(REGISTRY.upcast(envelope, &Location::root())?)?;
            if let Ok(Applied::Updated(next)) = OrderView::apply(view.as_ref(), &metadata, &event) {
                view = Some(next);
            }
        }
        Ok(view)
    }
}

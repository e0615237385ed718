//! The orders domain on the local cloud: its functions bundled ([`Orders`]), the shop that
//! places orders through order-api's Function URL ([`Shop`]), the saga run to its end, and the
//! invariants checked. `localcloud demo` and the end-to-end scenarios both drive a [`Shop`].
//!
//! [`shop`] opens the shop and plays orders on it; [`mix`] makes the orders (the demo's mix of
//! happy, flaky, declined and sold-out ones); [`customers`] the made-up people who place them;
//! [`invariants`] checks a finished run; [`summary`](mod@summary) reads it out; [`story`] tells each order end to end in the terminal; [`expected`]
//! writes what it ended with as JSON, for comparing with a deployment; [`domain`] is what the
//! CLI asks of the orders domain (its demo, rebuilding the order views, an order as of an
//! instant, the outcome of a scenario file).
//!
//! The demo (`make demo`, first of the domains) places the mix through order-api's Function
//! URL: happy orders, a declined card, out of stock, a payment gateway down once, client
//! retries, one malformed request and one malformed message on a queue, with faults injected
//! (duplicate deliveries, reordering, crashes after publish, crashes between a send and its
//! record, throttled tables, slow publishes). It prints every event with its route
//! (`rule -> queue -> function`) on the virtual clock, then the summary (notifications per
//! decision among it), the invariants and the event store's audit, and fails when one breaks.

pub mod customers;
pub mod domain;
pub mod expected;
pub mod invariants;
pub mod mix;
pub mod shop;
pub mod story;
pub mod summary;

use handler_kit::local::{self, Registration};

pub use customers::{customer_name, personal_values, shipping_address};
pub use domain::Orders;
pub use expected::expected_json;
pub use invariants::{Notified, Outcome};
pub use mix::{Kind, demo_mix, place_mix};
pub use shop::{IN_STOCK, SCENARIO_STOCK, SOLD_OUT, Shop, ShopError, VIRTUAL_DEADLINE_MS, stock_shelves};
pub use summary::summary;

/// The orders functions, each from its crate's declaration and builder.
pub fn functions() -> Vec<Registration> {
    vec![
        local::http(&order_api::FUNCTION, order_api::build),
        local::records(&reserve_inventory::FUNCTION, reserve_inventory::build),
        local::records(&process_payment::FUNCTION, process_payment::build),
        local::records(&release_inventory::FUNCTION, release_inventory::build),
        local::records(&ship_order::FUNCTION, ship_order::build),
        local::records(&order_projection::FUNCTION, order_projection::build),
        local::records(&notify_customer::FUNCTION, notify_customer::build),
    ]
}

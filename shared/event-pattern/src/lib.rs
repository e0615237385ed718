//! The Amazon EventBridge event pattern language, on its own.
//!
//! - [`Pattern`]: parse and validate a pattern (an invalid one is a [`PatternError`] that names
//!   the path in the pattern and the reason), then match events (`serde_json::Value`) with it.
//! - [`Matcher`]: many patterns, each under a key of the caller's, matched against one event
//!   through an index on exact values, so the cost grows with the rules that could match,
//!   not with all rules. [`Matcher::matches_json`] takes the event as JSON text and reads only
//!   the fields the patterns look at.
//!
//! - [`Pattern::explain`] and [`Matcher::explain`]: why an event does not match, as a
//!   [`Mismatch`] naming the first failing field (a separate walk, never on the matching path).
//! - [`sns`]: Amazon SNS subscription filter policies, on typed message attributes or a JSON
//!   message body, with SNS's limits and messages.
//!
//! Every operator of EventBridge event buses is supported: exact values (strings, numbers,
//! booleans, null), `prefix`, `suffix` (both also with `equals-ignore-case`),
//! `equals-ignore-case`, `wildcard`, `anything-but` (values, lists, prefix, suffix, wildcard,
//! equals-ignore-case), `numeric`, `cidr`, `exists` and `$or`. The crate README lists the
//! decisions taken where AWS's documentation is silent.
//!
//! ```
//! use event_pattern::Pattern;
//! use serde_json::json;
//!
//! let pattern = Pattern::parse(r#"{
//!     "source": ["shop.orders"],
//!     "detail": { "items": { "sku": ["A-1"], "quantity": [{ "numeric": [">", 1] }] } }
//! }"#)?;
//! // Fields of a nested pattern object must match inside the same array element.
//! let same = json!({"source": "shop.orders", "detail": {"items": [{"sku": "A-1", "quantity": 2}]}});
//! let split = json!({"source": "shop.orders", "detail": {"items": [{"sku": "A-1", "quantity": 1}, {"sku": "B", "quantity": 2}]}});
//! assert!(pattern.matches(&same));
//! assert!(!pattern.matches(&split));
//!
//! let error = Pattern::parse(r#"{"detail": {"amount": [{"numeric": [">", 0, ">", 5]}]}}"#).unwrap_err();
//! assert_eq!(error.path(), "detail.amount");
//! # Ok::<(), event_pattern::PatternError>(())
//! ```

mod cidr;
mod complexity;
mod condition;
mod dotted;
mod error;
mod event;
mod explain;
mod hash;
mod matcher;
mod parse;
mod pattern;
mod scan;
pub mod sns;
mod tree;
mod trie;
mod wildcard;

pub use error::PatternError;
pub use explain::{Mismatch, MismatchKind};
pub use matcher::Matcher;
pub use pattern::Pattern;

//! A policy against a JSON message body (`FilterPolicyScope: MessageBody`): the pattern tree
//! matched as EventBridge matches an event, its mismatches reported under `body`. A key of the
//! body that contains a dot is the nested path it spells, as SNS reads it (see `dotted`).

use serde_json::Value;

use crate::dotted;
use crate::explain::{self, Mismatch, MismatchKind};
use crate::scan::Wanted;
use crate::tree::Node;

/// Whether the body passes; one that is not a JSON object never does.
pub(super) fn matches(root: &Node, wanted: &Wanted, body: &Value) -> bool {
    let body = dotted::nested(body, wanted);
    body.as_object()
        .is_some_and(|object| root.matches(Some(object), &*body))
}

/// Why the body, as text, does not pass, or `None` when it does.
pub(super) fn explain_text(root: &Node, wanted: &Wanted, body: &str) -> Option<Mismatch> {
    match serde_json::from_str::<Value>(body) {
        Ok(value) => explain(root, wanted, &value),
        Err(_) => Some(Mismatch::new(
            "body".to_owned(),
            MismatchKind::WrongType,
            "is not JSON; a MessageBody policy needs a JSON object".to_owned(),
        )),
    }
}

/// Why the body does not pass, or `None` when it does.
pub(super) fn explain(root: &Node, wanted: &Wanted, body: &Value) -> Option<Mismatch> {
    let body = dotted::nested(body, wanted);
    match body.as_object() {
        Some(object) => explain::node(root, Some(object), &body, &mut Vec::new()).map(|m| m.under("body")),
        None => Some(Mismatch::new(
            "body".to_owned(),
            MismatchKind::WrongType,
            format!(
                "{} is not a JSON object; a MessageBody policy needs one",
                explain::short(&body)
            ),
        )),
    }
}

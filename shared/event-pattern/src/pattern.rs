//! One compiled, validated event pattern.

use std::str::FromStr;

use serde_json::Value;

use crate::dotted;
use crate::error::PatternError;
use crate::explain::{self, Mismatch};
use crate::parse;
use crate::scan::Wanted;
use crate::tree::Node;

/// One EventBridge event pattern, validated and compiled for matching.
///
/// ```
/// use event_pattern::Pattern;
/// use serde_json::json;
///
/// let pattern: Pattern = r#"{"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}"#.parse()?;
/// assert!(pattern.matches(&json!({"source": "shop.orders", "detail": {"total": 250}})));
/// assert!(!pattern.matches(&json!({"source": "shop.orders", "detail": {"total": 50}})));
/// # Ok::<(), event_pattern::PatternError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    pub(crate) root: Node,
    /// The paths the pattern looks at, to tell whether an event's dotted keys matter to it.
    pub(crate) wanted: Wanted,
}

impl Pattern {
    /// The default quota on the size of an event pattern, in characters (adjustable up to 4096
    /// on request, see [`Pattern::parse_with_max_size`]).
    // source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
    pub const MAX_SIZE: usize = 2048;

    /// Parses and validates a pattern from its JSON text; text that is not JSON is a
    /// [`PatternError`] too, and so is text longer than [`Pattern::MAX_SIZE`] characters.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        Self::parse_with_max_size(text, Self::MAX_SIZE)
    }

    /// [`Pattern::parse`] under a raised size quota (EventBridge allows up to 4096 characters
    /// on request).
    pub fn parse_with_max_size(text: &str, max_chars: usize) -> Result<Self, PatternError> {
        check_size(text.chars().count(), max_chars)?;
        let value: Value = serde_json::from_str(text).map_err(PatternError::invalid_json)?;
        parse::pattern(&value).map(Self::new)
    }

    /// Validates and compiles a pattern already parsed as JSON; its size is that of its compact
    /// JSON text, at most [`Pattern::MAX_SIZE`] characters.
    pub fn from_value(pattern: &Value) -> Result<Self, PatternError> {
        check_size(pattern.to_string().chars().count(), Self::MAX_SIZE)?;
        parse::pattern(pattern).map(Self::new)
    }

    fn new(root: Node) -> Self {
        let mut wanted = Wanted::default();
        wanted.add(&root);
        Self { root, wanted }
    }

    /// `None` when the event matches; otherwise the first field that fails, and why (see
    /// [`Mismatch`]). A separate, slower walk than [`Pattern::matches`], for explaining a
    /// routing decision, never on the matching path.
    ///
    /// ```
    /// use event_pattern::Pattern;
    /// use serde_json::json;
    ///
    /// let pattern = Pattern::parse(r#"{"detail": {"state": ["running", "pending"]}}"#)?;
    /// let why = pattern.explain(&json!({"detail": {"state": "stopped"}})).unwrap();
    /// assert_eq!(why.to_string(), r#"detail.state: "stopped" is not one of ["running", "pending"]"#);
    /// assert!(pattern.explain(&json!({"detail": {"state": "running"}})).is_none());
    /// # Ok::<(), event_pattern::PatternError>(())
    /// ```
    pub fn explain(&self, event: &Value) -> Option<Mismatch> {
        let event = dotted::nested(event, &self.wanted);
        explain::node(&self.root, event.as_object(), &event, &mut Vec::new())
    }

    /// Whether the event matches this pattern. A key of the event that contains a dot is the
    /// nested path it spells (`{"a.b": 1}` is `{"a": {"b": 1}}`), as EventBridge reads it.
    pub fn matches(&self, event: &Value) -> bool {
        let event = dotted::nested(event, &self.wanted);
        self.root.matches(event.as_object(), &*event)
    }
}

/// Refuses a pattern over the size quota, in AWS's words.
fn check_size(chars: usize, max_chars: usize) -> Result<(), PatternError> {
    if chars > max_chars {
        return Err(PatternError::whole(format!(
            "Event pattern is too long: {chars} characters, the quota is {max_chars}"
        )));
    }
    Ok(())
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<&Value> for Pattern {
    type Error = PatternError;

    fn try_from(pattern: &Value) -> Result<Self, Self::Error> {
        Self::from_value(pattern)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_that_is_not_json_is_a_pattern_error_with_its_cause() {
        let error = Pattern::parse(r#"{"source": ["a""#)
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(error.path(), "");
        assert!(error.reason().starts_with("not valid JSON"), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn parse_from_str_and_from_value_agree() {
        let text = r#"{"detail": {"state": ["running"]}}"#;
        let event = json!({"detail": {"state": "running"}});
        let parsed = Pattern::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let from_str: Pattern = text.parse().unwrap_or_else(|e| panic!("{e}"));
        let from_value =
            Pattern::try_from(&json!({"detail": {"state": ["running"]}})).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.matches(&event) && from_str.matches(&event) && from_value.matches(&event));
    }

    #[test]
    fn an_event_that_is_not_an_object_matches_only_absence() {
        let absent = Pattern::from_value(&json!({"a": [{"exists": false}]})).unwrap_or_else(|e| panic!("{e}"));
        let present = Pattern::from_value(&json!({"a": [{"exists": true}]})).unwrap_or_else(|e| panic!("{e}"));
        for event in [json!(null), json!("a"), json!(5)] {
            assert!(absent.matches(&event), "{event}");
            assert!(!present.matches(&event), "{event}");
        }
    }
}

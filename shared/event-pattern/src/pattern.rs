//! One compiled, validated event pattern.

use std::str::FromStr;

use serde_json::Value;

use crate::error::PatternError;
use crate::parse;
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
}

impl Pattern {
    /// Parses and validates a pattern from its JSON text; text that is not JSON is a
    /// [`PatternError`] too.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(PatternError::invalid_json)?;
        Self::from_value(&value)
    }

    /// Validates and compiles a pattern already parsed as JSON.
    pub fn from_value(pattern: &Value) -> Result<Self, PatternError> {
        parse::pattern(pattern).map(|root| Self { root })
    }

    /// Whether the event matches this pattern.
    pub fn matches(&self, event: &Value) -> bool {
        self.root.matches(event.as_object(), event)
    }
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

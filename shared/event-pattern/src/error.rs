//! The one error of this crate: a pattern that EventBridge would refuse, with where and why.

use std::fmt;

/// An event pattern that is not valid: the path inside the pattern where the problem is, and why.
///
/// The path names fields the way a person reads them (`detail.amount`); keys that contain a space
/// or a bracket are quoted (`detail["a b"]`; a dotted key is the nested path, as in EventBridge)
/// and `$or` alternatives are numbered from 0 (`detail.$or[1].state`). An empty path means the
/// pattern as a whole.
///
/// A pattern error is always permanent: the same pattern fails the same way every time, so the
/// fix is to change the pattern, never to retry.
#[derive(Debug, thiserror::Error)]
#[error("invalid event pattern{}: {reason}", At(.path))]
pub struct PatternError {
    path: String,
    reason: String,
    #[source]
    source: Option<serde_json::Error>,
}

impl PatternError {
    pub(crate) fn new(path: &FieldPath<'_>, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            reason: reason.into(),
            source: None,
        }
    }

    /// An error about the pattern as a whole.
    pub(crate) fn whole(reason: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn invalid_json(source: serde_json::Error) -> Self {
        Self {
            path: String::new(),
            reason: format!("not valid JSON ({source})"),
            source: Some(source),
        }
    }

    /// Where in the pattern the problem is, e.g. `detail.amount`; empty for the whole pattern.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, written for the person who has to fix the pattern.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The message in the shape EventBridge's `PutRule` and `TestEventPattern` give with an
    /// `InvalidEventPatternException`: `Event pattern is not valid. Reason: ...`, the reason
    /// followed by where it is (AWS gives a line and column there; this gives the path).
    // source: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html
    pub fn aws_message(&self) -> String {
        format!("Event pattern is not valid. Reason: {}{}", self.reason, At(&self.path))
    }
}

/// Renders " at `path`", or nothing for the whole pattern.
struct At<'a>(&'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " at `{}`", self.0)
        }
    }
}

/// One step from a pattern object to a field inside it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'a> {
    /// A field of the event.
    Key(&'a str),
    /// Alternative `n` of the `$or` at this level.
    Or(usize),
}

/// The path from the root of a pattern to where the parser is, kept as steps (never as a joined
/// string, so a key that contains a dot can never be confused with two nested keys).
#[derive(Debug, Default, Clone)]
pub(crate) struct FieldPath<'a> {
    steps: Vec<Step<'a>>,
}

impl<'a> FieldPath<'a> {
    pub(crate) fn push(&mut self, step: Step<'a>) {
        self.steps.push(step);
    }

    pub(crate) fn pop(&mut self) {
        self.steps.pop();
    }

    pub(crate) fn depth(&self) -> usize {
        self.steps.len()
    }

    /// The event keys along this path, `$or` steps left out: where the field is in an event.
    pub(crate) fn event_keys(&self) -> Vec<Box<str>> {
        self.steps
            .iter()
            .filter_map(|step| match step {
                Step::Key(key) => Some(Box::from(*key)),
                Step::Or(_) => None,
            })
            .collect()
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Key(key) if is_plain(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Step::Key(key) => write!(f, "[{}]", serde_json::Value::from(*key))?,
                Step::Or(n) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    write!(f, "$or[{n}]")?;
                }
            }
        }
        Ok(())
    }
}

/// A key that reads unambiguously in dotted form.
pub(crate) fn is_plain(key: &str) -> bool {
    !key.is_empty() && !key.contains(['.', '[', ']', '"', ' ', '`'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_dotted_keys_and_quote_keys_with_dots() {
        let mut path = FieldPath::default();
        path.push(Step::Key("detail"));
        path.push(Step::Or(1));
        path.push(Step::Key("a.b"));
        path.push(Step::Key("amount"));
        assert_eq!(path.to_string(), r#"detail.$or[1]["a.b"].amount"#);
        assert_eq!(
            path.event_keys(),
            vec![Box::from("detail"), Box::from("a.b"), Box::from("amount")]
        );
    }

    #[test]
    fn display_names_the_path_and_the_reason() {
        let mut path = FieldPath::default();
        path.push(Step::Key("detail"));
        path.push(Step::Key("amount"));
        let error = PatternError::new(&path, "bad");
        assert_eq!(error.to_string(), "invalid event pattern at `detail.amount`: bad");
        let root = PatternError::new(&FieldPath::default(), "not an object");
        assert_eq!(root.to_string(), "invalid event pattern: not an object");
        assert_eq!(root.path(), "");
    }
}

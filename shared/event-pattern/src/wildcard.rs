//! The `wildcard` operator: `*` stands for any run of characters (including none), `\*` for a
//! literal star and `\\` for a literal backslash.

/// A compiled wildcard: the literal pieces between the stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// `pieces.len() - 1` stars separate the pieces; a leading or trailing star gives an empty piece.
    pieces: Vec<Box<str>>,
}

impl Wildcard {
    /// Compiles a wildcard, or says why EventBridge would refuse it.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let mut chars = text.chars();
        let mut after_star = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '\\')) => {
                        piece.push(escaped);
                        after_star = false;
                    }
                    Some(other) => {
                        return Err(format!(
                            "wildcard {text:?}: `\\{other}` is not an escape; only `\\*` and `\\\\` are"
                        ));
                    }
                    None => return Err(format!("wildcard {text:?} ends with a lone backslash; write `\\\\`")),
                },
                '*' => {
                    // AWS: "consecutive wildcard characters are not allowed".
                    if after_star {
                        return Err(format!(
                            "wildcard {text:?} has consecutive `*`; one `*` already matches any run of characters"
                        ));
                    }
                    pieces.push(Box::from(std::mem::take(&mut piece)));
                    after_star = true;
                }
                other => {
                    piece.push(other);
                    after_star = false;
                }
            }
        }
        pieces.push(piece.into_boxed_str());
        Ok(Self { pieces })
    }

    /// The wildcard as written, with its escapes.
    pub(crate) fn source(&self) -> String {
        self.pieces
            .iter()
            .map(|piece| piece.replace('\\', "\\\\").replace('*', "\\*"))
            .collect::<Vec<_>>()
            .join("*")
    }

    /// The literal pieces between the stars (a leading or trailing star gives an empty piece).
    pub(crate) fn pieces(&self) -> &[Box<str>] {
        &self.pieces
    }

    /// The text every match starts with: what comes before the first star.
    pub(crate) fn literal_prefix(&self) -> &str {
        self.pieces.first().map_or("", |piece| piece)
    }

    /// Whether `text` matches the whole wildcard (case-sensitive).
    pub(crate) fn matches(&self, text: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == &**first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(&**first) || !text.ends_with(&**last) {
            return false;
        }
        // The leftmost fit of each middle piece leaves the most room for the ones after it.
        let mut window = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match window.find(&**piece) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard(text: &str) -> Wildcard {
        Wildcard::parse(text).unwrap_or_else(|reason| panic!("{reason}"))
    }

    #[test]
    fn stars_match_any_run_including_none() {
        let w = wildcard("dir/*/file*.png");
        assert!(w.matches("dir/a/file1.png"));
        assert!(w.matches("dir//file.png"));
        assert!(w.matches("dir/a/b/file-x.png"));
        assert!(!w.matches("dir/a/file1.jpg"));
        assert!(!w.matches("xdir/a/file1.png"));
        assert!(wildcard("*").matches(""));
        assert!(wildcard("a*a").matches("aa"));
        assert!(!wildcard("a*a").matches("a"));
        assert!(wildcard("*ab*ab*").matches("xabyab"));
        assert!(!wildcard("*ab*ab*").matches("xaby"));
        assert!(wildcard("no-star").matches("no-star"));
        assert!(!wildcard("no-star").matches("no-stars"));
    }

    #[test]
    fn escapes_are_literal() {
        let w = wildcard(r"a\*b*");
        assert!(w.matches("a*b"));
        assert!(w.matches("a*bcd"));
        assert!(!w.matches("axb"));
        assert!(wildcard(r"a\\b").matches(r"a\b"));
        assert!(wildcard(r"\**").matches("*x"));
    }

    #[test]
    fn source_round_trips() {
        for text in ["dir/*/file*.png", r"a\*b*", r"a\\b", "*", "x"] {
            assert_eq!(wildcard(text).source(), text);
        }
    }

    #[test]
    fn invalid_wildcards_are_refused() {
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse("**").is_err());
        assert!(Wildcard::parse(r"a\b").is_err());
        assert!(Wildcard::parse(r"ab\").is_err());
        assert!(
            Wildcard::parse(r"a\**").is_ok(),
            "an escaped star then a star is not two stars"
        );
        assert!(Wildcard::parse(r"a*\*").is_ok());
    }
}

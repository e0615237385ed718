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

    /// How many states of a matching automaton this wildcard can keep alive at once: one for
    /// the scan before the first star, and for each piece after a star, the longest chain of
    /// its prefixes that are also suffixes of one another (a piece that repeats a character,
    /// like `aaaa`, can be partly matched at several places at once; `abcd` at one).
    pub(crate) fn live_states(&self) -> usize {
        1 + self
            .pieces
            .iter()
            .skip(1)
            .map(|piece| border_chain(piece))
            .sum::<usize>()
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

/// The longest chain of borders (prefixes that are also suffixes) over the prefixes of `piece`,
/// plus one: how many partial matches of `piece` can be under way at once (KMP failure depths).
fn border_chain(piece: &str) -> usize {
    let chars: Vec<char> = piece.chars().collect();
    let mut failure = vec![0usize; chars.len()];
    let mut depth = vec![1usize; chars.len() + 1];
    let mut k = 0;
    for i in 1..chars.len() {
        while k > 0 && chars[i] != chars[k] {
            k = failure[k - 1];
        }
        if chars[i] == chars[k] {
            k += 1;
        }
        failure[i] = k;
    }
    // depth[j]: the chain length of the prefix of length j (itself, its border, ...).
    for j in 1..=chars.len() {
        depth[j] = 1 + depth[failure[j - 1]];
    }
    depth.into_iter().max().unwrap_or(1)
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
    fn source_round_trips_and_live_states_grow_with_repeats() {
        for text in ["dir/*/file*.png", r"a\*b*", r"a\\b", "*", "x"] {
            assert_eq!(wildcard(text).source(), text);
        }
        assert_eq!(wildcard("abc").live_states(), 1);
        assert_eq!(wildcard("*abcd").live_states(), 3);
        assert_eq!(wildcard("*aaaa").live_states(), 1 + 5);
        assert_eq!(wildcard("*a*a").live_states(), 1 + 2 + 2);
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

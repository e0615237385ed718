//! How costly the wildcards of one field are to match, measured as EventBridge measures it
//! before it refuses a rule as "too complex".
//!
//! EventBridge's matcher (AWS's event-ruler) compiles the wildcards of a field into one byte
//! automaton; its `MachineComplexityEvaluator` scores the automaton by the largest number of
//! wildcard rule prefixes that one input can match at once, and EventBridge refuses a rule
//! whose score is above 10. This module rebuilds that score from the automaton's shape:
//!
//! - every wildcard is matched as its JSON text, quotes included (`"*.png"`), byte by byte;
//! - up to and including its first `*`, a wildcard shares its states with every other wildcard
//!   that starts with the same bytes (a trie), and such a state weighs as many patterns as
//!   share it; after its first `*`, each wildcard has states of its own, weighing one (the
//!   values of one `anything-but` wildcard list are one pattern and share them too), and the
//!   state after the closing quote is the pattern's match, shared by equal patterns;
//! - a `*` can match nothing, so the state before it also counts the state after it.
//!
//! The score is the largest total weight of the states some input keeps alive at once.
//! Checked against event-ruler itself on thousands of random wildcard sets (see the crate
//! README); identical wildcards listed twice, and `anything-but` wildcard lists, can differ from
//! it by a little.
// source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching-complexity
// source: https://github.com/aws/event-ruler/blob/main/src/main/software/amazon/event/ruler/MachineComplexityEvaluator.java

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::wildcard::Wildcard;

/// The highest score EventBridge accepts for the wildcards of one field: event-ruler's README
/// gives 10 as the per-rule threshold, and it is the one that separates the wildcard sets AWS
/// was seen to accept from those it refused (the crate README lists them).
pub(crate) const MAX_COMPLEXITY: usize = 10;

/// One wildcard of a field, and which pattern it belongs to: a `wildcard` operator on its own,
/// or one value of an `anything-but` wildcard list (`list` numbers the list within the field).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) wildcard: &'a Wildcard,
    pub(crate) list: Option<usize>,
}

/// One step of a wildcard's text: a byte, or a star.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Token {
    Byte(u8),
    Star,
}

/// Which state of the automaton a position of a wildcard is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum StateKey {
    /// A position within the part shared with other wildcards: the tokens read so far.
    Shared(Vec<Token>),
    /// A position of one `anything-but` list after its first star.
    List(usize, Vec<Token>),
    /// A position of one wildcard after its first star.
    Own(usize, usize),
    /// The match of a pattern (the position after its closing quote).
    End(Pattern),
}

/// What counts as one pattern for the weight of a shared state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Pattern {
    Wildcard(String),
    List(usize),
}

/// The score of the wildcards of one field, or a number above [`MAX_COMPLEXITY`] as soon as
/// some input reaches one (the exact score past the limit does not matter and can be costly).
pub(crate) fn complexity(entries: &[Entry<'_>]) -> usize {
    if entries.is_empty() {
        return 0;
    }
    let tokens: Vec<Vec<Token>> = entries.iter().map(|entry| tokens_of(entry.wildcard)).collect();
    let patterns: Vec<Pattern> = entries
        .iter()
        .map(|entry| match entry.list {
            Some(list) => Pattern::List(list),
            None => Pattern::Wildcard(entry.wildcard.source()),
        })
        .collect();

    // Number every (wildcard, position) pair and give each its state and that state's weight.
    let mut positions: Vec<(usize, usize)> = Vec::new();
    let mut first_position = Vec::with_capacity(entries.len());
    for (i, t) in tokens.iter().enumerate() {
        first_position.push(positions.len());
        positions.extend((0..=t.len()).map(|p| (i, p)));
    }
    let mut state_ids: HashMap<StateKey, usize> = HashMap::new();
    let mut sharers: Vec<HashSet<Pattern>> = Vec::new();
    let mut own_weight: Vec<usize> = Vec::new();
    let state_of: Vec<usize> = positions
        .iter()
        .map(|&(i, p)| {
            let key = state_key(&tokens[i], &patterns[i], i, p);
            let own = matches!(key, StateKey::Own(..));
            let next = state_ids.len();
            let id = *state_ids.entry(key).or_insert(next);
            if id == sharers.len() {
                sharers.push(HashSet::new());
                own_weight.push(0);
            }
            if own {
                own_weight[id] = 1;
            } else {
                sharers[id].insert(patterns[i].clone());
            }
            id
        })
        .collect();
    let weight: Vec<usize> = sharers
        .iter()
        .zip(&own_weight)
        .map(|(patterns, own)| patterns.len() + own)
        .collect();

    // The bytes that lead somewhere specific, and one byte (None) for all the others.
    let mut alphabet: Vec<Option<u8>> = tokens
        .iter()
        .flatten()
        .filter_map(|t| match t {
            Token::Byte(b) => Some(*b),
            Token::Star => None,
        })
        .collect::<BTreeSet<u8>>()
        .into_iter()
        .map(Some)
        .collect();
    alphabet.push(None);

    let closure = |set: BTreeSet<usize>| -> Vec<usize> {
        let mut out = set;
        let starts: Vec<usize> = out.iter().copied().collect();
        for at in starts {
            let (i, p) = positions[at];
            // A star can match nothing: being before it is also being after it.
            if tokens[i].get(p) == Some(&Token::Star) {
                out.insert(at + 1);
            }
        }
        out.into_iter().collect()
    };
    let score = |set: &[usize]| -> usize {
        let states: BTreeSet<usize> = set.iter().map(|&at| state_of[at]).collect();
        states.iter().map(|&state| weight[state]).sum()
    };

    let start = closure(first_position.iter().copied().collect());
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut pending = vec![start];
    let mut best = 0;
    while let Some(set) = pending.pop() {
        for byte in &alphabet {
            let mut next = BTreeSet::new();
            for &at in &set {
                let (i, p) = positions[at];
                let t = &tokens[i];
                if let (Some(Token::Byte(b)), Some(byte)) = (t.get(p), byte)
                    && b == byte
                {
                    next.insert(at + 1);
                }
                // After a star, any byte keeps the star going.
                if p > 0 && t[p - 1] == Token::Star {
                    next.insert(at);
                }
            }
            if next.is_empty() {
                continue;
            }
            let next = closure(next);
            best = best.max(score(&next));
            if best > MAX_COMPLEXITY {
                return best;
            }
            if seen.insert(next.clone()) {
                pending.push(next);
            }
        }
    }
    best
}

/// The wildcard as event-ruler reads it: its JSON text's bytes between quotes, stars apart.
fn tokens_of(wildcard: &Wildcard) -> Vec<Token> {
    let mut out = vec![Token::Byte(b'"')];
    for (n, piece) in wildcard.pieces().iter().enumerate() {
        if n > 0 {
            out.push(Token::Star);
        }
        out.extend(piece.bytes().map(Token::Byte));
    }
    out.push(Token::Byte(b'"'));
    out
}

fn state_key(tokens: &[Token], pattern: &Pattern, index: usize, position: usize) -> StateKey {
    if position == tokens.len() {
        return StateKey::End(pattern.clone());
    }
    let first_star = tokens.iter().position(|t| *t == Token::Star);
    match (first_star, pattern) {
        (Some(star), _) if position > star + 1 => match pattern {
            Pattern::List(list) => StateKey::List(*list, tokens[..position].to_vec()),
            Pattern::Wildcard(_) => StateKey::Own(index, position),
        },
        _ => StateKey::Shared(tokens[..position].to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(wildcards: &[&str], list: &[&str]) -> usize {
        let parsed: Vec<Wildcard> = wildcards
            .iter()
            .chain(list)
            .map(|w| Wildcard::parse(w).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        let entries: Vec<Entry<'_>> = parsed
            .iter()
            .enumerate()
            .map(|(n, wildcard)| Entry {
                wildcard,
                list: (n >= wildcards.len()).then_some(0),
            })
            .collect();
        complexity(&entries)
    }

    /// Scores event-ruler's `Machine.evaluateComplexity` gives for rules holding these wildcards
    /// on one field (computed with event-ruler, main branch of 2026-07, for this test).
    #[test]
    fn scores_agree_with_event_ruler() {
        let cases: &[(&[&str], &[&str], usize)] = &[
            (&["*:*:*:*:*:event-bus/*"], &[], 11),
            (&["*.png"], &[], 2),
            (&["arn:aws:*:event-bus/*"], &[], 3),
            (&["arn:aws:events:*:*:event-bus/*"], &[], 5),
            (&["*:*:*"], &[], 5),
            (&["*:*:*:*"], &[], 7),
            (&["*:*:*:*:*"], &[], 9),
            (&["*a*a*a*a*a*a*a*a*"], &[], 17),
            (&["*é*é*é*é*é*"], &[], 11),
            (&[r"*\*:*:*:*"], &[], 7),
            (
                &["*:stack/CoreStack/*", "*:stack/SharedStack/*", "*:stack/ServiceStack/*"],
                &[],
                9,
            ),
            (
                &[
                    "*:stack/CoreStack/*",
                    "*:stack/SharedStack/*",
                    "*:stack/ServiceStack/*",
                    "*:stack/MonitoringStack/*",
                ],
                &[],
                12,
            ),
            (&["*/datasync/*.bif", "*/datasync/*.tif"], &[], 8),
            (
                &[
                    "*/datasync/*.bif",
                    "*/datasync/*.tif",
                    "*/datasync/*.tiff",
                    "*/datasync/*.svs",
                ],
                &[],
                16,
            ),
            (&["*.bif", "*.tiff", "*.tif", "*.svs"], &[], 8),
            (&["*:*:*", "*:*:*:*"], &[], 12),
            (&[], &["*:*:*"], 5),
            (&[], &["*:*:*:*", "*:*:*"], 7),
            (&[], &["*a*a*a", "*b*b*b"], 8),
            (&["*a*a*a", "*b*b*b"], &[], 9),
            (&["*c*c*c"], &["*a*a*a", "*b*b*b"], 11),
        ];
        for (wildcards, list, expected) in cases {
            let got = score(wildcards, list);
            // Past the limit the score stops early: only which side of it matters there.
            if *expected > MAX_COMPLEXITY {
                assert!(got > MAX_COMPLEXITY, "{wildcards:?} {list:?}: {got}");
            } else {
                assert_eq!(got, *expected, "{wildcards:?} {list:?}");
            }
        }
    }

    /// event-ruler's own unit tests (`MachineComplexityEvaluatorTest`), which score wildcards
    /// without the quotes of JSON text: the same shapes with quotes score the same here once
    /// the quote states are allowed for, so these check the shape rules (sharing, stars).
    #[test]
    fn shapes_of_event_ruler_unit_tests() {
        // With quotes: `"*ab"` keeps `"*` and `"*ab` alive, as `*ab` keeps `*` and `*ab`.
        assert_eq!(score(&["*ab"], &[]), 2);
        assert_eq!(score(&["*aa"], &[]), 3);
        assert_eq!(score(&["a*bbb"], &[]), 4);
        assert_eq!(score(&["*ab*ad"], &[]), 4);
        assert_eq!(score(&["a*b*bb"], &[]), 5);
        assert_eq!(score(&["ab*cd", "ab*wx", "ab*yz"], &[]), 6);
        assert_eq!(score(&["a*aaa", "aa*aa"], &[]), 7);
        assert_eq!(score(&["*abc", "*abcde"], &[]), 4);
        assert_eq!(score(&["abc"], &[]), 1);
    }
}

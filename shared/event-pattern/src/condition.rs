//! What one entry of a match list tests against one value of the event.
//!
//! Every condition here looks at a single leaf value of the event (a string, number, boolean or
//! null); arrays are spread and objects skipped by the caller. `{"exists": false}` is not here:
//! it is about the absence of every value, so the pattern tree handles it.

use std::fmt;

use serde_json::Number;

use crate::cidr::Cidr;
use crate::event::LeafRef;
use crate::wildcard::Wildcard;

/// A JSON number as both a float and, when it is a whole number, exactly.
///
/// Numbers are equal when their values are equal, whatever their written form: `300`, `300.0`,
/// `3e2` and `300.00` are one number. AWS's documentation says EventBridge compares the written
/// forms, but EventBridge observably matches by value (its matcher, event-ruler, adds a
/// value-comparing pattern for every number of a rule); the crate README's parity table has
/// the evidence. A whole value is kept exactly (`whole`), also when written as a float, so large
/// ids do not collide through rounding: equal numbers have equal `whole`s, or are both
/// fractional with equal floats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num {
    float: f64,
    whole: Option<i128>,
}

/// Floats whose magnitude is below this and that have no fraction are whole numbers that fit
/// an `i128` exactly (2^127).
const WHOLE_LIMIT: f64 = 1.7014118346046923e38;

impl Num {
    pub(crate) fn of(number: &Number) -> Self {
        let float = number.as_f64().unwrap_or(f64::NAN);
        let whole = number
            .as_i64()
            .map(i128::from)
            .or_else(|| number.as_u64().map(i128::from))
            // A float with no fraction is that whole number exactly (`as` is exact here).
            .or_else(|| (float.fract() == 0.0 && float.abs() < WHOLE_LIMIT).then_some(float as i128));
        Self { float, whole }
    }

    /// The value exactly, when it is a whole number.
    #[cfg(test)]
    pub(crate) fn whole(self) -> Option<i128> {
        self.whole
    }

    /// The value as a float.
    pub(crate) fn float(self) -> f64 {
        self.float
    }

    /// A hash key that is equal for equal numbers (whole numbers beyond 2^53 may share one).
    pub(crate) fn bucket(self) -> u64 {
        // -0.0 == 0.0, so both must land in one bucket; an equal whole number has the same float.
        if self.float == 0.0 { 0 } else { self.float.to_bits() }
    }
}

impl PartialEq for Num {
    /// Equal by value: two whole numbers exactly, two fractional numbers as floats, and a whole
    /// number never equals a fractional one.
    fn eq(&self, other: &Self) -> bool {
        match (self.whole, other.whole) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.float == other.float,
            _ => false,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.whole {
            Some(whole) => write!(f, "{whole}"),
            None => write!(f, "{:?}", self.float),
        }
    }
}

/// A value an exact match compares with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(Box<str>),
    Num(Num),
    Bool(bool),
    Null,
}

impl Scalar {
    /// Whether the event value is this very value (a string never equals a number).
    pub(crate) fn equals(&self, value: LeafRef<'_>) -> bool {
        match (self, value) {
            (Self::Str(s), LeafRef::Str(v)) => **s == *v,
            (Self::Num(n), LeafRef::Num(v)) => *n == v,
            (Self::Bool(b), LeafRef::Bool(v)) => *b == v,
            (Self::Null, LeafRef::Null) => true,
            _ => false,
        }
    }
}

/// How finely, and over what span, a service compares numbers in `numeric` conditions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Precision {
    /// The largest magnitude compared; numbers beyond it never match a range.
    pub(crate) limit: f64,
    /// Steps per unit: numbers are compared after rounding to `1 / scale`.
    scale: f64,
    /// The limit as written in messages.
    pub(crate) limit_text: &'static str,
}

impl Precision {
    /// EventBridge: -5.0e9 to +5.0e9 inclusive, six digits to the right of the decimal point.
    // source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-numeric-matching
    pub(crate) const EVENTBRIDGE: Self = Self {
        limit: 5.0e9,
        scale: 1e6,
        limit_text: "-5.0e9 to 5.0e9",
    };
    /// SNS: -1e9 to 1e9, five digits of accuracy after the decimal point.
    // source: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
    pub(crate) const SNS: Self = Self {
        limit: 1.0e9,
        scale: 1e5,
        limit_text: "-1.0e9 to 1.0e9",
    };

    /// The number in steps of this precision, or `None` when it is out of the compared span.
    #[inline]
    fn steps(self, x: f64) -> Option<i64> {
        // `as` saturates; within the limit the product fits an i64 by far.
        (x.abs() <= self.limit).then(|| (x * self.scale).round() as i64)
    }

    /// Whether a pattern operand is within the compared span.
    pub(crate) fn admits(self, x: f64) -> bool {
        x.abs() <= self.limit
    }
}

/// A numeric range; either end may be open-ended, and each end is inclusive or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Range {
    pub(crate) lower: Option<Bound>,
    pub(crate) upper: Option<Bound>,
    pub(crate) precision: Precision,
}

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
    /// `value` in steps of the range's precision.
    steps: i64,
}

impl Bound {
    /// A bound of a range compared at `precision` (the value must be within its span).
    pub(crate) fn new(value: f64, inclusive: bool, precision: Precision) -> Self {
        Self {
            value,
            inclusive,
            steps: precision.steps(value).unwrap_or(0),
        }
    }
}

impl Range {
    /// Whether some number could be in both ranges (ends taken as inclusive: an estimate).
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        let below = |lower: Option<Bound>, upper: Option<Bound>| match (lower, upper) {
            (Some(l), Some(u)) => l.value <= u.value,
            _ => true,
        };
        below(self.lower, other.upper) && below(other.lower, self.upper)
    }

    /// Whether `x` is in the range, both compared at the range's precision; a number beyond
    /// the precision's span is in no range.
    #[inline]
    pub(crate) fn contains(&self, x: f64) -> bool {
        let Some(x) = self.precision.steps(x) else {
            return false;
        };
        let above = self
            .lower
            .is_none_or(|b| if b.inclusive { x >= b.steps } else { x > b.steps });
        let below = self
            .upper
            .is_none_or(|b| if b.inclusive { x <= b.steps } else { x < b.steps });
        above && below
    }
}

impl fmt::Display for Range {
    /// `[>0, <=5]`, `[=3]`, `[<10]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |x: f64| {
            if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{x:.0}")
            } else {
                format!("{x}")
            }
        };
        match (self.lower, self.upper) {
            (Some(l), Some(u)) if l.value == u.value && l.inclusive && u.inclusive => write!(f, "[={}]", num(l.value)),
            (lower, upper) => {
                let mut parts = Vec::new();
                if let Some(l) = lower {
                    parts.push(format!(">{}{}", if l.inclusive { "=" } else { "" }, num(l.value)));
                }
                if let Some(u) = upper {
                    parts.push(format!("<{}{}", if u.inclusive { "=" } else { "" }, num(u.value)));
                }
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// What `anything-but` excludes.
#[derive(Debug, Clone)]
pub(crate) enum Excluded {
    /// These strings (a number, boolean or null is never one of them).
    Strings(Vec<Box<str>>),
    /// These numbers, by value (`100` excludes `100.0`; a string is never one of them).
    Numbers(Vec<Num>),
    /// Strings starting with one of these.
    Prefixes(Vec<Box<str>>),
    /// Strings ending with one of these.
    Suffixes(Vec<Box<str>>),
    /// Strings matching one of these wildcards.
    Wildcards(Vec<Wildcard>),
    /// Strings equal to one of these, ignoring case (stored case-folded).
    IgnoringCase(Vec<Box<str>>),
}

impl Excluded {
    /// Whether the event value is one of the excluded ones. Only strings can be excluded by the
    /// string forms: AWS matches them against the quoted JSON text, which a number never fits.
    pub(crate) fn excludes(&self, value: LeafRef<'_>) -> bool {
        match (self, value) {
            (Self::Strings(list), LeafRef::Str(s)) => list.iter().any(|x| **x == *s),
            (Self::Numbers(list), LeafRef::Num(n)) => list.contains(&n),
            (Self::Prefixes(list), LeafRef::Str(s)) => list.iter().any(|x| s.starts_with(&**x)),
            (Self::Suffixes(list), LeafRef::Str(s)) => list.iter().any(|x| s.ends_with(&**x)),
            (Self::Wildcards(list), LeafRef::Str(s)) => list.iter().any(|x| x.matches(s)),
            (Self::IgnoringCase(list), LeafRef::Str(s)) => list.iter().any(|x| folded_equals(x, s)),
            _ => false,
        }
    }
}

/// What the index can file a condition under (see [`Condition::index_key`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum IndexKey<'a> {
    /// Only this value.
    Exact(&'a Scalar),
    /// Only strings that start with this (not empty).
    Prefix(&'a str),
    /// Only numbers in this range.
    Range(Range),
    /// Any leaf value at all.
    Present,
}

/// One entry of a match list, other than `{"exists": false}`.
#[derive(Debug, Clone)]
pub(crate) enum Condition {
    /// `"x"`, `5`, `true`, `null`.
    Exact(Scalar),
    /// `{"prefix": "x"}`.
    Prefix(Box<str>),
    /// `{"prefix": {"equals-ignore-case": "x"}}`, stored case-folded.
    PrefixIgnoringCase(Box<str>),
    /// `{"suffix": "x"}`.
    Suffix(Box<str>),
    /// `{"suffix": {"equals-ignore-case": "x"}}`, stored case-folded.
    SuffixIgnoringCase(Box<str>),
    /// `{"equals-ignore-case": "x"}`, stored case-folded.
    EqualsIgnoringCase(Box<str>),
    /// `{"wildcard": "x*y"}`.
    Wildcard(Wildcard),
    /// `{"anything-but": ...}`.
    AnythingBut(Excluded),
    /// `{"numeric": [...]}`.
    Numeric(Range),
    /// `{"cidr": "10.0.0.0/8"}`.
    Cidr(Cidr),
    /// `{"exists": true}`: any leaf value at all.
    Exists,
}

impl Condition {
    /// Whether this condition accepts one leaf value of the event.
    pub(crate) fn accepts(&self, value: LeafRef<'_>) -> bool {
        match self {
            Self::Exact(scalar) => scalar.equals(value),
            Self::Exists => true,
            Self::AnythingBut(excluded) => !excluded.excludes(value),
            Self::Numeric(range) => matches!(value, LeafRef::Num(n) if range.contains(n.float())),
            Self::Prefix(p) => value.as_str().is_some_and(|s| s.starts_with(&**p)),
            Self::Suffix(p) => value.as_str().is_some_and(|s| s.ends_with(&**p)),
            Self::PrefixIgnoringCase(p) => value.as_str().is_some_and(|s| folded_starts_with(s, p)),
            Self::SuffixIgnoringCase(p) => value.as_str().is_some_and(|s| folded_ends_with(s, p)),
            Self::EqualsIgnoringCase(p) => value.as_str().is_some_and(|s| folded_equals(p, s)),
            Self::Wildcard(w) => value.as_str().is_some_and(|s| w.matches(s)),
            Self::Cidr(net) => value.as_str().is_some_and(|s| net.contains(s)),
        }
    }

    /// What every value this condition accepts is known to have, for the index: the exact
    /// value, a string prefix, a numeric range, or only that there is a value.
    pub(crate) fn index_key(&self) -> IndexKey<'_> {
        match self {
            Self::Exact(scalar) => IndexKey::Exact(scalar),
            Self::Prefix(p) if !p.is_empty() => IndexKey::Prefix(p),
            Self::Wildcard(w) if !w.literal_prefix().is_empty() => IndexKey::Prefix(w.literal_prefix()),
            Self::Numeric(range) => IndexKey::Range(*range),
            _ => IndexKey::Present,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{}", serde_json::Value::from(&**s)),
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

/// A list of texts as JSON strings: `["a", "b"]`.
fn quoted_list(list: &[Box<str>]) -> String {
    let items: Vec<String> = list.iter().map(|s| serde_json::Value::from(&**s).to_string()).collect();
    format!("[{}]", items.join(", "))
}

impl fmt::Display for Excluded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Strings(list) => f.write_str(&quoted_list(list)),
            Self::Numbers(list) => {
                let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Self::Prefixes(list) => write!(f, "prefix {}", quoted_list(list)),
            Self::Suffixes(list) => write!(f, "suffix {}", quoted_list(list)),
            Self::Wildcards(list) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|w| serde_json::Value::from(w.source()).to_string())
                    .collect();
                write!(f, "wildcard [{}]", items.join(", "))
            }
            Self::IgnoringCase(list) => write!(f, "equals-ignore-case {}", quoted_list(list)),
        }
    }
}

impl fmt::Display for Condition {
    /// The condition as a person reads it in an explanation: `"x"`, `prefix "us-"`,
    /// `numeric [>0, <=5]` (texts compared ignoring case are shown case-folded).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = |s: &str| serde_json::Value::from(s).to_string();
        match self {
            Self::Exact(scalar) => write!(f, "{scalar}"),
            Self::Prefix(p) => write!(f, "prefix {}", json(p)),
            Self::PrefixIgnoringCase(p) => write!(f, "prefix {} (ignoring case)", json(p)),
            Self::Suffix(p) => write!(f, "suffix {}", json(p)),
            Self::SuffixIgnoringCase(p) => write!(f, "suffix {} (ignoring case)", json(p)),
            Self::EqualsIgnoringCase(p) => write!(f, "equals-ignore-case {}", json(p)),
            Self::Wildcard(w) => write!(f, "wildcard {}", json(&w.source())),
            Self::AnythingBut(excluded) => write!(f, "anything-but {excluded}"),
            Self::Numeric(range) => write!(f, "numeric {range}"),
            Self::Cidr(net) => write!(f, "cidr {net}"),
            Self::Exists => f.write_str("exists"),
        }
    }
}

/// Case-folds text for `equals-ignore-case`: each character lower-cased on its own (Unicode simple
/// and special lower-case mappings; no locale, no context).
pub(crate) fn fold_case(text: &str) -> Box<str> {
    text.chars()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .into_boxed_str()
}

/// `text` equals `folded` (already case-folded) ignoring case.
fn folded_equals(folded: &str, text: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.eq_ignore_ascii_case(folded);
    }
    text.chars().flat_map(char::to_lowercase).eq(folded.chars())
}

/// `text` starts with `folded` (already case-folded) ignoring case.
fn folded_starts_with(text: &str, folded: &str) -> bool {
    // Fast path: when the bytes to compare are ASCII they are whole characters on both sides.
    if let Some(head) = text.as_bytes().get(..folded.len())
        && head.is_ascii()
        && folded.is_ascii()
    {
        return head.eq_ignore_ascii_case(folded.as_bytes());
    }
    let mut lowered = text.chars().flat_map(char::to_lowercase);
    folded.chars().all(|c| lowered.next() == Some(c))
}

/// `text` ends with `folded` (already case-folded) ignoring case.
fn folded_ends_with(text: &str, folded: &str) -> bool {
    if let Some(tail) = text.len().checked_sub(folded.len()).map(|at| &text.as_bytes()[at..])
        && tail.is_ascii()
        && folded.is_ascii()
    {
        return tail.eq_ignore_ascii_case(folded.as_bytes());
    }
    let mut lowered = text.chars().rev().flat_map(|c| c.to_lowercase().rev());
    folded.chars().rev().all(|c| lowered.next() == Some(c))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn numbers_equal_by_value_whatever_their_written_form() {
        let n = |text: &str| match serde_json::from_str::<Value>(text) {
            Ok(Value::Number(n)) => Num::of(&n),
            other => panic!("{text}: {other:?}"),
        };
        // Observed in AWS (crate README, parity table): 300.0 matches [300], and 300 matches [300.0].
        for (a, b) in [
            ("300", "300.0"),
            ("300", "3e2"),
            ("300", "300.00"),
            ("3.0e2", "300"),
            ("0", "-0.0"),
        ] {
            assert_eq!(n(a), n(b), "{a} = {b}");
            assert_eq!(n(a).bucket(), n(b).bucket(), "{a} and {b} share a bucket");
        }
        assert_eq!(n("301.8"), n("3.018e2"));
        assert_ne!(n("300"), n("300.5"));
        assert_ne!(n("300.5"), n("300"));
        // Whole numbers beyond float precision stay exact, also when written as floats.
        assert_ne!(n("9007199254740993"), n("9007199254740992"));
        assert_eq!(n("9007199254740992"), n("9007199254740992.0"));
        assert_ne!(n("9007199254740993"), n("9007199254740992.0"));
        assert_eq!(n(&u64::MAX.to_string()), n(&u64::MAX.to_string()));
        assert_eq!(n("1e300"), n("1.0e300"));
        assert_eq!(n("300.0").whole(), Some(300));
    }

    #[test]
    fn case_folding_compares_characters_not_bytes() {
        assert!(folded_equals(&fold_case("ÉTÉ"), "été"));
        assert!(folded_equals(&fold_case("Straße"), "STRAßE"));
        assert!(!folded_equals(&fold_case("STRASSE"), "straße"));
        assert!(folded_starts_with("EventBridge", &fold_case("eventb")));
        assert!(folded_starts_with("ÉVÉNEMENT", &fold_case("év")));
        assert!(!folded_starts_with("Ev", &fold_case("eventb")));
        assert!(folded_ends_with("IMAGE.PNG", &fold_case(".png")));
        assert!(folded_ends_with("photo.ÉTÉ", &fold_case(".été")));
        assert!(!folded_ends_with("png", &fold_case(".png")));
        // The Kelvin sign lower-cases to an ASCII k: the ASCII fast path must not miss it.
        assert!(folded_starts_with("\u{212A}ey", "key"));
        assert!(folded_ends_with("ke\u{212A}", "kek"));
    }

    #[test]
    fn string_operators_never_accept_numbers() {
        let conditions = [
            Condition::Prefix("1".into()),
            Condition::Suffix("1".into()),
            Condition::EqualsIgnoringCase("1".into()),
            Condition::Wildcard(Wildcard::parse("1*").unwrap_or_else(|e| panic!("{e}"))),
            Condition::Exact(Scalar::Str("1".into())),
        ];
        for condition in conditions {
            assert!(!condition.accepts(LeafRef::Num(Num::of(&1.into()))), "{condition:?}");
            assert!(condition.accepts(LeafRef::Str("1")), "{condition:?}");
        }
    }
}

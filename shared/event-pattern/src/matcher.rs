//! Many patterns against one event: an index finds the few patterns worth checking, and only
//! those are matched in full.
//!
//! Each pattern is filed under a set of keys such that any event it matches has at least one of
//! them. A key is a field path and what the field holds there: an exact value, a string prefix
//! (from `prefix`, or the text before the first star of a `wildcard`), a numeric range, or just
//! some value (every other operator but `{"exists": false}`). The keys come from one field of
//! the pattern, or, through a `$or`, from one field of every alternative; among the possible
//! sets the one with the fewest patterns already filed under it wins, exact values first, so
//! rules that share `source` are filed under their `detail-type`. Patterns that can match an
//! event without a value anywhere (`{"exists": false}` everywhere) are checked against every
//! event.
//!
//! To match, the event is walked only along the paths some pattern is filed under (a trie of
//! keys, never a dotted string), what is found there is looked up, and the candidates are
//! matched in full. The index only narrows; the full match decides.

use std::fmt;

use serde_json::Value;

use crate::condition::{Condition, IndexKey, Range, Scalar};
use crate::dotted;
use crate::event::{Json, JsonObject, LeafRef, View};
use crate::explain::Mismatch;
use crate::hash::FxHashMap;
use crate::pattern::Pattern;
use crate::scan::{self, Wanted};
use crate::tree::{Leaf, Node, Rule};
use crate::trie::Children;

/// Arrays nested deeper than this are not looked into by the index (the full match has the
/// same limit, so nothing it could match is missed).
const MAX_ARRAY_NESTING: usize = 64;

/// Many patterns, each with a key of the caller's choosing, matched against one event at a time.
///
/// ```
/// use event_pattern::{Matcher, Pattern};
/// use serde_json::json;
///
/// let mut rules = Matcher::new();
/// rules.add("placed", Pattern::parse(r#"{"detail-type": ["OrderPlaced"]}"#)?);
/// rules.add("big", Pattern::parse(r#"{"detail": {"total": [{"numeric": [">=", 1000]}]}}"#)?);
/// let event = json!({"detail-type": "OrderPlaced", "detail": {"total": 1200}});
/// assert_eq!(rules.matches(&event), vec!["placed", "big"]);
/// # Ok::<(), event_pattern::PatternError>(())
/// ```
pub struct Matcher<K> {
    rules: Vec<(K, Pattern)>,
    index: PathNode,
    /// Rules the index cannot narrow, checked against every event; in insertion order.
    unindexed: Vec<u32>,
    /// Every path any rule looks at, for reading events from JSON text.
    wanted: Wanted,
}

impl<K> Default for Matcher<K> {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            index: PathNode::default(),
            unindexed: Vec::new(),
            wanted: Wanted::default(),
        }
    }
}

impl<K: fmt::Debug> fmt::Debug for Matcher<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.rules)
            .field("unindexed", &self.unindexed)
            .finish_non_exhaustive()
    }
}

impl<K: Clone> Matcher<K> {
    /// An empty matcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pattern under `key`. Keys need not be unique: a key added with two patterns is
    /// returned once for each of them that matches.
    pub fn add(&mut self, key: K, pattern: Pattern) {
        let Ok(id) = u32::try_from(self.rules.len()) else {
            // Unreachable: four billion compiled patterns do not fit in memory.
            return;
        };
        match self.best_keys(&pattern.root) {
            Some((_, keys)) => {
                for (path, key) in keys {
                    self.index.file(&path, &key, id);
                }
            }
            None => self.unindexed.push(id),
        }
        self.wanted.add(&pattern.root);
        self.rules.push((key, pattern));
    }

    /// How many patterns were added.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no pattern was added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The keys of the patterns that match the event, in the order the patterns were added, each
    /// pattern once.
    pub fn matches(&self, event: &Value) -> Vec<K> {
        let mut matched = Vec::new();
        self.for_each_match(event, |key| matched.push(key.clone()));
        matched
    }

    /// [`matches`](Self::matches) for an event given as JSON text: the same keys as parsing the
    /// text with `serde_json` first, but only the fields some pattern looks at are kept, so
    /// large events cost little more than their length to scan.
    ///
    /// # Errors
    ///
    /// The text is not valid JSON: the error is serde_json's, with line and column.
    pub fn matches_json(&self, event: &[u8]) -> Result<Vec<K>, serde_json::Error> {
        match scan::parse(event, &self.wanted) {
            Some(kept) => {
                let mut matched = Vec::new();
                self.each_match(&kept, &mut |key| matched.push(key.clone()));
                Ok(matched)
            }
            // Invalid, or valid in a way the reader does not vouch for: serde_json decides.
            None => serde_json::from_slice::<Value>(event).map(|full| self.matches(&full)),
        }
    }

    /// For each pattern, in the order they were added, its key and why the event does not
    /// match it (`None` when it does): what `--explain` prints for a rule. A separate walk over
    /// every pattern, for explaining a routing decision; the matching path never calls it.
    ///
    /// ```
    /// use event_pattern::{Matcher, Pattern};
    /// use serde_json::json;
    ///
    /// let mut rules = Matcher::new();
    /// rules.add("placed", Pattern::parse(r#"{"detail-type": ["OrderPlaced"]}"#)?);
    /// rules.add("big", Pattern::parse(r#"{"detail": {"total": [{"numeric": [">=", 1000]}]}}"#)?);
    /// let why = rules.explain(&json!({"detail-type": "OrderPlaced", "detail": {"total": 12}}));
    /// assert!(why[0].1.is_none());
    /// assert_eq!(why[1].1.as_ref().map(ToString::to_string).as_deref(), Some("detail.total: 12 is not in [>=1000]"));
    /// # Ok::<(), event_pattern::PatternError>(())
    /// ```
    pub fn explain(&self, event: &Value) -> Vec<(&K, Option<Mismatch>)> {
        self.rules
            .iter()
            .map(|(key, pattern)| (key, pattern.explain(event)))
            .collect()
    }

    /// The patterns with their keys, in the order they were added.
    pub fn patterns(&self) -> impl Iterator<Item = (&K, &Pattern)> {
        self.rules.iter().map(|(key, pattern)| (key, pattern))
    }

    /// Calls `f` with the key of each pattern that matches the event, in the order the patterns
    /// were added, each pattern once; [`matches`](Self::matches) without collecting the keys.
    pub fn for_each_match(&self, event: &Value, mut f: impl FnMut(&K)) {
        // Dotted keys are nested paths; `matches_json` leaves events that have them to this.
        let event = dotted::nested(event, &self.wanted);
        self.each_match(&*event, &mut f);
    }

    fn each_match<E: Json>(&self, event: &E, f: &mut dyn FnMut(&K)) {
        let mut candidates: Vec<u32> = Vec::new();
        self.index.collect(event, &mut candidates);
        if candidates.len() > 1 {
            // Often already in order (one key per path, filed in insertion order).
            if !candidates.is_sorted() {
                candidates.sort_unstable();
            }
            candidates.dedup();
        }
        let mut unindexed = self.unindexed.iter().copied().peekable();
        let mut indexed = candidates.into_iter().peekable();
        loop {
            // Merge the two sorted lists: ids are insertion order.
            let id = match (indexed.peek(), unindexed.peek()) {
                (Some(&a), Some(&b)) if a <= b => indexed.next(),
                (Some(_), None) => indexed.next(),
                (_, Some(_)) => unindexed.next(),
                (None, None) => break,
            };
            if let Some((key, pattern)) = id.and_then(|id| self.rules.get(id as usize))
                && pattern.root.matches(event.object(), event)
            {
                f(key);
            }
        }
    }

    /// The cheapest set of index keys that every event matching `node` has one of: its cost
    /// and the keys.
    fn best_keys<'p>(&self, node: &'p Node) -> Option<(usize, Keys<'p>)> {
        let mut path = Vec::new();
        best_keys(node, &mut path, &self.index)
    }
}

type Keys<'p> = Vec<(Vec<&'p str>, IndexKey<'p>)>;

fn best_keys<'p>(node: &'p Node, path: &mut Vec<&'p str>, index: &PathNode) -> Option<(usize, Keys<'p>)> {
    let mut best: Option<(usize, Keys<'p>)> = None;
    let mut consider = |option: Option<(usize, Keys<'p>)>| {
        if let Some((cost, keys)) = option
            && best
                .as_ref()
                .is_none_or(|(best_cost, best_keys)| (cost, keys.len()) < (*best_cost, best_keys.len()))
        {
            best = Some((cost, keys));
        }
    };
    for field in &node.fields {
        path.push(&field.key);
        let option = match &field.rule {
            Rule::Leaf(leaf) => leaf_keys(leaf).map(|keys| {
                let cost = keys.iter().map(|key| index.cost(path, key)).sum();
                (cost, keys.into_iter().map(|key| (path.clone(), key)).collect())
            }),
            Rule::Object(inner) => best_keys(inner, path, index),
        };
        path.pop();
        consider(option);
    }
    for alternatives in &node.any_of {
        // Every alternative must bring a key, or an event could match without any of them.
        let mut cost = 0;
        let mut keys = Vec::new();
        let all = alternatives
            .iter()
            .all(|alternative| match best_keys(alternative, path, index) {
                Some((c, k)) => {
                    cost += c;
                    keys.extend(k);
                    true
                }
                None => false,
            });
        consider(all.then_some((cost, keys)));
    }
    best
}

/// The keys a match list can be filed under: one per condition, or just "present" when one of
/// them only needs a value. None with `{"exists": false}`, which matches when there is no value.
fn leaf_keys(leaf: &Leaf) -> Option<Vec<IndexKey<'_>>> {
    if leaf.absent_at.is_some() {
        return None;
    }
    let keys: Vec<IndexKey<'_>> = leaf.conditions.iter().map(Condition::index_key).collect();
    if keys.iter().any(|key| matches!(key, IndexKey::Present)) {
        return Some(vec![IndexKey::Present]);
    }
    Some(keys)
}

/// The index: a trie of event keys; a node holds the buckets of the patterns filed under what
/// the field at its path holds.
#[derive(Debug, Default)]
struct PathNode {
    children: Children<PathNode>,
    buckets: Option<Box<Buckets>>,
}

/// Pattern ids by what they want at one path.
#[derive(Debug, Default)]
struct Buckets {
    strings: FxHashMap<Box<str>, Vec<u32>>,
    numbers: FxHashMap<u64, Vec<u32>>,
    trues: Vec<u32>,
    falses: Vec<u32>,
    nulls: Vec<u32>,
    prefixes: FxHashMap<Box<str>, Vec<u32>>,
    /// The lengths of the keys of `prefixes`, ascending.
    prefix_lengths: Vec<usize>,
    ranges: Vec<(Range, u32)>,
    /// Patterns that only need some value here.
    present: Vec<u32>,
}

/// The cost of a key, in quarters of a candidate: the patterns already filed under it, and a
/// little more for keys that many values fall under, so that ties go to the most selective.
const EXACT_EXTRA: usize = 0;
const PREFIX_EXTRA: usize = 1;
const RANGE_EXTRA: usize = 2;
const PRESENT_EXTRA: usize = 3;

impl PathNode {
    fn cost(&self, path: &[&str], key: &IndexKey<'_>) -> usize {
        let mut node = Some(self);
        for step in path {
            node = node.and_then(|n| n.children.get(step));
        }
        let buckets = node.and_then(|n| n.buckets.as_deref());
        let filed = |ids: Option<&Vec<u32>>| ids.map_or(0, Vec::len) * 4;
        match key {
            IndexKey::Exact(value) => filed(buckets.and_then(|b| b.exact(value))) + EXACT_EXTRA,
            IndexKey::Prefix(p) => filed(buckets.and_then(|b| b.prefixes.get(*p))) + PREFIX_EXTRA,
            IndexKey::Range(range) => {
                let overlapping = buckets.map_or(0, |b| b.ranges.iter().filter(|(r, _)| r.overlaps(range)).count());
                overlapping * 4 + RANGE_EXTRA
            }
            IndexKey::Present => filed(buckets.map(|b| &b.present)) + PRESENT_EXTRA,
        }
    }

    fn file(&mut self, path: &[&str], key: &IndexKey<'_>, id: u32) {
        let mut node = self;
        for step in path {
            node = node.children.get_or_insert(step);
        }
        let buckets = node.buckets.get_or_insert_with(Box::default);
        match key {
            IndexKey::Exact(value) => buckets.exact_mut(value).file(id),
            IndexKey::Prefix(p) => {
                buckets.prefixes.entry(Box::from(*p)).or_default().file(id);
                if let Err(at) = buckets.prefix_lengths.binary_search(&p.len()) {
                    buckets.prefix_lengths.insert(at, p.len());
                }
            }
            IndexKey::Range(range) => buckets.ranges.push((*range, id)),
            IndexKey::Present => buckets.present.file(id),
        }
    }

    /// Adds to `out` the ids filed under what the event has at this node's paths.
    fn collect<E: Json>(&self, value: &E, out: &mut Vec<u32>) {
        if let Some(buckets) = &self.buckets {
            let mut any = false;
            for_each_leaf(value, 0, &mut |leaf| {
                any = true;
                buckets.collect(leaf, out);
            });
            if any {
                out.extend_from_slice(&buckets.present);
            }
        }
        if !self.children.is_empty() {
            for_each_object(value, 0, &mut |object| {
                // Look up from the smaller side: the keys rules use, or the keys the event has.
                if self.children.len() <= object.len() {
                    for (key, child) in self.children.iter() {
                        if let Some(v) = object.get(key) {
                            child.collect(v, out);
                        }
                    }
                } else {
                    object.for_each_entry(&mut |key, v| {
                        if let Some(child) = self.children.get(key) {
                            child.collect(v, out);
                        }
                    });
                }
            });
        }
    }
}

impl Buckets {
    fn exact(&self, value: &Scalar) -> Option<&Vec<u32>> {
        match value {
            Scalar::Str(s) => self.strings.get(&**s),
            Scalar::Num(n) => self.numbers.get(&n.bucket()),
            Scalar::Bool(true) => Some(&self.trues),
            Scalar::Bool(false) => Some(&self.falses),
            Scalar::Null => Some(&self.nulls),
        }
    }

    fn exact_mut(&mut self, value: &Scalar) -> &mut Vec<u32> {
        match value {
            Scalar::Str(s) => self.strings.entry(s.clone()).or_default(),
            Scalar::Num(n) => self.numbers.entry(n.bucket()).or_default(),
            Scalar::Bool(true) => &mut self.trues,
            Scalar::Bool(false) => &mut self.falses,
            Scalar::Null => &mut self.nulls,
        }
    }

    fn collect(&self, leaf: LeafRef<'_>, out: &mut Vec<u32>) {
        let exact = match leaf {
            LeafRef::Str(s) => {
                for &length in &self.prefix_lengths {
                    match s.get(..length) {
                        Some(head) => out.extend(self.prefixes.get(head).into_iter().flatten()),
                        None if length > s.len() => break,
                        None => {} // not at a character boundary: no prefix of that length
                    }
                }
                self.strings.get(s)
            }
            LeafRef::Num(n) => {
                if !self.ranges.is_empty() {
                    let x = n.float();
                    out.extend(self.ranges.iter().filter(|(r, _)| r.contains(x)).map(|(_, id)| *id));
                }
                self.numbers.get(&n.bucket())
            }
            LeafRef::Bool(true) => Some(&self.trues),
            LeafRef::Bool(false) => Some(&self.falses),
            LeafRef::Null => Some(&self.nulls),
        };
        if let Some(ids) = exact {
            out.extend_from_slice(ids);
        }
    }
}

trait File {
    fn file(&mut self, id: u32);
}

impl File for Vec<u32> {
    /// Files `id` once, even when a list names the same value twice.
    fn file(&mut self, id: u32) {
        if self.last() != Some(&id) {
            self.push(id);
        }
    }
}

/// Calls `f` on the value, or on each element of an array (spread), that is not an object.
fn for_each_leaf<E: Json>(value: &E, depth: usize, f: &mut dyn FnMut(LeafRef<'_>)) {
    match value.view() {
        View::Array(items) if depth <= MAX_ARRAY_NESTING => {
            items.iter().for_each(|item| for_each_leaf(item, depth + 1, f));
        }
        View::Array(_) | View::Object(_) => {}
        View::Leaf(leaf) => f(leaf),
    }
}

/// Calls `f` on the value, or on each element of an array (spread), that is an object.
fn for_each_object<E: Json>(value: &E, depth: usize, f: &mut dyn FnMut(&E::Object)) {
    match value.view() {
        View::Object(object) => f(object),
        View::Array(items) if depth <= MAX_ARRAY_NESTING => {
            items.iter().for_each(|item| for_each_object(item, depth + 1, f));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pattern(value: Value) -> Pattern {
        Pattern::from_value(&value).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rules_sharing_a_source_are_filed_under_their_type() {
        let mut matcher = Matcher::new();
        for n in 0..50 {
            matcher.add(
                n,
                pattern(json!({"source": ["shop.orders"], "detail-type": [format!("Type{n}")]})),
            );
        }
        let mut candidates = Vec::new();
        matcher.index.collect(
            &json!({"source": "shop.orders", "detail-type": "Type7"}),
            &mut candidates,
        );
        candidates.sort_unstable();
        candidates.dedup();
        assert!(candidates.len() <= 2, "{candidates:?}");
        assert!(matcher.unindexed.is_empty());
        assert_eq!(
            matcher.matches(&json!({"source": "shop.orders", "detail-type": "Type7"})),
            vec![7]
        );
    }

    #[test]
    fn or_is_indexed_only_when_every_alternative_needs_a_value() {
        let mut matcher = Matcher::new();
        matcher.add(
            "both",
            pattern(json!({"$or": [{"a": ["x"]}, {"b": {"c": [{"prefix": "y"}]}}]})),
        );
        matcher.add(
            "one",
            pattern(json!({"$or": [{"a": ["x"]}, {"b": [{"exists": false}]}]})),
        );
        assert_eq!(matcher.unindexed, vec![1]);
        // `b` holds an object, not a leaf: `{"exists": false}` holds too.
        assert_eq!(matcher.matches(&json!({"b": {"c": "yes"}})), vec!["both", "one"]);
        assert_eq!(matcher.matches(&json!({"b": "yes"})), Vec::<&str>::new());
        assert_eq!(matcher.matches(&json!({"c": "yes"})), vec!["one"]);
        assert_eq!(matcher.matches(&json!({"a": "x"})), vec!["both", "one"]);
    }

    #[test]
    fn prefixes_ranges_and_presence_narrow_the_candidates() {
        let mut matcher = Matcher::new();
        for n in 0..20 {
            matcher.add(
                format!("p{n}"),
                pattern(json!({"s": [{"prefix": format!("SKU-{n}-")}]})),
            );
            matcher.add(
                format!("w{n}"),
                pattern(json!({"c": [{"wildcard": format!("cust-{n}-*")}]})),
            );
            matcher.add(
                format!("r{n}"),
                pattern(json!({"t": [{"numeric": [">=", n * 10, "<", n * 10 + 10]}]})),
            );
            matcher.add(
                format!("a{n}"),
                pattern(json!({format!("k{n}"): [{"anything-but": "x"}]})),
            );
        }
        assert!(matcher.unindexed.is_empty());
        let event = json!({"s": "SKU-7-blue", "c": "cust-12-gold", "t": 75, "k3": "y", "x": "é"});
        let mut candidates = Vec::new();
        matcher.index.collect(&event, &mut candidates);
        candidates.sort_unstable();
        assert_eq!(candidates.len(), 4, "{candidates:?}");
        assert_eq!(matcher.matches(&event), vec!["a3", "p7", "r7", "w12"]);
        // A prefix length that falls inside a multi-byte character is skipped, not a panic.
        assert!(matcher.matches(&json!({"s": "SKU-é"})).is_empty());
    }

    #[test]
    fn many_distinct_keys_at_one_level_are_found_from_either_side() {
        let mut matcher = Matcher::new();
        for n in 0..30 {
            matcher.add(
                n,
                pattern(json!({format!("k{n}"): [n], "d": {format!("k{n}"): [{"prefix": "v"}]}})),
            );
        }
        // Fewer event keys than rule keys at the root, more at `d`.
        let mut detail = serde_json::Map::new();
        for n in 0..40 {
            detail.insert(format!("k{n}"), json!(format!("v{n}")));
        }
        let event = json!({"k3": 3, "k17": 17, "k18": 0, "d": detail});
        assert_eq!(matcher.matches(&event), vec![3, 17]);
        let text = serde_json::to_vec(&event).unwrap_or_default();
        assert_eq!(matcher.matches_json(&text).ok(), Some(vec![3, 17]));
    }

    #[test]
    fn json_text_keeps_the_last_of_duplicate_keys_and_decodes_escapes() {
        let mut matcher = Matcher::new();
        matcher.add("x", pattern(json!({"a": ["x"], "b": {"c": [1]}})));
        for (text, expected) in [
            (r#"{"a": "y", "a": "x", "b": {"c": 1}}"#, vec!["x"]),
            (r#"{"a": "x", "a": "y", "b": {"c": 1}}"#, vec![]),
            (r#"{"a": "x", "b": {"c": 2, "c": 1}}"#, vec!["x"]),
            (r#"{"\u0061": "\u0078", "b": [{"c": 1}]}"#, vec!["x"]),
            // Written with a fraction, 1.0 is still the value 1 (EventBridge compares values).
            (r#"{"a": "x", "b": [{"c": 1.0}]}"#, vec!["x"]),
            (r#"{"a": "x", "b": [{"c": 1.5}]}"#, vec![]),
            (r#"{"a": "x\u0000", "b": {"c": 1}}"#, vec![]),
        ] {
            let full: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(matcher.matches(&full), expected, "{text}");
            assert_eq!(matcher.matches_json(text.as_bytes()).ok(), Some(expected), "{text}");
        }
    }

    #[test]
    fn each_pattern_is_returned_once_in_insertion_order() {
        let mut matcher = Matcher::new();
        matcher.add("r1", pattern(json!({"a": ["x", "y"]})));
        matcher.add("r2", pattern(json!({"b": [{"prefix": "y"}]})));
        matcher.add("r1", pattern(json!({"b": ["y"]})));
        matcher.add("r3", pattern(json!({"$or": [{"a": ["x"]}, {"b": ["y"]}]})));
        let event = json!({"a": ["x", "y", "x"], "b": "y"});
        assert_eq!(matcher.matches(&event), vec!["r1", "r2", "r1", "r3"]);
        assert_eq!(matcher.len(), 4);
    }
}

//! Reading an event from JSON text, keeping only the fields some pattern looks at.
//!
//! A pattern only ever reads an event along its own paths, so an event with every other field
//! left out matches exactly the same patterns. Skipped values are still checked to be valid
//! JSON, byte for byte as strictly as serde_json (or more: when in doubt this reader gives up and
//! the caller parses the whole text with serde_json, which then decides).

use std::borrow::Cow;

use serde_json::Number;

use crate::condition::Num;
use crate::event::{Json, JsonObject, LeafRef, View, same_key};
use crate::tree::{Node, Rule};
use crate::trie::Children;

/// serde_json refuses documents nested 128 deep; giving up one level earlier keeps this reader
/// at least as strict.
const MAX_NESTING: usize = 127;

/// The paths patterns look at: a trie of event keys.
#[derive(Debug, Default, Clone)]
pub(crate) struct Wanted {
    children: Children<Wanted>,
}

impl Wanted {
    /// Adds every path of a pattern.
    pub(crate) fn add(&mut self, node: &Node) {
        for field in &node.fields {
            let child = self.children.get_or_insert(&field.key);
            if let Rule::Object(inner) = &field.rule {
                child.add(inner);
            }
        }
        for alternatives in &node.any_of {
            alternatives.iter().for_each(|alternative| self.add(alternative));
        }
    }

    pub(crate) fn child(&self, key: &str) -> Option<&Self> {
        self.children.get(key)
    }

    /// The wanted keys one level down, with what is wanted below each.
    pub(crate) fn children(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.children.iter()
    }

    /// Whether some pattern looks below this level.
    pub(crate) fn looks_deeper(&self) -> bool {
        !self.children.is_empty()
    }
}

/// An event read from JSON text: only the wanted fields, strings borrowed from the text unless
/// they hold escapes.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    Str(Cow<'a, str>),
    Num(Num),
    Bool(bool),
    Null,
    Array(Vec<Event<'a>>),
    Object(Fields<'a>),
}

/// The kept fields of an object, each key once (the last value given, as serde_json keeps).
#[derive(Debug, Default)]
pub(crate) struct Fields<'a>(Vec<(Cow<'a, str>, Event<'a>)>);

impl<'a> Json for Event<'a> {
    type Object = Fields<'a>;

    #[inline]
    fn view(&self) -> View<'_, Self> {
        match self {
            Event::Object(fields) => View::Object(fields),
            Event::Array(items) => View::Array(items),
            Event::Str(s) => View::Leaf(LeafRef::Str(s)),
            Event::Num(n) => View::Leaf(LeafRef::Num(*n)),
            Event::Bool(b) => View::Leaf(LeafRef::Bool(*b)),
            Event::Null => View::Leaf(LeafRef::Null),
        }
    }
}

impl<'a> JsonObject<Event<'a>> for Fields<'a> {
    #[inline]
    fn get(&self, key: &str) -> Option<&Event<'a>> {
        self.0.iter().find(|(k, _)| same_key(k, key)).map(|(_, v)| v)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn for_each_entry(&self, f: &mut dyn FnMut(&str, &Event<'a>)) {
        self.0.iter().for_each(|(k, v)| f(k, v));
    }
}

/// The event in `text` with only the `wanted` fields, or `None` if the text is not valid JSON
/// (or is valid in a way this reader does not vouch for).
pub(crate) fn parse<'a>(text: &'a [u8], wanted: &Wanted) -> Option<Event<'a>> {
    // Outside strings JSON is ASCII, so checking the whole text is checking every string.
    let text = std::str::from_utf8(text).ok()?;
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    reader.whitespace();
    let value = reader.value(wanted)?;
    reader.whitespace();
    (reader.pos == reader.bytes.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A value some pattern looks at, built.
    fn value(&mut self, wanted: &Wanted) -> Option<Event<'a>> {
        match self.peek()? {
            b'{' => self.object(wanted),
            b'[' => self.array(wanted),
            b'"' => {
                let (raw, escaped) = self.string()?;
                Some(Event::Str(text_of(raw, escaped)))
            }
            b't' => self.literal("true").map(|()| Event::Bool(true)),
            b'f' => self.literal("false").map(|()| Event::Bool(false)),
            b'n' => self.literal("null").map(|()| Event::Null),
            b'-' | b'0'..=b'9' => {
                let text = self.number()?;
                text.parse::<Number>().ok().map(|n| Event::Num(Num::of(&n)))
            }
            _ => None,
        }
    }

    /// A value no pattern looks at: only checked.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.enter()?;
                self.whitespace();
                if self.peek()? == b'}' {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_string()?;
                        self.whitespace();
                        self.expect(b':')?;
                        self.whitespace();
                        self.skip()?;
                        if self.next_item(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Some(())
            }
            b'[' => {
                self.enter()?;
                self.whitespace();
                if self.peek()? == b']' {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip()?;
                        if self.next_item(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Some(())
            }
            b'"' => self.skip_string(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => {
                let text = self.number()?;
                // Only a long or non-integer number can be out of range for serde_json.
                if text.len() > 18 || text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    text.parse::<Number>().ok()?;
                }
                Some(())
            }
            _ => None,
        }
    }

    /// After an item: a comma (false) or the closing bracket (true).
    #[inline(always)]
    fn next_item(&mut self, close: u8) -> Option<bool> {
        self.whitespace();
        let byte = self.peek()?;
        self.pos += 1;
        if byte == close {
            Some(true)
        } else if byte == b',' {
            self.whitespace();
            Some(false)
        } else {
            None
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.bytes[self.pos..]
            .starts_with(word.as_bytes())
            .then(|| self.pos += word.len())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.pos += 1;
        (self.depth < MAX_NESTING).then_some(())
    }

    fn object(&mut self, wanted: &Wanted) -> Option<Event<'a>> {
        self.enter()?;
        let mut object = Fields::default();
        self.whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let (raw, escaped) = self.string()?;
                self.whitespace();
                self.expect(b':')?;
                self.whitespace();
                let key = text_of(raw, escaped);
                match wanted.child(&key) {
                    Some(child) => {
                        let value = self.value(child)?;
                        match object.0.iter_mut().find(|(k, _)| same_key(k, &key)) {
                            Some(slot) => slot.1 = value,
                            None => object.0.push((key, value)),
                        }
                    }
                    // A dotted key is the nested path it spells (see `dotted`): an event where
                    // that could matter is left to the full reading, which rewrites it.
                    None if key
                        .split_once('.')
                        .is_some_and(|(first, _)| wanted.child(first).is_some()) =>
                    {
                        return None;
                    }
                    None => self.skip()?,
                }
                if self.next_item(b'}')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(Event::Object(object))
    }

    fn array(&mut self, wanted: &Wanted) -> Option<Event<'a>> {
        self.enter()?;
        let mut items = Vec::new();
        self.whitespace();
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                items.push(self.value(wanted)?);
                if self.next_item(b']')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(Event::Array(items))
    }

    /// A string: its raw text between the quotes, and whether it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a str, bool)> {
        let (start, escaped) = self.string_span()?;
        let raw = self.text.get(start..self.pos - 1)?;
        Some((raw, escaped))
    }

    /// A string no pattern looks at: only checked.
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        self.string_span().map(|_| ())
    }

    /// A string, checked: where its raw text starts (it ends before the quote just read), and
    /// whether it holds escapes.
    #[inline(always)]
    fn string_span(&mut self) -> Option<(usize, bool)> {
        self.expect(b'"')?;
        let start = self.pos;
        let bytes = self.bytes;
        // A local position, written back at the end: the loop runs on registers.
        let mut pos = start;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while none is a quote, a backslash or a control character;
            // the lowest flagged byte is always a special one, so jump straight to it.
            while let Some(chunk) = bytes.get(pos..pos + 8) {
                let mut word = [0; 8];
                word.copy_from_slice(chunk);
                let special = special_bytes(u64::from_le_bytes(word));
                if special != 0 {
                    pos += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                pos += 8;
            }
            match *bytes.get(pos)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos = pos + 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    }
                    pos = self.pos;
                }
                0..0x20 => return None,
                _ => pos += 1,
            }
        }
        self.pos = pos + 1;
        Some((start, escaped))
    }

    /// `uXXXX` after a backslash; surrogates must come in pairs, as serde_json requires.
    fn unicode_escape(&mut self) -> Option<()> {
        let unit = self.hex4()?;
        match unit {
            0xDC00..=0xDFFF => None,
            0xD800..=0xDBFF => {
                self.expect(b'\\')?;
                matches!(self.hex4()?, 0xDC00..=0xDFFF).then_some(())
            }
            _ => Some(()),
        }
    }

    /// `uXXXX`: the code unit.
    fn hex4(&mut self) -> Option<u16> {
        self.expect(b'u')?;
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u16::from_str_radix(digits, 16).ok()
    }

    /// The text of a number, checked against the JSON grammar.
    fn number(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Some(&self.text[start..self.pos])
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }
}

/// Non-zero when one of the eight bytes (little-endian) is `"`, `\\` or below 0x20: the high
/// bit of each such byte. It may also flag a byte after such a byte, never one before the first.
#[inline(always)]
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    quote | backslash | control
}

/// The text of a string from its raw, already checked, form: borrowed when it has no escapes.
#[inline]
fn text_of(raw: &str, escaped: bool) -> Cow<'_, str> {
    if escaped {
        Cow::Owned(decode(raw))
    } else {
        Cow::Borrowed(raw)
    }
}

/// The text of a string with escapes from its raw, already checked, form.
fn decode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let high = hex4(&mut chars);
                let code = if (0xD800..0xDC00).contains(&high) {
                    chars.next(); // the backslash
                    chars.next(); // the u
                    0x1_0000 + ((high - 0xD800) << 10) + (hex4(&mut chars).wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    high
                };
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    chars.take(4).fold(0, |n, c| n * 16 + c.to_digit(16).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    impl Event<'_> {
        /// The same event as a `Value`, numbers as serde_json reads them.
        fn to_value(&self) -> Value {
            match self {
                Event::Str(s) => Value::String(s.to_string()),
                Event::Num(n) => {
                    let f = n.float();
                    match n.whole() {
                        Some(w) => serde_json::from_str(&w.to_string()).unwrap_or(Value::Null),
                        None => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
                    }
                }
                Event::Bool(b) => Value::Bool(*b),
                Event::Null => Value::Null,
                Event::Array(items) => Value::Array(items.iter().map(Event::to_value).collect()),
                Event::Object(fields) => {
                    Value::Object(fields.0.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect())
                }
            }
        }
    }
    use crate::pattern::Pattern;

    fn wanted(patterns: &[Value]) -> Wanted {
        let mut wanted = Wanted::default();
        for p in patterns {
            wanted.add(&Pattern::from_value(p).unwrap_or_else(|e| panic!("{e}")).root);
        }
        wanted
    }

    #[test]
    fn keeps_only_wanted_paths_through_arrays() {
        let w = wanted(&[json!({"detail": {"items": {"sku": ["A"]}}, "$or": [{"a.b": ["x"]}, {"c": ["y"]}]})]);
        let text = br#"{"id": "1", "x.y": "x", "a": {"b": "x"}, "detail": {"other": [1, {"x": 2}],
            "items": [{"sku": "A", "qty": 5}, {"sku": "B"}]}, "c": {"deep": [1]}}"#;
        let kept = parse(text, &w).unwrap_or_else(|| panic!("refused")).to_value();
        assert_eq!(
            kept,
            // The pattern's `a.b` is the nested path `a` > `b` (EventBridge joins keys with dots).
            json!({"a": {"b": "x"}, "detail": {"items": [{"sku": "A"}, {"sku": "B"}]}, "c": {}})
        );
    }

    #[test]
    fn an_event_whose_dotted_keys_a_pattern_may_read_is_left_to_the_full_reading() {
        let w = wanted(&[json!({"detail": {"a": {"b": [1]}}})]);
        // `detail.a` spells a wanted path: only the full reading rewrites it as nested.
        assert!(parse(br#"{"detail.a": {"b": 1}}"#, &w).is_none());
        assert!(parse(br#"{"detail": {"a.b": 1}}"#, &w).is_none());
        // `x.y` and `detail.z` name nothing a pattern reads: kept out as usual.
        assert!(parse(br#"{"x.y": 1, "detail": {"z.b": 1}}"#, &w).is_some());
    }

    #[test]
    fn strings_and_numbers_read_as_serde_json_reads_them() {
        let w = wanted(&[json!({"s": ["x"], "n": [1]})]);
        for (s, n) in [
            (r#""a\"b\\c\/d\b\f\n\r\t""#, "0"),
            (r#""\u00e9\ud83d\ude00 é😀""#, "-0"),
            (r#""""#, "1.5e3"),
            (r#""\u0041""#, "123456789012345678901234567890"),
            (r#""x""#, "-1.0E-5"),
        ] {
            let text = format!(r#"{{"s": {s}, "n": {n}, "skip": {s}}}"#);
            let expected: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let kept = parse(text.as_bytes(), &w)
                .unwrap_or_else(|| panic!("{text} refused"))
                .to_value();
            assert_eq!(kept["s"], expected["s"], "{text}");
            // Numbers by value: the light tree keeps a whole value whole (1.5e3 is 1500).
            let num = |v: &Value| v.as_number().map(Num::of);
            assert_eq!(num(&kept["n"]), num(&expected["n"]), "{text}");
            assert_eq!(kept["n"].as_f64(), expected["n"].as_f64(), "{text}");
        }
    }

    #[test]
    fn special_bytes_flags_quotes_backslashes_and_control_characters_only() {
        let word = |bytes: &[u8; 8]| special_bytes(u64::from_le_bytes(*bytes));
        assert_eq!(word(b"abcdefgh"), 0);
        assert_eq!(word(&"é😀ab".as_bytes().try_into().unwrap_or([1; 8])), 0);
        for special in [b'"', b'\\', 0, 0x1f, b'\n'] {
            for at in 0..8 {
                let mut bytes = *b"abcdefgh";
                bytes[at] = special;
                assert_ne!(word(&bytes), 0, "{special} at {at}");
                // The lowest flagged byte is the special one, wherever later ones are.
                bytes[7] = b'"';
                assert_eq!(word(&bytes).trailing_zeros() / 8, at as u32, "{special} at {at}");
            }
        }
        assert_eq!(word(b"  !#~\x7f  "), 0);
    }

    #[test]
    fn invalid_json_is_refused_even_where_nothing_is_kept() {
        let w = wanted(&[json!({"a": ["x"]})]);
        for text in [
            "",
            "{",
            "{}x",
            r#"{"a": "x",}"#,
            r#"{"z": [1,]}"#,
            r#"{"z": 01}"#,
            r#"{"z": 1.}"#,
            r#"{"z": .5}"#,
            r#"{"z": -}"#,
            r#"{"z": 1e}"#,
            r#"{"z": 1e400}"#,
            r#"{"z": "\x"}"#,
            r#"{"z": "\ud800"}"#,
            r#"{"z": "\udc00\ud800"}"#,
            r#"{"z": "\u12"}"#,
            "{\"z\": \"\t\"}",
            r#"{"z": tru}"#,
            r#"{"z" 1}"#,
            r#"{z: 1}"#,
            r#"{"z": nul}"#,
            r#"["a" "b"]"#,
            r#"{"z": [}"#,
        ] {
            assert!(
                serde_json::from_str::<Value>(text).is_err(),
                "serde_json accepts {text}"
            );
            assert!(parse(text.as_bytes(), &w).is_none(), "accepted {text}");
        }
        assert!(parse(&[b'"', 0xff, b'"'], &w).is_none());
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(parse(deep.as_bytes(), &w).is_none());
    }
}

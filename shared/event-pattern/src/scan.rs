//! Reading an event from JSON text, keeping only the fields some pattern looks at.
//!
//! A pattern only ever reads an event along its own paths, so an event with every other field
//! left out matches exactly the same patterns. Skipped values are still checked to be valid
//! JSON, byte for byte as strictly as serde_json (or more: when in doubt this reader gives up and
//! the caller parses the whole text with serde_json, which then decides).

use serde_json::{Map, Number, Value};

use crate::tree::{Node, Rule};
use crate::trie::Children;

/// serde_json refuses documents nested 128 deep; giving up one level earlier keeps this reader
/// at least as strict.
const MAX_NESTING: usize = 127;

/// The paths patterns look at: a trie of event keys.
#[derive(Debug, Default)]
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

    fn child(&self, key: &str) -> Option<&Self> {
        self.children.get(key)
    }
}

/// The event in `text` with only the `wanted` fields, or `None` if the text is not valid JSON
/// (or is valid in a way this reader does not vouch for).
pub(crate) fn parse(text: &[u8], wanted: &Wanted) -> Option<Value> {
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
    fn value(&mut self, wanted: &Wanted) -> Option<Value> {
        match self.peek()? {
            b'{' => self.object(wanted),
            b'[' => self.array(wanted),
            b'"' => {
                let (raw, escaped) = self.string()?;
                Some(Value::String(decode(raw, escaped)))
            }
            b't' => self.literal("true").map(|()| Value::Bool(true)),
            b'f' => self.literal("false").map(|()| Value::Bool(false)),
            b'n' => self.literal("null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => {
                let text = self.number()?;
                text.parse().ok().map(Value::Number)
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
                        self.string()?;
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
            b'"' => self.string().map(|_| ()),
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

    fn object(&mut self, wanted: &Wanted) -> Option<Value> {
        self.enter()?;
        let mut object = Map::new();
        self.whitespace();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let (raw, escaped) = self.string()?;
                self.whitespace();
                self.expect(b':')?;
                self.whitespace();
                let child = if escaped {
                    wanted.child(&decode(raw, escaped))
                } else {
                    wanted.child(raw)
                };
                match child {
                    Some(child) => {
                        let value = self.value(child)?;
                        object.insert(decode(raw, escaped), value);
                    }
                    None => self.skip()?,
                }
                if self.next_item(b'}')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(Value::Object(object))
    }

    fn array(&mut self, wanted: &Wanted) -> Option<Value> {
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
        Some(Value::Array(items))
    }

    /// A string: its raw text between the quotes, and whether it holds escapes.
    #[inline]
    fn string(&mut self) -> Option<(&'a str, bool)> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            // Eight bytes at a time while none is a quote, a backslash or a control character.
            while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
                let mut word = [0; 8];
                word.copy_from_slice(chunk);
                if special_bytes(u64::from_le_bytes(word)) != 0 {
                    break;
                }
                self.pos += 8;
            }
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    }
                }
                0..0x20 => return None,
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some((raw, escaped))
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

/// Non-zero when one of the eight bytes is `"`, `\\` or below 0x20 (it may also flag a byte
/// after such a byte; the caller then looks byte by byte).
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

/// The text of a string from its raw, already checked, form.
fn decode(raw: &str, escaped: bool) -> String {
    if !escaped {
        return raw.to_owned();
    }
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
    use serde_json::json;

    use super::*;
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
        let text = br#"{"id": "1", "a.b": "x", "a": {"b": "x"}, "detail": {"other": [1, {"x": 2}],
            "items": [{"sku": "A", "qty": 5}, {"sku": "B"}]}, "c": {"deep": [1]}}"#;
        let kept = parse(text, &w).unwrap_or_else(|| panic!("refused"));
        assert_eq!(
            kept,
            json!({"a.b": "x", "detail": {"items": [{"sku": "A"}, {"sku": "B"}]}, "c": {}})
        );
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
            let kept = parse(text.as_bytes(), &w).unwrap_or_else(|| panic!("{text} refused"));
            assert_eq!(kept["s"], expected["s"], "{text}");
            assert_eq!(kept["n"], expected["n"], "{text}");
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

//! What matching needs from an event, for both `serde_json::Value` and the lighter tree that
//! [`scan`](crate::scan) reads from JSON text (borrowed strings, only the wanted fields).

use serde_json::{Map, Value};

use crate::condition::Num;

/// A leaf value of an event: not an array, not an object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LeafRef<'a> {
    Str(&'a str),
    Num(Num),
    Bool(bool),
    Null,
}

impl<'a> LeafRef<'a> {
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// One value of an event, seen from above.
pub(crate) enum View<'a, E: Json> {
    Object(&'a E::Object),
    Array(&'a [E]),
    Leaf(LeafRef<'a>),
}

/// An event value.
pub(crate) trait Json: Sized {
    type Object: JsonObject<Self>;

    fn view(&self) -> View<'_, Self>;

    fn object(&self) -> Option<&Self::Object> {
        match self.view() {
            View::Object(object) => Some(object),
            _ => None,
        }
    }
}

/// An event object: each key once.
pub(crate) trait JsonObject<E> {
    fn get(&self, key: &str) -> Option<&E>;
    fn len(&self) -> usize;
    fn for_each_entry(&self, f: &mut dyn FnMut(&str, &E));
}

impl Json for Value {
    type Object = Map<String, Value>;

    #[inline]
    fn view(&self) -> View<'_, Self> {
        match self {
            Value::Object(object) => View::Object(object),
            Value::Array(items) => View::Array(items),
            Value::String(s) => View::Leaf(LeafRef::Str(s)),
            Value::Number(n) => View::Leaf(LeafRef::Num(Num::of(n))),
            Value::Bool(b) => View::Leaf(LeafRef::Bool(*b)),
            Value::Null => View::Leaf(LeafRef::Null),
        }
    }
}

impl JsonObject<Value> for Map<String, Value> {
    #[inline]
    fn get(&self, key: &str) -> Option<&Value> {
        Map::get(self, key)
    }

    fn len(&self) -> usize {
        Map::len(self)
    }

    fn for_each_entry(&self, f: &mut dyn FnMut(&str, &Value)) {
        self.iter().for_each(|(k, v)| f(k, v));
    }
}

/// Whether two keys are equal: for the short keys of events, comparing in place beats calling
/// `memcmp`.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

//! The children of a node in a trie of event keys: a short list, plus a hash index once the
//! list grows, so that thousands of distinct keys at one level stay cheap to look up.

use crate::event::same_key;
use crate::hash::FxHashMap;

/// Up to this many children, a linear scan beats hashing the key.
const SHORT: usize = 8;

#[derive(Debug, Clone)]
pub(crate) struct Children<T> {
    list: Vec<(Box<str>, T)>,
    /// Positions in `list` by key; empty while the list is short.
    index: FxHashMap<Box<str>, usize>,
}

impl<T> Default for Children<T> {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            index: FxHashMap::default(),
        }
    }
}

impl<T: Default> Children<T> {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<&T> {
        if self.index.is_empty() {
            self.list.iter().find(|(k, _)| same_key(k, key)).map(|(_, child)| child)
        } else {
            self.index.get(key).map(|&at| &self.list[at].1)
        }
    }

    pub(crate) fn get_or_insert(&mut self, key: &str) -> &mut T {
        let found = if self.index.is_empty() {
            self.list.iter().position(|(k, _)| **k == *key)
        } else {
            self.index.get(key).copied()
        };
        let at = match found {
            Some(at) => at,
            None => {
                self.list.push((Box::from(key), T::default()));
                let at = self.list.len() - 1;
                if self.list.len() > SHORT {
                    if self.index.is_empty() {
                        self.index = self.list.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect();
                    } else {
                        self.index.insert(Box::from(key), at);
                    }
                }
                at
            }
        };
        &mut self.list[at].1
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.list.iter().map(|(k, child)| (&**k, child))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_children_before_and_after_the_index_is_built() {
        let mut children: Children<u32> = Children::default();
        for n in 0..40u32 {
            *children.get_or_insert(&format!("k{n}")) = n;
            for m in 0..=n {
                assert_eq!(children.get(&format!("k{m}")), Some(&m));
            }
            assert_eq!(children.get("missing"), None);
        }
        *children.get_or_insert("k3") += 100;
        assert_eq!(children.get("k3"), Some(&103));
        assert_eq!(children.len(), 40);
        assert_eq!(children.iter().count(), 40);
    }
}

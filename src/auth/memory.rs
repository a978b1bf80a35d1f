//! A bounded in-process memory keyed by a whole text (a token, a cookie, a session id): what the
//! per-request memories of the signed-in path have in common. One lock, foldhash with a seed of
//! its own per process, and a bound on the number of entries. Callers put in only what already
//! passed their checks, so nobody can fill it with texts of their choosing.

use std::{collections::HashMap, sync::RwLock};

/// Up to `capacity` values by their text; when full, the entries still worth keeping stay and, if
/// that frees nothing, all go.
pub struct Memory<V> {
    entries: RwLock<HashMap<Box<str>, V, foldhash::fast::RandomState>>,
    capacity: usize,
}

impl<V: Clone> Memory<V> {
    /// A memory of at most `capacity` entries; zero remembers nothing.
    pub fn new(capacity: usize) -> Self {
        Memory {
            entries: RwLock::new(HashMap::default()),
            capacity,
        }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned()
    }

    /// Remembers `value` for `key`. When full, first forgets the entries `keep` refuses.
    pub fn insert(&self, key: &str, value: V, mut keep: impl FnMut(&V) -> bool) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, value| keep(value));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key.into(), value);
    }

    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_full_it_keeps_what_is_still_worth_keeping_or_starts_over() {
        let memory = Memory::new(2);
        memory.insert("a", 1, |_| true);
        memory.insert("b", 2, |_| true);
        memory.insert("c", 3, |value| *value == 2);
        assert_eq!(
            (memory.get("a"), memory.get("b"), memory.get("c")),
            (None, Some(2), Some(3))
        );
        memory.insert("d", 4, |_| true);
        memory.insert("e", 5, |_| true);
        assert_eq!((memory.get("b"), memory.get("e")), (None, Some(5)));
        let nothing = Memory::new(0);
        nothing.insert("a", 1, |_| true);
        assert_eq!(nothing.get("a"), None);
    }
}

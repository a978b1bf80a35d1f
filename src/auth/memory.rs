//! A bounded in-process memory keyed by a whole text (a token, a cookie, a session id): what the
//! per-request memories of the signed-in path have in common. One lock, foldhash with a seed of
//! its own per process, and a bound on the number of entries. Callers put in only what already
//! passed their checks, so nobody can fill it with texts of their choosing.

use std::{hash::BuildHasher, sync::RwLock};

use hashbrown::{hash_table::Entry, HashTable};

/// How much of a key is hashed: its last bytes. The keys are a kilobyte of session cookie or a
/// token whose end is its signature (or, in a cookie, the session's random refresh token):
/// hashing the whole kilobyte on every signed-in request cost more than the rest of the lookup,
/// and the end alone already tells the entries apart. Keys are still compared whole, and only
/// texts that passed their checks are put in, so two entries that share an end, if they ever
/// did, would cost a comparison, not a wrong answer.
const HASHED_END: usize = 32;

/// Up to `capacity` values by their text; when full, the entries still worth keeping stay and, if
/// that frees nothing, all go.
pub struct Memory<V> {
    entries: RwLock<HashTable<(Box<[u8]>, V)>>,
    hasher: foldhash::fast::RandomState,
    capacity: usize,
}

impl<V: Clone> Memory<V> {
    /// A memory of at most `capacity` entries; zero remembers nothing.
    pub fn new(capacity: usize) -> Self {
        Memory {
            entries: RwLock::new(HashTable::new()),
            hasher: foldhash::fast::RandomState::default(),
            capacity,
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher
            .hash_one(&key[key.len().saturating_sub(HASHED_END)..])
    }

    pub fn get(&self, key: &[u8]) -> Option<V> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .find(self.hash(key), |(kept, _)| **kept == *key)
            .map(|(_, value)| value.clone())
    }

    /// Remembers `value` for `key`. When full, first forgets the entries `keep` refuses.
    pub fn insert(&self, key: &[u8], value: V, mut keep: impl FnMut(&V) -> bool) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|(_, value)| keep(value));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let hash = self.hash(key);
        match entries.entry(
            hash,
            |(kept, _)| **kept == *key,
            |(kept, _)| self.hash(kept),
        ) {
            Entry::Occupied(mut kept) => kept.get_mut().1 = value,
            Entry::Vacant(vacant) => {
                vacant.insert((key.into(), value));
            }
        }
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
        memory.insert(b"a", 1, |_| true);
        memory.insert(b"b", 2, |_| true);
        memory.insert(b"c", 3, |value| *value == 2);
        assert_eq!(
            (memory.get(b"a"), memory.get(b"b"), memory.get(b"c")),
            (None, Some(2), Some(3))
        );
        memory.insert(b"d", 4, |_| true);
        memory.insert(b"e", 5, |_| true);
        assert_eq!((memory.get(b"b"), memory.get(b"e")), (None, Some(5)));
        let nothing = Memory::new(0);
        nothing.insert(b"a", 1, |_| true);
        assert_eq!(nothing.get(b"a"), None);
    }

    #[test]
    fn keys_that_share_their_end_are_told_apart_by_the_whole_text() {
        let end = "e".repeat(HASHED_END);
        let (first, second, forged) = (format!("a{end}"), format!("b{end}"), format!("c{end}"));
        let memory = Memory::new(10);
        memory.insert(first.as_bytes(), 1, |_| true);
        memory.insert(second.as_bytes(), 2, |_| true);
        assert_eq!(
            (
                memory.get(first.as_bytes()),
                memory.get(second.as_bytes()),
                memory.get(forged.as_bytes()),
                memory.get(end.as_bytes()),
            ),
            (Some(1), Some(2), None, None)
        );
        memory.insert(first.as_bytes(), 3, |_| true);
        assert_eq!(memory.get(first.as_bytes()), Some(3), "replaced, not added");
    }
}

//! Ordered maps and sets kept as one sorted `Vec`.
//!
//! The engine's maps (peers, webseeds, partial pieces, suspects) hold tens of
//! entries, and iteration order must be deterministic for the simulator. A
//! `BTreeMap` gives that too, but every key/value pair instantiates its node
//! code again: in the browser wasm its instantiations came to 39 KB of 375 KB.
//! A sorted `Vec` costs a binary search and a `memmove` per insert or remove,
//! which at these sizes is cheaper than a B-tree's node walk anyway. The
//! browser peer's own maps use it for the same reason: its eleven
//! `HashMap`s (the read cache's among them) as `VecMap`s took the gzipped
//! wasm from 128.8 to 119.6 KB.

/// A map ordered by key: the subset of `BTreeMap`'s API the engine uses.
/// Keys and values live in two `Vec`s, so that a lookup's binary search
/// reads only keys (an engine's `Peer` is 680 bytes: a search over
/// `(key, Peer)` pairs missed the cache at every probe, 11 % of the
/// simulator's time at N = 1000).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    keys: Vec<K>,
    values: Vec<V>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, key: &K) -> Result<usize, usize> {
        self.keys.binary_search(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.values[i])
    }

    /// The value of `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.values[i])
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.values[i], value)),
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, value);
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.find(key).ok()?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    /// The value for `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                // The value first: a `make` that panics leaves the map whole.
                let value = make();
                self.keys.insert(i, key);
                self.values.insert(i, value);
                i
            }
        };
        &mut self.values[i]
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        // Kept entries move forward in order; the rest end up past `kept`.
        let mut kept = 0;
        for i in 0..self.keys.len() {
            if keep(&self.keys[i], &mut self.values[i]) {
                self.keys.swap(kept, i);
                self.values.swap(kept, i);
                kept += 1;
            }
        }
        self.keys.truncate(kept);
        self.values.truncate(kept);
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.into_iter()
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.keys.iter()
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    /// Entries in key order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.keys.iter().zip(self.values.iter_mut())
    }

    /// Values in key order, mutable.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.values.iter_mut()
    }
}

/// Later entries replace earlier ones with the same key, as in `BTreeMap`.
/// Sorted input (a parsed bencode dictionary) appends at the end each time.
impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = VecMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<K>, std::vec::IntoIter<V>>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter().zip(self.values)
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Zip<std::slice::Iter<'a, K>, std::slice::Iter<'a, V>>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.iter().zip(self.values.iter())
    }
}

/// A set ordered by value, with the same trade-off as [`VecMap`].
#[derive(Debug, Clone)]
pub struct VecSet<K> {
    items: Vec<K>,
}

impl<K> Default for VecSet<K> {
    fn default() -> Self {
        VecSet { items: Vec::new() }
    }
}

impl<K: Ord> VecSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns whether `key` was new.
    pub fn insert(&mut self, key: K) -> bool {
        match self.items.binary_search(&key) {
            Ok(_) => false,
            Err(i) => {
                self.items.insert(i, key);
                true
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> bool {
        match self.items.binary_search(key) {
            Ok(i) => {
                self.items.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<K> IntoIterator for VecSet<K> {
    type Item = K;
    type IntoIter = std::vec::IntoIter<K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn map_keeps_keys_sorted_and_unique() {
        let mut m = VecMap::new();
        for k in [5, 1, 9, 3, 1] {
            m.insert(k, k * 10);
        }
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), vec![1, 3, 5, 9]);
        assert_eq!(m.insert(3, 31), Some(30));
        assert_eq!(m.get(&3), Some(&31));
        assert_eq!(m.remove(&5), Some(50));
        assert_eq!(m.remove(&5), None);
        assert!(!m.contains_key(&5));
        *m.get_or_insert_with(4, || 0) += 7;
        *m.get_or_insert_with(4, || 100) += 1;
        assert_eq!(
            m.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>(),
            vec![(1, 10), (3, 31), (4, 8), (9, 90)]
        );
        assert_eq!(m.len(), 4);
        m.retain(|&k, v| {
            *v += 1;
            k != 3
        });
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![(1, 11), (4, 9), (9, 91)]
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Any sequence of inserts and removes leaves the same contents, in
        /// the same order, as a BTreeMap given the same sequence.
        #[test]
        fn map_matches_btreemap(ops in proptest::collection::vec((proptest::bool::ANY, 0u8..32, 0u32..1000), 0..200)) {
            let mut ours = VecMap::new();
            let mut reference = std::collections::BTreeMap::new();
            for (insert, k, v) in ops {
                if insert {
                    proptest::prop_assert_eq!(ours.insert(k, v), reference.insert(k, v));
                } else {
                    proptest::prop_assert_eq!(ours.remove(&k), reference.remove(&k));
                }
            }
            let a: Vec<_> = ours.iter().map(|(&k, &v)| (k, v)).collect();
            let b: Vec<_> = reference.into_iter().collect();
            proptest::prop_assert_eq!(a, b);
        }

        #[test]
        fn set_matches_btreeset(ops in proptest::collection::vec((proptest::bool::ANY, 0u8..32), 0..200)) {
            let mut ours = VecSet::new();
            let mut reference = std::collections::BTreeSet::new();
            for (insert, k) in ops {
                if insert {
                    proptest::prop_assert_eq!(ours.insert(k), reference.insert(k));
                } else {
                    proptest::prop_assert_eq!(ours.remove(&k), reference.remove(&k));
                }
            }
            let a: Vec<_> = ours.into_iter().collect();
            let b: Vec<_> = reference.into_iter().collect();
            proptest::prop_assert_eq!(a, b);
        }
    }
}

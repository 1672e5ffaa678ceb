//! A set of link directions `(link, dir)` as a bitset, walked in
//! `(link, dir)` order: the simulator keeps which directions are busy,
//! in flight or blocked, and visits them every tick. At N = 10,000 there
//! are hundreds of thousands of links; a B-tree insert per message and a
//! scan of every link per tick were a large part of a run.

#[derive(Default)]
pub struct DirSet {
    words: Vec<u64>,
    len: usize,
}

fn slot(l: usize, d: usize) -> (usize, u64) {
    let i = l * 2 + d;
    (i / 64, 1 << (i % 64))
}

impl DirSet {
    pub fn insert(&mut self, l: usize, d: usize) {
        let (w, bit) = slot(l, d);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        if self.words[w] & bit == 0 {
            self.words[w] |= bit;
            self.len += 1;
        }
    }

    pub fn contains(&self, l: usize, d: usize) -> bool {
        let (w, bit) = slot(l, d);
        self.words.get(w).is_some_and(|word| word & bit != 0)
    }

    pub fn remove(&mut self, l: usize, d: usize) {
        let (w, bit) = slot(l, d);
        if let Some(word) = self.words.get_mut(w) {
            if *word & bit != 0 {
                *word &= !bit;
                self.len -= 1;
            }
        }
    }

    /// The members in `(link, dir)` order.
    pub fn to_vec(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.len);
        for (w, &word) in self.words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                out.push((i / 2, i % 2));
                bits &= bits - 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn behaves_as_an_ordered_set() {
        let mut rng = webswarm_core::Rng::new(7);
        let mut ours = DirSet::default();
        let mut model = BTreeSet::new();
        for _ in 0..5000 {
            let (l, d) = (rng.below(300), rng.below(2));
            if rng.below(3) == 0 {
                ours.remove(l, d);
                model.remove(&(l, d));
            } else {
                ours.insert(l, d);
                model.insert((l, d));
            }
            assert_eq!(ours.len, model.len());
            assert_eq!(ours.contains(l, d), model.contains(&(l, d)));
        }
        assert_eq!(ours.to_vec(), model.into_iter().collect::<Vec<_>>());
    }
}

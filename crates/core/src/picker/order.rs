//! Pieces kept sorted by picking level in O(1) per availability change: the
//! order is split into buckets, one per level, and moving a piece one level up
//! or down is a swap with its bucket's edge (the scheme libtorrent uses).
//! After each move the piece is swapped to a random place in its new bucket:
//! edge swaps alone leave every peer with the same order after a `have_all`,
//! and all of them would then ask a seeder for the same "rarest" pieces.

use crate::rng::Rng;

pub(super) struct Order {
    order: Vec<u32>,
    pos: Vec<u32>,
    level: Vec<u16>,
    /// `start[l]` is the first position of level `l`; the last entry is `order.len()`.
    start: Vec<u32>,
}

impl Order {
    /// All pieces start at level 0 ("not pickable"), in the given order.
    pub fn new(initial: Vec<u32>, levels: usize) -> Self {
        let n = initial.len();
        let mut pos = vec![0; n];
        for (i, &p) in initial.iter().enumerate() {
            pos[p as usize] = i as u32;
        }
        let mut start = vec![n as u32; levels + 1];
        start[0] = 0;
        Order {
            order: initial,
            pos,
            level: vec![0; n],
            start,
        }
    }

    pub fn level(&self, p: u32) -> u16 {
        self.level[p as usize]
    }

    pub fn set_level(&mut self, p: u32, to: u16, rng: &mut Rng) {
        if self.level[p as usize] == to {
            return;
        }
        while self.level[p as usize] < to {
            self.step_up(p);
        }
        while self.level[p as usize] > to {
            self.step_down(p);
        }
        let l = usize::from(to);
        let (lo, hi) = (self.start[l], self.start[l + 1]);
        let target = lo + rng.below((hi - lo) as usize) as u32;
        self.swap(self.pos[p as usize], target);
    }

    fn swap(&mut self, a: u32, b: u32) {
        let (pa, pb) = (self.order[a as usize], self.order[b as usize]);
        self.order.swap(a as usize, b as usize);
        self.pos[pa as usize] = b;
        self.pos[pb as usize] = a;
    }

    fn step_up(&mut self, p: u32) {
        let l = usize::from(self.level[p as usize]);
        let last = self.start[l + 1] - 1;
        self.swap(self.pos[p as usize], last);
        self.start[l + 1] -= 1;
        self.level[p as usize] += 1;
    }

    fn step_down(&mut self, p: u32) {
        let l = usize::from(self.level[p as usize]);
        let first = self.start[l];
        self.swap(self.pos[p as usize], first);
        self.start[l] += 1;
        self.level[p as usize] -= 1;
    }

    /// Pickable pieces (level >= 1), lowest level first.
    pub fn pickable(&self) -> &[u32] {
        &self.order[self.start[1] as usize..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pieces_stay_sorted_by_level() {
        let mut o = Order::new((0..6).collect(), 6);
        let rng = &mut Rng::new(1);
        for (p, l) in [(0, 3), (1, 1), (2, 5), (3, 2), (4, 1), (5, 0)] {
            o.set_level(p, l, rng);
        }
        o.set_level(2, 1, rng);
        o.set_level(1, 4, rng);
        let levels: Vec<u16> = o.pickable().iter().map(|&p| o.level(p)).collect();
        assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{levels:?}");
        assert_eq!(o.pickable().len(), 5);
        let mut all: Vec<u32> = o.pickable().to_vec();
        all.sort();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn raising_every_piece_keeps_the_bucket_shuffled() {
        let n = 200;
        let rng = &mut Rng::new(7);
        let mut o = Order::new((0..n).collect(), 3);
        (0..n).for_each(|p| o.set_level(p, 1, rng));
        (0..n).for_each(|p| o.set_level(p, 2, rng));
        let first: Vec<u32> = o.pickable()[..10].to_vec();
        let descending: Vec<u32> = (n - 10..n).rev().collect();
        assert_ne!(first, descending, "edge swaps alone give a fixed order");
        let ascending: Vec<u32> = (0..10).collect();
        assert_ne!(first, ascending);
    }
}

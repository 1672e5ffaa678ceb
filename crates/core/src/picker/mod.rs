//! Which blocks to request from which peer: rarest-first by default, deadline
//! pieces (streaming) first, sequential on request, partial pieces finished
//! before new ones are started, and an endgame that duplicates the last blocks.

mod order;

use crate::vec_map::VecMap;

use crate::bitfield::Bitfield;
use crate::rng::Rng;
use crate::types::{BlockRef, Layout, PeerKey, PieceIndex, Time};
use order::Order;

/// How much a piece (or file) is wanted.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub enum Priority {
    /// Not downloaded.
    Skip,
    #[default]
    /// Downloaded in the usual order.
    Normal,
    /// Downloaded before `Normal` pieces.
    High,
}

/// At most this many peers are asked for the same block (endgame, deadlines).
const MAX_DUP: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Missing,
    Partial,
    Verifying,
    Have,
}

#[derive(Clone, Debug)]
enum Block {
    Free,
    Requested { by: [PeerKey; MAX_DUP], n: u8 },
    Received,
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<Block>,
    free: u32,
    received: u32,
    contributors: Vec<PeerKey>,
}

/// What a received block meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Nobody asked for it, or it already arrived from someone else.
    Unwanted,
    /// Stored; `cancel` lists other peers that were asked for the same block.
    Accepted {
        cancel: Vec<PeerKey>,
        piece_complete: bool,
    },
}

pub struct Picker {
    layout: Layout,
    have: Bitfield,
    priority: Vec<Priority>,
    availability: Vec<u16>,
    state: Vec<State>,
    order: Order,
    partials: VecMap<u32, Partial>,
    /// Contributors of pieces being verified, for blame if the hash fails.
    verifying: VecMap<u32, Vec<PeerKey>>,
    deadlines: Vec<(Time, u32)>,
    sequential: bool,
    avail_cap: u16,
    rng: Rng,
    /// Bytes of wanted pieces not verified: kept up to date, because hosts
    /// read it (and `is_done`) on every input, and a walk over every piece
    /// would cost O(pieces) each time.
    left: u64,
}

impl Picker {
    pub fn new(layout: Layout, have: Bitfield, avail_cap: u16, rng: &mut Rng) -> Self {
        let n = layout.num_pieces();
        let mut initial: Vec<u32> = (0..n).collect();
        rng.shuffle(&mut initial);
        let levels = 2 * (usize::from(avail_cap) + 1) + 1;
        let state = (0..n)
            .map(|i| {
                if have.get(i) {
                    State::Have
                } else {
                    State::Missing
                }
            })
            .collect();
        let mut p = Picker {
            layout,
            have,
            priority: vec![Priority::Normal; n as usize],
            availability: vec![0; n as usize],
            state,
            order: Order::new(initial, levels),
            partials: VecMap::new(),
            verifying: VecMap::new(),
            deadlines: Vec::new(),
            sequential: false,
            avail_cap,
            rng: Rng::new(rng.next_u64()),
            left: 0,
        };
        (0..n).for_each(|i| p.relevel(i));
        p.left = p.count_left();
        p
    }

    fn count_left(&self) -> u64 {
        self.layout
            .pieces()
            .filter(|p| self.wants(p.get()))
            .map(|p| u64::from(self.layout.piece_size(p)))
            .sum()
    }

    /// Runs `change` on piece `p`, keeping `left` right if it changes whether
    /// the piece is wanted.
    fn tracking<R>(&mut self, p: PieceIndex, change: impl FnOnce(&mut Self) -> R) -> R {
        let before = self.wants(p.get());
        let r = change(self);
        match (before, self.wants(p.get())) {
            (false, true) => self.left += u64::from(self.layout.piece_size(p)),
            (true, false) => self.left -= u64::from(self.layout.piece_size(p)),
            _ => {}
        }
        r
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Whether we still need this piece.
    pub fn wants(&self, p: u32) -> bool {
        self.state
            .get(p as usize)
            .is_some_and(|s| *s != State::Have)
            && self.priority[p as usize] != Priority::Skip
    }

    /// All wanted pieces are verified.
    pub fn is_done(&self) -> bool {
        // Every piece holds at least one byte.
        self.left == 0
    }

    /// Bytes of wanted pieces not verified yet.
    pub fn wanted_left(&self) -> u64 {
        self.left
    }

    fn relevel(&mut self, p: u32) {
        let i = p as usize;
        let level = if self.state[i] != State::Missing || self.priority[i] == Priority::Skip {
            0
        } else {
            let tier = if self.priority[i] == Priority::High {
                0
            } else {
                self.avail_cap + 1
            };
            1 + tier + self.availability[i].min(self.avail_cap)
        };
        self.order.set_level(p, level, &mut self.rng);
    }

    pub fn set_priority(&mut self, p: PieceIndex, prio: Priority) {
        self.tracking(p, |s| s.priority[p.usize()] = prio);
        self.relevel(p.get());
    }

    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
    }

    /// Replaces the streaming deadlines: these pieces are picked first, earliest deadline first.
    pub fn set_deadlines(&mut self, mut d: Vec<(Time, PieceIndex)>) {
        crate::sort::sort_by_key(&mut d, |&(t, p)| (t, p.get()));
        self.deadlines = d.into_iter().map(|(t, p)| (t, p.get())).collect();
    }

    /// Some piece has a deadline.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn has_deadlines(&self) -> bool {
        !self.deadlines.is_empty()
    }

    pub fn has_deadline(&self, p: u32) -> bool {
        self.deadlines.iter().any(|&(_, d)| d == p)
    }

    pub fn peer_has(&mut self, p: PieceIndex) {
        let a = &mut self.availability[p.usize()];
        *a = a.saturating_add(1);
        self.relevel(p.get());
    }

    pub fn peer_lost(&mut self, p: PieceIndex) {
        let a = &mut self.availability[p.usize()];
        *a = a.saturating_sub(1);
        self.relevel(p.get());
    }

    pub fn availability(&self, p: PieceIndex) -> u16 {
        self.availability[p.usize()]
    }

    /// Appends up to `want` blocks for `peer` to `out`. `can_request` says which
    /// pieces may be asked of this peer (it has them; while choked, only allowed-fast ones).
    pub fn pick(
        &mut self,
        peer: PeerKey,
        can_request: &dyn Fn(u32) -> bool,
        want: usize,
        now: Time,
        out: &mut Vec<BlockRef>,
    ) {
        let start = out.len();
        let full = |out: &Vec<BlockRef>| out.len() - start >= want;
        // 1. Streaming deadlines, duplicating blocks whose deadline is near.
        for k in 0..self.deadlines.len() {
            let (t, p) = self.deadlines[k];
            if full(out) {
                return;
            }
            if self.wants(p) && can_request(p) {
                self.take_from(p, peer, want - (out.len() - start), out);
                let urgent = t <= now + std::time::Duration::from_secs(2);
                if urgent && !full(out) {
                    self.take_duplicates(p, peer, want - (out.len() - start), out);
                }
            }
        }
        // 2. Finish pieces already started.
        let partial_pieces: Vec<u32> = self
            .partials
            .iter()
            .filter(|(_, part)| part.free > 0)
            .map(|(&p, _)| p)
            .collect();
        for p in partial_pieces {
            if full(out) {
                return;
            }
            if can_request(p) {
                self.take_from(p, peer, want - (out.len() - start), out);
            }
        }
        // 3. Start new pieces: rarest first (or lowest index when sequential).
        while !full(out) {
            let next = if self.sequential {
                (0..self.layout.num_pieces()).find(|&p| self.order.level(p) > 0 && can_request(p))
            } else {
                self.order
                    .pickable()
                    .iter()
                    .copied()
                    .find(|&p| can_request(p))
            };
            let Some(p) = next else { break };
            self.take_from(p, peer, want - (out.len() - start), out);
        }
        // 4. Endgame: every wanted piece is in flight; duplicate outstanding blocks.
        if !full(out) && self.order.pickable().is_empty() {
            let pieces: Vec<u32> = self.partials.keys().copied().collect();
            for p in pieces {
                if full(out) {
                    return;
                }
                if can_request(p) {
                    self.take_duplicates(p, peer, want - (out.len() - start), out);
                }
            }
        }
    }

    /// Blocks of pieces that no neighbour but the `seeds` has (availability
    /// at most `seeds`), pieces already started first: what to ask a seed for
    /// before `pick`'s usual order. A seed's upload is the only way such
    /// pieces enter the swarm; asked first for the partial pieces others
    /// started, a seed of 2 MiB/s took 28 s to get all 256 pieces of the
    /// simulator's file into a swarm of 1000 (16 s when always asked this
    /// way). Stops at `want` pieces: it runs for every top-up of a fast
    /// seed's pipeline, where every piece is fresh.
    pub fn pick_fresh(
        &mut self,
        peer: PeerKey,
        can_request: &dyn Fn(u32) -> bool,
        want: usize,
        seeds: usize,
        out: &mut Vec<BlockRef>,
    ) {
        // Deadlines (streaming, a bridge's aim) and sequential order come first.
        if self.sequential || !self.deadlines.is_empty() {
            return;
        }
        let fresh =
            |p: &u32| usize::from(self.availability[*p as usize]) <= seeds && can_request(*p);
        let mut pieces: Vec<u32> = self
            .partials
            .iter()
            .filter(|(_, part)| part.free > 0)
            .map(|(&p, _)| p)
            .filter(fresh)
            .collect();
        pieces.extend(
            self.order
                .pickable()
                .iter()
                .copied()
                .filter(fresh)
                .take(want),
        );
        let start = out.len();
        for p in pieces {
            let taken = out.len() - start;
            if taken >= want {
                return;
            }
            self.take_from(p, peer, want - taken, out);
        }
    }

    /// Whether `pick` would find anything for a peer (without reserving it).
    pub fn has_requestable(&self, can_request: &dyn Fn(u32) -> bool) -> bool {
        let partial = self
            .partials
            .iter()
            .any(|(&p, part)| part.free > 0 && can_request(p));
        let new = || self.order.pickable().iter().any(|&p| can_request(p));
        let endgame =
            || self.order.pickable().is_empty() && self.partials.keys().any(|&p| can_request(p));
        partial || new() || endgame()
    }

    fn partial(&mut self, p: u32) -> &mut Partial {
        let layout = self.layout;
        if self.state[p as usize] == State::Missing {
            self.state[p as usize] = State::Partial;
            self.relevel(p);
        }
        self.partials.get_or_insert_with(p, || {
            // Pieces reaching here are valid indices of this layout.
            let n = layout.blocks_in(layout.piece(p).expect("picker pieces are in range"));
            Partial {
                blocks: vec![Block::Free; n as usize],
                free: n,
                received: 0,
                contributors: Vec::new(),
            }
        })
    }

    fn take_from(&mut self, p: u32, peer: PeerKey, want: usize, out: &mut Vec<BlockRef>) {
        if !matches!(self.state[p as usize], State::Missing | State::Partial) {
            return;
        }
        let layout = self.layout;
        let part = self.partial(p);
        let mut taken = 0;
        for (i, b) in part.blocks.iter_mut().enumerate() {
            if taken == want || part.free == 0 {
                break;
            }
            if matches!(b, Block::Free) {
                *b = Block::Requested {
                    by: [peer; MAX_DUP],
                    n: 1,
                };
                part.free -= 1;
                taken += 1;
                let piece = layout.piece(p).expect("picker pieces are in range");
                out.push(layout.block(piece, i as u32));
            }
        }
    }

    fn take_duplicates(&mut self, p: u32, peer: PeerKey, want: usize, out: &mut Vec<BlockRef>) {
        let layout = self.layout;
        let Some(part) = self.partials.get_mut(&p) else {
            return;
        };
        let mut taken = 0;
        for (i, b) in part.blocks.iter_mut().enumerate() {
            if taken == want {
                break;
            }
            if let Block::Requested { by, n } = b {
                let n_us = usize::from(*n);
                if n_us < MAX_DUP && !by[..n_us].contains(&peer) {
                    by[n_us] = peer;
                    *n += 1;
                    taken += 1;
                    let piece = layout.piece(p).expect("picker pieces are in range");
                    out.push(layout.block(piece, i as u32));
                }
            }
        }
    }

    /// Records a block's arrival from `peer`.
    pub fn block_received(&mut self, peer: PeerKey, b: BlockRef) -> Received {
        let p = b.piece.get();
        let Some(part) = self.partials.get_mut(&p) else {
            return Received::Unwanted;
        };
        let Some(block) = part.blocks.get_mut(b.block_index() as usize) else {
            return Received::Unwanted;
        };
        let cancel = match block {
            Block::Received => return Received::Unwanted,
            Block::Free => {
                // A late block after its request was withdrawn is still good data.
                part.free -= 1;
                Vec::new()
            }
            Block::Requested { by, n } => by[..usize::from(*n)]
                .iter()
                .copied()
                .filter(|&k| k != peer)
                .collect(),
        };
        *block = Block::Received;
        part.received += 1;
        if !part.contributors.contains(&peer) {
            part.contributors.push(peer);
        }
        let piece_complete = part.received as usize == part.blocks.len();
        if piece_complete {
            if let Some(part) = self.partials.remove(&p) {
                self.verifying.insert(p, part.contributors);
            }
            self.state[p as usize] = State::Verifying;
        }
        Received::Accepted {
            cancel,
            piece_complete,
        }
    }

    /// A request to `peer` was withdrawn (choke, reject, timeout, disconnect).
    pub fn cancel(&mut self, peer: PeerKey, b: BlockRef) {
        let Some(part) = self.partials.get_mut(&b.piece.get()) else {
            return;
        };
        let Some(block) = part.blocks.get_mut(b.block_index() as usize) else {
            return;
        };
        if let Block::Requested { by, n } = block {
            let count = usize::from(*n);
            if let Some(i) = by[..count].iter().position(|&k| k == peer) {
                by.copy_within(i + 1..count, i);
                *n -= 1;
                if *n == 0 {
                    *block = Block::Free;
                    part.free += 1;
                }
            }
        }
    }

    /// The host's hash verdict. Returns the peers that contributed to the piece.
    pub fn verified(&mut self, p: PieceIndex, ok: bool) -> Vec<PeerKey> {
        let i = p.usize();
        if self.state[i] != State::Verifying {
            return Vec::new();
        }
        let contributors = self.verifying.remove(&p.get()).unwrap_or_default();
        if ok {
            self.tracking(p, |s| s.state[i] = State::Have);
            self.have.set(p.get());
            self.deadlines.retain(|&(_, d)| d != p.get());
        } else {
            self.state[i] = State::Missing;
        }
        self.relevel(p.get());
        contributors
    }

    /// Marks a piece verified outside the download path (resume, re-check).
    pub fn mark_have(&mut self, p: PieceIndex) {
        self.partials.remove(&p.get());
        self.verifying.remove(&p.get());
        self.tracking(p, |s| s.state[p.usize()] = State::Have);
        self.have.set(p.get());
        self.relevel(p.get());
    }

    /// A verified piece is no longer right in storage: it is wanted again.
    /// Returns whether it was verified.
    pub fn lose(&mut self, p: PieceIndex) -> bool {
        if self.state[p.usize()] != State::Have {
            return false;
        }
        self.tracking(p, |s| s.state[p.usize()] = State::Missing);
        self.have.clear(p.get());
        self.relevel(p.get());
        true
    }

    /// A piece whose blocks could not be stored goes back to the pool.
    pub fn reset_piece(&mut self, p: PieceIndex) {
        if matches!(self.state[p.usize()], State::Have) {
            return;
        }
        self.partials.remove(&p.get());
        self.verifying.remove(&p.get());
        self.state[p.usize()] = State::Missing;
        self.relevel(p.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(pieces: u32) -> Picker {
        let layout = Layout::new(u64::from(pieces) * 32768, 32768).unwrap();
        Picker::new(layout, Bitfield::new(pieces), 50, &mut Rng::new(1))
    }

    fn idx(p: &Picker, i: u32) -> PieceIndex {
        p.layout.piece(i).unwrap()
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_running_count_of_bytes_left_matches_a_full_count() {
        // 5 pieces of 32 KiB and a short last one.
        let layout = Layout::new(5 * 32768 + 1000, 32768).unwrap();
        let mut p = Picker::new(layout, Bitfield::new(6), 50, &mut Rng::new(2));
        let mut rng = Rng::new(3);
        for _ in 0..500 {
            let i = idx(&p, rng.below(6) as u32);
            match rng.below(5) {
                0 => p.set_priority(
                    i,
                    [Priority::Skip, Priority::Normal, Priority::High][rng.below(3)],
                ),
                1 => p.mark_have(i),
                2 => p.reset_piece(i),
                // A piece being downloaded gets its verdict (a verified piece never goes back).
                3 if p.state[i.usize()] != State::Have => {
                    p.state[i.usize()] = State::Verifying;
                    p.verified(i, rng.below(2) == 0);
                }
                _ => {
                    let mut out = Vec::new();
                    p.pick(PeerKey(1), &|_| true, 4, Time::ZERO, &mut out);
                }
            }
            assert_eq!(p.wanted_left(), p.count_left());
            assert_eq!(p.is_done(), p.count_left() == 0);
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn picks_rarest_piece_first_and_finishes_partials() {
        let mut p = picker(8);
        for i in 0..8 {
            for _ in 0..(1 + i % 4) {
                p.peer_has(idx(&p, i));
            }
        }
        p.peer_lost(idx(&p, 0));
        p.peer_has(idx(&p, 7));
        p.peer_has(idx(&p, 7));
        // Piece 0 now has availability 0, pieces 4 and 7... only 0 is rarest but unavailable.
        let mut out = Vec::new();
        p.pick(PeerKey(1), &|_| true, 1, Time::ZERO, &mut out);
        assert_eq!(out[0].piece.get(), 0);
        // The next pick continues the partial piece before starting another.
        p.pick(PeerKey(2), &|_| true, 1, Time::ZERO, &mut out);
        assert_eq!((out[1].piece.get(), out[1].offset), (0, 16384));
        p.pick(PeerKey(2), &|i| i != 0, 2, Time::ZERO, &mut out);
        let avail: Vec<u16> = out[2..].iter().map(|b| p.availability(b.piece)).collect();
        assert_eq!(avail, vec![1, 1]);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_seed_is_asked_first_for_what_only_seeds_have() {
        // A seed (key 9) has pieces 0-3, a leecher neighbour pieces 0 and 1.
        let mut p = picker(4);
        for i in [0, 1, 2, 3, 0, 1] {
            p.peer_has(idx(&p, i));
        }
        let mut out = Vec::new();
        p.pick(PeerKey(1), &|i| i == 0, 1, Time::ZERO, &mut out);
        p.pick(PeerKey(9), &|i| i == 2, 1, Time::ZERO, &mut out);
        let started: Vec<u32> = out.iter().map(|b| b.piece.get()).collect();
        assert_eq!(started, [0, 2]);
        // From the seed: the rest of piece 2, then piece 3; not the partial
        // piece 0, which the neighbour can finish.
        let mut fresh = Vec::new();
        p.pick_fresh(PeerKey(9), &|_| true, 3, 1, &mut fresh);
        let pieces: Vec<u32> = fresh.iter().map(|b| b.piece.get()).collect();
        assert_eq!(pieces, [2, 3, 3]);
        // With nothing fresh left, the usual order takes over.
        let mut more = Vec::new();
        p.pick_fresh(PeerKey(9), &|_| true, 1, 1, &mut more);
        assert!(more.is_empty());
        p.pick(PeerKey(9), &|_| true, 1, Time::ZERO, &mut more);
        assert_eq!(more[0].piece.get(), 0, "the partial piece next");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn endgame_duplicates_then_cancels_and_failure_requeues() {
        let mut p = picker(1);
        let mut a = Vec::new();
        p.pick(PeerKey(1), &|_| true, 10, Time::ZERO, &mut a);
        assert_eq!(a.len(), 2);
        let mut b = Vec::new();
        p.pick(PeerKey(2), &|_| true, 10, Time::ZERO, &mut b);
        assert_eq!(b, a, "endgame asks a second peer for the same blocks");
        let mut c = Vec::new();
        p.pick(PeerKey(3), &|_| true, 10, Time::ZERO, &mut c);
        assert!(c.is_empty(), "at most two requesters per block");
        assert_eq!(
            p.block_received(PeerKey(2), a[0]),
            Received::Accepted {
                cancel: vec![PeerKey(1)],
                piece_complete: false
            }
        );
        assert_eq!(p.block_received(PeerKey(1), a[0]), Received::Unwanted);
        p.cancel(PeerKey(1), a[1]);
        assert!(matches!(
            p.block_received(PeerKey(2), a[1]),
            Received::Accepted {
                piece_complete: true,
                ..
            }
        ));
        assert_eq!(p.verified(a[0].piece, false), vec![PeerKey(2)]);
        assert!(p.wants(0));
        let mut d = Vec::new();
        p.pick(PeerKey(3), &|_| true, 10, Time::ZERO, &mut d);
        assert_eq!(d.len(), 2, "a failed piece is downloaded again");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn priorities_deadlines_and_sequential_order() {
        let mut p = picker(6);
        p.set_priority(idx(&p, 0), Priority::Skip);
        p.set_priority(idx(&p, 5), Priority::High);
        let mut out = Vec::new();
        p.pick(PeerKey(1), &|_| true, 2, Time::ZERO, &mut out);
        assert!(out.iter().all(|b| b.piece.get() == 5));
        p.set_deadlines(vec![(Time::from_millis(10), idx(&p, 3))]);
        p.pick(PeerKey(1), &|_| true, 2, Time::ZERO, &mut out);
        assert!(out[2..].iter().all(|b| b.piece.get() == 3));
        p.set_deadlines(Vec::new());
        p.set_sequential(true);
        p.pick(PeerKey(1), &|i| i != 3, 2, Time::ZERO, &mut out);
        assert_eq!(out[4].piece.get(), 1);
        assert!(!p.wants(0));
    }
}

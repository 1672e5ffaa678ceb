//! Serving reads by whole pieces. Peers ask for 16 KiB blocks, mostly in
//! order within a piece; reading the whole piece once and slicing it saves a
//! storage read and a round trip per block (in the native peer, perf showed
//! worker-thread wake-ups as the seeder's largest cost with per-block reads).

use std::collections::VecDeque;

use crate::types::{BlockRef, PeerKey, PieceIndex};
use crate::vec_map::VecMap;
use bytes::Bytes;

pub struct ReadCache {
    pieces: VecDeque<(PieceIndex, Bytes)>,
    bytes: usize,
    /// Bytes of whole pieces kept (at least one piece is, whatever its size).
    capacity: usize,
    /// Blocks waiting for a piece read in flight.
    waiting: VecMap<PieceIndex, Vec<(PeerKey, BlockRef)>>,
}

/// What to do with a block request.
pub enum Lookup {
    /// Served from memory.
    Hit(Bytes),
    /// Start reading this piece from disk.
    Miss,
    /// A read of its piece is already under way; the request waits for it.
    Pending,
}

impl ReadCache {
    pub fn new(capacity: usize) -> Self {
        ReadCache {
            pieces: VecDeque::new(),
            bytes: 0,
            capacity,
            waiting: VecMap::new(),
        }
    }

    pub fn lookup(&mut self, peer: PeerKey, block: BlockRef) -> Lookup {
        if let Some((_, data)) = self.pieces.iter().find(|(p, _)| *p == block.piece) {
            let (start, end) = (block.offset as usize, (block.offset + block.len) as usize);
            if end <= data.len() {
                return Lookup::Hit(data.slice(start..end));
            }
        }
        let waiting = self
            .waiting
            .get_or_insert_with(block.piece, Default::default);
        waiting.push((peer, block));
        if waiting.len() == 1 {
            Lookup::Miss
        } else {
            Lookup::Pending
        }
    }

    /// A piece read finished: caches it and returns the blocks to answer.
    pub fn filled(
        &mut self,
        piece: PieceIndex,
        data: Option<Bytes>,
    ) -> (Vec<(PeerKey, BlockRef)>, Option<Bytes>) {
        let waiters = self.waiting.remove(&piece).unwrap_or_default();
        if let Some(d) = &data {
            self.bytes += d.len();
            self.pieces.push_back((piece, d.clone()));
            while self.bytes > self.capacity && self.pieces.len() > 1 {
                if let Some((_, old)) = self.pieces.pop_front() {
                    self.bytes -= old.len();
                }
            }
        }
        (waiters, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(piece: u32, offset: u32) -> BlockRef {
        let layout = crate::Layout::new(1 << 20, 64 << 10).unwrap();
        let p = layout.piece(piece).unwrap();
        layout.block(p, offset / (16 << 10))
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn one_disk_read_serves_every_block_of_a_piece() {
        let mut c = ReadCache::new(16 << 20);
        let (a, b) = (PeerKey(1), PeerKey(2));
        assert!(matches!(c.lookup(a, block(3, 0)), Lookup::Miss));
        assert!(matches!(c.lookup(b, block(3, 16384)), Lookup::Pending));
        let piece = Bytes::from((0..65536u32).map(|i| i as u8).collect::<Vec<_>>());
        let (waiters, _) = c.filled(block(3, 0).piece, Some(piece.clone()));
        assert_eq!(waiters.len(), 2);
        match c.lookup(a, block(3, 32768)) {
            Lookup::Hit(d) => assert_eq!(d, piece.slice(32768..49152)),
            _ => panic!("expected a hit"),
        }
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn the_cache_stays_within_its_budget() {
        let mut c = ReadCache::new(16 << 20);
        for i in 0..16 {
            let b = block(i % 16, 0);
            let _ = c.lookup(PeerKey(0), b);
            c.filled(b.piece, Some(Bytes::from(vec![0u8; 4 << 20])));
        }
        assert!(c.bytes <= 16 << 20);
    }
}

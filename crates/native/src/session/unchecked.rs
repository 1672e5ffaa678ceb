//! Blocks of pieces not checked yet, kept beside their disk writes so the
//! check hashes them from memory instead of reading the piece back: the
//! read-back was a copy, a page-cache walk and a zero-filled buffer per piece
//! (perf of `webswarm get` over TCP, 256 MiB). A piece whose blocks are not
//! all here (kept before a restart, or over the cap) is hashed from disk.

use std::collections::HashMap;

use bytes::Bytes;
use webswarm_core::{BlockRef, PieceIndex, Sha1Hasher};

/// Kept bytes at most: past this, new pieces are hashed from disk. Pieces in
/// flight are a few per peer, far below it; a piece a peer left half-sent
/// stays until it completes or the torrent stops.
const CAP: usize = 64 << 20;

#[derive(Default)]
pub struct Unchecked {
    pieces: HashMap<PieceIndex, Vec<(u32, Bytes)>>,
    bytes: usize,
}

impl Unchecked {
    /// Keeps a block just written (a block sent twice replaces the first).
    pub fn keep(&mut self, block: BlockRef, data: &Bytes) {
        if self.bytes + data.len() > CAP && !self.pieces.contains_key(&block.piece) {
            return;
        }
        let blocks = self.pieces.entry(block.piece).or_default();
        if let Some(i) = blocks.iter().position(|(at, _)| *at == block.offset) {
            self.bytes -= blocks[i].1.len();
            blocks.swap_remove(i);
        }
        self.bytes += data.len();
        blocks.push((block.offset, data.clone()));
    }

    /// The piece's blocks in order if they are exactly its `len` bytes; the
    /// piece is forgotten either way (a failed check fetches it again).
    pub fn take(&mut self, piece: PieceIndex, len: u32) -> Option<Vec<Bytes>> {
        let mut blocks = self.pieces.remove(&piece)?;
        self.bytes -= blocks.iter().map(|(_, b)| b.len()).sum::<usize>();
        blocks.sort_unstable_by_key(|(at, _)| *at);
        let mut end = 0u64;
        for (at, b) in &blocks {
            if u64::from(*at) != end {
                return None;
            }
            end += b.len() as u64;
        }
        (end == u64::from(len)).then(|| blocks.into_iter().map(|(_, b)| b).collect())
    }
}

/// SHA-1 of a piece's blocks, in order.
pub fn hash(blocks: &[Bytes]) -> [u8; 20] {
    let mut h = Sha1Hasher::default();
    for b in blocks {
        h.update(b);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::{sha1, Layout};

    fn piece(i: u32) -> PieceIndex {
        Layout::new(1 << 30, 1 << 24).unwrap().piece(i).unwrap()
    }

    fn block(piece_index: u32, offset: u32, data: &[u8]) -> (BlockRef, Bytes) {
        let piece = piece(piece_index);
        let len = data.len() as u32;
        (
            BlockRef { piece, offset, len },
            Bytes::copy_from_slice(data),
        )
    }

    #[test]
    fn a_piece_comes_back_in_order_only_when_whole() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut u = Unchecked::default();
        for (at, chunk) in [(60, &data[60..]), (0, &data[..30]), (30, &data[30..60])] {
            let (b, d) = block(1, at, chunk);
            u.keep(b, &d);
        }
        let (b, d) = block(1, 30, &data[30..60]);
        u.keep(b, &d);
        let blocks = u.take(piece(1), 100).unwrap();
        assert_eq!(hash(&blocks), sha1(&data));
        assert_eq!(u.bytes, 0);
        assert!(u.take(piece(1), 100).is_none(), "taken once");

        let (b, d) = block(2, 0, &data[..30]);
        u.keep(b, &d);
        let (b, d) = block(2, 40, &data[40..]);
        u.keep(b, &d);
        assert!(u.take(piece(2), 100).is_none(), "a gap");
        assert_eq!(u.bytes, 0, "forgotten anyway");
        let (b, d) = block(3, 0, &data[..30]);
        u.keep(b, &d);
        assert!(u.take(piece(3), 100).is_none(), "short");
    }

    #[test]
    fn past_the_cap_new_pieces_are_not_kept() {
        let mut u = Unchecked::default();
        let big = Bytes::from(vec![0u8; CAP / 2]);
        for p in 0..3 {
            let b = BlockRef {
                piece: piece(p),
                offset: 0,
                len: big.len() as u32,
            };
            u.keep(b, &big);
        }
        assert_eq!(u.bytes, CAP);
        assert!(u.take(piece(2), big.len() as u32).is_none());
    }
}

//! Per-peer storage for the simulator.

use bytes::Bytes;
use webswarm_core::Sha1Hasher;
use webswarm_core::{BlockRef, Layout, PieceIndex};

use crate::scenario::StorageMode;

pub struct Storage {
    layout: Layout,
    content: Bytes,
    /// Real mode: this peer's own copy of the file.
    own: Option<Vec<u8>>,
    written: Vec<u32>,
    bad: Vec<bool>,
}

impl Storage {
    pub fn new(mode: StorageMode, layout: Layout, content: Bytes, seed: bool) -> Self {
        let own = match (mode, seed) {
            (StorageMode::Real, true) => Some(content.to_vec()),
            (StorageMode::Real, false) => Some(vec![0; content.len()]),
            (StorageMode::Reference, _) => None,
        };
        let n = layout.num_pieces() as usize;
        Storage {
            layout,
            content,
            own,
            written: vec![0; n],
            bad: vec![false; n],
        }
    }

    fn range(&self, b: BlockRef) -> std::ops::Range<usize> {
        let start = (self.layout.piece_offset(b.piece) + u64::from(b.offset)) as usize;
        start..start + b.len as usize
    }

    pub fn read(&self, b: BlockRef, corrupt: bool) -> Bytes {
        let r = self.range(b);
        let data = match &self.own {
            Some(own) => Bytes::copy_from_slice(&own[r]),
            // The engine only serves verified pieces, and in reference mode a
            // piece verifies only if it equals the content.
            None => self.content.slice(r),
        };
        if corrupt {
            data.iter().map(|x| !x).collect::<Vec<u8>>().into()
        } else {
            data
        }
    }

    pub fn write(&mut self, b: BlockRef, data: &[u8]) {
        let r = self.range(b);
        let p = b.piece.usize();
        self.written[p] += 1;
        match &mut self.own {
            Some(own) => own[r].copy_from_slice(data),
            None => self.bad[p] |= self.content[r] != *data,
        }
    }

    pub fn verify(&mut self, piece: PieceIndex, hash: [u8; 20]) -> bool {
        let p = piece.usize();
        let complete = self.written[p] == self.layout.blocks_in(piece);
        let ok = match &self.own {
            Some(own) => {
                let start = self.layout.piece_offset(piece) as usize;
                let mut h = Sha1Hasher::default();
                h.update(&own[start..start + self.layout.piece_size(piece) as usize]);
                h.finish() == hash
            }
            None => complete && !self.bad[p],
        };
        self.written[p] = 0;
        self.bad[p] = false;
        ok
    }

    /// Real mode: the peer's bytes equal the content.
    pub fn matches_content(&self) -> Option<bool> {
        self.own.as_ref().map(|own| own[..] == self.content[..])
    }
}

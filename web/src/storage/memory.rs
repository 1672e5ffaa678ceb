use std::cell::RefCell;

use js_sys::Uint8Array;
use webswarm_core::PieceIndex;

use crate::error::WebError;

/// Verified pieces kept as JS buffers: outside wasm memory, which cannot
/// shrink once grown.
pub struct MemoryStore {
    pieces: RefCell<Vec<Option<Uint8Array>>>,
}

impl MemoryStore {
    pub fn new(num_pieces: u32) -> Self {
        MemoryStore {
            pieces: RefCell::new(vec![None; num_pieces as usize]),
        }
    }

    pub fn read(&self, piece: PieceIndex) -> Result<Uint8Array, WebError> {
        self.pieces
            .borrow()
            .get(piece.usize())
            .cloned()
            .flatten()
            .ok_or_else(|| WebError::Storage(format!("piece {} is not stored", piece.get())))
    }

    pub fn write(&self, piece: PieceIndex, data: Uint8Array) {
        if let Some(slot) = self.pieces.borrow_mut().get_mut(piece.usize()) {
            *slot = Some(data);
        }
    }

    pub fn clear(&self) {
        self.pieces.borrow_mut().iter_mut().for_each(|p| *p = None);
    }
}

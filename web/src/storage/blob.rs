use js_sys::{Array, ArrayBuffer, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;
use webswarm_core::{Info, PieceIndex};

use crate::error::{js_message, WebError};

/// Seeding from the page's File or Blob objects, in torrent file order:
/// pieces are sliced out of them on demand, nothing is copied up front.
pub struct BlobStore {
    files: Vec<Blob>,
    info: Info,
}

impl BlobStore {
    pub fn new(files: Vec<Blob>, info: Info) -> Self {
        BlobStore { files, info }
    }

    /// The piece as one Blob (slices of one or more files).
    pub fn part(&self, piece: PieceIndex) -> Result<Blob, WebError> {
        let info = &self.info;
        let start = info.layout.piece_offset(piece);
        let len = u64::from(info.layout.piece_size(piece));
        let slices = info.slices(start, len);
        let parts = Array::new();
        for s in &slices {
            let f = self
                .files
                .get(s.file)
                .ok_or_else(|| WebError::Storage("file list does not match the torrent".into()))?;
            let b = f
                .slice_with_f64_and_f64(s.offset as f64, (s.offset + s.len) as f64)
                .map_err(|e| WebError::Storage(js_message(&e)))?;
            parts.push(&b);
        }
        if slices.len() == 1 {
            return Ok(parts.get(0).unchecked_into());
        }
        Blob::new_with_blob_sequence(&parts).map_err(|e| WebError::Storage(js_message(&e)))
    }

    pub async fn read(&self, piece: PieceIndex) -> Result<Uint8Array, WebError> {
        let blob = self.part(piece)?;
        let buf = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|e| WebError::Storage(js_message(&e)))?;
        let buf: ArrayBuffer = buf.unchecked_into();
        Ok(Uint8Array::new(&buf))
    }
}

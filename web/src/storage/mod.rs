//! Where verified pieces live. Pieces are the unit everywhere: a piece is
//! assembled in a JS buffer as its blocks arrive, hashed from that buffer,
//! and only then stored, so storage never holds unverified bytes and wasm
//! memory never holds piece data for long.

mod blob;
mod memory;
mod opfs;

use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use webswarm_core::{Bitfield, Info, InfoHash, PieceIndex};

pub use blob::BlobStore;
pub use memory::MemoryStore;
pub use opfs::{opfs_available, OpfsStore};

use crate::error::WebError;

/// Which storage a download uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Memory,
    /// The Origin Private File System: survives reloads, enables resume.
    Opfs,
}

#[derive(Clone)]
pub enum Storage {
    Memory(Rc<MemoryStore>),
    Opfs(Rc<OpfsStore>),
    /// Seeding straight from the user's File/Blob objects (read-only).
    Blob(Rc<BlobStore>),
}

impl Storage {
    pub async fn read_piece(&self, piece: PieceIndex) -> Result<Uint8Array, WebError> {
        match self {
            Storage::Memory(s) => s.read(piece),
            Storage::Opfs(s) => s.read(piece).await,
            Storage::Blob(s) => s.read(piece).await,
        }
    }

    pub async fn write_piece(&self, piece: PieceIndex, data: &Uint8Array) -> Result<(), WebError> {
        match self {
            Storage::Memory(s) => {
                s.write(piece, data.clone());
                Ok(())
            }
            Storage::Opfs(s) => s.write(piece, data).await,
            Storage::Blob(_) => Err(WebError::Storage("seeded files are read-only".into())),
        }
    }

    /// A Blob part (Uint8Array or disk-backed Blob) holding the whole piece,
    /// so a file's Blob can be assembled without reading it into memory.
    pub async fn piece_part(&self, piece: PieceIndex) -> Result<JsValue, WebError> {
        match self {
            Storage::Memory(s) => s.read(piece).map(JsValue::from),
            Storage::Opfs(s) => s.part(piece).await,
            Storage::Blob(s) => Ok(s.part(piece)?.into()),
        }
    }

    /// Records which pieces are verified (OPFS only; the others forget on reload).
    pub async fn save_have(&self, have: &Bitfield) -> Result<(), WebError> {
        match self {
            Storage::Opfs(s) => s.save_have(have).await,
            _ => Ok(()),
        }
    }

    /// Deletes everything stored for the torrent.
    pub async fn remove(&self) -> Result<(), WebError> {
        match self {
            Storage::Memory(s) => {
                s.clear();
                Ok(())
            }
            Storage::Opfs(s) => s.remove().await,
            Storage::Blob(_) => Ok(()),
        }
    }
}

/// Opens storage for a torrent whose info is known.
pub async fn open(kind: StorageKind, info: &Info) -> Result<Storage, WebError> {
    Ok(match kind {
        StorageKind::Memory => Storage::Memory(Rc::new(MemoryStore::new(info.layout.num_pieces()))),
        StorageKind::Opfs => Storage::Opfs(Rc::new(OpfsStore::open(info.info_hash).await?)),
    })
}

/// What OPFS remembers of a torrent from an earlier page: its info
/// dictionary and verified pieces.
pub struct Resume {
    pub info: Option<Info>,
    pub have: Option<Bitfield>,
}

pub async fn load_resume(kind: StorageKind, hash: InfoHash) -> Resume {
    if kind != StorageKind::Opfs {
        return Resume {
            info: None,
            have: None,
        };
    }
    opfs::load_resume(hash).await
}

pub async fn save_info(kind: StorageKind, info: &Info) -> Result<(), WebError> {
    if kind != StorageKind::Opfs {
        return Ok(());
    }
    opfs::save_info(info).await
}

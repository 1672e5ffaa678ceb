//! Everything that reaches a torrent task: from its connections, from the
//! storage and HTTP work it started, and from its handle.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::oneshot;
use webswarm_core::{PeerKey, PieceIndex};

use crate::storage::DiskStorage;

pub enum Input {
    Data(PeerKey, Bytes),
    Closed(PeerKey),
    Writable(PeerKey),
    /// A piece hashed: whether it matched, or why it could not be read.
    Checked(PieceIndex, Result<bool, String>),
    /// A whole piece read for serving (`None`: it is not in storage).
    PieceRead(PieceIndex, Option<Bytes>),
    /// Reading a piece for serving failed with an I/O error.
    PieceUnreadable(PieceIndex, String),
    /// A piece read for serving is no longer the verified one.
    PieceLost(PieceIndex),
    /// Storage for a magnet download is open (or why not).
    StorageOpened(Result<Arc<DiskStorage>, String>),
    /// A webseed fetch finished: (webseed, piece, offset, bytes or why not).
    Fetched(PeerKey, PieceIndex, u32, Result<Bytes, String>),
    /// The resume record was written (or why not).
    ResumeSaved(Result<(), String>),
    /// Leave: close every connection, save the resume record, then answer.
    Stop(oneshot::Sender<()>),
}

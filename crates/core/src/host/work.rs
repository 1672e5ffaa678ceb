//! What a [`TorrentHost`](super::TorrentHost) asks of its platform, and what
//! it tells the application.

use std::time::Duration;

use bytes::Bytes;

use crate::bitfield::Bitfield;
use crate::engine::CloseReason;
use crate::types::{BlockRef, PeerId, PeerKey, PieceIndex};
use crate::webseed::RangeRequest;

/// Platform work, in order. Each kind says how its result comes back.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Work {
    /// Write these bytes to the peer's channel. If its send buffer is now
    /// over its high-water mark, say so with `handle_writable(.., false)`.
    Send {
        /// The connection.
        peer: PeerKey,
        /// The bytes, in order.
        data: Bytes,
    },
    /// Close the channel; the host has already forgotten the peer.
    Close {
        /// The connection.
        peer: PeerKey,
        /// Why (for logs).
        reason: CloseReason,
    },
    /// Read the whole verified piece (`len` bytes); answer with
    /// `handle_piece_read`, with `handle_piece_unreadable` on an I/O error,
    /// or with `handle_piece_lost` if the platform can
    /// tell the bytes are no longer the verified ones (the native peer hashes
    /// reads from files changed since it opened or wrote them).
    ReadPiece {
        /// The piece.
        piece: PieceIndex,
        /// Its size.
        len: u32,
    },
    /// Keep a received block until its piece is checked. Blocks of a piece
    /// come before its `CheckPiece`. A failure is `handle_storage_failed`.
    StoreBlock {
        /// Where it goes.
        block: BlockRef,
        /// Its bytes.
        data: Bytes,
    },
    /// Hash the piece (its stored blocks, or the piece as stored already),
    /// make it durable if it matches, and answer with `handle_piece_checked`.
    CheckPiece {
        /// The piece.
        piece: PieceIndex,
        /// The SHA-1 it must have.
        hash: [u8; 20],
    },
    /// Fetch `len` bytes at `offset` of `piece` from a webseed with these
    /// HTTP range requests (bytes no request covers are zeros); answer with
    /// `handle_fetched`.
    Fetch {
        /// The webseed (answer with this key).
        webseed: PeerKey,
        /// The piece.
        piece: PieceIndex,
        /// Byte offset in the piece.
        offset: u32,
        /// Bytes wanted.
        len: u32,
        /// The HTTP requests that fetch them.
        requests: Vec<RangeRequest>,
    },
    /// The info dictionary is known (`TorrentHost::info`): keep it, open
    /// storage for it, and answer with `handle_storage_opened`.
    OpenStorage,
    /// Record which pieces are verified; answer with `handle_resume_saved`.
    SaveResume {
        /// The verified pieces.
        have: Bitfield,
    },
    /// Tell the application.
    Notify(Note),
    /// Classic peers' TCP addresses a peer passed on (PEX): worth dialling.
    #[cfg(not(target_arch = "wasm32"))]
    Dial(Vec<std::net::SocketAddr>),
}

/// Something the application may show or act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The info dictionary is known and storage is open: files can be listed and read.
    Ready,
    /// Open connections changed to this many.
    Peers(usize),
    /// A piece is verified and stored; where it came from.
    Verified(PieceIndex, crate::engine::PieceSource),
    /// Every wanted piece is verified.
    Done,
    /// A peer sent data that failed verification and is not accepted again.
    Banned(PeerId),
    /// Something went wrong that the download survives.
    Warning(String),
    /// The download stopped: storage failed.
    Error(String),
}

/// A torrent as the application sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// `None` until the metadata is known.
    pub name: Option<String>,
    /// Bytes of the torrent, once known.
    pub total_len: Option<u64>,
    /// Wanted bytes not verified yet.
    pub left: Option<u64>,
    /// Pieces in the torrent (0 before the metadata).
    pub pieces: u32,
    /// Pieces verified.
    pub pieces_have: u32,
    /// Open connections.
    pub peers: usize,
    /// The same, by wire.
    #[cfg(not(target_arch = "wasm32"))]
    pub peers_by_wire: crate::engine::ByWire<usize>,
    /// Webseeds still in use (failing ones are dropped).
    pub webseeds: usize,
    /// Bytes per second from peers and webseeds.
    pub download_rate: f64,
    /// The part of `download_rate` from webseeds.
    pub webseed_rate: f64,
    /// Bytes per second to peers.
    pub upload_rate: f64,
    /// Bytes received from peers and webseeds.
    pub downloaded: u64,
    /// Bytes sent to peers.
    pub uploaded: u64,
    /// The parts of `downloaded` and `uploaded` by wire (what `downloaded`
    /// holds beyond both wires came from webseeds).
    #[cfg(not(target_arch = "wasm32"))]
    pub down_by_wire: crate::engine::WireBytes,
    /// See `down_by_wire`.
    #[cfg(not(target_arch = "wasm32"))]
    pub up_by_wire: crate::engine::WireBytes,
    /// Every wanted piece is verified.
    pub complete: bool,
    /// Paused (no connections until resumed).
    pub paused: bool,
    /// From the start to the first verified piece.
    pub first_piece_after: Option<Duration>,
    /// Peers banned for sending data that failed verification.
    pub banned: u32,
    /// Why the download stopped, if it did.
    pub error: Option<String>,
}

impl Stats {
    /// Verified fraction of the wanted data, 0..=1.
    pub fn progress(&self) -> f64 {
        match (self.total_len, self.left) {
            (Some(t), Some(l)) if t > 0 => 1.0 - l as f64 / t as f64,
            (Some(_), Some(_)) => 1.0,
            _ => 0.0,
        }
    }
}

/// A connection the host knows by the remote's tracker id.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known {
    pub key: PeerKey,
    pub we_offered: bool,
}

/// Connections by remote id, for settling duplicates.
pub(super) type ById = crate::vec_map::VecMap<PeerId, Known>;

use bytes::Bytes;

use crate::types::{BlockRef, PeerId, PeerKey, PieceIndex};
use crate::wire::WireError;

/// An action for the host to carry out, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write these bytes to the peer's connection.
    Send {
        peer: PeerKey,
        data: Bytes,
    },
    /// Close the connection; the engine has already forgotten the peer.
    Close {
        peer: PeerKey,
        reason: CloseReason,
    },
    /// Read a verified block from storage and answer with `block_read`.
    Read {
        peer: PeerKey,
        block: BlockRef,
    },
    /// Store a received block. Writes of a piece come before its `Verify`.
    Write {
        block: BlockRef,
        data: Bytes,
    },
    /// Hash the stored piece and answer with `piece_verified`.
    Verify {
        piece: PieceIndex,
        hash: [u8; 20],
    },
    /// Fetch `len` bytes at `offset` of `piece` from a webseed (BEP 19; map
    /// it with `webseed::range_requests`) and answer with `webseed_data` or
    /// `webseed_failed`.
    Fetch {
        webseed: PeerKey,
        piece: PieceIndex,
        offset: u32,
        len: u32,
    },
    Event(Event),
}

/// Something the application may want to show or act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The info dictionary arrived from peers (magnet) and matches the info-hash.
    MetadataReceived,
    PeerConnected {
        peer: PeerKey,
        peer_id: PeerId,
    },
    PieceVerified(PieceIndex),
    /// A piece failed its hash check and will be downloaded again.
    PieceFailed {
        piece: PieceIndex,
        contributors: Vec<PeerId>,
    },
    /// A peer sent bad data and will not be accepted again.
    PeerBanned {
        peer_id: PeerId,
    },
    /// A webseed was dropped; nothing more is fetched from it.
    WebseedRemoved {
        webseed: PeerKey,
        reason: super::WebseedError,
    },
    /// Every wanted piece is verified.
    Completed,
}

/// Why the engine closed a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("protocol error: {0}")]
    Protocol(#[from] WireError),
    #[error("peer broke the protocol: {0}")]
    Misbehaved(&'static str),
    #[error("peer is for another torrent")]
    WrongTorrent,
    #[error("connected to ourselves")]
    SelfConnection,
    #[error("already connected to this peer")]
    Duplicate,
    #[error("peer is banned for sending bad data")]
    Banned,
    #[error("peer sent data that failed verification")]
    BadData,
    #[error("peer sent no handshake in time")]
    HandshakeTimeout,
    #[error("peer was idle too long")]
    Idle,
    #[error("both sides are seeds")]
    BothSeeds,
    /// The host paused or stopped the torrent.
    #[error("the torrent was paused or stopped")]
    Stopped,
}

/// Why `add_peer` refused a new connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error("peer limit of {0} reached")]
    Full(usize),
    #[error("peer is banned")]
    Banned,
    #[error("already connected to this peer")]
    Duplicate,
    /// The torrent is paused, stopped or failed (returned by the host).
    #[error("the torrent takes no connections now")]
    NotAccepting,
}

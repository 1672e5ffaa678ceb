use bytes::Bytes;

use crate::types::{BlockRef, PeerId, PeerKey, PieceIndex};
use crate::wire::WireError;

/// An action for the host to carry out, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write these bytes to the peer's connection.
    Send {
        /// The connection.
        peer: PeerKey,
        /// The bytes, to be sent in order.
        data: Bytes,
    },
    /// Close the connection; the engine has already forgotten the peer.
    Close {
        /// The connection.
        peer: PeerKey,
        /// Why.
        reason: CloseReason,
    },
    /// Read a verified block from storage and answer with `block_read`.
    Read {
        /// The connection that asked.
        peer: PeerKey,
        /// The block.
        block: BlockRef,
    },
    /// Store a received block. Writes of a piece come before its `Verify`.
    Write {
        /// The block.
        block: BlockRef,
        /// Its bytes.
        data: Bytes,
    },
    /// Hash the stored piece and answer with `piece_verified`.
    Verify {
        /// The piece.
        piece: PieceIndex,
        /// The SHA-1 it must have.
        hash: [u8; 20],
    },
    /// Fetch `len` bytes at `offset` of `piece` from a webseed (BEP 19; map
    /// it with `webseed::range_requests`) and answer with `webseed_data` or
    /// `webseed_failed`.
    Fetch {
        /// The webseed's key (from `add_webseed`).
        webseed: PeerKey,
        /// The piece.
        piece: PieceIndex,
        /// Byte offset in the piece.
        offset: u32,
        /// Bytes wanted.
        len: u32,
    },
    /// Something to tell the application.
    Event(Event),
}

/// Something the application may want to show or act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The info dictionary arrived from peers (magnet) and matches the info-hash.
    MetadataReceived,
    /// A connection completed its handshake.
    PeerConnected {
        /// The connection.
        peer: PeerKey,
        /// The remote's id from its handshake.
        peer_id: PeerId,
    },
    /// A piece passed its hash check.
    PieceVerified(PieceIndex, PieceSource),
    /// A piece failed its hash check and will be downloaded again.
    PieceFailed {
        /// The piece.
        piece: PieceIndex,
        /// The peers that sent its blocks.
        contributors: Vec<PeerId>,
    },
    /// A peer sent bad data and will not be accepted again.
    PeerBanned {
        /// The peer's id.
        peer_id: PeerId,
    },
    /// A webseed was dropped; nothing more is fetched from it.
    WebseedRemoved {
        /// The webseed's key.
        webseed: PeerKey,
        /// Why it was dropped.
        reason: super::WebseedError,
    },
    /// Every wanted piece is verified.
    Completed,
    /// A classic peer named other classic peers' TCP addresses (PEX, BEP 11).
    #[cfg(not(target_arch = "wasm32"))]
    PexPeers(Vec<std::net::SocketAddr>),
}

/// Where a verified piece came from, so a site can show its origin being
/// offloaded. A piece with blocks from several sources counts for the first
/// of: a webseed, a native node, a peer (the swarm is never credited with
/// what the origin helped with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceSource {
    /// Found in storage (resumed, or seeded from a file), not downloaded.
    Stored = 1,
    /// Another peer (a browser, WebTorrent, a classic client).
    Peer = 2,
    /// A native webswarm node (`webswarm seed` or `get`), known by its peer id.
    Native = 3,
    /// A webseed: the site's origin.
    Webseed = 4,
}

/// Why the engine closed a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error("protocol error: {0}")]
    /// The bytes broke the wire protocol.
    Protocol(#[from] WireError),
    #[error("peer broke the protocol: {0}")]
    /// A valid message at the wrong time, or one we never allow.
    Misbehaved(&'static str),
    #[error("peer is for another torrent")]
    /// Its handshake names another info-hash.
    WrongTorrent,
    #[error("connected to ourselves")]
    /// We connected to our own peer id.
    SelfConnection,
    #[error("already connected to this peer")]
    /// A second connection to the same peer.
    Duplicate,
    #[error("peer is banned for sending bad data")]
    /// The peer is banned.
    Banned,
    #[error("peer sent data that failed verification")]
    /// The peer sent data that failed verification.
    BadData,
    #[error("peer sent no handshake in time")]
    /// No handshake within `handshake_timeout`.
    HandshakeTimeout,
    #[error("peer was idle too long")]
    /// Nothing received within `idle_timeout`.
    Idle,
    #[error("both sides are seeds")]
    /// Neither side wants anything from the other.
    BothSeeds,
    /// Its send buffer stayed full for `write_stall_timeout`.
    #[error("peer took nothing we sent for too long")]
    WriteStalled,
    /// The host paused or stopped the torrent.
    #[error("the torrent was paused or stopped")]
    Stopped,
}

/// Why `add_peer` refused a new connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddPeerError {
    #[error("peer limit of {0} reached")]
    /// This many connections are open already.
    Full(usize),
    #[error("peer is banned")]
    /// The peer is banned.
    Banned,
    #[error("already connected to this peer")]
    /// Already connected to this peer.
    Duplicate,
    /// The torrent is paused, stopped or failed (returned by the host).
    #[error("the torrent takes no connections now")]
    NotAccepting,
}

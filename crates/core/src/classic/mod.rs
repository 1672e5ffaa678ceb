//! Classic BitTorrent peer discovery, sans-IO: HTTP (BEP 3, 23, 7) and UDP
//! (BEP 15) tracker announces, the announce schedule each torrent keeps per
//! tracker, peer exchange messages (BEP 11), and the book of TCP addresses
//! to dial. The native peer carries
//! out the HTTP requests, datagrams and connections; what to send, when, and
//! whom to dial is decided here.

mod announcer;
mod http;
mod peer_book;
mod pex;
mod udp;

pub use announcer::{Announcer, AnnouncerConfig};
pub use http::{announce_url, parse_announce_response};
pub use peer_book::{PeerBook, PeerBookConfig};
pub use pex::{PexMessage, MAX_ADDED as MAX_PEX_ADDED};
pub use udp::{bep15, UdpAnnounce, UdpWork};

use std::net::SocketAddr;
use std::time::Duration;

use crate::types::{InfoHash, PeerId};

/// The event an announce carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicEvent {
    /// The first announce of this torrent to this tracker.
    Started,
    /// Every wanted piece is now verified (sent once).
    Completed,
    /// Leaving the swarm.
    Stopped,
}

/// One announce, as both HTTP and UDP carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceParams {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our id in its swarm.
    pub peer_id: PeerId,
    /// The TCP port we accept peers on.
    pub port: u16,
    /// Bytes sent to peers.
    pub uploaded: u64,
    /// Bytes received.
    pub downloaded: u64,
    /// Bytes still wanted (a magnet before its metadata announces 1: "not a seed").
    pub left: u64,
    /// The event, if any.
    pub event: Option<ClassicEvent>,
    /// Peers wanted.
    pub numwant: u32,
    /// Identifies us to the tracker across address changes (BEP 15, BEP 3 `key`).
    pub key: u32,
}

/// What a tracker answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceReply {
    /// When to announce again.
    pub interval: Option<Duration>,
    /// The shortest interval the tracker allows.
    pub min_interval: Option<Duration>,
    /// Peers' TCP addresses.
    pub peers: Vec<SocketAddr>,
    /// Seeders, when the tracker says.
    pub seeders: Option<u32>,
    /// Leechers, when the tracker says.
    pub leechers: Option<u32>,
    /// A warning to show the user (the announce still counted).
    pub warning: Option<String>,
}

/// Why an announce gave no peers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    /// The tracker refused it with this reason.
    #[error("the tracker refused the announce: {0}")]
    Refused(String),
    /// The answer is not a tracker response.
    #[error("the tracker's answer is not a valid announce response: {0}")]
    Malformed(String),
    /// No answer in time.
    #[error("the tracker did not answer")]
    Timeout,
    /// The transport failed (HTTP status, DNS, socket).
    #[error("{0}")]
    Transport(String),
}

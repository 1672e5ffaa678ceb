use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::Config;
use crate::bitfield::Bitfield;
use crate::rate::RateMeter;
use crate::types::{BlockRef, PeerId, Time, BLOCK_SIZE};
use crate::wire::{Decoder, ExtendedHandshake, Handshake};

/// What carries a peer's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Wire {
    /// A WebRTC data channel.
    #[default]
    DataChannel,
    /// A classic BitTorrent TCP connection.
    Tcp,
    /// A classic BitTorrent uTP connection (BEP 29).
    Utp,
}

impl Wire {
    /// TCP or uTP: the wires of classic BitTorrent clients, which take PEX
    /// and whose peers have addresses worth passing on.
    #[must_use]
    pub fn is_classic(self) -> bool {
        self != Wire::DataChannel
    }
}

/// One count per wire (browsers have one wire).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByWire<T> {
    /// Over WebRTC data channels.
    pub data_channel: T,
    /// Over classic TCP connections.
    pub tcp: T,
    /// Over classic uTP connections.
    pub utp: T,
}

/// Bytes of blocks moved, by the wire that carried them.
#[cfg(not(target_arch = "wasm32"))]
pub type WireBytes = ByWire<u64>;

#[cfg(not(target_arch = "wasm32"))]
impl<T: Copy + std::ops::Add<Output = T>> ByWire<T> {
    /// Counts `n` more on `wire`.
    pub fn add(&mut self, wire: Wire, n: T) {
        let c = match wire {
            Wire::DataChannel => &mut self.data_channel,
            Wire::Tcp => &mut self.tcp,
            Wire::Utp => &mut self.utp,
        };
        *c = *c + n;
    }
    /// Both classic wires together.
    pub fn classic(&self) -> T {
        self.tcp + self.utp
    }
    /// Wire by wire, the sum of two.
    #[must_use]
    pub fn plus(self, o: Self) -> Self {
        ByWire {
            data_channel: self.data_channel + o.data_channel,
            tcp: self.tcp + o.tcp,
            utp: self.utp + o.utp,
        }
    }
}

/// Haves announced before we know the torrent's size (magnet downloads).
#[derive(Default, Debug)]
pub(super) struct EarlyHave {
    pub all: bool,
    pub bitfield: Option<Bytes>,
    pub haves: Vec<u32>,
}

/// Most `have` messages remembered before the metadata arrives.
pub(super) const MAX_EARLY_HAVES: usize = 1 << 16;
/// Allowed-fast pieces remembered per peer.
pub(super) const MAX_ALLOWED_FAST: usize = 32;
/// Pieces remembered as refused by one peer; the oldest is forgotten first.
const MAX_REFUSED: usize = 64;
/// How long a piece a peer refused while unchoking us is not asked of it
/// again. Without it, a peer that advertised a piece it no longer serves
/// (and does not say so with lt_donthave, as WebTorrent does not) is asked
/// again at once after every reject, one round trip per retry, for ever.
pub(super) const REFUSED_BACKOFF: Duration = Duration::from_secs(15);

/// One connection's state.
pub(super) struct Peer {
    /// A browser has only data channels; its package does not carry this.
    #[cfg(not(target_arch = "wasm32"))]
    pub wire: Wire,
    pub decoder: Decoder,
    pub remote: Option<Handshake>,
    pub expected_id: Option<PeerId>,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// The peer's pieces; `None` until its size is known (metadata) and it announced them.
    pub has: Option<Bitfield>,
    pub early: EarlyHave,
    pub ext: ExtendedHandshake,
    /// Our requests to the peer, oldest first.
    pub requests: VecDeque<(BlockRef, Time)>,
    /// The peer's requests to us not yet read from storage.
    pub incoming: VecDeque<BlockRef>,
    pub reading: usize,
    pub writable: bool,
    /// Since when the send buffer has been full without a break.
    pub unwritable_since: Option<Time>,
    pub allowed_fast: Vec<u32>,
    pub down: RateMeter,
    pub up: RateMeter,
    pub connected_at: Time,
    pub last_recv: Time,
    pub last_sent: Time,
    /// Last time the peer sent a block we asked for (or we started waiting).
    pub last_block: Time,
    /// Wanted pieces this peer has.
    pub interesting: u32,
    /// The peer unchoked us but everything it has that we want is already
    /// requested from others: we say "not interested" so its slot goes to
    /// someone who can use it, until something becomes requestable.
    pub starved: bool,
    /// Pieces the peer rejected while unchoking us, and until when we do
    /// not ask it for them again.
    pub refused: Vec<(u32, Time)>,
    pub strikes: u32,
    pub optimistic: bool,
    pub unwanted_bytes: u64,
    /// When we last unchoked the peer, and when it last asked us for a block.
    pub unchoked_at: Time,
    /// Bytes sent since we last unchoked it.
    pub sent_since_unchoke: u64,
    pub last_request: Time,
    /// When we last took its unchoke slot back (it asked for nothing, or
    /// had its turn at a seed): it goes last when slots are filled.
    pub slot_taken_at: Option<Time>,
    pub meta_rejected: bool,
    pub meta_inflight: u32,
    pub out: BytesMut,
    /// When its last PEX message was taken (BEP 11: one a minute).
    #[cfg(not(target_arch = "wasm32"))]
    pub pex_at: Option<Time>,
    /// When it is next told of our other classic peers (`None`: not yet
    /// scheduled), and the addresses it has been told of.
    #[cfg(not(target_arch = "wasm32"))]
    pub pex_next: Option<Time>,
    #[cfg(not(target_arch = "wasm32"))]
    pub pex_told: Vec<std::net::SocketAddr>,
    /// Its TCP address, and whether others can connect to it there (an
    /// incoming peer's port is its own until its handshake names its
    /// listen port).
    #[cfg(not(target_arch = "wasm32"))]
    pub addr: Option<std::net::SocketAddr>,
    #[cfg(not(target_arch = "wasm32"))]
    pub addr_connectable: bool,
}

impl Peer {
    /// Remembers that the peer refused `piece` (bounded).
    pub fn refuse(&mut self, piece: u32, until: Time) {
        self.refused.retain(|&(p, _)| p != piece);
        if self.refused.len() >= MAX_REFUSED {
            self.refused.remove(0);
        }
        self.refused.push((piece, until));
    }

    /// Whether `piece` is not to be asked of this peer at `now`.
    pub fn refuses(&self, piece: u32, now: Time) -> bool {
        self.refused
            .iter()
            .any(|&(p, until)| p == piece && until > now)
    }

    pub fn new(now: Time, expected_id: Option<PeerId>, wire: Wire, cfg: &Config) -> Self {
        #[cfg(target_arch = "wasm32")]
        let _ = wire;
        Peer {
            #[cfg(not(target_arch = "wasm32"))]
            wire,
            decoder: Decoder::new(cfg.max_message_len),
            remote: None,
            expected_id,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            has: None,
            early: EarlyHave::default(),
            ext: ExtendedHandshake::default(),
            requests: VecDeque::new(),
            incoming: VecDeque::new(),
            reading: 0,
            writable: true,
            unwritable_since: None,
            allowed_fast: Vec::new(),
            down: RateMeter::default(),
            up: RateMeter::default(),
            connected_at: now,
            last_recv: now,
            last_sent: now,
            last_block: now,
            interesting: 0,
            starved: false,
            refused: Vec::new(),
            strikes: 0,
            optimistic: false,
            unwanted_bytes: 0,
            unchoked_at: now,
            sent_since_unchoke: 0,
            last_request: now,
            slot_taken_at: None,
            meta_rejected: false,
            meta_inflight: 0,
            out: BytesMut::new(),
            #[cfg(not(target_arch = "wasm32"))]
            pex_at: None,
            #[cfg(not(target_arch = "wasm32"))]
            pex_next: None,
            #[cfg(not(target_arch = "wasm32"))]
            pex_told: Vec::new(),
            #[cfg(not(target_arch = "wasm32"))]
            addr: None,
            #[cfg(not(target_arch = "wasm32"))]
            addr_connectable: false,
        }
    }

    /// The listen port from its extension handshake makes an incoming
    /// peer's address one others can connect to.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn learn_listen_port(&mut self, port: Option<u16>) {
        if let (Some(a), Some(port), false) = (self.addr.as_mut(), port, self.addr_connectable) {
            a.set_port(port);
            self.addr_connectable = true;
        }
    }

    pub fn fast(&self) -> bool {
        self.remote.is_some_and(|h| h.supports_fast())
    }

    pub fn peer_id(&self) -> Option<PeerId> {
        self.remote.map(|h| h.peer_id)
    }

    pub fn is_seed(&self) -> bool {
        self.has.as_ref().is_some_and(Bitfield::is_full)
    }

    /// How many requests to keep outstanding: enough to cover
    /// `request_queue_time` of the peer's rate, within its `reqq` and ours.
    pub fn queue_target(&self, now: Time, cfg: &Config) -> usize {
        #[cfg(not(target_arch = "wasm32"))]
        let queue_time = match self.wire {
            Wire::Tcp | Wire::Utp => cfg.tcp_request_queue_time,
            Wire::DataChannel => cfg.request_queue_time,
        };
        #[cfg(target_arch = "wasm32")]
        let queue_time = cfg.request_queue_time;
        let by_rate = self.down.rate(now) * queue_time.as_secs_f64() / f64::from(BLOCK_SIZE);
        let cap = self
            .ext
            .reqq
            .map_or(cfg.max_outstanding_requests, |r| r as usize)
            .min(cfg.max_outstanding_requests)
            .max(1);
        (4 + by_rate as usize).min(cap)
    }

    pub fn take_request(&mut self, b: &BlockRef) -> bool {
        match self.requests.iter().position(|(r, _)| r == b) {
            Some(i) => {
                self.requests.remove(i);
                true
            }
            None => false,
        }
    }
}

//! The per-torrent state machine. The host calls the input methods with the
//! current [`Time`], then drains [`Torrent::poll_output`] and arms a timer for
//! [`Torrent::poll_timeout`]. Nothing here blocks, sleeps or reads a clock.

#[cfg(not(target_arch = "wasm32"))]
mod bridge;
mod config;
mod download;
mod messages;
mod metadata;
mod output;
mod peer;
#[cfg(not(target_arch = "wasm32"))]
mod pex;
mod upload;
mod verify;
mod webseed;

use std::collections::VecDeque;

use crate::vec_map::{VecMap, VecSet};
use std::time::Duration;

use bytes::Bytes;

pub use config::{Choking, Config};
pub use output::{AddPeerError, CloseReason, Event, Output, PieceSource};
pub use peer::Wire;
#[cfg(not(target_arch = "wasm32"))]
pub use peer::{ByWire, WireBytes};
pub use webseed::WebseedError;

use crate::bitfield::Bitfield;
use crate::metainfo::Info;
use crate::picker::{Picker, Priority};
use crate::rng::Rng;
use crate::types::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex, Time};
use crate::wire::Handshake;
use metadata::MetadataFetch;
use peer::Peer;
use verify::SuspectPiece;
use webseed::Webseed;

/// How often timers (snubs, timeouts, keep-alives) are checked.
const TICK: Duration = Duration::from_secs(1);
/// Our peer ids' client prefix: a browser's differs from a native node's, so
/// a page can tell what the native seeders gave it (`PieceSource::Native`).
const CLIENT_PREFIX: &[u8; 8] = if cfg!(target_arch = "wasm32") {
    b"-WB0100-"
} else {
    NATIVE_PREFIX
};
const NATIVE_PREFIX: &[u8; 8] = b"-WS0100-";
/// Peers connected more recently than this count as new for optimistic unchoking.
const NEW_PEER_AGE: Duration = Duration::from_secs(30);

/// What the host knows about a torrent when it starts one.
pub enum Source {
    /// A full info dictionary (from a .torrent or resume data), with the pieces
    /// already verified on disk.
    Info {
        /// The info dictionary.
        info: Box<Info>,
        /// Pieces known to be verified on disk (`None`: none).
        have: Option<Bitfield>,
    },
    /// Only the info-hash (magnet link): the info dictionary is fetched from peers.
    Magnet(InfoHash),
}

/// One torrent's swarm state.
pub struct Torrent {
    cfg: Config,
    info_hash: InfoHash,
    our_id: PeerId,
    info: Option<Info>,
    picker: Option<Picker>,
    metadata: MetadataFetch,
    peers: VecMap<PeerKey, Peer>,
    webseeds: VecMap<PeerKey, Webseed>,
    next_key: u64,
    banned: VecDeque<PeerId>,
    /// The connections those bans closed (as many): a failed piece one of
    /// them contributed to is explained by it.
    banned_keys: Vec<PeerKey>,
    rng: Rng,
    out: VecDeque<Output>,
    dirty: VecSet<PeerKey>,
    next_tick: Time,
    next_rechoke: Time,
    rechoke_round: u32,
    completed: bool,
    suspects: VecMap<u32, SuspectPiece>,
    file_prios: Vec<Priority>,
    uploaded: u64,
    downloaded: u64,
    #[cfg(not(target_arch = "wasm32"))]
    up_by_wire: WireBytes,
    #[cfg(not(target_arch = "wasm32"))]
    down_by_wire: WireBytes,
    /// The picker's deadlines are the bridge's (see `bridge.rs`), not the
    /// application's.
    #[cfg(not(target_arch = "wasm32"))]
    bridge_deadlines: bool,
}

/// A snapshot of one connection for display.
#[derive(Debug, Clone)]
pub struct PeerStats {
    /// The engine's key for the connection.
    pub peer: PeerKey,
    /// The id from its handshake, once received.
    pub peer_id: Option<PeerId>,
    /// Its client name (`v` of the extension handshake).
    pub client: Option<String>,
    /// Pieces it has.
    pub pieces: u32,
    /// Bytes per second we receive from it.
    pub download_rate: f64,
    /// Bytes per second we send it.
    pub upload_rate: f64,
    /// We refuse its requests.
    pub am_choking: bool,
    /// It refuses ours.
    pub peer_choking: bool,
    /// We want pieces it has.
    pub am_interested: bool,
    /// It wants pieces we have.
    pub peer_interested: bool,
    /// Our requests waiting at the peer.
    pub requests_out: usize,
    /// The peer's requests waiting at us (queued or being read).
    pub requests_in: usize,
}

impl Torrent {
    /// `seed` drives every random choice (peer id suffix, tie-breaks, optimistic unchokes).
    pub fn new(cfg: Config, source: Source, peer_id: PeerId, now: Time, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let (info_hash, info, have) = match source {
            Source::Info { info, have } => (info.info_hash, Some(*info), have),
            Source::Magnet(h) => (h, None, None),
        };
        let mut t = Torrent {
            cfg,
            info_hash,
            our_id: peer_id,
            info: None,
            picker: None,
            metadata: MetadataFetch::default(),
            peers: VecMap::new(),
            webseeds: VecMap::new(),
            next_key: 0,
            banned: VecDeque::new(),
            banned_keys: Vec::new(),
            rng: Rng::new(rng.next_u64()),
            out: VecDeque::new(),
            dirty: VecSet::new(),
            next_tick: now + TICK,
            next_rechoke: now,
            rechoke_round: 0,
            completed: false,
            suspects: VecMap::new(),
            file_prios: Vec::new(),
            uploaded: 0,
            downloaded: 0,
            #[cfg(not(target_arch = "wasm32"))]
            up_by_wire: WireBytes::default(),
            #[cfg(not(target_arch = "wasm32"))]
            down_by_wire: WireBytes::default(),
            #[cfg(not(target_arch = "wasm32"))]
            bridge_deadlines: false,
        };
        if let Some(info) = info {
            t.install_info(now, info, have);
        }
        t
    }

    /// A random peer id with the client prefix, from the host's seed.
    pub fn generate_peer_id(seed: u64) -> PeerId {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(CLIENT_PREFIX);
        let mut rng = Rng::new(seed);
        for b in &mut id[8..] {
            *b = b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.below(36)];
        }
        PeerId(id)
    }

    /// The torrent's info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }
    /// Our peer id in this swarm.
    pub fn peer_id(&self) -> PeerId {
        self.our_id
    }
    /// The info dictionary, once known (magnet links: from peers).
    pub fn info(&self) -> Option<&Info> {
        self.info.as_ref()
    }
    /// Verified pieces, once the info dictionary is known.
    pub fn have(&self) -> Option<&Bitfield> {
        self.picker.as_ref().map(Picker::have)
    }
    /// Every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.as_ref().is_some_and(Picker::is_done)
    }
    /// Every piece is verified (not just the wanted ones).
    pub fn is_seed(&self) -> bool {
        self.have().is_some_and(Bitfield::is_full)
    }
    /// Bytes of wanted data not yet verified (`None` before metadata).
    pub fn bytes_left(&self) -> Option<u64> {
        self.picker.as_ref().map(Picker::wanted_left)
    }
    /// Bytes of blocks sent to peers.
    pub fn uploaded(&self) -> u64 {
        self.uploaded
    }
    /// Bytes of blocks received (from peers and webseeds), verified or not.
    pub fn downloaded(&self) -> u64 {
        self.downloaded
    }
    /// The part of `uploaded` each wire carried.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn uploaded_by_wire(&self) -> WireBytes {
        self.up_by_wire
    }
    /// The part of `downloaded` each wire carried (the rest came from webseeds).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn downloaded_by_wire(&self) -> WireBytes {
        self.down_by_wire
    }
    /// Open connections.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
    /// Open connections, by wire.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn peers_by_wire(&self) -> ByWire<usize> {
        let mut n = ByWire::default();
        for p in self.peers.values() {
            n.add(p.wire, 1);
        }
        n
    }
    /// The keys of the open connections.
    pub fn peer_keys(&self) -> impl Iterator<Item = PeerKey> + '_ {
        self.peers.keys().copied()
    }
    /// From peers and webseeds together.
    pub fn download_rate(&self, now: Time) -> f64 {
        self.swarm_rate(now) + self.webseed_rate(now)
    }
    /// From peers only.
    pub fn swarm_rate(&self, now: Time) -> f64 {
        self.peers.values().map(|p| p.down.rate(now)).sum()
    }
    /// Bytes per second sent to peers.
    pub fn upload_rate(&self, now: Time) -> f64 {
        self.peers.values().map(|p| p.up.rate(now)).sum()
    }
    /// Whether `id` sent bad data and is refused.
    pub fn is_banned(&self, id: &PeerId) -> bool {
        self.banned.contains(id)
    }

    /// One entry per open connection.
    pub fn peer_stats(&self, now: Time) -> Vec<PeerStats> {
        self.peers
            .iter()
            .map(|(&k, p)| PeerStats {
                peer: k,
                peer_id: p.peer_id(),
                client: p.ext.client.clone(),
                pieces: p.has.as_ref().map_or(0, Bitfield::count),
                download_rate: p.down.rate(now),
                upload_rate: p.up.rate(now),
                am_choking: p.am_choking,
                peer_choking: p.peer_choking,
                am_interested: p.am_interested,
                peer_interested: p.peer_interested,
                requests_out: p.requests.len(),
                requests_in: p.incoming.len() + p.reading,
            })
            .collect()
    }

    // ---- inputs -------------------------------------------------------------

    /// A new connection (either direction) is open. We send our handshake at
    /// once, as WebTorrent does. `remote_id` is the id the tracker gave, if any.
    pub fn add_peer(
        &mut self,
        now: Time,
        remote_id: Option<PeerId>,
    ) -> Result<PeerKey, AddPeerError> {
        self.add_peer_on(now, remote_id, Wire::DataChannel)
    }

    /// [`Torrent::add_peer`] for a connection on `wire`.
    pub fn add_peer_on(
        &mut self,
        now: Time,
        remote_id: Option<PeerId>,
        wire: Wire,
    ) -> Result<PeerKey, AddPeerError> {
        if self.peers.len() >= self.cfg.max_peers {
            return Err(AddPeerError::Full(self.cfg.max_peers));
        }
        if let Some(id) = remote_id {
            if self.banned.contains(&id) {
                return Err(AddPeerError::Banned);
            }
            if self
                .peers
                .values()
                .any(|p| p.peer_id() == Some(id) || p.expected_id == Some(id))
            {
                return Err(AddPeerError::Duplicate);
            }
        }
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        let mut peer = Peer::new(now, remote_id, wire, &self.cfg);
        peer.out
            .extend_from_slice(&Handshake::new(self.info_hash, self.our_id).encode());
        self.peers.insert(key, peer);
        self.dirty.insert(key);
        self.flush();
        Ok(key)
    }

    /// Bytes arrived from a peer, split anywhere.
    pub fn handle_data(&mut self, now: Time, key: PeerKey, data: &[u8]) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.decoder.feed(data);
            self.decode_input(now, key);
        }
    }

    /// [`Torrent::handle_data`] with bytes the host owns (a data channel's
    /// message): blocks whole within them are stored without a copy.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle_bytes(&mut self, now: Time, key: PeerKey, data: Bytes) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.decoder.feed_bytes(data);
            self.decode_input(now, key);
        }
    }

    fn decode_input(&mut self, now: Time, key: PeerKey) {
        self.process_input(now, key);
        self.after_input_from(now, key);
    }

    /// The host saw the connection close.
    pub fn peer_disconnected(&mut self, now: Time, key: PeerKey) {
        self.remove_peer(now, key);
        self.after_input(now);
    }

    /// The connection's send buffer is above (`false`) or back below (`true`)
    /// its high-water mark; no block is read for a peer that cannot take it.
    pub fn set_peer_writable(&mut self, now: Time, key: PeerKey, writable: bool) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.writable = writable;
            p.unwritable_since = match writable {
                true => None,
                false => p.unwritable_since.or(Some(now)),
            };
            self.after_input_from(now, key);
        }
    }

    /// Answer to `Output::Read`.
    pub fn block_read(&mut self, now: Time, key: PeerKey, block: BlockRef, data: Bytes) {
        self.on_block_read(now, key, block, Some(data));
        self.after_input_from(now, key);
    }

    /// Storage could not read a block: the peer's request is rejected.
    pub fn block_read_failed(&mut self, now: Time, key: PeerKey, block: BlockRef) {
        self.on_block_read(now, key, block, None);
        self.after_input_from(now, key);
    }

    /// Storage could not write a block: its piece is downloaded again.
    pub fn block_write_failed(&mut self, now: Time, block: BlockRef) {
        if let Some(p) = self.picker.as_mut() {
            p.reset_piece(block.piece);
        }
        self.after_input(now);
    }

    /// Answer to `Output::Verify`.
    pub fn piece_verified(&mut self, now: Time, piece: PieceIndex, ok: bool) {
        self.on_piece_verified(now, piece, ok);
        self.after_input(now);
    }

    /// A piece found whole in storage outside a download (written after the
    /// last resume record) whose hash the host checked: counted as verified.
    pub fn piece_found(&mut self, now: Time, piece: PieceIndex) {
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        if picker.have().get(piece.get()) {
            return;
        }
        picker.mark_have(piece);
        self.piece_passed(now, piece, PieceSource::Stored);
        self.after_input(now);
    }

    /// A verified piece is no longer right in storage (its file changed
    /// under us): requests for it are refused from now on, and it is
    /// downloaded again.
    pub fn piece_lost(&mut self, now: Time, piece: PieceIndex) {
        if !self.picker.as_mut().is_some_and(|p| p.lose(piece)) {
            return;
        }
        // Incomplete again: `Completed` is due again once it is repaired.
        self.completed = false;
        self.piece_wanted_again(now, piece);
        self.after_input(now);
    }

    /// Timers; call at or after `poll_timeout`.
    pub fn handle_timeout(&mut self, now: Time) {
        if now >= self.next_tick {
            self.next_tick = now + TICK;
            self.check_timeouts(now);
            #[cfg(not(target_arch = "wasm32"))]
            {
                self.aim_bridge(now);
                self.tell_pex(now);
            }
        }
        if now >= self.next_rechoke {
            self.next_rechoke = self.next_rechoke_after(now);
            self.rechoke(now);
        }
        self.after_input(now);
    }

    /// The next rechoke: the interval ±25 %, so that peers that joined
    /// together do not all reshuffle their slots in the same instant, each
    /// restarting its pipelines (in the simulator, where a flash crowd joins
    /// at once: N = 100, swarm policy, 11 seeds, 1.231 -> 1.204 of the fluid
    /// bound on top of the seed passing its slots on).
    fn next_rechoke_after(&mut self, now: Time) -> Time {
        let base =
            u64::try_from(self.cfg.rechoke_interval.as_millis()).unwrap_or(u64::from(u32::MAX));
        let jitter = (base / 4).min(u64::from(u32::MAX / 2));
        let ms = base - jitter + self.rng.below((2 * jitter + 1) as usize) as u64;
        now + Duration::from_millis(ms)
    }

    /// The next time `handle_timeout` has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Time {
        self.next_tick.min(self.next_rechoke)
    }

    #[must_use]
    /// The next action for the host, in order; `None` when there is none.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---- controls -----------------------------------------------------------

    /// Sets a file's priority; pieces shared with other files take the highest.
    pub fn set_file_priority(&mut self, now: Time, file: usize, prio: Priority) {
        let (Some(info), Some(picker)) = (self.info.as_ref(), self.picker.as_mut()) else {
            return;
        };
        let Some(f) = info.files.get(file) else {
            return;
        };
        let range = info.layout.pieces_in_range(f.offset, f.offset + f.length);
        let prios = &mut self.file_prios;
        prios[file] = prio;
        for i in range {
            let piece = info.layout.piece(i).expect("range is within the layout");
            let start = info.layout.piece_offset(piece);
            let len = u64::from(info.layout.piece_size(piece));
            let best = info
                .slices(start, len)
                .iter()
                .map(|s| prios[s.file])
                .max()
                .unwrap_or(Priority::Skip);
            picker.set_priority(piece, best);
        }
        // Wanting more again: `Completed` is due again when that is done.
        if !self.is_complete() {
            self.completed = false;
        }
        self.refresh_interest(now);
        self.after_input(now);
    }

    /// Downloads pieces in order instead of rarest first.
    pub fn set_sequential(&mut self, on: bool) {
        if let Some(p) = self.picker.as_mut() {
            p.set_sequential(on);
        }
    }

    /// Streaming: the byte range `[start, end)` is needed by `deadline`, earlier
    /// bytes first. Replaces previous deadlines.
    pub fn set_deadline(&mut self, now: Time, start: u64, end: u64, deadline: Time) {
        let (Some(info), Some(picker)) = (self.info.as_ref(), self.picker.as_mut()) else {
            return;
        };
        let pieces = info.layout.pieces_in_range(start, end);
        // Later pieces of the range get later deadlines so the picker goes in order.
        let d = pieces
            .clone()
            .enumerate()
            .filter_map(|(k, i)| {
                let p = info.layout.piece(i)?;
                Some((deadline + Duration::from_millis(k as u64), p))
            })
            .collect();
        picker.set_deadlines(d);
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.bridge_deadlines = false;
        }
        self.after_input(now);
    }

    // ---- internals shared by the submodules ---------------------------------

    /// Refills request pipelines and serves queued requests. After input from
    /// one peer only that peer can have changed (others catch up on the next
    /// timer tick), which keeps per-message work independent of the peer count.
    fn after_input_from(&mut self, now: Time, key: PeerKey) {
        self.fill_requests(now, key);
        self.serve(now, key);
        self.flush();
    }

    fn after_input(&mut self, now: Time) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            self.fill_requests(now, k);
            self.serve(now, k);
        }
        self.fill_webseeds(now);
        self.flush();
    }

    fn flush(&mut self) {
        for k in std::mem::take(&mut self.dirty) {
            if let Some(p) = self.peers.get_mut(&k) {
                if !p.out.is_empty() {
                    let data = p.out.split().freeze();
                    self.out.push_back(Output::Send { peer: k, data });
                }
            }
        }
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn send(&mut self, key: PeerKey, now: Time, m: &crate::wire::Message) {
        if let Some(p) = self.peers.get_mut(&key) {
            m.encode(&mut p.out);
            p.last_sent = now;
            self.dirty.insert(key);
        }
    }

    /// Closes a connection on our side and tells the host.
    fn close(&mut self, now: Time, key: PeerKey, reason: CloseReason) {
        if self.remove_peer(now, key) {
            self.out.push_back(Output::Close { peer: key, reason });
        }
    }

    fn remove_peer(&mut self, now: Time, key: PeerKey) -> bool {
        let Some(mut p) = self.peers.remove(&key) else {
            return false;
        };
        self.dirty.remove(&key);
        if !p.out.is_empty() {
            self.out.push_back(Output::Send {
                peer: key,
                data: p.out.split().freeze(),
            });
        }
        if let (Some(picker), Some(info)) = (self.picker.as_mut(), self.info.as_ref()) {
            for (b, _) in p.requests.drain(..) {
                picker.cancel(key, b);
            }
            for i in p.has.iter().flat_map(Bitfield::iter_ones) {
                if let Some(piece) = info.layout.piece(i) {
                    picker.peer_lost(piece);
                }
            }
        }
        self.metadata.forget_peer(key);
        if !p.am_choking {
            self.fill_unchoke_slots(now);
        }
        true
    }

    fn ban(&mut self, now: Time, key: PeerKey) {
        let Some(id) = self.peers.get(&key).and_then(Peer::peer_id) else {
            return;
        };
        self.remember_ban(id);
        if self.banned_keys.len() >= self.cfg.max_banned {
            self.banned_keys.remove(0);
        }
        self.banned_keys.push(key);
        self.refund_co_contributors(key);
        self.close(now, key, CloseReason::BadData);
    }

    /// Adds `id` to the bounded ban list (oldest forgotten first).
    fn remember_ban(&mut self, id: PeerId) {
        if !self.banned.contains(&id) {
            if self.banned.len() >= self.cfg.max_banned {
                self.banned.pop_front();
            }
            self.banned.push_back(id);
            self.emit(Event::PeerBanned { peer_id: id });
        }
    }
}

#[cfg(test)]
mod tests;

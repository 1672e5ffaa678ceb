//! One torrent, the same on every platform: the engine plus everything a
//! platform used to do around it (serving reads from whole pieces, settling
//! duplicate connections, webseed URLs, holding storage work until storage
//! is open, the upload limit, when to save the resume record, counters).
//! The platform moves bytes and runs storage, hashing and HTTP; it calls the
//! `handle_*` methods with the time and the results, drains
//! [`TorrentHost::poll_work`], and wakes at [`TorrentHost::poll_timeout`].

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::glare::{settle_glare, Glare};
use super::read_cache::{Lookup, ReadCache};
use super::resume::ResumeSchedule;
use super::stream_window::StreamWindow;
use super::throttle::Throttle;
use super::work::{ById, Known, Note, Stats, Work};
use crate::bitfield::Bitfield;
use crate::engine::{self, AddPeerError, CloseReason, Event, Output, Source, Wire};
use crate::metainfo::Info;
use crate::picker::Priority;
use crate::tracker::TorrentStatus;
use crate::types::{BlockRef, InfoHash, PeerId, PeerKey, PieceIndex, Time};
use crate::vec_map::{VecMap, VecSet};
use crate::webseed::range_requests;

/// Received blocks kept while storage opens; beyond this they are dropped
/// (and downloaded again) rather than growing without bound.
const MAX_HELD_BYTES: usize = 16 << 20;

/// How a host runs; the defaults suit both platforms.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The engine's settings.
    pub engine: engine::Config,
    /// Bytes of whole pieces kept in memory for serving.
    pub read_cache_bytes: usize,
    /// How often the verified-piece record is rewritten while downloading.
    pub resume_every: Duration,
    /// Upload limit in bytes per second.
    pub max_upload_rate: Option<u64>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            engine: engine::Config::default(),
            read_cache_bytes: 16 << 20,
            resume_every: Duration::from_secs(5),
            max_upload_rate: None,
        }
    }
}

/// What a torrent starts from.
pub struct Start {
    /// The info dictionary and verified pieces, or only the info-hash.
    pub source: Source,
    /// Our peer id in this swarm.
    pub peer_id: PeerId,
    /// BEP 19 base URLs.
    pub webseeds: Vec<String>,
    /// Storage is open already (the platform opened it to read the resume record).
    pub storage_open: bool,
    /// Pieces in storage that the resume record does not list (written
    /// after its last save): hashed, and counted if right.
    pub recheck: Vec<PieceIndex>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum StorageState {
    Closed,
    Opening,
    Open,
    Failed,
}

/// One torrent's host state machine.
pub struct TorrentHost {
    engine: engine::Torrent,
    max_peers: usize,
    cache: ReadCache,
    by_id: ById,
    webseeds: VecMap<PeerKey, String>,
    storage: StorageState,
    /// Storage work waiting for storage to open, in order.
    held: VecDeque<Work>,
    held_bytes: usize,
    rechecking: VecSet<PieceIndex>,
    /// Pieces whose last read failed; the user hears of each once, until it
    /// is read again.
    unreadable: VecSet<PieceIndex>,
    resume: ResumeSchedule,
    throttle: Option<Throttle>,
    stream: StreamWindow,
    out: VecDeque<Work>,
    started: Time,
    first_piece_at: Option<Time>,
    /// When the downloaded count last grew (the tracker client looks for
    /// other peers when it stalls), and that count.
    progress_at: Time,
    progress_bytes: u64,
    banned: u32,
    error: Option<String>,
    paused: bool,
    stopped: bool,
    ready_sent: bool,
    /// Connection attempts that failed since a peer last connected.
    failed_attempts: u32,
}

/// Failed connection attempts in a row after which the user is told why
/// peers may be unreachable (once per streak).
const UNREACHABLE_AFTER: u32 = 4;

impl TorrentHost {
    /// `seed` drives every random choice of the engine.
    pub fn new(cfg: HostConfig, start: Start, now: Time, seed: u64) -> Self {
        let max_peers = cfg.engine.max_peers;
        let engine = engine::Torrent::new(cfg.engine, start.source, start.peer_id, now, seed);
        let mut h = TorrentHost {
            engine,
            max_peers,
            cache: ReadCache::new(cfg.read_cache_bytes),
            by_id: ById::new(),
            webseeds: VecMap::new(),
            storage: match start.storage_open {
                true => StorageState::Open,
                false => StorageState::Closed,
            },
            held: VecDeque::new(),
            held_bytes: 0,
            rechecking: VecSet::new(),
            unreadable: VecSet::new(),
            resume: ResumeSchedule::new(cfg.resume_every, now),
            throttle: cfg.max_upload_rate.map(|r| Throttle::new(r, now)),
            stream: StreamWindow::default(),
            out: VecDeque::new(),
            started: now,
            first_piece_at: None,
            progress_at: now,
            progress_bytes: 0,
            banned: 0,
            error: None,
            paused: false,
            stopped: false,
            ready_sent: false,
            failed_attempts: 0,
        };
        for url in start.webseeds {
            let key = h.engine.add_webseed(now);
            h.webseeds.insert(key, url);
        }
        if h.engine.info().is_some() {
            h.storage_known(now);
        }
        h.recheck(now, start.recheck);
        h.note_ready();
        h.pump(now);
        h
    }

    // ---- state ----------------------------------------------------------------

    /// The engine, for reading (peer statistics, rates).
    pub fn engine(&self) -> &engine::Torrent {
        &self.engine
    }
    /// The torrent's info-hash.
    pub fn info_hash(&self) -> InfoHash {
        self.engine.info_hash()
    }
    /// Our peer id in this swarm.
    pub fn peer_id(&self) -> PeerId {
        self.engine.peer_id()
    }
    /// The info dictionary, once known.
    pub fn info(&self) -> Option<&Info> {
        self.engine.info()
    }
    /// Verified pieces, once the info dictionary is known.
    pub fn have(&self) -> Option<&Bitfield> {
        self.engine.have()
    }
    /// Every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.engine.is_complete()
    }
    /// The info dictionary is known, storage is open and pieces found in
    /// storage are counted (`Note::Ready` has been sent).
    pub fn is_ready(&self) -> bool {
        self.ready_sent
    }
    /// Paused with `pause` (and not resumed).
    pub fn is_paused(&self) -> bool {
        self.paused
    }
    /// Open connections.
    pub fn num_peers(&self) -> usize {
        self.engine.peer_count()
    }
    /// Why the download stopped, if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn accepting(&self) -> bool {
        !self.paused && !self.stopped && self.error.is_none()
    }

    /// More connections the torrent takes now.
    pub fn room(&self) -> usize {
        match self.accepting() {
            true => self.max_peers.saturating_sub(self.num_peers()),
            false => 0,
        }
    }

    /// Whether a connection to `remote` would be taken now: room, not
    /// banned, and not connected already. An offer from a peer we are
    /// connected to is left unanswered: answering it would open a second
    /// connection that duplicate settlement may close the working one for.
    #[must_use]
    pub fn accepts(&self, remote: PeerId) -> bool {
        self.room() > 0 && !self.by_id.contains_key(&remote) && !self.engine.is_banned(&remote)
    }

    /// The remote ids of the open connections (the ids trackers gave).
    pub fn connected_ids(&self) -> Vec<PeerId> {
        self.by_id.keys().copied().collect()
    }

    /// What its tracker clients announce.
    #[must_use]
    pub fn tracker_status(&self) -> TorrentStatus {
        TorrentStatus {
            peers: self.num_peers(),
            room: self.room(),
            left: self.engine.bytes_left(),
            uploaded: self.engine.uploaded(),
            downloaded: self.engine.downloaded(),
            complete: self.is_complete(),
            last_progress: self.progress_at,
        }
    }

    #[must_use]
    /// What the application shows: progress, rates, counters.
    pub fn stats(&self, now: Time) -> Stats {
        let e = &self.engine;
        let info = e.info();
        Stats {
            name: info.map(|i| i.name.clone()),
            total_len: info.map(|i| i.layout.total_len()),
            left: e.bytes_left(),
            pieces: info.map_or(0, |i| i.layout.num_pieces()),
            pieces_have: e.have().map_or(0, Bitfield::count),
            peers: e.peer_count(),
            #[cfg(not(target_arch = "wasm32"))]
            peers_by_wire: e.peers_by_wire(),
            webseeds: e.webseed_count(),
            download_rate: e.download_rate(now),
            webseed_rate: e.webseed_rate(now),
            upload_rate: e.upload_rate(now),
            downloaded: e.downloaded(),
            uploaded: e.uploaded(),
            #[cfg(not(target_arch = "wasm32"))]
            down_by_wire: e.downloaded_by_wire(),
            #[cfg(not(target_arch = "wasm32"))]
            up_by_wire: e.uploaded_by_wire(),
            complete: e.is_complete(),
            paused: self.paused,
            first_piece_after: self
                .first_piece_at
                .map(|t| t.saturating_since(self.started)),
            banned: self.banned,
            error: self.error.clone(),
        }
    }

    #[must_use]
    /// The next work for the platform, in order; `None` when there is none.
    pub fn poll_work(&mut self) -> Option<Work> {
        self.out.pop_front()
    }

    /// The next time `handle_timeout` has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Time {
        let mut t = self.engine.poll_timeout();
        if let Some(r) = self.throttle.as_ref().and_then(Throttle::next_release) {
            t = t.min(r);
        }
        if let Some(r) = self
            .resume
            .next()
            .filter(|_| self.storage == StorageState::Open)
        {
            t = t.min(r);
        }
        t
    }

    // ---- connections ------------------------------------------------------------

    /// A channel opened. `remote` is the id the tracker gave; `we_offered`
    /// says which side made the offer. A second connection to the same peer
    /// (both offered at once) is settled the same way on both sides, which
    /// may close the older one here.
    pub fn add_peer(
        &mut self,
        now: Time,
        remote: Option<PeerId>,
        we_offered: bool,
    ) -> Result<PeerKey, AddPeerError> {
        self.add_peer_on(now, remote, we_offered, Wire::DataChannel)
    }

    /// [`TorrentHost::add_peer`] for a connection on `wire` (a TCP peer we
    /// dialled has no id until its handshake: `remote` is `None`).
    pub fn add_peer_on(
        &mut self,
        now: Time,
        remote: Option<PeerId>,
        we_offered: bool,
        wire: Wire,
    ) -> Result<PeerKey, AddPeerError> {
        if !self.accepting() {
            return Err(AddPeerError::NotAccepting);
        }
        if let Some(id) = remote {
            self.settle_duplicate(now, id, we_offered)?;
        }
        let r = self.engine.add_peer_on(now, remote, wire);
        if let Ok(key) = r {
            if let Some(id) = remote {
                self.by_id.insert(id, Known { key, we_offered });
            }
            self.failed_attempts = 0;
            self.note_peers();
        }
        self.pump(now);
        r
    }

    /// Where TCP peer `key` can be reached: the address we dialled
    /// (`connectable`), or the one it came from (its extension handshake
    /// names its listen port). Passed on to other peers (PEX).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle_peer_addr(
        &mut self,
        key: PeerKey,
        addr: std::net::SocketAddr,
        connectable: bool,
    ) {
        self.engine.set_peer_addr(key, addr, connectable);
    }

    /// A connection to a peer the tracker introduced never opened (ICE found
    /// no path, or it timed out). A streak of them is worth explaining: most
    /// often a NAT or firewall that only a TURN relay gets through.
    pub fn handle_connect_failed(&mut self, _now: Time, why: &str) {
        self.failed_attempts = self.failed_attempts.saturating_add(1);
        if self.failed_attempts == UNREACHABLE_AFTER {
            self.note(Note::Warning(format!(
                "the last {UNREACHABLE_AFTER} connection attempts to peers failed ({why}): a NAT or \
                 firewall, here or at the peers, blocks direct connections; a TURN server \
                 (iceServers in the browser, --ice-server turn:HOST:PORT natively) would relay them"
            )));
        }
    }

    fn settle_duplicate(
        &mut self,
        now: Time,
        remote: PeerId,
        we_offered: bool,
    ) -> Result<(), AddPeerError> {
        let Some(&old) = self.by_id.get(&remote) else {
            return Ok(());
        };
        let ours = self.engine.peer_id();
        match settle_glare(ours, remote, old.we_offered, we_offered) {
            Glare::KeepOld => Err(AddPeerError::Duplicate),
            Glare::KeepNew => {
                self.close_peer(now, old.key, CloseReason::Duplicate);
                Ok(())
            }
        }
    }

    fn close_peer(&mut self, now: Time, key: PeerKey, reason: CloseReason) {
        self.forget(key);
        self.engine.peer_disconnected(now, key);
        self.out.push_back(Work::Close { peer: key, reason });
    }

    fn forget(&mut self, key: PeerKey) {
        self.by_id.retain(|_, k| k.key != key);
        if let Some(t) = self.throttle.as_mut() {
            t.forget(key);
        }
    }

    fn note_peers(&mut self) {
        self.note(Note::Peers(self.num_peers()));
    }

    /// Bytes arrived on a channel, split anywhere.
    pub fn handle_data(&mut self, now: Time, key: PeerKey, data: &[u8]) {
        self.engine.handle_data(now, key, data);
        self.pump(now);
    }

    /// [`TorrentHost::handle_data`] with bytes the shell owns (a data
    /// channel's message): blocks whole within them are not copied.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn handle_bytes(&mut self, now: Time, key: PeerKey, data: Bytes) {
        self.engine.handle_bytes(now, key, data);
        self.pump(now);
    }

    /// The remote closed the channel (or it failed).
    pub fn handle_closed(&mut self, now: Time, key: PeerKey) {
        let before = self.num_peers();
        self.forget(key);
        self.engine.peer_disconnected(now, key);
        if self.num_peers() != before {
            self.note_peers();
        }
        self.pump(now);
    }

    /// The channel's send buffer went over (`false`) or back under (`true`)
    /// its high-water mark.
    pub fn handle_writable(&mut self, now: Time, key: PeerKey, writable: bool) {
        self.engine.set_peer_writable(now, key, writable);
        self.pump(now);
    }

    // ---- storage, hashing, HTTP ---------------------------------------------------

    /// The answer to `OpenStorage`.
    pub fn handle_storage_opened(&mut self, now: Time, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.storage = StorageState::Open;
                self.out.extend(self.held.drain(..));
                self.held_bytes = 0;
                self.note_ready();
            }
            Err(e) => self.fail(now, e),
        }
        self.pump(now);
    }

    /// Storage failed in a way that is not the peers' fault (disk full,
    /// quota, permissions): the download stops with this message.
    pub fn handle_storage_failed(&mut self, now: Time, error: String) {
        self.fail(now, error);
        self.pump(now);
    }

    /// The answer to `ReadPiece` (`None`: it could not be read).
    pub fn handle_piece_read(&mut self, now: Time, piece: PieceIndex, data: Option<Bytes>) {
        if data.is_some() {
            self.unreadable.remove(&piece);
        }
        let (waiters, data) = self.cache.filled(piece, data);
        for (key, b) in waiters {
            let (s, e) = (b.offset as usize, (b.offset + b.len) as usize);
            match &data {
                Some(d) if e <= d.len() => self.answer(now, key, b, d.slice(s..e)),
                _ => self.engine.block_read_failed(now, key, b),
            }
        }
        self.pump(now);
    }

    /// The answer to `ReadPiece` when storage failed to read it (an I/O
    /// error): requests for it are refused and the user is told, once per
    /// piece until it reads again. It stays verified: the bytes were right,
    /// and a failing disk is the user's to fix, not a reason to fetch again.
    pub fn handle_piece_unreadable(&mut self, now: Time, piece: PieceIndex, error: &str) {
        if self.unreadable.insert(piece) {
            self.note(Note::Warning(format!(
                "piece {} could not be read from storage ({error}): requests for it are refused until it reads again",
                piece.get()
            )));
        }
        self.handle_piece_read(now, piece, None);
    }

    /// The answer to `ReadPiece` when the piece is no longer right in storage
    /// (its file changed since it was verified): it is not served, it is
    /// downloaded again, and the application is told.
    pub fn handle_piece_lost(&mut self, now: Time, piece: PieceIndex) {
        // A second report (a read that was under way, the shell's own
        // check) is news to nobody.
        let held = self.engine.have().is_some_and(|h| h.get(piece.get()));
        // Peers hear `lt_donthave` before the refusals of what they asked.
        self.engine.piece_lost(now, piece);
        let (waiters, _) = self.cache.filled(piece, None);
        for (key, b) in waiters {
            self.engine.block_read_failed(now, key, b);
        }
        if held {
            self.resume.changed();
            self.note(Note::Warning(format!(
                "piece {} is no longer in storage as it was verified (changed or removed): no longer served, downloading it again",
                piece.get()
            )));
        }
        self.pump(now);
    }

    /// The answer to `CheckPiece`: whether it hashed right (and was stored).
    pub fn handle_piece_checked(&mut self, now: Time, piece: PieceIndex, ok: bool) {
        // After a storage failure a late verdict means nothing: the piece's
        // writes may have failed, so it must not count against its peers,
        // and the failure stays the last word.
        if self.error.is_some() {
            return;
        }
        if self.rechecking.remove(&piece) {
            if ok {
                self.engine.piece_found(now, piece);
            }
            self.note_ready();
        } else if !self.engine.have().is_some_and(|h| h.get(piece.get())) {
            self.engine.piece_verified(now, piece, ok);
        }
        self.pump(now);
    }

    /// The answer to `Fetch`: the bytes, or why not.
    pub fn handle_fetched(
        &mut self,
        now: Time,
        webseed: PeerKey,
        piece: PieceIndex,
        offset: u32,
        result: Result<Bytes, String>,
    ) {
        match result {
            Ok(data) => self.engine.webseed_data(now, webseed, piece, offset, data),
            Err(_) => self.engine.webseed_failed(now, webseed, piece, offset),
        }
        self.pump(now);
    }

    /// The answer to `SaveResume`.
    pub fn handle_resume_saved(&mut self, now: Time, result: Result<(), String>) {
        self.resume.saved();
        if let Err(e) = result {
            self.note(Note::Warning(e));
        }
        self.pump(now);
    }

    /// Timers; call at or after `poll_timeout`.
    pub fn handle_timeout(&mut self, now: Time) {
        if now >= self.engine.poll_timeout() {
            self.engine.handle_timeout(now);
        }
        if let Some(t) = self.throttle.as_mut() {
            for (peer, block, data) in t.release(now) {
                self.engine.block_read(now, peer, block, data);
            }
        }
        self.pump(now);
    }

    // ---- controls ---------------------------------------------------------------------

    /// Downloads the file (`Normal`) or skips it (`Skip`).
    pub fn set_file_priority(&mut self, now: Time, file: usize, prio: Priority) {
        self.engine.set_file_priority(now, file, prio);
        self.pump(now);
    }

    /// Downloads pieces in order instead of rarest first.
    pub fn set_sequential(&mut self, on: bool) {
        self.engine.set_sequential(on);
    }

    /// A stream reads `start..end` now: those pieces go first. Read-ahead
    /// extends the window instead of replacing it ([`StreamWindow`]).
    pub fn want_range(&mut self, now: Time, start: u64, end: u64) {
        let (s, e) = self.stream.read(start, end);
        self.engine.set_deadline(now, s, e, now);
        self.pump(now);
    }

    /// Closes every connection and takes none until `resume`.
    pub fn pause(&mut self, now: Time) {
        self.paused = true;
        self.close_all(now);
        self.resume.urge();
        self.pump(now);
    }

    /// Takes connections again after `pause`.
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// Closes every connection for good; `keep_record` writes the resume
    /// record a last time (not when the storage is about to be deleted).
    pub fn stop(&mut self, now: Time, keep_record: bool) {
        self.stopped = true;
        self.close_all(now);
        self.held.clear();
        self.held_bytes = 0;
        if keep_record && self.storage == StorageState::Open {
            if let Some(have) = self.engine.have().cloned() {
                self.resume.force(now);
                self.out.push_back(Work::SaveResume { have });
            }
        }
        self.pump(now);
    }

    fn close_all(&mut self, now: Time) {
        let keys: Vec<PeerKey> = self.engine.peer_keys().collect();
        for key in keys {
            self.close_peer(now, key, CloseReason::Stopped);
        }
        self.note_peers();
    }

    fn fail(&mut self, now: Time, error: String) {
        if self.error.is_some() {
            return;
        }
        self.storage = StorageState::Failed;
        self.held.clear();
        self.held_bytes = 0;
        // Closed while notes still go out: the application hears "no peers".
        self.close_all(now);
        self.error = Some(error.clone());
        self.out.push_back(Work::Notify(Note::Error(error)));
    }

    /// Tells the application, unless the download failed: the error is the
    /// last thing it hears (late answers to work started before it, a
    /// tracker's or a peer's news, mean nothing once it stopped).
    fn note(&mut self, note: Note) {
        if self.error.is_none() {
            self.out.push_back(Work::Notify(note));
        }
    }

    // ---- carrying out the engine's outputs --------------------------------------------

    fn pump(&mut self, now: Time) {
        if self.engine.downloaded() != self.progress_bytes {
            self.progress_bytes = self.engine.downloaded();
            self.progress_at = now;
        }
        while let Some(o) = self.engine.poll_output() {
            match o {
                Output::Send { peer, data } => self.out.push_back(Work::Send { peer, data }),
                Output::Close { peer, reason } => {
                    self.forget(peer);
                    self.out.push_back(Work::Close { peer, reason });
                    self.note_peers();
                }
                Output::Read { peer, block } => self.read(now, peer, block),
                Output::Write { block, data } => {
                    self.storage_work(now, Work::StoreBlock { block, data })
                }
                Output::Verify { piece, hash } => {
                    self.storage_work(now, Work::CheckPiece { piece, hash })
                }
                Output::Fetch {
                    webseed,
                    piece,
                    offset,
                    len,
                } => self.fetch(webseed, piece, offset, len),
                Output::Event(e) => self.on_event(e, now),
            }
        }
        if self.storage == StorageState::Open && self.resume.take_due(now) {
            match self.engine.have().cloned() {
                Some(have) => self.out.push_back(Work::SaveResume { have }),
                None => self.resume.saved(),
            }
        }
    }

    /// Storage work goes out when storage is open, waits while it opens,
    /// and is dropped once it failed.
    fn storage_work(&mut self, now: Time, w: Work) {
        match self.storage {
            StorageState::Open => self.out.push_back(w),
            StorageState::Failed => {}
            StorageState::Closed | StorageState::Opening => {
                if let Work::StoreBlock { block, data } = &w {
                    if self.held_bytes + data.len() > MAX_HELD_BYTES {
                        self.engine.block_write_failed(now, *block);
                        return;
                    }
                    self.held_bytes += data.len();
                }
                self.held.push_back(w);
            }
        }
    }

    fn read(&mut self, now: Time, peer: PeerKey, block: BlockRef) {
        match self.cache.lookup(peer, block) {
            Lookup::Hit(data) => self.answer(now, peer, block, data),
            Lookup::Pending => {}
            Lookup::Miss => {
                let len = self
                    .engine
                    .info()
                    .map_or(0, |i| i.layout.piece_size(block.piece));
                let w = Work::ReadPiece {
                    piece: block.piece,
                    len,
                };
                if self.storage == StorageState::Failed {
                    let _ = self.cache.filled(block.piece, None);
                    self.engine.block_read_failed(now, peer, block);
                } else {
                    self.storage_work(now, w);
                }
            }
        }
    }

    /// Hands a read block to the engine, through the upload limit if there is one.
    fn answer(&mut self, now: Time, peer: PeerKey, block: BlockRef, data: Bytes) {
        match self.throttle.as_mut() {
            Some(t) => {
                t.push((peer, block, data));
                for (p, b, d) in t.release(now) {
                    self.engine.block_read(now, p, b, d);
                }
            }
            None => self.engine.block_read(now, peer, block, data),
        }
    }

    fn fetch(&mut self, webseed: PeerKey, piece: PieceIndex, offset: u32, len: u32) {
        let (Some(base), Some(info)) = (self.webseeds.get(&webseed), self.engine.info()) else {
            return;
        };
        let requests = range_requests(info, base, piece, offset, len);
        self.out.push_back(Work::Fetch {
            webseed,
            piece,
            offset,
            len,
            requests,
        });
    }

    fn on_event(&mut self, e: Event, now: Time) {
        let note = match e {
            Event::MetadataReceived => {
                self.storage_known(now);
                return;
            }
            Event::PeerConnected { .. } => return,
            Event::PieceVerified(p, from) => {
                self.first_piece_at.get_or_insert(now);
                self.resume.changed();
                Note::Verified(p, from)
            }
            Event::Completed => {
                self.resume.urge();
                Note::Done
            }
            Event::PieceFailed { piece, .. } => {
                Note::Warning(format!("piece {} failed its hash check", piece.get()))
            }
            Event::PeerBanned { peer_id } => {
                self.banned += 1;
                Note::Banned(peer_id)
            }
            #[cfg(not(target_arch = "wasm32"))]
            Event::PexPeers(addrs) => {
                self.out.push_back(Work::Dial(addrs));
                return;
            }
            Event::WebseedRemoved { webseed, reason } => match self.webseeds.remove(&webseed) {
                Some(url) => Note::Warning(format!("stopped using webseed {url}: {reason}")),
                None => return,
            },
        };
        self.note(note);
    }

    /// The info dictionary is known: open storage unless it is open already.
    fn storage_known(&mut self, _now: Time) {
        match self.storage {
            StorageState::Closed => {
                self.storage = StorageState::Opening;
                self.out.push_back(Work::OpenStorage);
            }
            StorageState::Open => self.note_ready(),
            StorageState::Opening | StorageState::Failed => {}
        }
    }

    /// `Ready` once the info is known, storage is open and every recheck is
    /// answered, so progress then counts everything storage holds.
    fn note_ready(&mut self) {
        let open = self.storage == StorageState::Open;
        if !self.ready_sent && open && self.rechecking.is_empty() && self.engine.info().is_some() {
            self.ready_sent = true;
            self.note(Note::Ready);
        }
    }

    fn recheck(&mut self, now: Time, pieces: Vec<PieceIndex>) {
        let Some(info) = self.engine.info() else {
            return;
        };
        let have = self.engine.have();
        let work: Vec<Work> = pieces
            .into_iter()
            .filter(|p| !have.is_some_and(|h| h.get(p.get())))
            .map(|piece| Work::CheckPiece {
                piece,
                hash: info.piece_hash(piece),
            })
            .collect();
        for w in work {
            if let Work::CheckPiece { piece, .. } = w {
                self.rechecking.insert(piece);
            }
            self.storage_work(now, w);
        }
    }
}

#[cfg(test)]
mod tests;

//! One torrent: owns the sans-IO engine and carries out its outputs with
//! browser APIs. Every entry point goes through [`with`], which runs the
//! engine, drains its outputs, re-arms the timer, and only then hands events
//! to the page, so page code never runs while the torrent is borrowed.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use bytes::Bytes;
use futures_channel::oneshot;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use webswarm_core::engine::{self, Event, Output, Source};
use webswarm_core::host::{settle_glare, Glare, Lookup, ReadCache, StreamWindow};
use webswarm_core::vec_map::VecMap;
use webswarm_core::{BlockRef, Info, InfoHash, PeerId, PeerKey, PieceIndex, Time};

use super::events::{deliver, EventSink};
use super::{Shared, Slot};
use crate::error::WebError;
use crate::rtc::{Channel, ChannelEvents};
use crate::storage::{self, Storage, StorageKind};
use crate::{hash, platform};

pub type Handle = Rc<RefCell<Driver>>;

/// Whole pieces kept in wasm memory for serving blocks.
const READ_CACHE_BYTES: usize = 4 << 20;
/// How long a verify waits for OPFS to open after a magnet's metadata arrived.
const STORAGE_OPEN_WAIT_MS: f64 = 10_000.0;

struct Link {
    channel: Channel,
    /// Messages the engine produced in this turn, sent as one channel
    /// message (up to the remote's limit) when the turn ends: Chromium's
    /// data channels cost per message, and the channel is a byte stream.
    out: Vec<u8>,
    _slot: Slot,
}

impl Link {
    /// Sends what is queued; `false` if the channel is now over its high-water mark.
    fn flush(&mut self) -> bool {
        let ok = self.channel.send(&self.out);
        self.out.clear();
        ok
    }
}

pub struct Driver {
    engine: engine::Torrent,
    shared: Weak<Shared>,
    me: Weak<RefCell<Driver>>,
    pub trackers: Vec<String>,
    storage_kind: StorageKind,
    storage: Option<Storage>,
    peers: VecMap<PeerKey, Link>,
    /// Open connections by the remote's tracker id, and whether we offered.
    by_id: VecMap<PeerId, (PeerKey, bool)>,
    /// Pieces being received, in JS buffers until verified.
    assembling: VecMap<PieceIndex, Uint8Array>,
    cache: ReadCache,
    timer: Option<platform::Timer>,
    pub events: EventSink,
    piece_waiters: VecMap<PieceIndex, Vec<oneshot::Sender<()>>>,
    info_waiters: Vec<oneshot::Sender<()>>,
    have_saving: bool,
    have_dirty: bool,
    paused: bool,
    destroyed: bool,
    started_ms: f64,
    first_piece_ms: Option<f64>,
    error: Option<String>,
    banned: u32,
    /// Webseed base URLs by the engine's key for them.
    webseeds: VecMap<PeerKey, String>,
    stream_window: StreamWindow,
}

/// What a torrent starts from.
pub struct Start {
    pub info_hash: InfoHash,
    pub info: Option<Info>,
    pub have: Option<webswarm_core::Bitfield>,
    pub storage: Option<Storage>,
    pub storage_kind: StorageKind,
    pub trackers: Vec<String>,
    pub webseeds: Vec<String>,
}

/// Runs `f` on the torrent, then carries out what the engine asked for and
/// delivers queued events once the borrow is released.
pub fn with<R>(h: &Handle, f: impl FnOnce(&mut Driver) -> R) -> R {
    let (r, batch) = {
        let mut d = h.borrow_mut();
        let r = f(&mut d);
        d.drain();
        (r, d.events.take())
    };
    deliver(batch);
    r
}

impl Driver {
    pub fn start(shared: &Rc<Shared>, s: Start) -> Handle {
        let now = platform::now();
        let source = match s.info {
            Some(info) => Source::Info {
                info: Box::new(info),
                have: s.have,
            },
            None => Source::Magnet(s.info_hash),
        };
        let peer_id = engine::Torrent::generate_peer_id(platform::random_u64());
        let mut engine = engine::Torrent::new(
            shared.cfg.engine.clone(),
            source,
            peer_id,
            now,
            platform::random_u64(),
        );
        let webseeds = s
            .webseeds
            .into_iter()
            .map(|url| (engine.add_webseed(now), url))
            .collect();
        let h = Rc::new_cyclic(|me: &Weak<RefCell<Driver>>| {
            let weak = me.clone();
            let timer = platform::Timer::new(move || {
                if let Some(h) = weak.upgrade() {
                    with(&h, |d| d.engine.handle_timeout(platform::now()));
                }
            });
            RefCell::new(Driver {
                engine,
                shared: Rc::downgrade(shared),
                me: me.clone(),
                trackers: s.trackers,
                storage_kind: s.storage_kind,
                storage: s.storage,
                peers: VecMap::new(),
                by_id: VecMap::new(),
                assembling: VecMap::new(),
                cache: ReadCache::new(READ_CACHE_BYTES),
                timer: Some(timer),
                events: EventSink::default(),
                piece_waiters: VecMap::new(),
                info_waiters: Vec::new(),
                have_saving: false,
                have_dirty: false,
                paused: false,
                destroyed: false,
                started_ms: platform::now_ms(),
                first_piece_ms: None,
                error: None,
                banned: 0,
                webseeds,
                stream_window: StreamWindow::default(),
            })
        });
        with(&h, |d| {
            if d.engine.info().is_some() && d.storage.is_none() {
                d.open_storage();
            }
        });
        h
    }

    // ---- state for the API and the tracker client ---------------------------

    pub fn engine(&self) -> &engine::Torrent {
        &self.engine
    }
    pub fn info_hash(&self) -> InfoHash {
        self.engine.info_hash()
    }
    pub fn peer_id(&self) -> PeerId {
        self.engine.peer_id()
    }
    pub fn is_paused(&self) -> bool {
        self.paused
    }
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
    pub fn banned(&self) -> u32 {
        self.banned
    }
    pub fn storage(&self) -> Option<Storage> {
        self.storage.clone()
    }
    /// Milliseconds from the start to the first verified piece.
    pub fn first_piece_ms(&self) -> Option<f64> {
        self.first_piece_ms.map(|t| t - self.started_ms)
    }
    /// Whether the torrent takes another connection now.
    pub fn wants_peers(&self) -> bool {
        !self.paused && !self.destroyed && self.peers.len() < self.shared_max_peers()
    }
    fn shared_max_peers(&self) -> usize {
        self.shared.upgrade().map_or(0, |s| s.cfg.engine.max_peers)
    }
    pub fn num_peers(&self) -> usize {
        self.peers.len()
    }
    pub fn progress(&self) -> f64 {
        match (self.engine.info(), self.engine.bytes_left()) {
            (Some(info), Some(left)) if info.layout.total_len() > 0 => {
                1.0 - left as f64 / info.layout.total_len() as f64
            }
            (Some(_), _) => 1.0,
            _ => 0.0,
        }
    }

    // ---- inputs ---------------------------------------------------------------

    /// A newly opened connection, with the id the tracker gave for the remote.
    pub fn add_channel(
        &mut self,
        mut channel: Channel,
        remote: Option<PeerId>,
        slot: Slot,
        we_offered: bool,
    ) {
        if self.paused || self.destroyed {
            return;
        }
        let now = platform::now();
        if let Some(id) = remote {
            if !self.settle_duplicate(now, id, we_offered) {
                return;
            }
        }
        let key = match self.engine.add_peer(now, remote) {
            Ok(k) => k,
            Err(_) => return,
        };
        let (w1, w2, w3) = (self.me.clone(), self.me.clone(), self.me.clone());
        channel.attach(ChannelEvents {
            on_data: Box::new(move |data| {
                if let Some(h) = w1.upgrade() {
                    with(&h, |d| d.engine.handle_data(platform::now(), key, &data));
                }
            }),
            on_close: Box::new(move || {
                if let Some(h) = w2.upgrade() {
                    with(&h, |d| d.peer_closed(key));
                }
            }),
            on_writable: Box::new(move || {
                if let Some(h) = w3.upgrade() {
                    with(&h, |d| {
                        d.engine.set_peer_writable(platform::now(), key, true)
                    });
                }
            }),
        });
        self.peers.insert(
            key,
            Link {
                channel,
                out: Vec::new(),
                _slot: slot,
            },
        );
        if let Some(id) = remote {
            self.by_id.insert(id, (key, we_offered));
        }
        self.events
            .push("peer-connected", JsValue::from_f64(self.peers.len() as f64));
    }

    fn settle_duplicate(&mut self, now: Time, remote: PeerId, we_offered: bool) -> bool {
        let Some(&(old, old_we_offered)) = self.by_id.get(&remote) else {
            return true;
        };
        if settle_glare(self.engine.peer_id(), remote, old_we_offered, we_offered) == Glare::KeepNew
        {
            self.by_id.remove(&remote);
            self.peers.remove(&old);
            self.engine.peer_disconnected(now, old);
            true
        } else {
            false
        }
    }

    fn peer_closed(&mut self, key: PeerKey) {
        platform::debug_log("webswarm: the remote closed a channel");
        self.by_id.retain(|_, (k, _)| *k != key);
        if self.peers.remove(&key).is_some() {
            self.engine.peer_disconnected(platform::now(), key);
            self.events.push(
                "peer-disconnected",
                JsValue::from_f64(self.peers.len() as f64),
            );
        }
    }

    /// Drops every connection and stops taking new ones until `resume`.
    pub fn pause(&mut self) {
        self.paused = true;
        self.close_all();
        self.save_have();
    }

    pub fn resume(&mut self) {
        self.paused = false;
    }

    fn close_all(&mut self) {
        let now = platform::now();
        for key in self.peers.keys().copied().collect::<Vec<_>>() {
            self.engine.peer_disconnected(now, key);
        }
        self.peers.clear();
        self.by_id.clear();
    }

    /// Stops everything; pending reads and waits fail with `Destroyed`.
    /// `keep_record`: write the verified-piece record one last time (not
    /// when the storage is about to be deleted: the write would race it).
    pub fn destroy(&mut self, keep_record: bool) {
        self.close_all();
        if keep_record {
            self.save_have();
        }
        self.destroyed = true;
        self.timer = None;
        self.piece_waiters.clear();
        self.info_waiters.clear();
        self.assembling.clear();
    }

    // ---- waiting for data -------------------------------------------------------

    /// Resolves once the info dictionary is known (at once for .torrent files).
    pub fn wait_info(&mut self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.engine.info().is_some() && self.storage.is_some() {
            let _ = tx.send(());
        } else if !self.destroyed {
            self.info_waiters.push(tx);
        }
        rx
    }

    /// Resolves once the piece is verified and stored.
    pub fn wait_piece(&mut self, piece: PieceIndex) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.engine.have().is_some_and(|h| h.get(piece.get())) {
            let _ = tx.send(());
        } else if !self.destroyed {
            self.piece_waiters
                .get_or_insert_with(piece, Default::default)
                .push(tx);
        }
        rx
    }

    /// Streaming: the byte range is wanted now, ahead of everything else.
    /// A stream read wants `start..end` now (see [`StreamWindow`] for why
    /// read-ahead extends the deadlines instead of replacing them).
    pub fn want_range(&mut self, start: u64, end: u64) {
        let (s, e) = self.stream_window.read(start, end);
        let now = platform::now();
        self.engine.set_deadline(now, s, e, now);
    }

    pub fn set_file_priority(&mut self, file: usize, prio: webswarm_core::picker::Priority) {
        self.engine.set_file_priority(platform::now(), file, prio);
    }

    // ---- outputs ------------------------------------------------------------------

    fn drain(&mut self) {
        // Sending may mark peers unwritable, which can produce more output;
        // a few rounds settle it (each round only repeats for blocked peers).
        for _ in 0..8 {
            self.drain_once();
            if !self.flush_all() {
                break;
            }
        }
        if let Some(t) = &self.timer {
            t.arm(self.engine.poll_timeout());
        }
    }

    /// Sends every peer's queued bytes; returns whether the engine was told
    /// about a peer going over its high-water mark.
    fn flush_all(&mut self) -> bool {
        let mut blocked = Vec::new();
        for (key, link) in self.peers.iter_mut() {
            if !link.out.is_empty() && !link.flush() {
                blocked.push(*key);
            }
        }
        let now = platform::now();
        for key in &blocked {
            self.engine.set_peer_writable(now, *key, false);
        }
        !blocked.is_empty()
    }

    fn drain_once(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Send { peer, data } => {
                    if let Some(link) = self.peers.get_mut(&peer) {
                        link.out.extend_from_slice(&data);
                        if link.out.len() >= link.channel.max_message() && !link.flush() {
                            self.engine.set_peer_writable(platform::now(), peer, false);
                        }
                    }
                }
                Output::Close { peer, reason } => {
                    if cfg!(debug_assertions) {
                        platform::debug_log(&format!(
                            "webswarm: closing peer {}: {reason}",
                            peer.0
                        ));
                    }
                    self.peers.remove(&peer);
                    self.by_id.retain(|_, (k, _)| *k != peer);
                    self.events.push(
                        "peer-disconnected",
                        JsValue::from_f64(self.peers.len() as f64),
                    );
                }
                Output::Read { peer, block } => self.read(peer, block),
                Output::Write { block, data } => self.write(block, &data),
                Output::Verify { piece, hash } => self.verify(piece, hash),
                Output::Fetch {
                    webseed,
                    piece,
                    offset,
                    len,
                } => self.fetch(webseed, piece, offset, len),
                Output::Event(e) => self.on_event(e),
            }
        }
    }

    fn read(&mut self, peer: PeerKey, block: BlockRef) {
        match self.cache.lookup(peer, block) {
            Lookup::Hit(data) => self.engine.block_read(platform::now(), peer, block, data),
            Lookup::Pending => {}
            Lookup::Miss => {
                let Some(storage) = self.storage.clone() else {
                    let _ = self.cache.filled(block.piece, None);
                    self.engine.block_read_failed(platform::now(), peer, block);
                    return;
                };
                let me = self.me.clone();
                let piece = block.piece;
                crate::platform::spawn(async move {
                    let data = storage.read_piece(piece).await.ok();
                    let data = data.map(|d| Bytes::from(d.to_vec()));
                    if let Some(h) = me.upgrade() {
                        with(&h, |d| d.piece_read(piece, data));
                    }
                });
            }
        }
    }

    fn fetch(&mut self, key: PeerKey, piece: PieceIndex, offset: u32, len: u32) {
        let (Some(base), Some(info)) = (self.webseeds.get(&key), self.engine.info()) else {
            return;
        };
        let reqs = webswarm_core::webseed::range_requests(info, base, piece, offset, len);
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let r = crate::webseed::fetch(reqs, len).await;
            if let Some(h) = me.upgrade() {
                with(&h, |d| {
                    let now = platform::now();
                    match r {
                        Ok(data) => d.engine.webseed_data(now, key, piece, offset, data.into()),
                        Err(e) => {
                            if cfg!(debug_assertions) {
                                platform::debug_log(&format!("webswarm: {e}"));
                            }
                            d.engine.webseed_failed(now, key, piece, offset)
                        }
                    }
                });
            }
        });
    }

    fn piece_read(&mut self, piece: PieceIndex, data: Option<Bytes>) {
        let now = platform::now();
        let (waiters, data) = self.cache.filled(piece, data);
        for (key, b) in waiters {
            let (s, e) = (b.offset as usize, (b.offset + b.len) as usize);
            match &data {
                Some(d) if e <= d.len() => self.engine.block_read(now, key, b, d.slice(s..e)),
                _ => self.engine.block_read_failed(now, key, b),
            }
        }
    }

    fn write(&mut self, block: BlockRef, data: &[u8]) {
        let Some(info) = self.engine.info() else {
            return;
        };
        let size = info.layout.piece_size(block.piece);
        let buf = self
            .assembling
            .get_or_insert_with(block.piece, || Uint8Array::new_with_length(size));
        let end = block.offset + data.len() as u32;
        if end <= size {
            buf.subarray(block.offset, end).copy_from(data);
        }
    }

    fn verify(&mut self, piece: PieceIndex, expected: [u8; 20]) {
        let Some(buf) = self.assembling.remove(&piece) else {
            self.engine.piece_verified(platform::now(), piece, false);
            return;
        };
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let ok = hash::sha1_js(&buf).await == expected;
            if !ok {
                if let Some(h) = me.upgrade() {
                    with(&h, |d| {
                        d.engine.piece_verified(platform::now(), piece, false)
                    });
                }
                return;
            }
            let stored = match storage_when_open(&me).await {
                Some(s) => s.write_piece(piece, &buf).await,
                None => Err(WebError::Storage("storage did not open".into())),
            };
            if let Some(h) = me.upgrade() {
                with(&h, |d| match stored {
                    Ok(()) => d.engine.piece_verified(platform::now(), piece, true),
                    // Not the peers' fault: stop instead of blaming them.
                    Err(e) => d.fail(e),
                });
            }
        });
    }

    fn fail(&mut self, e: WebError) {
        let msg = e.to_string();
        self.error = Some(msg.clone());
        self.pause();
        self.events.push("error", JsValue::from_str(&msg));
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::MetadataReceived => self.open_storage(),
            Event::PieceVerified(p) => {
                if self.first_piece_ms.is_none() {
                    self.first_piece_ms = Some(platform::now_ms());
                }
                for tx in self.piece_waiters.remove(&p).unwrap_or_default() {
                    let _ = tx.send(());
                }
                self.have_dirty = true;
                self.save_have();
                self.events
                    .push("verified", JsValue::from_f64(p.get().into()));
                self.events
                    .push("progress", JsValue::from_f64(self.progress()));
            }
            Event::Completed => {
                self.events.push("done", JsValue::UNDEFINED);
                let (shared, urls, hash) =
                    (self.shared.clone(), self.trackers.clone(), self.info_hash());
                // The tracker reads this torrent's counters: not while it is borrowed here.
                crate::platform::spawn(async move {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    for url in &urls {
                        shared.tracker(url).completed(hash);
                    }
                });
            }
            Event::PeerBanned { .. } => {
                self.banned += 1;
                self.events.push(
                    "warning",
                    JsValue::from_str("a peer sent data that failed verification and was banned"),
                );
            }
            Event::PieceFailed { piece, .. } => self.events.push(
                "warning",
                JsValue::from_str(&format!("piece {} failed its hash check", piece.get())),
            ),
            Event::WebseedRemoved { webseed, reason } => {
                if let Some(url) = self.webseeds.remove(&webseed) {
                    let msg = format!("stopped using webseed {url}: {reason}");
                    self.events.push("warning", JsValue::from_str(&msg));
                }
            }
            Event::PeerConnected { .. } => {}
        }
    }

    /// After the info is known: record it (OPFS) and open storage.
    fn open_storage(&mut self) {
        let Some(info) = self.engine.info().cloned() else {
            return;
        };
        let kind = self.storage_kind;
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let opened = async {
                storage::save_info(kind, &info).await?;
                storage::open(kind, &info).await
            }
            .await;
            if let Some(h) = me.upgrade() {
                with(&h, |d| match opened {
                    Ok(s) => {
                        d.storage = Some(s);
                        for tx in d.info_waiters.drain(..) {
                            let _ = tx.send(());
                        }
                        d.events.push("metadata", JsValue::UNDEFINED);
                    }
                    Err(e) => d.fail(e),
                });
            }
        });
    }

    /// Writes the verified-piece record; one write at a time, the latest wins.
    fn save_have(&mut self) {
        if self.have_saving || !self.have_dirty {
            return;
        }
        let (Some(storage), Some(have)) = (self.storage.clone(), self.engine.have().cloned())
        else {
            return;
        };
        self.have_saving = true;
        self.have_dirty = false;
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let r = storage.save_have(&have).await;
            if let Some(h) = me.upgrade() {
                with(&h, |d| {
                    d.have_saving = false;
                    if let Err(e) = r {
                        d.events.push("warning", JsValue::from_str(&e.to_string()));
                    }
                    d.save_have();
                });
            }
        });
    }
}

/// The torrent's storage, waiting a little if it is still being opened.
async fn storage_when_open(me: &Weak<RefCell<Driver>>) -> Option<Storage> {
    let start = platform::now_ms();
    loop {
        let h = me.upgrade()?;
        if let Some(s) = h.borrow().storage.clone() {
            return Some(s);
        }
        drop(h);
        if platform::now_ms() - start > STORAGE_OPEN_WAIT_MS {
            return None;
        }
        platform::sleep(10.0).await;
    }
}

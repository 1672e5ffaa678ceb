//! One torrent's task: it owns the sans-IO engine and carries out its
//! outputs (bytes to peers, blocks to and from disk, pieces to hash).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit};
use webswarm_core::engine::{self, Event, Output, Source};
use webswarm_core::host::{settle_glare, Glare, Lookup, ReadCache};
use webswarm_core::{
    webseed, Bitfield, BlockRef, Info, InfoHash, PeerId, PeerKey, PieceIndex, Time,
};

use super::peer::PeerLink;
use super::stats::{Extra, Snapshot};
use super::throttle::Throttle;
use super::webseed::Fetcher;
use crate::storage::DiskStorage;
use crate::transport::Channel;
use crate::util;

/// How often the verified-piece record is rewritten while downloading.
const RESUME_EVERY: Duration = Duration::from_secs(5);
/// Whole pieces kept in memory for serving.
const READ_CACHE_BYTES: usize = 16 << 20;
/// How often the shared snapshot is refreshed.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(200);

/// Everything that reaches a torrent task.
pub enum Input {
    /// A new open connection, with the id the tracker gave for the remote.
    Channel {
        channel: Box<dyn Channel>,
        remote: Option<PeerId>,
        permit: OwnedSemaphorePermit,
        /// We made the offer (the remote answered).
        we_offered: bool,
    },
    Data(PeerKey, Bytes),
    Closed(PeerKey),
    Writable(PeerKey),
    Verified(PieceIndex, bool),
    /// A whole piece read for serving (`None`: the read failed).
    PieceRead(PieceIndex, Option<Bytes>),
    /// Storage for a magnet download is ready (or failed).
    StorageOpened(Result<Arc<DiskStorage>, String>),
    /// A webseed fetch finished: (webseed, piece, offset, bytes or why not).
    Fetched(PeerKey, PieceIndex, u32, Result<Bytes, String>),
    Stop(tokio::sync::oneshot::Sender<()>),
}

/// What a torrent task starts from.
pub struct Setup {
    pub cfg: engine::Config,
    /// `None` for a magnet link whose metadata is not known yet.
    pub info: Option<Info>,
    pub info_hash: InfoHash,
    pub have: Option<Bitfield>,
    pub storage: Option<Arc<DiskStorage>>,
    pub dir: PathBuf,
    pub peer_id: PeerId,
    /// BEP 19 base URLs.
    pub webseeds: Vec<String>,
    pub fetcher: Arc<Fetcher>,
    /// Upload limit in bytes per second.
    pub max_upload_rate: Option<u64>,
}

pub struct TorrentTask {
    engine: engine::Torrent,
    dir: PathBuf,
    storage: Option<Arc<DiskStorage>>,
    peers: HashMap<PeerKey, PeerLink>,
    input_tx: mpsc::Sender<Input>,
    snapshot: watch::Sender<Snapshot>,
    resume_dirty: bool,
    last_resume: Instant,
    last_snapshot: Instant,
    started: Instant,
    extra: Extra,
    cache: ReadCache,
    /// Open connections by the remote's tracker id, and whether we offered.
    by_id: HashMap<PeerId, (PeerKey, bool)>,
    fetcher: Arc<Fetcher>,
    webseeds: HashMap<PeerKey, String>,
    throttle: Option<Throttle>,
}

impl TorrentTask {
    pub fn new(
        setup: Setup,
        input_tx: mpsc::Sender<Input>,
        snapshot: watch::Sender<Snapshot>,
    ) -> Self {
        let Setup {
            cfg,
            info,
            info_hash,
            have,
            storage,
            dir,
            peer_id,
            webseeds,
            fetcher,
            max_upload_rate,
        } = setup;
        let source = match info {
            Some(info) => Source::Info {
                info: Box::new(info),
                have,
            },
            None => Source::Magnet(info_hash),
        };
        let mut engine =
            engine::Torrent::new(cfg, source, peer_id, util::now(), util::random_u64());
        let webseeds = webseeds
            .into_iter()
            .map(|url| (engine.add_webseed(util::now()), url))
            .collect();
        let mut task = TorrentTask {
            engine,
            dir,
            storage,
            peers: HashMap::new(),
            input_tx,
            snapshot,
            resume_dirty: false,
            last_resume: Instant::now(),
            last_snapshot: Instant::now(),
            started: Instant::now(),
            extra: Extra::default(),
            cache: ReadCache::new(READ_CACHE_BYTES),
            by_id: HashMap::new(),
            fetcher,
            webseeds,
            throttle: max_upload_rate.map(Throttle::new),
        };
        // Callers read the state right after adding: it must be there already.
        task.publish(true);
        task
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        loop {
            let mut wake = deadline(self.engine.poll_timeout());
            if let Some(t) = self.throttle.as_ref().and_then(Throttle::next_release) {
                wake = wake.min(t.into());
            }
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Input::Stop(done)) => {
                        self.save_resume();
                        self.peers.clear();
                        self.publish(true);
                        let _ = done.send(());
                        return;
                    }
                    Some(m) => self.handle(m),
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {
                    self.engine.handle_timeout(util::now());
                    self.release_throttled();
                }
            }
            self.drain_outputs();
            if self.resume_dirty && self.last_resume.elapsed() >= RESUME_EVERY {
                self.save_resume();
            }
            self.publish(false);
        }
    }

    fn handle(&mut self, m: Input) {
        let now = util::now();
        match m {
            Input::Channel {
                channel,
                remote,
                permit,
                we_offered,
            } => {
                if let Some(id) = remote {
                    if !self.settle_duplicate(now, id, we_offered) {
                        tokio::spawn(async move { channel.close().await });
                        return;
                    }
                }
                match self.engine.add_peer(now, remote) {
                    Ok(key) => {
                        let link = PeerLink::start(key, channel, self.input_tx.clone(), permit);
                        self.peers.insert(key, link);
                        if let Some(id) = remote {
                            self.by_id.insert(id, (key, we_offered));
                        }
                    }
                    Err(e) => {
                        tracing::debug!("refused a connection: {e}");
                        tokio::spawn(async move { channel.close().await });
                    }
                }
            }
            Input::Data(key, data) => self.engine.handle_data(now, key, &data),
            Input::Closed(key) => {
                self.by_id.retain(|_, (k, _)| *k != key);
                if let Some(t) = self.throttle.as_mut() {
                    t.forget(key);
                }
                if self.peers.remove(&key).is_some() {
                    self.engine.peer_disconnected(now, key);
                }
            }
            Input::Writable(key) => self.engine.set_peer_writable(now, key, true),
            Input::Verified(piece, ok) => {
                self.engine.piece_verified(now, piece, ok);
                self.resume_dirty |= ok;
            }
            Input::PieceRead(piece, data) => {
                let (waiters, data) = self.cache.filled(piece, data);
                for (key, b) in waiters {
                    let (s, e) = (b.offset as usize, (b.offset + b.len) as usize);
                    match &data {
                        Some(d) if e <= d.len() => self.answer(key, b, d.slice(s..e)),
                        _ => self.engine.block_read_failed(now, key, b),
                    }
                }
            }
            Input::StorageOpened(Ok(s)) => self.storage = Some(s),
            Input::StorageOpened(Err(e)) => self.extra.error = Some(e),
            Input::Fetched(key, piece, offset, Ok(data)) => {
                self.engine.webseed_data(now, key, piece, offset, data)
            }
            Input::Fetched(key, piece, offset, Err(e)) => {
                tracing::debug!("{e}");
                self.engine.webseed_failed(now, key, piece, offset)
            }
            Input::Stop(_) => unreachable!("handled by run"),
        }
    }

    /// A second connection to the same peer (glare): returns whether the new
    /// one should be added, closing the old one if it loses.
    fn settle_duplicate(&mut self, now: Time, remote: PeerId, we_offered: bool) -> bool {
        let Some(&(old, old_we_offered)) = self.by_id.get(&remote) else {
            return true;
        };
        let ours = self.engine.peer_id();
        if settle_glare(ours, remote, old_we_offered, we_offered) == Glare::KeepNew {
            self.by_id.remove(&remote);
            self.peers.remove(&old);
            self.engine.peer_disconnected(now, old);
            true
        } else {
            false
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Send { peer, data } => {
                    if let Some(link) = self.peers.get(&peer) {
                        if link.send(data) {
                            self.engine.set_peer_writable(util::now(), peer, false);
                        }
                    }
                }
                Output::Close { peer, reason } => {
                    tracing::debug!("closing peer {peer:?}: {reason}");
                    self.peers.remove(&peer);
                    if let Some(t) = self.throttle.as_mut() {
                        t.forget(peer);
                    }
                    self.by_id.retain(|_, (k, _)| *k != peer);
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
        let piece = block.piece;
        match self.cache.lookup(peer, block) {
            Lookup::Hit(data) => self.answer(peer, block, data),
            Lookup::Pending => {}
            Lookup::Miss => {
                let (Some(storage), Some(info)) = (self.storage.clone(), self.engine.info()) else {
                    let _ = self.cache.filled(piece, None);
                    self.engine.block_read_failed(util::now(), peer, block);
                    return;
                };
                let whole = BlockRef {
                    piece,
                    offset: 0,
                    len: info.layout.piece_size(piece),
                };
                let tx = self.input_tx.clone();
                // Off the event loop: a cold disk would otherwise stall every peer.
                tokio::task::spawn_blocking(move || {
                    let data = storage.read_block(whole).ok().map(Bytes::from);
                    let _ = tx.blocking_send(Input::PieceRead(piece, data));
                });
            }
        }
    }

    /// Hands a read block to the engine, through the upload limit if there is one.
    fn answer(&mut self, peer: PeerKey, block: BlockRef, data: Bytes) {
        match self.throttle.as_mut() {
            Some(t) => {
                t.push((peer, block, data));
                self.release_throttled();
            }
            None => self.engine.block_read(util::now(), peer, block, data),
        }
    }

    fn release_throttled(&mut self) {
        let Some(t) = self.throttle.as_mut() else {
            return;
        };
        let now = util::now();
        for (peer, block, data) in t.release(Instant::now()) {
            self.engine.block_read(now, peer, block, data);
        }
    }

    fn fetch(&mut self, key: PeerKey, piece: PieceIndex, offset: u32, len: u32) {
        let (Some(base), Some(info)) = (self.webseeds.get(&key), self.engine.info()) else {
            return;
        };
        let reqs = webseed::range_requests(info, base, piece, offset, len);
        let fetcher = self.fetcher.clone();
        let tx = self.input_tx.clone();
        tokio::spawn(async move {
            let r = fetcher.fetch(reqs, len).await.map_err(|e| e.to_string());
            let _ = tx.send(Input::Fetched(key, piece, offset, r)).await;
        });
    }

    fn write(&mut self, block: BlockRef, data: &[u8]) {
        // A 16 KiB pwrite lands in the page cache in microseconds; doing it
        // here keeps a piece's writes ordered before its hash check.
        let ok = match &self.storage {
            Some(s) => match s.write_block(block, data) {
                Ok(()) => true,
                Err(e) => {
                    self.extra.error = Some(e.to_string());
                    false
                }
            },
            None => false,
        };
        if !ok {
            self.engine.block_write_failed(util::now(), block);
        }
    }

    fn verify(&mut self, piece: PieceIndex, hash: [u8; 20]) {
        let Some(storage) = self.storage.clone() else {
            self.engine.piece_verified(util::now(), piece, false);
            return;
        };
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let ok = storage.hash_piece(piece).is_ok_and(|h| h == hash);
            let _ = tx.blocking_send(Input::Verified(piece, ok));
        });
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::MetadataReceived => self.open_storage(),
            Event::Completed => {
                self.save_resume();
                self.publish(true);
            }
            Event::PieceVerified(_) if self.extra.first_piece_after.is_none() => {
                self.extra.first_piece_after = Some(self.started.elapsed());
            }
            Event::PeerBanned { peer_id } => {
                self.extra.banned += 1;
                tracing::warn!(
                    "banned peer {} for sending corrupt data",
                    String::from_utf8_lossy(&peer_id.0[..8])
                );
            }
            Event::PieceFailed { piece, .. } => {
                tracing::info!("piece {} failed its hash check", piece.get())
            }
            Event::WebseedRemoved { webseed, reason } => {
                if let Some(url) = self.webseeds.remove(&webseed) {
                    tracing::warn!("stopped using webseed {url}: {reason}");
                }
            }
            _ => {}
        }
    }

    /// After a magnet fetch: store the info dictionary (so a restart needs no
    /// peers for it) and open the files, off the event loop.
    fn open_storage(&mut self) {
        let Some(info) = self.engine.info().cloned() else {
            return;
        };
        let dir = self.dir.clone();
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = super::save_info(&dir, &info);
            let r = DiskStorage::open(&dir, &info)
                .map(Arc::new)
                .map_err(|e| e.to_string());
            let _ = tx.blocking_send(Input::StorageOpened(r));
        });
    }

    fn save_resume(&mut self) {
        if let (Some(s), Some(have)) = (&self.storage, self.engine.have()) {
            if let Err(e) = s.save_resume(have) {
                tracing::warn!("{e}");
            }
        }
        self.resume_dirty = false;
        self.last_resume = Instant::now();
    }

    fn publish(&mut self, force: bool) {
        if !force && self.last_snapshot.elapsed() < SNAPSHOT_EVERY {
            return;
        }
        self.last_snapshot = Instant::now();
        let s = Snapshot::of(&self.engine, util::now(), self.extra.clone());
        self.snapshot.send_replace(s);
    }
}

/// The tokio instant for an engine time.
fn deadline(t: Time) -> tokio::time::Instant {
    let now = util::now();
    let wait = Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()));
    tokio::time::Instant::now() + wait
}

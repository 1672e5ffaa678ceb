//! One browser client: its torrents (core `TorrentHost`s), its trackers
//! (core `TrackerClient`s), and the WebRTC connections between them, named
//! by small handles the JS layer keys its RTCPeerConnections by. It routes
//! between hosts and trackers and turns their work into ops; every rule is
//! in core.

use std::time::Duration;

use bytes::Bytes;
use webswarm_core::engine::{Choking, Source};
use webswarm_core::host::{HostConfig, Note, Start, TorrentHost, Work};
use webswarm_core::tracker::{OfferId, TorrentStatus, TrackerClient, TrackerConfig, TrackerWork};
use webswarm_core::Rng;
use webswarm_core::VecMap;
use webswarm_core::{engine, Bitfield, InfoHash, PeerId, PeerKey, Time, TorrentCreator};

use crate::ops::{code, note, Out};
use crate::source::{self, Resolved, Staged};

/// The page's settings for this client.
pub struct Settings {
    /// Peer connections open or being set up: browsers refuse new
    /// RTCPeerConnections past a few hundred.
    pub max_connections: usize,
    pub host: HostConfig,
    pub tracker: TrackerConfig,
    /// Trackers added to every torrent.
    pub trackers: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_connections: 100,
            host: HostConfig {
                // Wasm memory never shrinks: a small read cache.
                read_cache_bytes: 4 << 20,
                resume_every: Duration::from_secs(2),
                ..HostConfig::default()
            },
            tracker: TrackerConfig::default(),
            trackers: Vec::new(),
        }
    }
}

struct Entry {
    host: TorrentHost,
    trackers: Vec<u32>,
    /// Open connections: engine key -> handle.
    conns: VecMap<PeerKey, u32>,
    /// What the trackers were last told.
    told: TorrentStatus,
}

struct Tracker {
    url: String,
    client: TrackerClient,
}

/// A WebRTC connection, from offer (or answer) to open channel.
enum Handle {
    Offering {
        tracker: u32,
        info_hash: InfoHash,
        id: OfferId,
    },
    Offered {
        tracker: u32,
        id: OfferId,
    },
    Answering {
        tracker: u32,
        torrent: u32,
        info_hash: InfoHash,
        remote: PeerId,
        offer_id: OfferId,
    },
    Connecting {
        torrent: u32,
        remote: PeerId,
        we_offered: bool,
    },
    Open {
        torrent: u32,
        key: PeerKey,
    },
}

/// Offers asked for by one tracker for one torrent, reported together.
struct Batch {
    tracker: u32,
    info_hash: InfoHash,
    waiting: usize,
    made: Vec<(OfferId, String)>,
}

/// A torrent being made from the page's files (`seed`).
pub struct Creating {
    pub creator: TorrentCreator,
}

#[derive(Default)]
pub struct App {
    /// What the page wrote for the current call.
    pub input: Vec<u8>,
    /// A call's answer (text or bytes).
    pub reply: Vec<u8>,
    /// `stats` answers.
    pub stats: Vec<f64>,
    out: Out,
    taken: Vec<u8>,
    settings: Settings,
    rng: Option<Rng>,
    torrents: VecMap<u32, Entry>,
    trackers: Vec<Tracker>,
    handles: VecMap<u32, Handle>,
    batches: Vec<Batch>,
    next_id: u32,
    pub staged: Staged,
    /// Files staged for `seed`: (path, length).
    pub files: Vec<(Vec<String>, u64)>,
    pub creating: Option<Creating>,
}

/// The engine's clock from `performance.now()`.
pub fn time(ms: f64) -> Time {
    Time::from_micros((ms.max(0.0) * 1000.0) as u64)
}

impl App {
    pub fn setup(&mut self, seed: u64, max_connections: u32, offers: u32, max_peers: u32) {
        self.rng = Some(Rng::new(seed));
        let s = &mut self.settings;
        s.max_connections = max_connections.max(1) as usize;
        s.tracker.offers_per_announce = offers as usize;
        s.host.engine.max_peers = max_peers.max(1) as usize;
        // A page's peers are one site's visitors, who all want everyone done:
        // slots go to the peers furthest behind (see `Choking::Swarm`).
        s.host.engine.choking = Choking::Swarm;
        s.trackers = std::mem::take(&mut self.staged.trackers);
    }

    fn random(&mut self) -> u64 {
        self.rng.get_or_insert_with(|| Rng::new(1)).next_u64()
    }

    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    pub fn input_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.input).ok()
    }

    // ---- torrents -----------------------------------------------------------------

    /// Parses the source in `input` (`text`: a magnet link or info-hash, else
    /// .torrent bytes) into the staging area; replies with the info-hash hex.
    pub fn probe(&mut self, text: bool) -> Result<(), String> {
        let parsed = match text {
            true => source::parse(Some(self.input_text().unwrap_or_default()), &[])?,
            false => source::parse(None, &self.input)?,
        };
        self.reply_text(&parsed.info_hash.to_hex());
        self.staged.source = Some(parsed);
        Ok(())
    }

    fn check_new(&self, h: InfoHash) -> Result<(), String> {
        match self.torrent_by_hash(h) {
            Some(_) => Err("this torrent is already added".into()),
            None => Ok(()),
        }
    }

    /// Starts the staged torrent; returns its id.
    pub fn start(&mut self, now: Time) -> Result<u32, String> {
        let r = self
            .staged
            .resolve(&self.settings.trackers)
            .ok_or("nothing staged")?;
        self.check_new(r.info_hash)?;
        Ok(self.launch(now, r, false))
    }

    fn launch(&mut self, now: Time, r: Resolved, storage_open: bool) -> u32 {
        let source = match r.info {
            Some(info) => Source::Info {
                info: Box::new(info),
                have: r.have,
            },
            None => Source::Magnet(r.info_hash),
        };
        let peer_id = engine::Torrent::generate_peer_id(self.random());
        let start = Start {
            source,
            peer_id,
            webseeds: r.webseeds,
            storage_open,
            recheck: r.recheck,
        };
        let seed = self.random();
        let host = TorrentHost::new(self.settings.host.clone(), start, now, seed);
        let told = host.tracker_status();
        let trackers: Vec<u32> = r.trackers.iter().map(|u| self.tracker(now, u)).collect();
        for &t in &trackers {
            self.trackers[t as usize]
                .client
                .join(now, r.info_hash, peer_id, told);
        }
        let id = self.id();
        let entry = Entry {
            host,
            trackers,
            conns: VecMap::new(),
            told,
        };
        self.torrents.insert(id, entry);
        id
    }

    /// The client for a tracker URL, connecting on first use.
    fn tracker(&mut self, now: Time, url: &str) -> u32 {
        if let Some(i) = self.trackers.iter().position(|t| t.url == url) {
            return i as u32;
        }
        let seed = self.random();
        let client = TrackerClient::new(self.settings.tracker.clone(), now, seed);
        self.trackers.push(Tracker {
            url: url.to_owned(),
            client,
        });
        (self.trackers.len() - 1) as u32
    }

    fn torrent_by_hash(&self, h: InfoHash) -> Option<u32> {
        self.torrents
            .iter()
            .find(|(_, e)| e.host.info_hash() == h)
            .map(|(&id, _)| id)
    }

    pub fn host(&mut self, t: u32) -> Option<&mut TorrentHost> {
        self.torrents.get_mut(&t).map(|e| &mut e.host)
    }

    pub fn host_ref(&self, t: u32) -> Option<&TorrentHost> {
        self.torrents.get(&t).map(|e| &e.host)
    }

    /// A torrent's tracker URLs.
    pub fn urls(&self, t: u32) -> Vec<String> {
        let ids = self
            .torrents
            .get(&t)
            .map(|e| e.trackers.as_slice())
            .unwrap_or_default();
        ids.iter()
            .map(|&r| self.trackers[r as usize].url.clone())
            .collect()
    }

    /// `seed`: begins a torrent of the staged files; returns the piece length.
    pub fn create_begin(&mut self, piece_len: Option<u64>) -> Result<u64, String> {
        let name = self.input_text().unwrap_or_default().to_owned();
        let files = std::mem::take(&mut self.files);
        let creator = TorrentCreator::new(&name, files, piece_len).map_err(|e| e.to_string())?;
        let len = creator.piece_len();
        self.creating = Some(Creating { creator });
        Ok(len)
    }

    /// The hash (in `input`) of the next piece, `len` bytes long.
    pub fn create_piece(&mut self, len: u64) -> Result<(), String> {
        let c = self.creating.as_mut().ok_or("no torrent is being made")?;
        let hash: [u8; 20] = self.input.as_slice().try_into().map_err(|_| "bad hash")?;
        c.creator
            .add_piece_hash(hash, len)
            .map_err(|e| e.to_string())
    }

    /// Finishes the torrent and seeds it; replies with the .torrent bytes.
    pub fn create_finish(&mut self, now: Time) -> Result<u32, String> {
        let mut c = self
            .creating
            .take()
            .ok_or("no torrent is being made")?
            .creator;
        let mut trackers = source::merge(
            std::mem::take(&mut self.staged.trackers),
            &self.settings.trackers,
        );
        trackers.retain(|u| u.starts_with("ws://") || u.starts_with("wss://"));
        c.trackers = trackers.iter().map(|t| vec![t.clone()]).collect();
        let (bytes, meta) = c.finish().map_err(|e| e.to_string())?;
        self.check_new(meta.info.info_hash)?;
        let n = meta.info.layout.num_pieces();
        let r = Resolved {
            info_hash: meta.info.info_hash,
            info: Some(meta.info),
            have: Some(Bitfield::full(n)),
            recheck: Vec::new(),
            trackers,
            webseeds: Vec::new(),
        };
        self.reply = bytes;
        Ok(self.launch(now, r, true))
    }

    /// Leaves the swarms and stops the torrent; `keep_record` saves the
    /// resume record a last time.
    pub fn stop(&mut self, now: Time, t: u32, keep_record: bool) {
        self.leave(t);
        if let Some(e) = self.torrents.get_mut(&t) {
            e.host.stop(now, keep_record);
        }
        self.drain_torrent(now, t);
        self.torrents.remove(&t);
    }

    pub fn pause(&mut self, now: Time, t: u32) {
        self.leave(t);
        if let Some(h) = self.host(t) {
            h.pause(now);
        }
    }

    pub fn resume(&mut self, now: Time, t: u32) {
        let Some(e) = self.torrents.get_mut(&t) else {
            return;
        };
        e.host.resume();
        let (ih, id, st) = (
            e.host.info_hash(),
            e.host.peer_id(),
            e.host.tracker_status(),
        );
        for &r in &e.trackers {
            self.trackers[r as usize].client.join(now, ih, id, st);
        }
    }

    fn leave(&mut self, t: u32) {
        let Some(e) = self.torrents.get(&t) else {
            return;
        };
        let ih = e.host.info_hash();
        for &r in &e.trackers {
            self.trackers[r as usize].client.leave(ih);
        }
    }

    /// Stops everything and closes the tracker sockets.
    pub fn destroy(&mut self, now: Time) {
        let ids: Vec<u32> = self.torrents.keys().copied().collect();
        for t in ids {
            self.stop(now, t, true);
        }
        self.drain(now);
        for h in std::mem::take(&mut self.handles)
            .into_iter()
            .map(|(h, _)| h)
        {
            self.out.op(code::CLOSE).u32(h);
        }
        for (r, _) in self.trackers.iter().enumerate() {
            self.out.op(code::WS_CLOSE).u32(r as u32);
        }
        self.trackers.clear();
    }

    // ---- connections ----------------------------------------------------------------

    fn new_handle(&mut self, h: Handle) -> Option<u32> {
        if self.handles.len() >= self.settings.max_connections {
            return None;
        }
        let id = self.id();
        self.handles.insert(id, h);
        Some(id)
    }

    /// An offer of ours is ready (`ok`, SDP in `input`) or failed.
    pub fn offer_made(&mut self, now: Time, h: u32, ok: bool) {
        let Some(&Handle::Offering {
            tracker,
            info_hash,
            id,
        }) = self.handles.get(&h)
        else {
            return;
        };
        let sdp = self.input_text().filter(|_| ok).map(str::to_owned);
        match sdp {
            Some(_) => {
                self.handles.insert(h, Handle::Offered { tracker, id });
            }
            None => {
                self.handles.remove(&h);
            }
        }
        self.offer_done(now, tracker, info_hash, sdp.map(|s| (id, s)));
    }

    fn offer_done(
        &mut self,
        now: Time,
        tracker: u32,
        info_hash: InfoHash,
        made: Option<(OfferId, String)>,
    ) {
        let Some(i) = self
            .batches
            .iter()
            .position(|b| b.tracker == tracker && b.info_hash == info_hash)
        else {
            return;
        };
        let b = &mut self.batches[i];
        b.made.extend(made);
        b.waiting -= 1;
        if b.waiting == 0 {
            let b = self.batches.swap_remove(i);
            self.trackers[tracker as usize]
                .client
                .handle_offers_made(now, info_hash, b.made);
        }
    }

    /// Our answer to a relayed offer is ready (`ok`, SDP in `input`).
    pub fn answer_made(&mut self, h: u32, ok: bool) {
        let Some(&Handle::Answering {
            tracker,
            torrent,
            info_hash,
            remote,
            offer_id,
        }) = self.handles.get(&h)
        else {
            return;
        };
        let Some(sdp) = self.input_text().filter(|_| ok).map(str::to_owned) else {
            self.handles.remove(&h);
            return;
        };
        self.trackers[tracker as usize]
            .client
            .handle_answer_made(info_hash, remote, offer_id, sdp);
        let c = Handle::Connecting {
            torrent,
            remote,
            we_offered: false,
        };
        self.handles.insert(h, c);
    }

    /// A data channel opened: it becomes a peer of its torrent.
    pub fn rtc_open(&mut self, now: Time, h: u32) {
        let Some(&Handle::Connecting {
            torrent,
            remote,
            we_offered,
        }) = self.handles.get(&h)
        else {
            return;
        };
        let added = self
            .torrents
            .get_mut(&torrent)
            .map(|e| (e.host.add_peer(now, Some(remote), we_offered), e));
        match added {
            Some((Ok(key), e)) => {
                e.conns.insert(key, h);
                self.handles.insert(h, Handle::Open { torrent, key });
            }
            _ => self.close(h),
        }
    }

    fn close(&mut self, h: u32) {
        self.handles.remove(&h);
        self.out.op(code::CLOSE).u32(h);
    }

    fn open_peer(&mut self, h: u32) -> Option<(&mut TorrentHost, PeerKey)> {
        let &Handle::Open { torrent, key } = self.handles.get(&h)? else {
            return None;
        };
        Some((&mut self.torrents.get_mut(&torrent)?.host, key))
    }

    /// Bytes (in `input`) arrived on a channel.
    pub fn rtc_data(&mut self, now: Time, h: u32) {
        let App {
            input,
            handles,
            torrents,
            ..
        } = self;
        if let Some(&Handle::Open { torrent, key }) = handles.get(&h) {
            if let Some(e) = torrents.get_mut(&torrent) {
                e.host.handle_data(now, key, input);
            }
        }
    }

    pub fn rtc_writable(&mut self, now: Time, h: u32, writable: bool) {
        if let Some((host, key)) = self.open_peer(h) {
            host.handle_writable(now, key, writable);
        }
    }

    /// The connection closed or failed, at any stage.
    pub fn rtc_closed(&mut self, now: Time, h: u32) {
        match self.handles.remove(&h) {
            Some(Handle::Open { torrent, key }) => {
                if let Some(e) = self.torrents.get_mut(&torrent) {
                    e.conns.remove(&key);
                    e.host.handle_closed(now, key);
                }
            }
            Some(Handle::Offering {
                tracker, info_hash, ..
            }) => self.offer_done(now, tracker, info_hash, None),
            Some(Handle::Connecting { torrent, .. }) => {
                if let Some(e) = self.torrents.get_mut(&torrent) {
                    e.host
                        .handle_connect_failed(now, "no path found or timed out");
                }
            }
            _ => {}
        }
    }

    // ---- tracker sockets ------------------------------------------------------------------

    fn tracker_mut(&mut self, r: u32) -> Option<&mut TrackerClient> {
        self.trackers.get_mut(r as usize).map(|t| &mut t.client)
    }

    pub fn ws_opened(&mut self, now: Time, r: u32) {
        if let Some(c) = self.tracker_mut(r) {
            c.handle_connected(now);
        }
    }

    pub fn ws_message(&mut self, now: Time, r: u32) {
        let App {
            input, trackers, ..
        } = self;
        if let (Some(t), Ok(text)) = (trackers.get_mut(r as usize), std::str::from_utf8(input)) {
            t.client.handle_message(now, text);
        }
    }

    pub fn ws_closed(&mut self, now: Time, r: u32) {
        if let Some(t) = self.trackers.get_mut(r as usize) {
            let why = format!("cannot reach the tracker {}", t.url);
            t.client.handle_disconnected(now, &why);
        }
    }

    // ---- time ----------------------------------------------------------------------------

    pub fn tick(&mut self, now: Time) {
        for e in self.torrents.values_mut() {
            if e.host.poll_timeout() <= now {
                e.host.handle_timeout(now);
            }
        }
        for t in &mut self.trackers {
            if t.client.poll_timeout().is_some_and(|d| d <= now) {
                t.client.handle_timeout(now);
            }
        }
    }

    /// Milliseconds until `tick` has work (-1: none).
    pub fn next_timer(&self, now: Time) -> f64 {
        let hosts = self.torrents.values().map(|e| e.host.poll_timeout());
        let trackers = self.trackers.iter().filter_map(|t| t.client.poll_timeout());
        match hosts.chain(trackers).min() {
            Some(t) => t.saturating_since(now).as_secs_f64() * 1000.0,
            None => -1.0,
        }
    }

    // ---- turning work into ops --------------------------------------------------------------

    /// Runs every host and tracker until none has work; returns the ops.
    pub fn take(&mut self, now: Time) -> &[u8] {
        self.drain(now);
        self.taken = std::mem::take(&mut self.out.0);
        &self.taken
    }

    pub fn take_ptr(&self) -> u32 {
        self.taken.as_ptr() as u32
    }

    fn drain(&mut self, now: Time) {
        loop {
            let mut busy = false;
            let ids: Vec<u32> = self.torrents.keys().copied().collect();
            for t in ids {
                busy |= self.drain_torrent(now, t);
            }
            self.tell_trackers(now);
            for r in 0..self.trackers.len() {
                while let Some(w) = self.trackers[r].client.poll_work() {
                    busy = true;
                    self.tracker_work(now, r as u32, w);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn drain_torrent(&mut self, now: Time, t: u32) -> bool {
        let mut busy = false;
        while let Some(w) = self.torrents.get_mut(&t).and_then(|e| e.host.poll_work()) {
            busy = true;
            self.host_work(now, t, w);
        }
        busy
    }

    /// Trackers learn of peers, completion and counters as they change.
    fn tell_trackers(&mut self, now: Time) {
        for e in self.torrents.values_mut() {
            let s = e.host.tracker_status();
            if s != e.told {
                e.told = s;
                for &r in &e.trackers {
                    self.trackers[r as usize]
                        .client
                        .set_status(now, e.host.info_hash(), s);
                }
            }
        }
    }

    fn host_work(&mut self, _now: Time, t: u32, w: Work) {
        let Some(e) = self.torrents.get_mut(&t) else {
            return;
        };
        let o = &mut self.out;
        match w {
            Work::Send { peer, data } => {
                if let Some(&h) = e.conns.get(&peer) {
                    o.op(code::SEND).u32(h).bytes(&data);
                }
            }
            Work::Close { peer, .. } => {
                if let Some(h) = e.conns.remove(&peer) {
                    self.handles.remove(&h);
                    o.op(code::CLOSE).u32(h);
                }
            }
            Work::ReadPiece { piece, len } => {
                o.op(code::READ).u32(t).u32(piece.get()).u32(len);
            }
            Work::StoreBlock { block, data } => {
                let size = e
                    .host
                    .info()
                    .map_or(0, |i| i.layout.piece_size(block.piece));
                o.op(code::STORE).u32(t).u32(block.piece.get()).u32(size);
                o.u32(block.offset).bytes(&data);
            }
            Work::CheckPiece { piece, hash } => {
                o.op(code::CHECK).u32(t).u32(piece.get()).bytes(&hash);
            }
            Work::Fetch {
                webseed,
                piece,
                offset,
                len,
                requests,
            } => {
                o.op(code::FETCH)
                    .u32(t)
                    .u32(webseed.0 as u32)
                    .u32(piece.get());
                o.u32(offset).u32(len).u32(requests.len() as u32);
                for r in requests {
                    o.bytes(r.url.as_bytes())
                        .f64(r.start as f64)
                        .f64(r.end as f64)
                        .u32(r.dest);
                }
            }
            Work::OpenStorage => {
                let raw = e.host.info().map(|i| i.raw.as_slice()).unwrap_or_default();
                o.op(code::OPEN).u32(t).bytes(raw);
            }
            Work::SaveResume { have } => {
                o.op(code::SAVE).u32(t).bytes(have.as_bytes());
            }
            // Native builds of this crate (its tests): browsers dial no TCP.
            #[cfg(not(target_arch = "wasm32"))]
            Work::Dial(_) => {}
            Work::Notify(n) => {
                // `from` is the verified piece's `PieceSource` (0 for other notes).
                let (kind, num, from, text) = match n {
                    Note::Ready => (note::READY, 0, 0, String::new()),
                    Note::Peers(n) => (note::PEERS, n as u32, 0, String::new()),
                    Note::Verified(p, from) => {
                        (note::VERIFIED, p.get(), from as u32, String::new())
                    }
                    Note::Done => (note::DONE, 0, 0, String::new()),
                    Note::Warning(w) => (note::WARNING, 0, 0, w),
                    Note::Banned(_) => {
                        let w = "a peer sent data that failed verification and was banned";
                        (note::WARNING, 0, 0, w.to_owned())
                    }
                    Note::Error(e) => (note::ERROR, 0, 0, e),
                };
                o.op(code::NOTE)
                    .u32(t)
                    .u32(kind)
                    .u32(num)
                    .u32(from)
                    .bytes(text.as_bytes());
            }
        }
    }

    fn tracker_work(&mut self, now: Time, r: u32, w: TrackerWork) {
        match w {
            TrackerWork::Connect => {
                let url = self.trackers[r as usize].url.clone();
                self.out.op(code::WS_OPEN).u32(r).bytes(url.as_bytes());
            }
            TrackerWork::Disconnect => {
                self.out.op(code::WS_CLOSE).u32(r);
            }
            TrackerWork::Send(text) => {
                self.out.op(code::WS_SEND).u32(r).bytes(text.as_bytes());
            }
            TrackerWork::MakeOffers { info_hash, ids } => {
                let mut made = 0;
                for id in ids {
                    let Some(h) = self.new_handle(Handle::Offering {
                        tracker: r,
                        info_hash,
                        id,
                    }) else {
                        break;
                    };
                    self.out.op(code::OFFER).u32(h);
                    made += 1;
                }
                match made {
                    0 => self.trackers[r as usize].client.handle_offers_made(
                        now,
                        info_hash,
                        Vec::new(),
                    ),
                    n => self.batches.push(Batch {
                        tracker: r,
                        info_hash,
                        waiting: n,
                        made: Vec::new(),
                    }),
                }
            }
            TrackerWork::AnswerOffer {
                info_hash,
                remote,
                offer_id,
                sdp,
            } => {
                let Some(torrent) = self.torrent_by_hash(info_hash) else {
                    return;
                };
                if !self
                    .torrents
                    .get(&torrent)
                    .is_some_and(|e| e.host.accepts(remote))
                {
                    return;
                }
                let a = Handle::Answering {
                    tracker: r,
                    torrent,
                    info_hash,
                    remote,
                    offer_id,
                };
                if let Some(h) = self.new_handle(a) {
                    self.out.op(code::ANSWER).u32(h).bytes(sdp.as_bytes());
                }
            }
            TrackerWork::AcceptAnswer {
                info_hash,
                remote,
                offer_id,
                sdp,
            } => {
                let Some(h) = self.offer_handle(r, offer_id) else {
                    return;
                };
                match self.torrent_by_hash(info_hash) {
                    Some(torrent) => {
                        let c = Handle::Connecting {
                            torrent,
                            remote,
                            we_offered: true,
                        };
                        self.handles.insert(h, c);
                        self.out.op(code::ACCEPT).u32(h).bytes(sdp.as_bytes());
                    }
                    None => self.close(h),
                }
            }
            TrackerWork::DropOffer(id) => {
                if let Some(h) = self.offer_handle(r, id) {
                    self.close(h);
                }
            }
        }
    }

    fn offer_handle(&self, r: u32, offer: OfferId) -> Option<u32> {
        self.handles.iter().find_map(|(&h, x)| match x {
            Handle::Offered { tracker, id } if *tracker == r && *id == offer => Some(h),
            _ => None,
        })
    }

    // ---- answers for the page ---------------------------------------------------------------

    pub fn reply_text(&mut self, s: &str) {
        self.reply.clear();
        self.reply.extend_from_slice(s.as_bytes());
    }

    /// Each tracker's URL, whether it is connected, and its last error, as JSON.
    pub fn tracker_status(&mut self) {
        use webswarm_core::tracker::json::write_str;
        let mut s = String::from("[");
        for (i, t) in self.trackers.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"url\":");
            write_str(&mut s, &t.url);
            s.push_str(",\"connected\":");
            s.push_str(if t.client.is_connected() {
                "true"
            } else {
                "false"
            });
            s.push_str(",\"error\":");
            match t.client.last_error() {
                Some(e) => write_str(&mut s, e),
                None => s.push_str("null"),
            }
            s.push('}');
        }
        s.push(']');
        self.reply_text(&s);
    }

    /// A piece read from storage (see the `piece_read` export for `result`).
    pub fn piece_read(&mut self, now: Time, t: u32, piece: u32, result: u32) {
        let input = std::mem::take(&mut self.input);
        if let Some(h) = self.host(t) {
            if let Some(p) = h.info().and_then(|i| i.layout.piece(piece)) {
                match result {
                    1 => h.handle_piece_read(now, p, Some(Bytes::copy_from_slice(&input))),
                    2 => h.handle_piece_lost(now, p),
                    _ => {
                        let why = std::str::from_utf8(&input).unwrap_or("read failed");
                        h.handle_piece_unreadable(now, p, why);
                    }
                }
            }
        }
        self.input = input;
    }
}

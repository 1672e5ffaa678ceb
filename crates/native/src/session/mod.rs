//! The client: many torrents in one process, sharing the WebRTC transport,
//! the tracker sockets and the connection budget.

mod input;
mod peer;
mod torrent;
mod unchecked;
pub mod webseed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use webswarm_core::engine::{self, Source, Torrent, Wire};
use webswarm_core::host::{HostConfig, Start, Stats, TorrentHost};
use webswarm_core::tracker::TrackerConfig;
use webswarm_core::{Bitfield, Info, InfoHash, Magnet, Metainfo};

use crate::classic::dht::{Dht, DhtConfig};
use crate::classic::discovery::{self, Discovery, DiscoveryConfig};
use crate::classic::listener::{self, Registry};
use crate::classic::mse::Encryption;
use crate::classic::utp::Utp;
use crate::storage::{CheckQueue, DiskStorage, StorageError, UnconfirmedCount};
use crate::tracker_client::{Shared, TorrentView, TrackerCmd, TrackerHandle, TrackerTorrent};
use crate::transport::webrtc_rs::{RtcConfig, WebRtcTransport};
use crate::transport::Transport;
use crate::util;
use input::Input;
use torrent::{Outlets, Setup, TorrentTask};

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub rtc: RtcConfig,
    pub engine: engine::Config,
    /// Open connections across all torrents.
    pub max_connections: usize,
    /// Answered offers whose connections are not open yet, across all
    /// torrents; past it the oldest attempt is given up (see `half_open`).
    pub max_half_open: usize,
    /// Announce schedule, offers per announce, the budget of pending
    /// offers across torrents, reconnect backoff.
    pub tracker: TrackerConfig,
    /// PEM certificates trusted for wss:// trackers besides the built-in
    /// Mozilla roots (a self-hosted tracker with a private CA).
    pub tracker_ca: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Upload limit per torrent, bytes per second.
    pub max_upload_rate: Option<u64>,
    /// Classic BitTorrent peers over TCP (and HTTP/UDP trackers); `None`
    /// speaks WebRTC only.
    pub tcp: Option<TcpConfig>,
}

/// Classic peers over TCP and uTP.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Where incoming peers connect (port taken: another port is used).
    /// uTP takes the UDP port of the same number.
    pub listen: std::net::SocketAddr,
    /// uTP (BEP 29) besides TCP, incoming and as the dial order says.
    pub utp: bool,
    /// Announce schedule and dialling.
    pub discovery: DiscoveryConfig,
    /// The mainline DHT, on a UDP port of its own; `None`: trackers only.
    pub dht: Option<DhtConfig>,
    /// Message Stream Encryption, incoming and outgoing.
    pub encryption: Encryption,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            listen: ([0, 0, 0, 0], 6881).into(),
            utp: true,
            discovery: DiscoveryConfig::default(),
            dht: Some(DhtConfig::default()),
            encryption: Encryption::default(),
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            rtc: RtcConfig::default(),
            engine: engine::Config::default(),
            max_connections: 200,
            max_half_open: 24,
            tracker: TrackerConfig::default(),
            tracker_ca: Vec::new(),
            max_upload_rate: None,
            tcp: Some(TcpConfig::default()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("torrent {0} is already added")]
    Duplicate(String),
    #[error("torrent has no tracker and no webseed: give one with --tracker or --webseed (HTTP and UDP trackers and the DHT need TCP peers on: drop --no-tcp, --no-dht)")]
    NoTracker,
    #[error("the torrent stopped before it finished")]
    Stopped,
    /// The download stopped (storage failed); the message says why.
    #[error("{0}")]
    Failed(String),
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates { path: String, reason: String },
    #[error("wrong data on disk: only {have} of {total} pieces of {name} in {dir} are correct")]
    Incomplete {
        have: u32,
        total: u32,
        name: String,
        dir: String,
    },
}

/// What to add.
pub enum What {
    Torrent(Box<Metainfo>),
    Magnet(Magnet),
}

pub struct AddOptions {
    pub what: What,
    /// Directory the torrent's files are (or will be) in.
    pub dir: PathBuf,
    /// Trackers besides the ones the torrent names.
    pub trackers: Vec<String>,
    /// Pieces known to be on disk already (e.g. the files were just hashed to
    /// create the torrent). `None` checks the disk (or a valid resume record).
    pub verified: Option<Bitfield>,
    /// Refuse (before joining any swarm) unless every piece is on disk.
    pub require_complete: bool,
    /// BEP 19 webseeds besides the ones the torrent names.
    pub webseeds: Vec<String>,
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ClientConfig,
    shared: Arc<Shared>,
    trackers: Mutex<HashMap<String, TrackerHandle>>,
    torrents: Mutex<HashMap<InfoHash, mpsc::Sender<Input>>>,
    fetcher: Arc<webseed::Fetcher>,
    classic: Option<Classic>,
    /// The torrents' re-checks take turns (see `CheckQueue`).
    checks: Arc<CheckQueue>,
}

/// The TCP side of a client: its listening port and the torrents that take
/// incoming peers.
struct Classic {
    port: u16,
    registry: Arc<Registry>,
    utp: Option<Arc<Utp>>,
    http: reqwest::Client,
    dht: Option<Arc<Dht>>,
    cfg: DiscoveryConfig,
    encryption: Encryption,
}

impl Classic {
    fn start(cfg: &TcpConfig, connections: Arc<Semaphore>) -> Option<Classic> {
        let l = match listener::bind(cfg.listen) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("cannot listen for BitTorrent peers: {e}; TCP peers are off");
                return None;
            }
        };
        let bound = l.local_addr().ok()?;
        let port = bound.port();
        let registry = Arc::new(Registry::default());
        let utp = cfg.utp.then(|| Arc::new(Utp::new(bound)));
        if let Some(u) = &utp {
            tokio::spawn(listener::run_utp(
                u.clone(),
                registry.clone(),
                connections.clone(),
                cfg.encryption,
            ));
        }
        tokio::spawn(listener::run(
            l,
            registry.clone(),
            connections,
            cfg.encryption,
        ));
        let http = reqwest::Client::builder()
            .user_agent(concat!("webswarm/", env!("CARGO_PKG_VERSION")))
            .build()
            .ok()?;
        let dht = cfg.dht.clone().map(|d| Arc::new(Dht::new(d)));
        let mut cfg_d = cfg.discovery.clone();
        if utp.is_none() {
            cfg_d.book.dial_order.retain(|w| *w != Wire::Utp);
        }
        Some(Classic {
            port,
            registry,
            utp,
            http,
            dht,
            cfg: cfg_d,
            encryption: cfg.encryption,
        })
    }
}

fn is_classic_tracker(url: &str) -> bool {
    ["http://", "https://", "udp://"]
        .iter()
        .any(|p| url.starts_with(p))
}

impl Client {
    /// Must be called inside a tokio runtime.
    pub fn new(cfg: ClientConfig) -> Self {
        let transport: Arc<dyn Transport> = Arc::new(WebRtcTransport::new(cfg.rtc.clone()));
        Self::with_transport(cfg, transport)
    }

    pub fn with_transport(cfg: ClientConfig, transport: Arc<dyn Transport>) -> Self {
        let shared = Arc::new(Shared {
            transport,
            connections: Arc::new(Semaphore::new(cfg.max_connections)),
            pending_offers: Arc::new(Semaphore::new(cfg.tracker.max_pending_offers)),
            half_open: crate::half_open::HalfOpen::new(cfg.max_half_open),
            tracker: cfg.tracker.clone(),
            tls: tls_config(&cfg.tracker_ca),
        });
        let classic = cfg
            .tcp
            .as_ref()
            .and_then(|t| Classic::start(t, shared.connections.clone()));
        Client {
            inner: Arc::new(Inner {
                cfg,
                classic,
                shared,
                trackers: Mutex::new(HashMap::new()),
                torrents: Mutex::new(HashMap::new()),
                fetcher: Arc::new(webseed::Fetcher::new()),
                checks: Arc::default(),
            }),
        }
    }

    /// Adds a torrent: opens (or re-checks) its files, then joins its swarms.
    pub async fn add(&self, opts: AddOptions) -> Result<TorrentHandle, SessionError> {
        let (info, mut trackers, mut webseeds) = match &opts.what {
            What::Torrent(m) => (Some(m.info.clone()), m.tracker_urls(), m.url_list.clone()),
            What::Magnet(m) => (
                load_info(&opts.dir, m.info_hash()),
                m.trackers.clone(),
                m.webseeds.clone(),
            ),
        };
        for w in opts.webseeds {
            if !webseeds.contains(&w) {
                webseeds.push(w);
            }
        }
        webseeds.retain(|w| w.starts_with("http://") || w.starts_with("https://"));
        let info_hash = match &opts.what {
            What::Torrent(m) => m.info.info_hash,
            What::Magnet(m) => m.info_hash(),
        };
        for t in opts.trackers {
            if !trackers.contains(&t) {
                trackers.push(t);
            }
        }
        let classic_trackers: Vec<String> = match &self.inner.classic {
            Some(_) => trackers
                .iter()
                .filter(|t| is_classic_tracker(t))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        trackers.retain(|t| t.starts_with("ws://") || t.starts_with("wss://"));
        // BEP 27: a private torrent's peers come from its own trackers only.
        // (A magnet's privacy is not known before its metadata.)
        let private = info.as_ref().is_some_and(|i| i.private);
        let dht = match &self.inner.classic {
            Some(c) if !private => c.dht.clone(),
            _ => None,
        };
        if trackers.is_empty()
            && webseeds.is_empty()
            && classic_trackers.is_empty()
            && dht.is_none()
        {
            return Err(SessionError::NoTracker);
        }
        if self.lock_torrents().contains_key(&info_hash) {
            return Err(SessionError::Duplicate(info_hash.to_hex()));
        }
        let (storage, have) = match &info {
            Some(info) => {
                let checks = self.inner.checks.clone();
                let (dir, verified) = (opts.dir.clone(), opts.verified.clone());
                let (s, have) = open_checked(dir, info.clone(), verified, checks).await?;
                (Some(s), Some(have))
            }
            None => (None, None),
        };
        if let (true, Some(info), Some(have)) = (opts.require_complete, &info, &have) {
            if !have.is_full() {
                return Err(SessionError::Incomplete {
                    have: have.count(),
                    total: have.len(),
                    name: info.name.clone(),
                    dir: opts.dir.display().to_string(),
                });
            }
        }
        let peer_id = Torrent::generate_peer_id(util::random_u64());
        let source = match info {
            Some(info) => Source::Info {
                info: Box::new(info),
                have,
            },
            None => Source::Magnet(info_hash),
        };
        let start = Start {
            source,
            peer_id,
            webseeds,
            storage_open: storage.is_some(),
            recheck: Vec::new(),
        };
        let mut engine = self.inner.cfg.engine.clone();
        engine.tcp_listen_port = self.inner.classic.as_ref().map(|c| c.port);
        let (dial_tx, dial_rx) = mpsc::unbounded_channel();
        let cfg = HostConfig {
            engine,
            max_upload_rate: self.inner.cfg.max_upload_rate,
            ..HostConfig::default()
        };
        let host = TorrentHost::new(cfg, start, util::now(), util::random_u64());
        let (tx, rx) = mpsc::channel(4096);
        let (channels_tx, channels_rx) = mpsc::unbounded_channel();
        let (stats_tx, stats_rx) = watch::channel(Stats::default());
        let (view_tx, view_rx) = watch::channel(TorrentView::default());
        let unconfirmed = storage.as_ref().map(|s| s.unconfirmed_count());
        let setup = Setup {
            host,
            storage,
            dir: opts.dir,
            fetcher: self.inner.fetcher.clone(),
            dial: self.inner.classic.as_ref().map(|_| dial_tx),
        };
        let outlets = Outlets {
            stats: stats_tx,
            view: view_tx,
        };
        let task = TorrentTask::new(setup, tx.clone(), outlets);
        tokio::spawn(task.run(rx, channels_rx));
        self.lock_torrents().insert(info_hash, tx.clone());
        let classic = self.inner.classic.as_ref().map(|c| {
            c.registry.insert(info_hash, channels_tx.clone());
            let (stop_tx, stop_rx) = oneshot::channel();
            {
                let d = Discovery {
                    info_hash,
                    peer_id,
                    port: c.port,
                    trackers: classic_trackers.clone(),
                    channels: channels_tx.clone(),
                    view: view_rx.clone(),
                    connections: self.inner.shared.connections.clone(),
                    http: c.http.clone(),
                    utp: c.utp.clone(),
                    dht,
                    pex: dial_rx,
                    encryption: c.encryption,
                    cfg: c.cfg.clone(),
                };
                tokio::spawn(discovery::run(d, stop_rx));
            }
            stop_tx
        });
        let mut handles = Vec::new();
        for url in trackers {
            let h = self.tracker(&url);
            h.send(TrackerCmd::Add(TrackerTorrent {
                info_hash,
                peer_id,
                channels: channels_tx.clone(),
                view: view_rx.clone(),
            }));
            handles.push(h);
        }
        Ok(TorrentHandle {
            info_hash,
            unconfirmed,
            input: tx,
            stats: stats_rx,
            trackers: handles,
            classic_trackers,
            classic,
            client: self.clone(),
        })
    }

    /// The TCP port classic peers reach this client on, if TCP is on.
    pub fn listen_port(&self) -> Option<u16> {
        self.inner.classic.as_ref().map(|c| c.port)
    }

    fn tracker(&self, url: &str) -> TrackerHandle {
        let mut map = self
            .inner
            .trackers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.entry(url.to_owned())
            .or_insert_with(|| TrackerHandle::spawn(url.to_owned(), self.inner.shared.clone()))
            .clone()
    }

    fn lock_torrents(&self) -> std::sync::MutexGuard<'_, HashMap<InfoHash, mpsc::Sender<Input>>> {
        // A panic elsewhere while holding the lock leaves the map consistent.
        self.inner
            .torrents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// A running torrent.
pub struct TorrentHandle {
    pub info_hash: InfoHash,
    /// Storage's, when it was open at `add` (the metadata known).
    unconfirmed: Option<UnconfirmedCount>,
    input: mpsc::Sender<Input>,
    stats: watch::Receiver<Stats>,
    trackers: Vec<TrackerHandle>,
    classic_trackers: Vec<String>,
    /// Stops classic discovery (announcing `stopped`); answers when done.
    classic: Option<oneshot::Sender<oneshot::Sender<()>>>,
    client: Client,
}

impl TorrentHandle {
    pub fn stats(&self) -> Stats {
        self.stats.borrow().clone()
    }

    /// Pieces counted from a resume record older than the files and not
    /// hashed yet (see `DiskStorage::load_verified`); the torrent hashes
    /// them in the background. Read it before `stats`: a piece found wrong
    /// is out of the stats' count before it is out of this one.
    pub fn unconfirmed(&self) -> u32 {
        self.unconfirmed.as_ref().map_or(0, UnconfirmedCount::get)
    }

    /// The trackers this torrent announces to, with their connection state.
    pub fn trackers(&self) -> &[TrackerHandle] {
        &self.trackers
    }

    /// The HTTP and UDP trackers this torrent announces to (with TCP on).
    pub fn classic_trackers(&self) -> &[String] {
        &self.classic_trackers
    }

    /// A receiver that changes whenever the stats do.
    pub fn watch(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// Waits until every wanted piece is verified or the download failed.
    pub async fn wait_complete(&self) -> Result<(), SessionError> {
        let mut rx = self.stats.clone();
        let s = rx
            .wait_for(|s| s.complete || s.error.is_some())
            .await
            .map_err(|_| SessionError::Stopped)?;
        match &s.error {
            Some(e) => Err(SessionError::Failed(e.clone())),
            None => Ok(()),
        }
    }

    /// Leaves the swarms (announcing `stopped`), saves the resume record and
    /// closes every connection.
    pub async fn stop(self) {
        for t in &self.trackers {
            t.send(TrackerCmd::Remove(self.info_hash));
        }
        if let Some(c) = &self.client.inner.classic {
            c.registry.remove(&self.info_hash);
        }
        if let Some(stop) = self.classic {
            let (tx, rx) = oneshot::channel();
            if stop.send(tx).is_ok() {
                let _ = rx.await;
            }
        }
        let (tx, rx) = oneshot::channel();
        if self.input.send(Input::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
        self.client.lock_torrents().remove(&self.info_hash);
    }
}

/// Opens the files and finds the verified pieces, off the event loop.
async fn open_checked(
    dir: PathBuf,
    info: Info,
    verified: Option<Bitfield>,
    checks: Arc<CheckQueue>,
) -> Result<(Arc<DiskStorage>, Bitfield), StorageError> {
    tokio::task::spawn_blocking(move || {
        let mut s = DiskStorage::open(&dir, &info)?;
        s.share_check_queue(checks);
        let have = match verified {
            Some(v) => v,
            None => s.load_verified()?,
        };
        Ok((Arc::new(s), have))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn info_path(dir: &Path, h: InfoHash) -> PathBuf {
    dir.join(format!("{}.webswarm-info", h.to_hex()))
}

/// Keeps a magnet download's info dictionary so a restart needs no peer for it.
pub(crate) fn save_info(dir: &Path, info: &Info) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(info_path(dir, info.info_hash), &info.raw)
}

fn load_info(dir: &Path, h: InfoHash) -> Option<Info> {
    let raw = std::fs::read(info_path(dir, h)).ok()?;
    Info::from_bytes_checked(&raw, h).ok()
}

/// rustls for wss:// trackers: the Mozilla roots plus `extra`.
fn tls_config(extra: &[rustls_pki_types::CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in extra {
        // A certificate rustls cannot use is skipped; the tracker then fails
        // its handshake with an error naming the certificate problem.
        let _ = roots.add(c.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // ring supports every safe default version; this cannot fail.
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(cfg)
}

/// Reads the PEM certificates of a `--tracker-ca` file.
pub fn load_ca_file(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, SessionError> {
    use rustls_pki_types::pem::PemObject;
    let bad = |reason: String| SessionError::Certificates {
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

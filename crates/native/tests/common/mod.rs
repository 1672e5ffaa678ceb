//! Shared set-up for the swarm tests: an in-process tracker on 127.0.0.1:0,
//! random files, torrents made from them, and loopback-only clients.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;
use webswarm_core::tracker::TrackerConfig;
use webswarm_core::{Bitfield, Metainfo};
use webswarm_native::create::{create_torrent, CreateOptions};
use webswarm_native::session::{AddOptions, Client, ClientConfig, TorrentHandle, What};
use webswarm_native::transport::webrtc_rs::RtcConfig;
use webswarm_signaling::config::Config;
use webswarm_signaling::server::{serve, App};

pub struct Tracker {
    pub url: String,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let cfg = Config {
            interval_secs: 10,
            ..Config::default()
        };
        Self::start_with(addr, cfg).await
    }

    pub async fn start_with(addr: SocketAddr, cfg: Config) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = App::new(cfg, 7).unwrap();
        let task = tokio::spawn(async move {
            let _ = serve(app, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        Tracker {
            url: format!("ws://{addr}/announce"),
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.abort();
        let _ = self.task.await;
    }
}

pub fn loopback_config() -> ClientConfig {
    ClientConfig {
        rtc: RtcConfig {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..RtcConfig::default()
        },
        tracker: TrackerConfig {
            reconnect_max: Duration::from_secs(2),
            ..TrackerConfig::default()
        },
        ..ClientConfig::default()
    }
}

/// Deterministic pseudo-random bytes (xorshift), distinct per `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes a directory `name` of files with the given sizes under `root`.
pub fn make_dir(root: &Path, name: &str, sizes: &[usize]) -> PathBuf {
    let dir = root.join(name);
    for (i, &n) in sizes.iter().enumerate() {
        let sub = if i % 2 == 0 {
            dir.clone()
        } else {
            dir.join("sub")
        };
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join(format!("file{i}.bin")),
            random_bytes(n, i as u64 + 1),
        )
        .unwrap();
    }
    dir
}

pub fn torrent_for(path: &Path, tracker: &str, piece_len: Option<u64>) -> Metainfo {
    torrent_bytes_for(path, tracker, piece_len).1
}

/// `torrent_for`, with the .torrent file's bytes.
pub fn torrent_bytes_for(
    path: &Path,
    tracker: &str,
    piece_len: Option<u64>,
) -> (Vec<u8>, Metainfo) {
    let opts = CreateOptions {
        trackers: vec![tracker.to_owned()],
        webseeds: vec![],
        piece_len,
        private: false,
    };
    create_torrent(path, &opts, &mut |_, _| {}).unwrap()
}

/// A client seeding `path` (already hashed: no re-check).
pub async fn seeder(meta: &Metainfo, path: &Path) -> (Client, TorrentHandle) {
    seeder_with(loopback_config(), meta, path).await
}

/// `seeder` with its own client settings.
pub async fn seeder_with(
    cfg: ClientConfig,
    meta: &Metainfo,
    path: &Path,
) -> (Client, TorrentHandle) {
    let client = Client::new(cfg);
    let have = Bitfield::full(meta.info.layout.num_pieces());
    let h = client
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: path.parent().unwrap().to_path_buf(),
            trackers: vec![],
            verified: Some(have),
            require_complete: false,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    (client, h)
}

pub async fn leecher(what: What, dir: &Path) -> (Client, TorrentHandle) {
    let client = Client::new(loopback_config());
    let h = client
        .add(AddOptions {
            what,
            dir: dir.to_path_buf(),
            trackers: vec![],
            verified: None,
            require_complete: false,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    (client, h)
}

/// Every file under `a` equals the one at the same place under `b`.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let mut n = 0;
    for e in walk(a) {
        let rel = e.strip_prefix(a).unwrap();
        let x = std::fs::read(&e).unwrap();
        let y = std::fs::read(b.join(rel)).unwrap_or_default();
        assert!(x == y, "{} differs", rel.display());
        n += 1;
    }
    assert!(n > 0);
}

fn walk(p: &Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    let mut v = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        v.extend(walk(&e.unwrap().path()));
    }
    v
}

/// Removes a test's directory. A client still running may be writing its
/// resume record there (saved off its event loop, then renamed into place):
/// a removal that meets the new file retries for up to 2 s.
pub fn remove_tree(dir: &Path) {
    for _ in 0..40 {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            r => return r.unwrap(),
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "webswarm-{tag}-{}-{}",
        std::process::id(),
        webswarm_native::util::random_u64()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

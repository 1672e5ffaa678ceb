//! The mainline DHT (BEP 5) through the `mainline` crate: one node per
//! client, on a UDP port of its own (uTP has the listener's number, and the
//! crate wants its socket to itself; nodes learn the port from our queries,
//! and `announce_peer` names the TCP port). A lookup
//! is one more "tracker" to discovery: core's announcer schedules it (every
//! 15 minutes, sooner while the torrent is lonely, backed off on failure),
//! and the peers it finds go into the same peer book as tracker replies.

use std::collections::HashSet;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

use futures_util::StreamExt;
use mainline::async_dht::AsyncDht;
use mainline::Id;
use webswarm_core::classic::{AnnounceError, AnnounceReply};
use webswarm_core::InfoHash;

/// The routers a node with no configured bootstrap starts from.
pub const DEFAULT_BOOTSTRAP: [&str; 4] = [
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];
/// How often a torrent looks itself up again (libtorrent's default too).
const INTERVAL: Duration = Duration::from_secs(15 * 60);
/// A lookup (or announce) that takes longer is cut short.
const LOOKUP_TIME: Duration = Duration::from_secs(30);
/// Addresses kept from one lookup.
const MAX_PEERS: usize = 500;

/// How the client's DHT node starts.
#[derive(Clone, Debug)]
pub struct DhtConfig {
    /// Nodes to join the DHT through (`host:port`).
    pub bootstrap: Vec<String>,
    /// The node's UDP port; 0 (the default): any free port.
    pub port: u16,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            bootstrap: DEFAULT_BOOTSTRAP.iter().map(|s| (*s).to_owned()).collect(),
            port: 0,
        }
    }
}

/// The client's DHT node, started by the first lookup: starting resolves
/// the bootstrap names, which blocks.
pub struct Dht {
    cfg: DhtConfig,
    node: tokio::sync::OnceCell<Option<AsyncDht>>,
}

impl std::fmt::Debug for Dht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dht").field("cfg", &self.cfg).finish()
    }
}

impl Dht {
    /// A node to be started as `cfg` says.
    pub fn new(cfg: DhtConfig) -> Dht {
        Dht {
            cfg,
            node: tokio::sync::OnceCell::new(),
        }
    }

    async fn node(&self) -> Option<&AsyncDht> {
        let start = || {
            let cfg = self.cfg.clone();
            async move {
                let node = tokio::task::spawn_blocking(move || start(&cfg))
                    .await
                    .ok()
                    .flatten()?;
                let port = node.info().await.local_addr().port();
                tracing::info!("DHT node on UDP port {port}");
                Some(node)
            }
        };
        self.node.get_or_init(start).await.as_ref()
    }

    /// Looks `info_hash` up, handing each batch of new peers to `found` as
    /// it comes, then announces us on `port` (`None`: not). The reply holds
    /// the interval only: its peers went to `found`.
    pub async fn lookup(
        &self,
        info_hash: InfoHash,
        port: Option<u16>,
        mut found: impl FnMut(Vec<SocketAddr>),
    ) -> Result<AnnounceReply, AnnounceError> {
        let no_nodes = || {
            AnnounceError::Transport(format!(
                "the DHT has no nodes (bootstrap: {})",
                self.cfg.bootstrap.join(", ")
            ))
        };
        let node = self.node().await.ok_or_else(no_nodes)?;
        if !node.bootstrapped().await {
            return Err(no_nodes());
        }
        // An info-hash is 20 bytes, as an Id is.
        let id = Id::from_bytes(info_hash.0)
            .map_err(|e| AnnounceError::Transport(format!("DHT: {e}")))?;
        let mut seen: HashSet<SocketAddrV4> = HashSet::new();
        let mut stream = node.get_peers(id);
        let walk = async {
            while let Some(batch) = stream.next().await {
                let new: Vec<SocketAddr> = batch
                    .into_iter()
                    .filter(|a| seen.len() < MAX_PEERS && seen.insert(*a))
                    .map(SocketAddr::V4)
                    .collect();
                if !new.is_empty() {
                    found(new);
                }
            }
        };
        let _ = tokio::time::timeout(LOOKUP_TIME, walk).await;
        tracing::debug!("DHT: {} peers for {}", seen.len(), info_hash.to_hex());
        if let Some(port) = port {
            match tokio::time::timeout(LOOKUP_TIME, node.announce_peer(id, Some(port))).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::debug!("DHT: announcing {}: {e}", info_hash.to_hex()),
                Err(_) => tracing::debug!("DHT: announcing {} timed out", info_hash.to_hex()),
            }
        }
        Ok(AnnounceReply {
            interval: Some(INTERVAL),
            min_interval: None,
            peers: Vec::new(),
            seeders: None,
            leechers: None,
            warning: None,
        })
    }
}

/// A node on the configured UDP port, or any port when that one is taken;
/// `None`, said in the log, when no socket can be had.
fn start(cfg: &DhtConfig) -> Option<AsyncDht> {
    let port = cfg.port;
    let build = |port: u16| {
        mainline::Dht::builder()
            .bootstrap(&cfg.bootstrap)
            .port(port)
            .build()
    };
    let node = build(port).or_else(|e| {
        tracing::warn!("DHT: cannot use UDP port {port} ({e}); using another port");
        build(0)
    });
    match node {
        Ok(n) => Some(n.as_async()),
        Err(e) => {
            tracing::error!("DHT: cannot start ({e}); torrents find peers through trackers only");
            None
        }
    }
}

//! Several tracker nodes serving one set of swarms, linked through Redis
//! pub/sub. Each node keeps its own connections and, in its shards, every
//! node's peers (remote ones marked with their node); only what crosses
//! nodes goes through Redis:
//! - membership changes (a peer joined, changed or left) on one channel
//!   that every node reads, with a heartbeat per node each second;
//! - offers and answers for a peer of another node, on that node's channel.
//!
//! Redis holds no state: a node that stops heartbeating is gone from every
//! other node's view after `node_timeout_ms`, with its peers, without any
//! cleanup; a node that (re)connects says hello and every node publishes its
//! peers again. The README explains the choice.

pub mod allow;
mod link;
mod nodes;
mod pace;
mod publisher;
pub mod wire;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::Receiver;

use crate::shard::{Clock, Crossing, Outbound, Shards};
use crate::swarm::NodeId;
pub use wire::NodeStats;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    pub redis_url: Option<String>,
    /// Channel prefix: clusters sharing one Redis need different names.
    pub name: String,
    pub heartbeat_ms: u64,
    pub node_timeout_ms: u64,
    /// A Redis set of hex info-hashes every node allows (with or beside the
    /// file allow-list), read every `allow_refresh_ms` and on SIGHUP.
    pub allow_set: Option<String>,
    pub allow_refresh_ms: u64,
    /// Batches waiting to cross to other nodes (one per announce or answer
    /// handled). Connections stop reading while it is half full and Redis
    /// is up; what finds it full is dropped and counted.
    pub queue: usize,
    /// From this many crossings a second, the link waits 1 ms to gather
    /// them into one PUBLISH (see `pace`); 0 never waits.
    pub gather_per_second: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            name: "webswarm".into(),
            heartbeat_ms: 1000,
            node_timeout_ms: 3000,
            allow_set: None,
            allow_refresh_ms: 5000,
            queue: 16_384,
            gather_per_second: pace::GATHER_PER_SECOND,
        }
    }
}

/// How the cluster link is doing, for `/stats.json`, `/metrics`, `/health`.
#[derive(Default)]
pub struct ClusterStatus {
    pub node: NodeId,
    /// Shared with the shards' [`Outbound`]: connections wait for room in
    /// the queue only while Redis is up.
    pub redis_up: Arc<AtomicBool>,
    pub dropped: Arc<AtomicU64>,
    /// Shared with the [`Outbound`]: wakes connections waiting for room.
    pub drained: Arc<tokio::sync::Notify>,
    /// Shared with the [`Outbound`]: times a connection waited for room.
    pub paused: Arc<AtomicU64>,
    pub sent: AtomicU64,
    /// Times the link waited to gather crossings (see `pace`).
    pub publish_waits: AtomicU64,
    pub received: AtomicU64,
    pub malformed: AtomicU64,
    pub reconnects: AtomicU64,
    /// Set when the node shuts down: the link says goodbye and ends.
    pub leave: tokio::sync::Notify,
    /// Other live nodes and their last reported counters.
    pub nodes: Mutex<Vec<(NodeId, NodeStats)>>,
}

/// The cluster part of `/stats.json`.
#[derive(Serialize, Debug, Clone)]
pub struct ClusterStats {
    pub node: String,
    pub redis_up: bool,
    /// Live nodes, this one included.
    pub nodes: usize,
    /// Cluster-wide sums (this node's counters plus the others' last heartbeats).
    pub connections: u64,
    pub announces: u64,
    pub offers_relayed: u64,
    pub answers_relayed: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub messages_dropped: u64,
    /// Times a connection stopped reading until the queue to Redis drained.
    pub reads_paused: u64,
    /// Times the link waited to gather more crossings into one PUBLISH
    /// (only while busy).
    pub publish_waits: u64,
    pub malformed: u64,
    /// Attempts to reach Redis again after losing it.
    pub reconnects: u64,
}

impl ClusterStatus {
    pub fn stats(&self, own: NodeStats) -> ClusterStats {
        let nodes = self.nodes.lock().map(|n| n.clone()).unwrap_or_default();
        let mut sum = own;
        for (_, s) in &nodes {
            sum.connections += s.connections;
            sum.announces += s.announces;
            sum.offers_relayed += s.offers_relayed;
            sum.answers_relayed += s.answers_relayed;
        }
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            node: format!("{:016x}", self.node),
            redis_up: self.redis_up.load(Ordering::Relaxed),
            nodes: nodes.len() + 1,
            connections: sum.connections,
            announces: sum.announces,
            offers_relayed: sum.offers_relayed,
            answers_relayed: sum.answers_relayed,
            messages_sent: n(&self.sent),
            messages_received: n(&self.received),
            messages_dropped: n(&self.dropped),
            reads_paused: n(&self.paused),
            publish_waits: n(&self.publish_waits),
            malformed: n(&self.malformed),
            reconnects: n(&self.reconnects),
        }
    }
}

/// This node's counters, as its heartbeat reports them.
pub type OwnStats = Arc<dyn Fn() -> NodeStats + Send + Sync>;

/// The queue shards send crossings into, and its receiving end for [`start`].
pub fn outbound(queue: usize) -> (Outbound, Receiver<Vec<Crossing>>) {
    let (tx, rx) = tokio::sync::mpsc::channel(queue.max(2));
    let out = Outbound {
        tx,
        dropped: Arc::new(AtomicU64::new(0)),
        redis_up: Arc::new(AtomicBool::new(false)),
        drained: Arc::new(tokio::sync::Notify::new()),
        paused: Arc::new(AtomicU64::new(0)),
    };
    (out, rx)
}

/// The link to Redis, as a task to run on the first connection thread (see
/// `threads.rs`); it reconnects (with backoff) for as long as the shards exist.
pub type LinkTask = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// The link to Redis, to be spawned where connections are served: its
/// deliveries to that thread's connections then wake no other thread (on a
/// thread of its own, thread switches were a third of the cluster's CPU).
pub fn start(
    cfg: ClusterConfig,
    url: String,
    shards: std::sync::Weak<Shards>,
    rx: Receiver<Vec<Crossing>>,
    status: Arc<ClusterStatus>,
    clock: Clock,
    own: OwnStats,
) -> LinkTask {
    let link = link::Link {
        timeout: Duration::from_millis(cfg.node_timeout_ms),
        heartbeat: Duration::from_millis(cfg.heartbeat_ms),
        bus: format!("{}:bus", cfg.name),
        gather_per_second: cfg.gather_per_second,
        prefix: cfg.name,
        url,
        shards,
        status,
        clock,
        own,
    };
    Box::pin(link.run(rx))
}

/// The link and, when the allow-list set is configured, its reader: one task.
pub fn with_allow_reader(
    link: LinkTask,
    cfg: &ClusterConfig,
    url: &str,
    list: Option<&allow::SharedAllowList>,
) -> LinkTask {
    match (list, &cfg.allow_set) {
        (Some(list), Some(key)) => {
            let every = Duration::from_millis(cfg.allow_refresh_ms);
            let reader = allow::reader(list, url.to_owned(), key.clone(), every);
            // The reader runs as long as the node's access rules; the
            // link ends when the node leaves, and takes the reader with it.
            Box::pin(async move {
                tokio::select! {
                    () = link => {}
                    () = reader => {}
                }
            })
        }
        _ => link,
    }
}

//! Tracker configuration: a TOML file (unknown fields are refused) overlaid by
//! command-line flags. `webswarm-tracker --print-config` prints every field
//! with its default and meaning.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::access::AccessConfig;
use crate::cluster::ClusterConfig;
use crate::connection::ConnLimits;
use crate::swarm::SwarmLimits;
use crate::turn::TurnConfig;

/// Every field with its default; parsed in a test so it cannot drift.
pub const DEFAULT_TOML: &str = r#"# webswarm-tracker configuration. Every field is optional.

# Address and port to listen on (HTTP and WebSocket on the same port).
bind = "127.0.0.1:8000"
# Threads serving connections; each keeps the connections it accepted and
# handles their messages. 0: one per core.
threads = 0
# Torrents are spread by info-hash over this many shards, each with its own
# lock (no lock is shared by every announce). 0: one per core.
shards = 0
# Seconds between announces that clients are told to wait.
interval_secs = 120
# Seconds without an announce after which a peer leaves its swarms.
peer_timeout_secs = 180
# Seconds during which a relayed offer may be answered.
offer_timeout_secs = 60
# Largest WebSocket message accepted, in bytes; larger ones close the socket (1009).
max_message_bytes = 65536
# Offers relayed per announce; extra offers are ignored.
max_offers_per_announce = 10
# Torrents one connection may join; an announce for one more gets a failure
# reply ("too many torrents on this connection"). A torrent new to the
# tracker costs about 1.3-1.7 KB of memory (measured: one connection, 10,000).
max_torrents_per_connection = 5000
# Info-hashes one scrape may name.
max_scrape_hashes = 255
# Announces per second one connection may send (sustained), and the burst allowed.
announces_per_second = 10.0
announce_burst = 50.0
# Open WebSocket connections; more are refused with HTTP 503.
max_connections = 10000
# Messages waiting to be written to one connection; a client that lets its
# queue fill up is disconnected (close code 1008, "send queue full").
send_queue = 256
# Proxies whose X-Forwarded-For header names the real client address.
trusted_proxies = []

# Access control; every rule is optional and the default is open.
# Only these torrents: a file with one hex info-hash per line (# comments);
# reloaded on SIGHUP (a file with an error keeps the old list).
# allow_list = "/etc/webswarm/allowed.txt"
# Signed tokens required (`?token=…` in the tracker URL): the HMAC-SHA256
# secret, in a file of its own. See `webswarm-tracker token --help`.
# token_secret_file = "/etc/webswarm/token.secret"
# Pages allowed to connect (their Origin header), e.g. ["https://example.com"].
# Empty: any. Clients that send no Origin (native peers) are not refused.
allowed_origins = []
# Connections one client address may hold; 0: no cap.
max_connections_per_ip = 0
# Serve wss:// directly: PEM certificate chain and private key (both or neither).
# tls_cert = "/etc/webswarm/fullchain.pem"
# tls_key = "/etc/webswarm/privkey.pem"

# Short-lived TURN credentials for pages at /turn-credentials (coturn's REST
# scheme: `use-auth-secret` and `static-auth-secret` in turnserver.conf, the
# same secret here). Pages of `allowed_origins` (any, when empty) may fetch
# them. Without secret_file the endpoint answers 404.
[turn]
# secret_file = "/etc/webswarm/turn.secret"
# urls = ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]
urls = []
# Seconds a credential stays good.
ttl_secs = 3600

# Several nodes serving one set of swarms, linked through Redis (a single
# server, or any node of a Redis Cluster: only pub/sub is used). Without
# redis_url this node runs alone.
[cluster]
# redis_url = "redis://127.0.0.1:6379/"
# Channel prefix: clusters sharing one Redis need different names.
name = "webswarm"
# Each node says it is alive this often; a node silent for node_timeout_ms is
# gone, and its peers leave every other node's view.
heartbeat_ms = 1000
node_timeout_ms = 3000
# Only these torrents, cluster-wide: a Redis set of hex info-hashes
# (`SADD webswarm:allowed <info-hash>`), read by every node every
# allow_refresh_ms and on SIGHUP. Allowed: on this set or on allow_list. A node
# that has not read the set yet refuses torrents not on allow_list.
# allow_set = "webswarm:allowed"
allow_refresh_ms = 5000
# Batches of messages waiting to be published to Redis (one per announce or
# answer handled). Connections stop reading while it is half full, so a node
# that falls behind its cluster slows its clients instead of losing their
# offers; what finds it full (Redis down) is dropped and counted.
queue = 16384
# From this many messages a second crossing to other nodes (over the last
# 100 ms), the node waits 1 ms before each publish to gather them: fewer
# PUBLISH commands, so less CPU for the node, Redis and the receiving node,
# for up to ~2 ms more relay latency while that busy. 0: never wait.
gather_per_second = 4000
"#;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub bind: SocketAddr,
    pub threads: usize,
    pub shards: usize,
    pub interval_secs: u64,
    pub peer_timeout_secs: u64,
    pub offer_timeout_secs: u64,
    pub max_message_bytes: usize,
    pub max_offers_per_announce: usize,
    pub max_torrents_per_connection: usize,
    pub max_scrape_hashes: usize,
    pub announces_per_second: f64,
    pub announce_burst: f64,
    pub max_connections: usize,
    pub send_queue: usize,
    pub trusted_proxies: Vec<IpAddr>,
    pub allow_list: Option<PathBuf>,
    pub token_secret_file: Option<PathBuf>,
    pub allowed_origins: Vec<String>,
    pub max_connections_per_ip: usize,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub cluster: ClusterConfig,
    pub turn: TurnConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            threads: 0,
            shards: 0,
            interval_secs: 120,
            peer_timeout_secs: 180,
            offer_timeout_secs: 60,
            max_message_bytes: 64 * 1024,
            max_offers_per_announce: 10,
            max_torrents_per_connection: 5000,
            max_scrape_hashes: 255,
            announces_per_second: 10.0,
            announce_burst: 50.0,
            max_connections: 10_000,
            send_queue: 256,
            trusted_proxies: Vec::new(),
            allow_list: None,
            token_secret_file: None,
            allowed_origins: Vec::new(),
            max_connections_per_ip: 0,
            tls_cert: None,
            tls_key: None,
            cluster: ClusterConfig::default(),
            turn: TurnConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(&'static str),
}

impl Config {
    pub fn from_toml(text: &str, path: PathBuf) -> Result<Self, ConfigError> {
        let c: Config =
            toml::from_str(text).map_err(|source| ConfigError::Parse { path, source })?;
        c.check()
    }

    pub fn load(path: PathBuf) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    pub fn check(self) -> Result<Self, ConfigError> {
        if self.send_queue == 0 {
            return Err(ConfigError::Invalid("send_queue must be at least 1"));
        }
        if self.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_message_bytes must be at least 1024",
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key must be given together",
            ));
        }
        if self.cluster.allow_set.is_some() && self.cluster.redis_url.is_none() {
            return Err(ConfigError::Invalid(
                "cluster.allow_set needs cluster.redis_url (the set lives in Redis)",
            ));
        }
        if self.cluster.queue < 2 {
            return Err(ConfigError::Invalid("cluster.queue must be at least 2"));
        }
        if self.cluster.allow_refresh_ms == 0 {
            return Err(ConfigError::Invalid(
                "cluster.allow_refresh_ms must be at least 1",
            ));
        }
        if !(self.announces_per_second > 0.0 && self.announce_burst >= 1.0) {
            return Err(ConfigError::Invalid(
                "announces_per_second must be > 0 and announce_burst >= 1",
            ));
        }
        Ok(self)
    }

    pub fn swarm_limits(&self) -> SwarmLimits {
        SwarmLimits {
            interval: Duration::from_secs(self.interval_secs),
            peer_timeout: Duration::from_secs(self.peer_timeout_secs),
            offer_timeout: Duration::from_secs(self.offer_timeout_secs),
            max_offers_per_announce: self.max_offers_per_announce,
        }
    }

    pub fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            max_torrents: self.max_torrents_per_connection,
            max_scrape_hashes: self.max_scrape_hashes,
            announces_per_second: self.announces_per_second,
            announce_burst: self.announce_burst,
        }
    }

    pub fn access(&self) -> AccessConfig {
        AccessConfig {
            allow_list: self.allow_list.clone(),
            token_secret_file: self.token_secret_file.clone(),
            allowed_origins: self.allowed_origins.clone(),
            max_connections_per_ip: self.max_connections_per_ip,
            allow_set: self.cluster.allow_set.is_some(),
        }
    }

    /// `threads`, with 0 meaning one per core.
    pub fn thread_count(&self) -> usize {
        per_core(self.threads)
    }

    /// `shards`, with 0 meaning one per core.
    pub fn shard_count(&self) -> usize {
        per_core(self.shards)
    }
}

fn per_core(n: usize) -> usize {
    match n {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults_are_the_defaults() {
        assert_eq!(
            Config::from_toml(DEFAULT_TOML, "default".into()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let e = Config::from_toml("bnid = \"127.0.0.1:1\"", "x.toml".into()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(Config::from_toml("send_queue = 0", "x.toml".into()).is_err());
        let c = Config::from_toml(
            "bind = \"127.0.0.1:9\"\ntrusted_proxies = [\"10.0.0.1\"]",
            "x.toml".into(),
        )
        .unwrap();
        assert_eq!(c.bind.port(), 9);
    }
}

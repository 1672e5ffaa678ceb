//! The cluster's allow-list: a Redis set of hex info-hashes that every node
//! reads, so one `SADD` admits a torrent on every node. Each node keeps a copy
//! in memory and reads the whole set again every `allow_refresh_ms` and on
//! SIGHUP: the announce path never waits for Redis, and a node that loses
//! Redis keeps its last copy. A node that has never read the set refuses
//! every torrent not on its file allow-list (fail closed: the list exists to
//! keep strangers out).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::timeout;
use webswarm_tracker_proto::InfoHash;

/// A read of the set that takes longer than this failed.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between attempts while Redis is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// This node's copy of the set, shared by the access rules and the reader.
#[derive(Clone, Default)]
pub struct SharedAllowList(Arc<Shared>);

#[derive(Default)]
struct Shared {
    set: RwLock<Option<Arc<HashSet<InfoHash>>>>,
    reread: Notify,
    counters: AllowSetCounters,
}

/// How the reads went, for `/stats.json` and `/metrics`.
#[derive(Default)]
pub struct AllowSetCounters {
    pub loaded: AtomicBool,
    pub entries: AtomicU64,
    pub reads: AtomicU64,
    pub failed_reads: AtomicU64,
    /// Members of the set that are not 40-digit hex info-hashes (last read).
    pub malformed: AtomicU64,
}

/// The allow-set part of `/stats.json`.
#[derive(serde::Serialize, Debug, Clone, Default)]
pub struct AllowSetStats {
    pub loaded: bool,
    pub entries: u64,
    pub reads: u64,
    pub failed_reads: u64,
    pub malformed: u64,
}

impl SharedAllowList {
    /// Whether `ih` is on the set: `None` until the set was read once.
    pub fn contains(&self, ih: &InfoHash) -> Option<bool> {
        let set = self.0.set.read().unwrap_or_else(|e| e.into_inner());
        set.as_ref().map(|s| s.contains(ih))
    }

    /// Asks the reader to read the set now (SIGHUP).
    pub fn reread(&self) {
        self.0.reread.notify_one();
    }

    pub fn stats(&self) -> AllowSetStats {
        let c = &self.0.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AllowSetStats {
            loaded: c.loaded.load(Ordering::Relaxed),
            entries: n(&c.entries),
            reads: n(&c.reads),
            failed_reads: n(&c.failed_reads),
            malformed: n(&c.malformed),
        }
    }

    pub(crate) fn store(&self, set: HashSet<InfoHash>, malformed: u64) {
        let c = &self.0.counters;
        c.entries.store(set.len() as u64, Ordering::Relaxed);
        c.malformed.store(malformed, Ordering::Relaxed);
        c.reads.fetch_add(1, Ordering::Relaxed);
        c.loaded.store(true, Ordering::Relaxed);
        *self.0.set.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(set));
    }

    fn downgrade(&self) -> Weak<Shared> {
        Arc::downgrade(&self.0)
    }
}

/// Parses the set's members: 40 hex digits each (either case); the rest are
/// counted and skipped, so one bad `SADD` does not lock every torrent out.
pub fn parse_members(members: &[Vec<u8>]) -> (HashSet<InfoHash>, u64) {
    let mut set = HashSet::with_capacity(members.len());
    let mut bad = 0;
    for m in members {
        let ih = std::str::from_utf8(m)
            .ok()
            .and_then(|s| webswarm_core::hex_decode(s.trim()))
            .and_then(|b| <[u8; 20]>::try_from(b).ok());
        match ih {
            Some(b) => {
                set.insert(InfoHash(b));
            }
            None => bad += 1,
        }
    }
    (set, bad)
}

/// Reads the set `key` from Redis every `every` (and when asked), for as long
/// as the node keeps its copy (the task holds it weakly).
pub fn reader(
    list: &SharedAllowList,
    url: String,
    key: String,
    every: Duration,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let weak = list.downgrade();
    async move { run(weak, url, key, every).await }
}

async fn run(weak: Weak<Shared>, url: String, key: String, every: Duration) {
    let mut source = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let list = SharedAllowList(shared);
        let wait = match read(&url, &key, &mut source).await {
            Ok(members) => {
                let (set, bad) = parse_members(&members);
                if bad > 0 {
                    tracing::warn!("allow-list set {key}: {bad} members are not hex info-hashes");
                }
                let before = list.stats();
                if !before.loaded || before.entries != set.len() as u64 {
                    tracing::info!("allow-list set {key}: {} info-hashes", set.len());
                }
                list.store(set, bad);
                backoff = Duration::from_millis(100);
                every
            }
            Err(e) => {
                let c = &list.0.counters;
                if c.failed_reads.fetch_add(1, Ordering::Relaxed) == 0 || backoff == MAX_BACKOFF {
                    tracing::warn!("cannot read allow-list set {key} ({e}): keeping the last copy");
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff.min(every)
            }
        };
        let reread = list.0.clone();
        drop(list);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = reread.reread.notified() => {}
        }
    }
}

/// Where the set is read from: the configured server, or the node of a
/// Redis Cluster that answered MOVED for the set's slot.
struct Source {
    info: redis::ConnectionInfo,
    conn: Option<redis::aio::MultiplexedConnection>,
}

impl Source {
    fn new(url: &str) -> Result<Self, String> {
        let info =
            redis::IntoConnectionInfo::into_connection_info(url).map_err(|e| e.to_string())?;
        Ok(Source { info, conn: None })
    }

    async fn smembers(&mut self, key: &str) -> redis::RedisResult<Vec<Vec<u8>>> {
        let c = match &mut self.conn {
            Some(c) => c,
            None => {
                let client = redis::Client::open(self.info.clone())?;
                self.conn
                    .insert(client.get_multiplexed_async_connection().await?)
            }
        };
        redis::cmd("SMEMBERS").arg(key).query_async(c).await
    }

    /// Follows a Redis Cluster's MOVED (once per read): the same
    /// credentials, the node that holds the key.
    fn redirect(&mut self, e: &redis::RedisError) -> bool {
        let Some((addr, _slot)) = e.redirect_node() else {
            return false;
        };
        let Some((host, port)) = addr.rsplit_once(':') else {
            return false;
        };
        let Ok(port) = port.parse() else { return false };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        self.info.addr = match &self.info.addr {
            redis::ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => redis::ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => redis::ConnectionAddr::Tcp(host, port),
        };
        self.conn = None;
        true
    }
}

async fn read(url: &str, key: &str, source: &mut Option<Source>) -> Result<Vec<Vec<u8>>, String> {
    let work = async {
        let src = match source {
            Some(s) => s,
            None => source.insert(Source::new(url)?),
        };
        match src.smembers(key).await {
            Err(e) if src.redirect(&e) => {
                tracing::info!("allow-list set {key} is on {:?} (MOVED)", src.info.addr);
                src.smembers(key).await.map_err(|e| e.to_string())
            }
            r => r.map_err(|e| e.to_string()),
        }
    };
    match timeout(READ_TIMEOUT, work).await {
        Ok(Ok(m)) => Ok(m),
        // Start again from the configured server: a cluster may have moved
        // the set since.
        Ok(Err(e)) => {
            *source = None;
            Err(e)
        }
        Err(_) => {
            *source = None;
            Err("timed out".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_that_are_not_info_hashes_are_skipped_and_counted() {
        let good = "0123456789abcdef0123456789ABCDEF01234567";
        let members: Vec<Vec<u8>> = [good, "nope", "0123", "", &good.to_lowercase()]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .chain([vec![0xff; 40]])
            .collect();
        let (set, bad) = parse_members(&members);
        assert_eq!(set.len(), 1);
        assert_eq!(bad, 4);
    }

    #[test]
    fn an_unread_set_says_so_and_a_read_one_answers() {
        let list = SharedAllowList::default();
        let ih = InfoHash([7; 20]);
        assert_eq!(list.contains(&ih), None);
        list.store([ih].into_iter().collect(), 0);
        assert_eq!(list.contains(&ih), Some(true));
        assert_eq!(list.contains(&InfoHash([8; 20])), Some(false));
        assert!(list.stats().loaded);
        assert_eq!(list.stats().entries, 1);
    }
}

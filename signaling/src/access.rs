//! Who may use the tracker. Each rule is optional and the default is open:
//! - an allow-list of info-hashes (a file of hex info-hashes, reloaded on SIGHUP;
//!   in a cluster also, or instead, a Redis set every node reads: [`crate::cluster::allow`]);
//! - signed announce tokens ([`crate::token`]) in the tracker URL's query string;
//! - an allow-list of page origins for WebSockets opened by browsers;
//! - a cap on connections per client address.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use webswarm_tracker_proto::InfoHash;

use crate::cluster::allow::SharedAllowList;
use crate::refusal::Refusal;
use crate::token::{self, Grant, Scope};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read allow-list {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("allow-list {path}, line {line}: {text:?} is not a 40-digit hex info-hash")]
    Line {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("cannot read secret {path}: {source}")]
    Secret {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret {0} is empty")]
    EmptySecret(PathBuf),
}

/// The access rules in force.
pub struct Access {
    allow_file: Option<PathBuf>,
    allow: RwLock<Option<Arc<HashSet<InfoHash>>>>,
    shared: Option<SharedAllowList>,
    secret: Option<Vec<u8>>,
    origins: Vec<String>,
    per_ip: Option<IpCounts>,
}

/// How the rules are configured (from [`crate::config::Config`]).
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    pub allow_list: Option<PathBuf>,
    pub token_secret_file: Option<PathBuf>,
    pub allowed_origins: Vec<String>,
    pub max_connections_per_ip: usize,
    /// The cluster's allow-list set is configured (its copy is filled by the
    /// cluster link).
    pub allow_set: bool,
}

/// Parses an allow-list: one hex info-hash per line; blank lines and
/// `#` comments are ignored.
/// A secret kept in a file of its own, without the trailing newline an
/// editor or `echo` leaves.
pub(crate) fn read_secret(p: &Path) -> Result<Vec<u8>, AccessError> {
    let s = std::fs::read(p).map_err(|source| AccessError::Secret {
        path: p.to_owned(),
        source,
    })?;
    let s = s.trim_ascii().to_vec();
    if s.is_empty() {
        return Err(AccessError::EmptySecret(p.to_owned()));
    }
    Ok(s)
}

pub fn parse_allow_list(path: &Path, text: &str) -> Result<HashSet<InfoHash>, AccessError> {
    let mut set = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let bytes = webswarm_core::hex_decode(entry).and_then(|b| <[u8; 20]>::try_from(b).ok());
        match bytes {
            Some(b) => set.insert(InfoHash(b)),
            None => {
                return Err(AccessError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    text: entry.to_owned(),
                })
            }
        };
    }
    Ok(set)
}

fn read_allow_list(path: &Path) -> Result<HashSet<InfoHash>, AccessError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_allow_list(path, &text)
}

impl Access {
    pub fn open() -> Self {
        Access {
            allow_file: None,
            allow: RwLock::new(None),
            shared: None,
            secret: None,
            origins: Vec::new(),
            per_ip: None,
        }
    }

    pub fn load(cfg: &AccessConfig) -> Result<Self, AccessError> {
        let allow = match &cfg.allow_list {
            Some(p) => Some(Arc::new(read_allow_list(p)?)),
            None => None,
        };
        let secret = match &cfg.token_secret_file {
            Some(p) => Some(read_secret(p)?),
            None => None,
        };
        Ok(Access {
            allow_file: cfg.allow_list.clone(),
            allow: RwLock::new(allow),
            shared: cfg.allow_set.then(SharedAllowList::default),
            secret,
            origins: cfg
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
            per_ip: (cfg.max_connections_per_ip > 0)
                .then(|| IpCounts::new(cfg.max_connections_per_ip)),
        })
    }

    /// The cluster's allow-list set, when configured.
    pub fn shared(&self) -> Option<&SharedAllowList> {
        self.shared.as_ref()
    }

    /// Reads the allow-list file again; on error the old list stays.
    /// Returns the number of info-hashes now allowed (`None`: no list).
    /// The cluster's set, if any, is read again too (in the background).
    pub fn reload(&self) -> Result<Option<usize>, AccessError> {
        if let Some(s) = &self.shared {
            s.reread();
        }
        let Some(path) = &self.allow_file else {
            return Ok(None);
        };
        let set = read_allow_list(path)?;
        let n = set.len();
        *self.allow.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(set));
        Ok(Some(n))
    }

    /// Checks a new connection: its page's origin (browsers send one; other
    /// clients can claim any, so its absence is no reason to refuse), its
    /// token and its address. The guard holds the address's slot.
    pub fn admit(
        &self,
        origin: Option<&str>,
        token: Option<&str>,
        ip: IpAddr,
    ) -> Result<(Option<Grant>, Option<IpGuard>), Refusal> {
        if let Some(o) = origin.filter(|o| !self.origin_allowed(Some(o))) {
            return Err(Refusal::Origin(o.trim_end_matches('/').to_owned()));
        }
        let grant = match (&self.secret, token) {
            (None, _) => None,
            (Some(_), None) => return Err(Refusal::TokenMissing),
            (Some(secret), Some(t)) => {
                Some(token::verify(secret, t).map_err(Refusal::TokenInvalid)?)
            }
        };
        let guard = match &self.per_ip {
            Some(c) => Some(c.acquire(ip)?),
            None => None,
        };
        Ok((grant, guard))
    }

    /// Whether a page of this origin may use the tracker (no Origin header:
    /// not a page, nothing to check).
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        origin.is_none_or(|o| {
            let o = o.trim_end_matches('/');
            self.origins.is_empty() || self.origins.iter().any(|a| a == o)
        })
    }

    /// Checks an announce (`scrape: false`) or a scrape of one torrent.
    pub fn check(
        &self,
        grant: Option<&Grant>,
        ih: &InfoHash,
        scrape: bool,
        now_unix: u64,
    ) -> Result<(), Refusal> {
        if let Some(g) = grant {
            if now_unix > g.expires_unix {
                return Err(Refusal::TokenExpired);
            }
            if g.info_hash.is_some_and(|t| t != *ih) {
                return Err(Refusal::TokenOtherTorrent);
            }
            if !scrape && g.scope != Scope::Announce {
                return Err(Refusal::TokenScope);
            }
        }
        let allow = self.allow.read().unwrap_or_else(|e| e.into_inner());
        let in_file = allow.as_ref().map(|set| set.contains(ih));
        let in_set = self.shared.as_ref().map(|s| s.contains(ih));
        match (in_file, in_set) {
            (None, None) | (Some(true), _) | (_, Some(Some(true))) => Ok(()),
            (_, Some(None)) => Err(Refusal::AllowListUnread),
            _ => Err(Refusal::NotAllowed),
        }
    }
}

/// Connections per client address, capped.
struct IpCounts {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's slot for its address; released when dropped.
pub struct IpGuard {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl IpCounts {
    fn new(cap: usize) -> Self {
        IpCounts {
            cap,
            open: Arc::default(),
        }
    }

    fn acquire(&self, ip: IpAddr) -> Result<IpGuard, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.cap {
            return Err(Refusal::TooManyFromIp(self.cap));
        }
        *n += 1;
        Ok(IpGuard {
            ip,
            open: self.open.clone(),
        })
    }
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    fn ih(b: u8) -> InfoHash {
        InfoHash([b; 20])
    }

    fn with(cfg: AccessConfig, files: &[(&str, &str)]) -> (Access, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        for (name, text) in files {
            std::fs::write(dir.0.join(name), text).unwrap();
        }
        let cfg = AccessConfig {
            allow_list: cfg.allow_list.map(|p| dir.0.join(p)),
            token_secret_file: cfg.token_secret_file.map(|p| dir.0.join(p)),
            ..cfg
        };
        (Access::load(&cfg).unwrap(), dir)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = std::env::temp_dir().join(format!("ws-access-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn open_by_default() {
        let a = Access::open();
        let (grant, guard) = a.admit(Some("https://any.example"), None, IP).unwrap();
        assert!(grant.is_none() && guard.is_none());
        assert_eq!(a.check(None, &ih(1), false, 0), Ok(()));
    }

    #[test]
    fn the_file_and_the_clusters_set_each_allow_and_an_unread_set_refuses_the_rest() {
        let cfg = AccessConfig {
            allow_list: Some("allow.txt".into()),
            allow_set: true,
            ..AccessConfig::default()
        };
        let file = webswarm_core::hex_encode(&[1; 20]);
        let (a, _dir) = with(cfg, &[("allow.txt", &file)]);
        assert_eq!(a.check(None, &ih(1), false, 0), Ok(()));
        assert_eq!(
            a.check(None, &ih(2), false, 0),
            Err(Refusal::AllowListUnread)
        );
        let set = a.shared().expect("the set is configured");
        set.store([ih(2)].into_iter().collect(), 0);
        assert_eq!(a.check(None, &ih(1), false, 0), Ok(()));
        assert_eq!(a.check(None, &ih(2), false, 0), Ok(()));
        assert_eq!(a.check(None, &ih(3), false, 0), Err(Refusal::NotAllowed));
        // The set alone, no file.
        let only_set = Access::load(&AccessConfig {
            allow_set: true,
            ..AccessConfig::default()
        })
        .unwrap();
        assert_eq!(
            only_set.check(None, &ih(1), true, 0),
            Err(Refusal::AllowListUnread)
        );
    }

    #[test]
    fn the_allow_list_is_reloaded_and_a_bad_file_keeps_the_old_one() {
        let list = format!("# ours\n{}\n\n", webswarm_core::hex_encode(&[1; 20]));
        let cfg = AccessConfig {
            allow_list: Some("allow.txt".into()),
            ..AccessConfig::default()
        };
        let (a, dir) = with(cfg, &[("allow.txt", &list)]);
        assert_eq!(a.check(None, &ih(1), false, 0), Ok(()));
        assert_eq!(a.check(None, &ih(2), true, 0), Err(Refusal::NotAllowed));
        let two = format!("{list}{}  # added\n", webswarm_core::hex_encode(&[2; 20]));
        std::fs::write(dir.0.join("allow.txt"), two).unwrap();
        assert_eq!(a.reload().unwrap(), Some(2));
        assert_eq!(a.check(None, &ih(2), false, 0), Ok(()));
        std::fs::write(dir.0.join("allow.txt"), "not hex\n").unwrap();
        let e = a.reload().unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("not hex"), "{e}");
        assert_eq!(a.check(None, &ih(2), false, 0), Ok(()), "old list kept");
    }

    #[test]
    fn tokens_are_required_checked_and_scoped() {
        let cfg = AccessConfig {
            token_secret_file: Some("secret".into()),
            ..AccessConfig::default()
        };
        let (a, _dir) = with(cfg, &[("secret", "s3cret\n")]);
        assert_eq!(a.admit(None, None, IP).err(), Some(Refusal::TokenMissing));
        let forged = token::issue(b"guess", Some(&ih(1)), 100, Scope::Announce);
        assert!(matches!(
            a.admit(None, Some(&forged), IP),
            Err(Refusal::TokenInvalid(_))
        ));
        let t = token::issue(b"s3cret", Some(&ih(1)), 100, Scope::Announce);
        let (grant, _) = a.admit(None, Some(&t), IP).unwrap();
        let g = grant.as_ref();
        assert_eq!(a.check(g, &ih(1), false, 100), Ok(()));
        assert_eq!(a.check(g, &ih(1), false, 101), Err(Refusal::TokenExpired));
        assert_eq!(
            a.check(g, &ih(2), true, 50),
            Err(Refusal::TokenOtherTorrent)
        );
        let s = token::issue(b"s3cret", None, 100, Scope::Scrape);
        let (grant, _) = a.admit(None, Some(&s), IP).unwrap();
        assert_eq!(a.check(grant.as_ref(), &ih(9), true, 50), Ok(()));
        assert_eq!(
            a.check(grant.as_ref(), &ih(9), false, 50),
            Err(Refusal::TokenScope)
        );
    }

    #[test]
    fn origins_and_connections_per_address() {
        let cfg = AccessConfig {
            allowed_origins: vec!["https://site.example/".into()],
            max_connections_per_ip: 2,
            ..AccessConfig::default()
        };
        let (a, _dir) = with(cfg, &[]);
        assert!(a.admit(Some("https://site.example"), None, IP).is_ok());
        assert_eq!(
            a.admit(Some("https://evil.example"), None, IP).err(),
            Some(Refusal::Origin("https://evil.example".into()))
        );
        let first = a.admit(None, None, IP).unwrap();
        let _second = a.admit(None, None, IP).unwrap();
        assert_eq!(
            a.admit(None, None, IP).err(),
            Some(Refusal::TooManyFromIp(2))
        );
        let other: IpAddr = "203.0.113.1".parse().unwrap();
        assert!(a.admit(None, None, other).is_ok(), "another address");
        drop(first);
        assert!(
            a.admit(None, None, IP).is_ok(),
            "a closed connection frees its slot"
        );
    }
}

//! The axum layer: WebSocket upgrades (served in [`crate::socket`]), the
//! swarm shards ([`crate::shard`]) behind them; `/stats.json`, `/metrics` and
//! `/health` on the same port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};

use crate::handoff::Accepted;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::access::{Access, AccessError};
use crate::cluster::{self, ClusterStatus, NodeStats};
use crate::config::Config;
use crate::connection::ConnLimits;
use crate::refusal::{Refusal, RefusalCounts};
use crate::shard::{Clock, Shards};
use crate::stats::Stats;
use crate::swarm::ConnId;

/// The tracker: connection limits and counters here, swarms in the shards.
pub struct App {
    pub(crate) cfg: Config,
    pub(crate) shards: Arc<Shards>,
    pub(crate) clock: Clock,
    pub(crate) conn_limits: ConnLimits,
    pub(crate) access: Access,
    turn: Option<crate::turn::Turn>,
    next_id: AtomicU64,
    pub(crate) open: Arc<AtomicUsize>,
    pub(crate) cluster: Option<Arc<ClusterStatus>>,
    /// The Redis link, until `serve` runs it on a connection thread.
    cluster_task: std::sync::Mutex<Option<cluster::LinkTask>>,
    pub(crate) counters: AppCounters,
}

/// What connections count outside the shards.
#[derive(Default)]
pub(crate) struct AppCounters {
    pub refused_connections: AtomicU64,
    pub slow_closed: AtomicU64,
    pub messages_out: AtomicU64,
    /// Connections moved to the thread that owns their first torrent.
    pub moved: AtomicU64,
    /// Connections, announces and scrapes refused, by kind.
    pub refusals: RefusalCounts,
    /// Malformed messages.
    pub bad_messages: AtomicU64,
}

impl App {
    /// `cfg.shards` empty shards; fails if an access-control file cannot be read.
    pub fn new(cfg: Config, seed: u64) -> Result<Arc<Self>, AccessError> {
        let access = Access::load(&cfg.access())?;
        let turn = crate::turn::Turn::load(&cfg.turn)?;
        let clock = Clock::start();
        let url = cfg.cluster.redis_url.clone();
        let (outbound, crossings) = match url {
            Some(_) => {
                let (tx, rx) = cluster::outbound(cfg.cluster.queue);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let cluster = outbound.as_ref().map(|o| {
            Arc::new(ClusterStatus {
                node: new_node_id(seed),
                dropped: o.dropped.clone(),
                redis_up: o.redis_up.clone(),
                drained: o.drained.clone(),
                paused: o.paused.clone(),
                ..ClusterStatus::default()
            })
        });
        let shards = Arc::new(Shards::start(
            cfg.shard_count(),
            cfg.swarm_limits(),
            cfg.send_queue,
            seed,
            clock,
            outbound,
        ));
        let app = Arc::new(App {
            conn_limits: cfg.conn_limits(),
            access,
            turn,
            cfg,
            shards,
            clock,
            next_id: AtomicU64::new(1),
            open: Arc::new(AtomicUsize::new(0)),
            counters: AppCounters::default(),
            cluster,
            cluster_task: std::sync::Mutex::new(None),
        });
        if let (Some(url), Some(rx), Some(status)) = (url, crossings, &app.cluster) {
            // Weak: the link must not keep the shards (and itself) alive.
            let (shards, open) = (Arc::downgrade(&app.shards), app.open.clone());
            let own: cluster::OwnStats = Arc::new(move || {
                shards
                    .upgrade()
                    .map_or_else(NodeStats::default, |s| own_stats(&s, &open))
            });
            let link = cluster::start(
                app.cfg.cluster.clone(),
                url.clone(),
                Arc::downgrade(&app.shards),
                rx,
                status.clone(),
                clock,
                own,
            );
            let task =
                cluster::with_allow_reader(link, &app.cfg.cluster, &url, app.access.shared());
            *app.cluster_task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        }
        Ok(app)
    }

    /// Whether this node is cut off from its cluster (for `/health`).
    pub fn redis_down(&self) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| !c.redis_up.load(Ordering::Relaxed))
    }

    /// Reads the allow-list again (SIGHUP): the number of info-hashes now
    /// allowed, `None` without a list.
    pub fn reload_access(&self) -> Result<Option<usize>, AccessError> {
        self.access.reload()
    }

    pub(crate) fn next_conn(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn stats(&self) -> Stats {
        let r = self.shards.report();
        let c = &self.counters;
        let mut swarm = r.counters;
        let refusals = c.refusals.snapshot();
        let refused: u64 = refusals.iter().map(|(_, n)| n).sum();
        swarm.failures += refused + c.bad_messages.load(Ordering::Relaxed);
        Stats {
            torrents: r.torrents,
            seeders: r.seeders,
            leechers: r.leechers,
            connections: self.open.load(Ordering::Relaxed),
            shards: self.shards.count(),
            messages_out: r.messages_out + c.messages_out.load(Ordering::Relaxed),
            slow_clients_closed: r.slow_closed + c.slow_closed.load(Ordering::Relaxed),
            refused_connections: c.refused_connections.load(Ordering::Relaxed),
            connections_moved: c.moved.load(Ordering::Relaxed),
            refusals: refusals.into_iter().collect(),
            swarm,
            uptime_secs: self.clock.uptime().as_secs(),
            cluster: self
                .cluster
                .as_ref()
                .map(|c| c.stats(own_stats(&self.shards, &self.open))),
            allow_set: self.access.shared().map(|s| s.stats()),
        }
    }
}

/// A node's id for its lifetime: distinct across machines (wall clock in
/// nanoseconds, process id) and across nodes of one process (a counter).
/// It used to be seed ^ pid ^ microseconds since the node's own start, which
/// is 0 for every node a test process starts: two nodes with one id took
/// each other's messages for their own echo.
fn new_node_id(seed: u64) -> crate::swarm::NodeId {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut r = webswarm_core::Rng::new(
        seed ^ nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    r.next_u64()
}

fn own_stats(shards: &Shards, open: &AtomicUsize) -> NodeStats {
    let r = shards.report();
    NodeStats {
        connections: open.load(Ordering::Relaxed) as u64,
        announces: r.counters.announces,
        offers_relayed: r.counters.offers_relayed,
        answers_relayed: r.counters.answers_relayed,
    }
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/stats.json",
            get(|State(app): State<Arc<App>>| async move { Json(app.stats()) }),
        )
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move { app.stats().prometheus() }),
        )
        .route(
            "/health",
            get(|State(app): State<Arc<App>>| async move {
                match app.redis_down() {
                    false => "ok\n",
                    true => "degraded: Redis unreachable, serving local swarms only\n",
                }
            }),
        )
        .route("/turn-credentials", get(turn_credentials))
        // Any other path takes WebSocket announces, as the reference tracker does.
        .fallback(get(upgrade))
        .with_state(app)
}

/// Fresh TURN credentials for a page of an allowed origin (CORS: pages on
/// other origins fetch them too).
async fn turn_credentials(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(turn) = &app.turn else {
        return (StatusCode::NOT_FOUND, "no TURN server configured\n").into_response();
    };
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    if !app.access.origin_allowed(origin) {
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (
        [
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                origin.unwrap_or("*").to_owned(),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::VARY, "origin".to_owned()),
        ],
        Json(turn.mint(now)),
    )
        .into_response()
}

fn client_addr(app: &App, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
    if !app.cfg.trusted_proxies.contains(&peer.ip()) {
        return peer;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next_back())
        .and_then(|ip| ip.trim().parse().ok())
        .map_or(peer, |ip| SocketAddr::new(ip, 0))
}

async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(accepted): ConnectInfo<Accepted>,
    mut req: Request,
) -> Response {
    let key = match crate::ws::accept(req.method(), req.headers()) {
        Ok(key) => key,
        Err(refusal) => {
            let addr = client_addr(&app, accepted.addr, req.headers());
            return match classic_http(&app, addr, req.uri()) {
                Some(body) => body,
                None => refusal.into_response(),
            };
        }
    };
    if app.open.load(Ordering::Relaxed) >= app.cfg.max_connections {
        app.counters
            .refused_connections
            .fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "tracker is at its connection limit\n",
        )
            .into_response();
    }
    let headers = req.headers();
    let addr = client_addr(&app, accepted.addr, headers);
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    let token = req.uri().query().and_then(token_of);
    let admission = app.access.admit(origin, token.as_deref(), addr.ip());
    let upgraded = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match upgraded.await {
            Ok(io) => {
                let io = TokioIo::new(io);
                crate::socket::serve_socket(app, io, addr, admission, accepted.socket()).await
            }
            Err(e) => tracing::debug!(%addr, "WebSocket upgrade failed: {e}"),
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::UPGRADE, "websocket".to_owned()),
            (header::CONNECTION, "Upgrade".to_owned()),
            (header::SEC_WEBSOCKET_ACCEPT, key),
        ],
    )
        .into_response()
}

/// A classic HTTP announce or scrape (not a WebSocket upgrade), answered in
/// bencode; `None` when the request is neither.
fn classic_http(app: &App, addr: SocketAddr, uri: &axum::http::Uri) -> Option<Response> {
    use crate::classic;
    let query = uri.query().unwrap_or_default();
    let scrape = uri.path().ends_with("scrape");
    if !scrape && !classic::is_announce(query) {
        return None;
    }
    let bencoded = |body: Vec<u8>| {
        let ct = [(header::CONTENT_TYPE, "text/plain")];
        Some((StatusCode::OK, ct, body).into_response())
    };
    let refuse = |r: Refusal| {
        app.counters.refusals.add(&r);
        bencoded(classic::encode_failure(&r.reason()))
    };
    let grant = match app
        .access
        .admit(None, token_of(query).as_deref(), addr.ip())
    {
        Ok((grant, _slot)) => grant,
        Err(r) => return refuse(r),
    };
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if scrape {
        let hashes = match classic::parse_scrape(query) {
            Ok(h) => h,
            Err(why) => return bencoded(classic::encode_failure(why)),
        };
        if let Some(r) = hashes
            .iter()
            .find_map(|h| app.access.check(grant.as_ref(), h, true, now_unix).err())
        {
            return refuse(r);
        }
        return bencoded(classic::encode_scrape(&hashes, &app.shards.scrape(&hashes)));
    }
    let a = match classic::parse_announce(query, addr.ip()) {
        Ok(a) => a,
        Err(why) => return bencoded(classic::encode_failure(why)),
    };
    if let Err(r) = app
        .access
        .check(grant.as_ref(), &a.info_hash, false, now_unix)
    {
        return refuse(r);
    }
    let reply = app.shards.classic_announce(&a, app.clock.now());
    bencoded(classic::encode_reply(&reply))
}

/// The `token` parameter of a query string, percent-decoded.
fn token_of(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let v = kv.strip_prefix("token=")?;
        Some(percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves until the future `shutdown` completes: plain ws://, or wss:// when
/// the configuration names a certificate and key.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(app, listener, Router::new(), shutdown).await
}

/// [`serve`] with more routes on the same port (`webswarm demo` serves its
/// page and files beside the tracker). `extra` must not set a fallback: every
/// other path is the tracker's.
pub async fn serve_with(
    app: Arc<App>,
    listener: TcpListener,
    extra: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = match (&app.cfg.tls_cert, &app.cfg.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::tls::server_config(cert, key).map_err(std::io::Error::other)?)
        }
        _ => None,
    };
    let threads = app.cfg.thread_count();
    let task = app
        .cluster_task
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let udp = match tokio::net::UdpSocket::bind(listener.local_addr()?).await {
        Ok(sock) => Some(tokio::spawn(serve_udp(app.clone(), sock))),
        Err(e) => {
            tracing::warn!("no UDP announces (BEP 15): cannot bind UDP on the HTTP port: {e}");
            None
        }
    };
    // Leaving: the cluster link says goodbye before the threads stop.
    let cluster = app.cluster.clone();
    let shutdown = async move {
        shutdown.await;
        if let Some(c) = cluster {
            c.leave.notify_one();
        }
    };
    let routes = extra.merge(router(app));
    let r = crate::threads::serve_on_threads(listener, routes, threads, tls, task, shutdown).await;
    if let Some(u) = udp {
        u.abort();
    }
    r
}

/// Classic UDP announces and scrapes (BEP 15) on the HTTP port's number.
async fn serve_udp(app: Arc<App>, sock: tokio::net::UdpSocket) {
    use crate::classic::udp::{self, Request};
    let secret = udp_secret();
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let reply = match udp::parse(&secret, &buf[..n], from, app.clock.now()) {
            Request::Ignore => continue,
            Request::Reply(r) => r,
            Request::Announce {
                transaction,
                announce,
            } => match udp_permitted(&app, from, &announce.info_hash) {
                Err(r) => udp::error(transaction, &r.reason()),
                Ok(()) => {
                    let reply = app.shards.classic_announce(&announce, app.clock.now());
                    udp::announce_reply(transaction, &reply, from.is_ipv6())
                }
            },
            Request::Scrape {
                transaction,
                hashes,
            } => match hashes
                .iter()
                .find_map(|h| udp_permitted(&app, from, h).err())
            {
                Some(r) => udp::error(transaction, &r.reason()),
                None => udp::scrape_reply(transaction, &app.shards.scrape(&hashes)),
            },
        };
        // A full socket buffer drops the answer; the client asks again.
        let _ = sock.send_to(&reply, from).await;
    }
}

/// The access rules for a UDP client, which cannot carry a token.
fn udp_permitted(app: &App, from: SocketAddr, ih: &webswarm_core::InfoHash) -> Result<(), Refusal> {
    let r = app
        .access
        .admit(None, None, from.ip())
        .and_then(|(grant, _slot)| {
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            app.access.check(grant.as_ref(), ih, false, now_unix)
        });
    if let Err(r) = &r {
        app.counters.refusals.add(r);
    }
    r
}

/// A secret for UDP connection ids, from the OS's randomness (the std
/// hasher's keys).
fn udp_secret() -> [u8; 20] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 20];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_be_bytes()[..chunk.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_address_is_believed_only_from_trusted_proxies() {
        let proxy: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let untrusted = App::new(Config::default(), 1).unwrap();
        assert_eq!(client_addr(&untrusted, proxy, &headers), proxy);
        let cfg = Config {
            trusted_proxies: vec![proxy.ip()],
            ..Config::default()
        };
        let trusted = App::new(cfg, 1).unwrap();
        // The last hop is the one our proxy added; earlier ones are client-supplied.
        assert_eq!(
            client_addr(&trusted, proxy, &headers).ip().to_string(),
            "198.51.100.7"
        );
        assert_eq!(client_addr(&trusted, proxy, &HeaderMap::new()), proxy);
    }
}

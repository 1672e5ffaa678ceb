//! The axum layer: WebSocket connections in, swarm logic in the middle,
//! bounded per-connection send queues out; `/stats.json`, `/metrics` and
//! `/health` on the same port.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use tokio::net::TcpListener;

use tokio::sync::Notify;
use webswarm_core::Rng;
use webswarm_core::Time;
use webswarm_tracker_proto::{ClientMessage, Failure, TrackerMessage};

use crate::config::Config;
use crate::swarm::{ConnId, SwarmCounters, Swarms};

/// Close code for policy violations (RFC 6455): used when a client stops reading.
const CLOSE_POLICY: u16 = 1008;
/// Close code for a message over `max_message_bytes` (RFC 6455 "message too big").
const CLOSE_TOO_BIG: u16 = 1009;
/// A client that accepts none of our bytes for this long is closed, even if
/// nobody else is sending to it (its queue then never fills).
const WRITE_STALL: Duration = Duration::from_secs(10);

/// Messages waiting for one connection. A plain deque allocates nothing while
/// the connection is idle; replacing a bounded tokio channel (and a watch
/// channel) with it took tracker-bench's idle RSS from 5.5 to 3.9 KB per connection.
#[derive(Default)]
struct Outbox {
    queue: Mutex<VecDeque<String>>,
    ready: Notify,
    /// Set when the queue overflowed: the connection must close.
    killed: AtomicBool,
}

impl Outbox {
    fn queue(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a message; `false` if the queue is full (the caller kills the connection).
    fn push(&self, text: String, cap: usize) -> bool {
        let mut q = self.queue();
        if q.len() >= cap {
            return false;
        }
        q.push_back(text);
        drop(q);
        self.ready.notify_one();
        true
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.ready.notify_one();
    }
}

struct Conn {
    outbox: Arc<Outbox>,
}

struct Inner {
    swarms: Swarms,
    conns: HashMap<ConnId, Conn>,
    rng: Rng,
}

pub struct App {
    cfg: Config,
    inner: Mutex<Inner>,
    started: Instant,
    next_id: AtomicU64,
    open: AtomicUsize,
    messages_out: AtomicU64,
    slow_closed: AtomicU64,
    refused_connections: AtomicU64,
}

impl App {
    pub fn new(cfg: Config, seed: u64) -> Arc<Self> {
        Arc::new(App {
            inner: Mutex::new(Inner {
                swarms: Swarms::new(cfg.swarm_limits()),
                conns: HashMap::new(),
                rng: Rng::new(seed),
            }),
            cfg,
            started: Instant::now(),
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            messages_out: AtomicU64::new(0),
            slow_closed: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
        })
    }

    fn now(&self) -> Time {
        Time::from_micros(self.started.elapsed().as_micros() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug; keep serving anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parses one text frame and delivers what the swarm logic answers.
    fn on_text(&self, id: ConnId, text: &str) {
        let now = self.now();
        let parsed = ClientMessage::from_json(text);
        let mut guard = self.lock();
        let inner = &mut *guard;
        let out = match parsed {
            Ok(m) => inner.swarms.handle(id, m, now, &mut inner.rng),
            Err(e) => {
                inner.swarms.counters.failures += 1;
                vec![(
                    id,
                    TrackerMessage::Failure(Failure {
                        reason: e.reason,
                        // WebTorrent's client treats a failure without `action` as a broken socket.
                        action: Some(e.action.unwrap_or_else(|| "announce".into())),
                        info_hash: e.info_hash,
                    }),
                )]
            }
        };
        for (to, msg) in out {
            self.deliver(inner, to, msg.to_json());
        }
    }

    fn deliver(&self, inner: &mut Inner, to: ConnId, json: String) {
        let Some(conn) = inner.conns.get(&to) else {
            return;
        };
        if conn.outbox.push(json, self.cfg.send_queue) {
            self.messages_out.fetch_add(1, Ordering::Relaxed);
        } else {
            // The client stopped reading: close it rather than buffer without bound.
            conn.outbox.kill();
            inner.conns.remove(&to);
            inner.swarms.disconnect(to);
            self.slow_closed.fetch_add(1, Ordering::Relaxed);
            tracing::info!(conn = to, "closing a client whose send queue is full");
        }
    }

    fn failure_text(reason: &str) -> String {
        TrackerMessage::Failure(Failure {
            reason: reason.into(),
            action: Some("announce".into()),
            info_hash: None,
        })
        .to_json()
    }

    pub fn stats(&self) -> Stats {
        let inner = self.lock();
        let (torrents, seeders, leechers) = inner.swarms.totals();
        Stats {
            torrents,
            seeders,
            leechers,
            connections: self.open.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            slow_clients_closed: self.slow_closed.load(Ordering::Relaxed),
            refused_connections: self.refused_connections.load(Ordering::Relaxed),
            swarm: inner.swarms.counters,
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }
}

#[derive(serde::Serialize, Debug)]
pub struct Stats {
    pub torrents: usize,
    pub seeders: u64,
    pub leechers: u64,
    pub connections: usize,
    pub messages_out: u64,
    pub slow_clients_closed: u64,
    pub refused_connections: u64,
    #[serde(flatten)]
    pub swarm: SwarmCounters,
    pub uptime_secs: u64,
}

impl Stats {
    /// Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let gauges: [(&str, &str, f64); 4] = [
            (
                "torrents",
                "Torrents with at least one peer.",
                self.torrents as f64,
            ),
            (
                "seeders",
                "Peers with the whole torrent.",
                self.seeders as f64,
            ),
            (
                "leechers",
                "Peers still downloading (or without metadata).",
                self.leechers as f64,
            ),
            (
                "connections",
                "Open WebSocket connections.",
                self.connections as f64,
            ),
        ];
        let w = &self.swarm;
        let counters: [(&str, &str, u64); 9] = [
            ("announces_total", "Announces handled.", w.announces),
            (
                "offers_relayed_total",
                "WebRTC offers relayed.",
                w.offers_relayed,
            ),
            (
                "answers_relayed_total",
                "WebRTC answers relayed.",
                w.answers_relayed,
            ),
            (
                "answers_refused_total",
                "Answers refused (no matching relayed offer).",
                w.answers_refused,
            ),
            ("scrapes_total", "Scrapes handled.", w.scrapes),
            ("failures_total", "Failure replies sent.", w.failures),
            (
                "messages_out_total",
                "Messages queued to clients.",
                self.messages_out,
            ),
            (
                "slow_clients_closed_total",
                "Clients closed because they stopped reading.",
                self.slow_clients_closed,
            ),
            (
                "refused_connections_total",
                "Connections refused at the connection limit.",
                self.refused_connections,
            ),
        ];
        let mut s = String::new();
        let gauge_rows = gauges.iter().map(|&(n, h, v)| (n, "gauge", h, v));
        let counter_rows = counters
            .iter()
            .map(|&(n, h, v)| (n, "counter", h, v as f64));
        for (name, kind, help, v) in gauge_rows.chain(counter_rows) {
            s.push_str(&format!(
                "# HELP webswarm_tracker_{name} {help}\n# TYPE webswarm_tracker_{name} {kind}\nwebswarm_tracker_{name} {v}\n"
            ));
        }
        s
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
        .route("/health", get(|| async { "ok\n" }))
        // Any other path takes WebSocket announces, as the reference tracker does.
        .fallback(get(upgrade))
        .with_state(app)
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if app.open.load(Ordering::Relaxed) >= app.cfg.max_connections {
        app.refused_connections.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "tracker is at its connection limit\n",
        )
            .into_response();
    }
    let addr = client_addr(&app, peer, &headers);
    let max = app.cfg.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        // tungstenite's 128 KiB default buffers cost ~130 KB per idle socket.
        .read_buffer_size(1024)
        .write_buffer_size(1024)
        .on_upgrade(move |socket| serve_socket(app, socket, addr))
}

async fn serve_socket(app: Arc<App>, socket: WebSocket, addr: SocketAddr) {
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    app.open.fetch_add(1, Ordering::Relaxed);
    let outbox = Arc::new(Outbox::default());
    {
        let mut inner = app.lock();
        inner.swarms.connect(id, app.now());
        inner.conns.insert(
            id,
            Conn {
                outbox: outbox.clone(),
            },
        );
    }
    tracing::debug!(conn = id, %addr, "connected");
    // One task per connection reads, writes and watches for a kill: an idle
    // connection then costs one small future, not two.
    let (mut sink, mut stream) = socket.split();
    let ending = loop {
        // Checked on every turn, not only on a wake-up: the kill watcher in
        // `write_queued` may consume the notification for a message queued
        // while it was writing.
        if outbox.killed.load(Ordering::Relaxed) {
            break Ending::QueueFull;
        }
        if !outbox.queue().is_empty() {
            if let Err(e) = write_queued(&mut sink, &outbox).await {
                break e;
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = outbox.ready.notified() => {}
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => app.on_text(id, text.as_str()),
                Some(Ok(Message::Binary(_))) => {
                    let text = App::failure_text("binary frames are not supported; send JSON text");
                    outbox.push(text, app.cfg.send_queue);
                }
                Some(Err(e)) if is_too_big(&e) => break Ending::TooBig,
                Some(Err(_)) => break Ending::Normal,
                Some(Ok(Message::Close(_))) | None => break Ending::Normal,
                Some(Ok(_)) => {}
            },
        }
    };
    {
        let mut inner = app.lock();
        inner.conns.remove(&id);
        inner.swarms.disconnect(id);
    }
    let close = match ending {
        Ending::Normal => None,
        Ending::QueueFull => Some((CLOSE_POLICY, "send queue full")),
        Ending::Stalled => {
            app.slow_closed.fetch_add(1, Ordering::Relaxed);
            Some((CLOSE_POLICY, "client is not reading"))
        }
        Ending::TooBig => Some((CLOSE_TOO_BIG, "message over the tracker's size limit")),
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_millis(200),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
    app.open.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(conn = id, "disconnected");
}

/// Why a connection's task ended.
enum Ending {
    /// The client closed, or the socket broke.
    Normal,
    /// Its send queue filled up (`deliver` killed it).
    QueueFull,
    /// It accepted no bytes for `WRITE_STALL`.
    Stalled,
    /// It sent a frame or message over `max_message_bytes`.
    TooBig,
}

/// Whether a read failed on a frame or message over the size limit (the
/// socket is still writable then: the client gets a close frame saying so).
fn is_too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Writes everything queued with one flush (one syscall). Gives up when the
/// connection is killed meanwhile or the client accepts nothing for
/// `WRITE_STALL`: a client that does not read could otherwise hold it forever.
async fn write_queued(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    outbox: &Outbox,
) -> Result<(), Ending> {
    let batch = async {
        loop {
            let next = outbox.queue().pop_front();
            let Some(text) = next else { break };
            sink.feed(Message::Text(text.into())).await?;
        }
        sink.flush().await
    };
    let killed = async {
        loop {
            outbox.ready.notified().await;
            if outbox.killed.load(Ordering::Relaxed) {
                return;
            }
        }
    };
    tokio::select! {
        sent = tokio::time::timeout(WRITE_STALL, batch) => match sent {
            Ok(result) => result.map_err(|_| Ending::Normal),
            Err(_) => {
                tracing::info!("closing a client that accepted nothing for {WRITE_STALL:?}");
                Err(Ending::Stalled)
            }
        },
        _ = killed => Err(Ending::QueueFull),
    }
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
    let expiry = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(15));
            loop {
                tick.tick().await;
                let now = app.now();
                app.lock().swarms.expire(now);
            }
        })
    };
    let service = extra
        .merge(router(app.clone()))
        .into_make_service_with_connect_info::<SocketAddr>();
    let result = match (&app.cfg.tls_cert, &app.cfg.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = crate::tls::server_config(cert, key).map_err(std::io::Error::other)?;
            // The no-op tap gives the TLS listener axum's `ConnectInfo<SocketAddr>`
            // support (TLS streams already have TCP_NODELAY set).
            let listener = crate::tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
        }
        _ => {
            // Small relayed messages must not wait for Nagle's algorithm.
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!("cannot set TCP_NODELAY: {e}");
                }
            });
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    expiry.abort();
    result
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
        let untrusted = App::new(Config::default(), 1);
        assert_eq!(client_addr(&untrusted, proxy, &headers), proxy);
        let cfg = Config {
            trusted_proxies: vec![proxy.ip()],
            ..Config::default()
        };
        let trusted = App::new(cfg, 1);
        // The last hop is the one our proxy added; earlier ones are client-supplied.
        assert_eq!(
            client_addr(&trusted, proxy, &headers).ip().to_string(),
            "198.51.100.7"
        );
        assert_eq!(client_addr(&trusted, proxy, &HeaderMap::new()), proxy);
    }
}

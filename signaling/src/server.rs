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
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use webswarm_core::rng::Rng;
use webswarm_core::Time;
use webswarm_tracker_proto::{ClientMessage, Failure, TrackerMessage};

use crate::config::Config;
use crate::swarm::{ConnId, SwarmCounters, Swarms};

/// Close code for policy violations (RFC 6455): used when a client stops reading.
const CLOSE_POLICY: u16 = 1008;

struct Conn {
    tx: mpsc::Sender<String>,
    kill: watch::Sender<bool>,
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
        match conn.tx.try_send(json) {
            Ok(()) => {
                self.messages_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The client stopped reading: close it rather than buffer without bound.
                let _ = conn.kill.send(true);
                inner.conns.remove(&to);
                inner.swarms.disconnect(to);
                self.slow_closed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(conn = to, "closing a client whose send queue is full");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
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
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, v: f64| {
            s.push_str(&format!("# HELP webswarm_tracker_{name} {help}\n# TYPE webswarm_tracker_{name} {kind}\nwebswarm_tracker_{name} {v}\n"));
        };
        metric(
            "torrents",
            "gauge",
            "Torrents with at least one peer.",
            self.torrents as f64,
        );
        metric(
            "seeders",
            "gauge",
            "Peers with the whole torrent.",
            self.seeders as f64,
        );
        metric(
            "leechers",
            "gauge",
            "Peers still downloading (or without metadata).",
            self.leechers as f64,
        );
        metric(
            "connections",
            "gauge",
            "Open WebSocket connections.",
            self.connections as f64,
        );
        metric(
            "announces_total",
            "counter",
            "Announces handled.",
            self.swarm.announces as f64,
        );
        metric(
            "offers_relayed_total",
            "counter",
            "WebRTC offers relayed.",
            self.swarm.offers_relayed as f64,
        );
        metric(
            "answers_relayed_total",
            "counter",
            "WebRTC answers relayed.",
            self.swarm.answers_relayed as f64,
        );
        metric(
            "answers_refused_total",
            "counter",
            "Answers refused (no matching relayed offer).",
            self.swarm.answers_refused as f64,
        );
        metric(
            "scrapes_total",
            "counter",
            "Scrapes handled.",
            self.swarm.scrapes as f64,
        );
        metric(
            "failures_total",
            "counter",
            "Failure replies sent.",
            self.swarm.failures as f64,
        );
        metric(
            "messages_out_total",
            "counter",
            "Messages queued to clients.",
            self.messages_out as f64,
        );
        metric(
            "slow_clients_closed_total",
            "counter",
            "Clients closed because they stopped reading.",
            self.slow_clients_closed as f64,
        );
        metric(
            "refused_connections_total",
            "counter",
            "Connections refused at the connection limit.",
            self.refused_connections as f64,
        );
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
    let (tx, rx) = mpsc::channel::<String>(app.cfg.send_queue);
    let (kill, killed) = watch::channel(false);
    {
        let mut inner = app.lock();
        inner.swarms.connect(id, app.now());
        inner.conns.insert(
            id,
            Conn {
                tx: tx.clone(),
                kill,
            },
        );
    }
    tracing::debug!(conn = id, %addr, "connected");
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx, killed.clone()));
    let mut killed_reader = killed;
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = killed_reader.changed() => break,
        };
        match frame {
            Some(Ok(Message::Text(text))) => app.on_text(id, text.as_str()),
            Some(Ok(Message::Binary(_))) => {
                let _ = tx.try_send(App::failure_text(
                    "binary frames are not supported; send JSON text",
                ));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    {
        let mut inner = app.lock();
        inner.conns.remove(&id);
        inner.swarms.disconnect(id);
    }
    drop(tx);
    // The writer ends when its queue is drained or it was told to stop; a
    // client that does not read could hold it forever, so it gets a deadline.
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
    app.open.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(conn = id, "disconnected");
}

/// Writes queued messages. On a kill signal (the client stopped reading) it
/// tries to say why and stops, which drops the socket; when the connection
/// ends normally it just stops.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<String>,
    mut killed: watch::Receiver<bool>,
) {
    loop {
        let text = tokio::select! {
            biased;
            changed = killed.changed() => match changed {
                Ok(()) => break,
                Err(_) => return,
            },
            next = rx.recv() => match next {
                Some(text) => text,
                None => return,
            },
        };
        tokio::select! {
            sent = sink.send(Message::Text(text.into())) => if sent.is_err() { return },
            changed = killed.changed() => match changed {
                Ok(()) => break,
                Err(_) => return,
            },
        }
    }
    let frame = CloseFrame {
        code: CLOSE_POLICY,
        reason: "send queue full".into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_millis(200),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}

/// Binds and serves until the future `shutdown` completes.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
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
    // Small relayed messages must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
    });
    let result = axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    expiry.abort();
    result
}

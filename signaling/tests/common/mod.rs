//! What the tracker's integration tests share: an in-process tracker on
//! 127.0.0.1 and WebSocket client helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};
use webswarm_signaling::config::Config;
use webswarm_signaling::server::{serve, App};
use webswarm_signaling::shard::owner_of;
use webswarm_tracker_proto::{binstr_encode, InfoHash, TrackerMessage};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub const WAIT: Duration = Duration::from_secs(5);

pub struct Tracker {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    pub async fn start(cfg: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app: Arc<App> = App::new(cfg, 42).unwrap();
        let task = tokio::spawn(async move {
            serve(app, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Tracker {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// A tracker started elsewhere (a process); `stop` does nothing for it.
    pub fn at(addr: SocketAddr) -> Self {
        let (stop, _) = tokio::sync::oneshot::channel::<()>();
        Tracker {
            addr,
            stop: Some(stop),
            task: tokio::spawn(async {}),
        }
    }

    pub async fn client(&self) -> Ws {
        let (ws, _) = timeout(WAIT, connect_async(format!("ws://{}/announce", self.addr)))
            .await
            .unwrap()
            .unwrap();
        ws
    }

    pub async fn http(&self, path: &str) -> (u16, String) {
        let text = self.http_raw(path, "").await;
        let status = text[9..12].parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The whole response (status line, headers, body) to a GET with `headers`
    /// (each line ending in CRLF) added.
    pub async fn http_raw(&self, path: &str, headers: &str) -> String {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        timeout(WAIT, s.read_to_end(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf).to_string()
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = timeout(WAIT, self.task).await;
    }
}

pub fn id(c: char) -> String {
    // Include bytes >= 0x80 to exercise the latin-1 binary strings.
    format!("{c}\u{00e9}\u{00ff}{}", c.to_string().repeat(17))
}

pub fn announce(ih: &str, peer: &str, left: Option<u64>, offers: &[(&str, &str)]) -> String {
    let offers: Vec<serde_json::Value> = offers
        .iter()
        .map(|(oid, sdp)| serde_json::json!({"offer": {"type": "offer", "sdp": sdp}, "offer_id": oid}))
        .collect();
    serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": peer, "numwant": offers.len(),
        "uploaded": 0, "downloaded": 0, "left": left, "event": "started", "offers": offers})
    .to_string()
}

pub async fn send(ws: &mut Ws, text: String) {
    ws.send(Message::text(text)).await.unwrap();
}

pub async fn recv(ws: &mut Ws) -> TrackerMessage {
    loop {
        match timeout(WAIT, ws.next()).await.expect("no message in time") {
            Some(Ok(Message::Text(t))) => return TrackerMessage::from_json(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

pub async fn expect_failure(ws: &mut Ws, reason: &str) {
    match recv(ws).await {
        TrackerMessage::Failure(f) => {
            assert!(
                f.reason.contains(reason),
                "{:?} does not contain {reason:?}",
                f.reason
            );
            assert!(f.action.is_some(), "a failure must name its action");
        }
        other => panic!("expected failure {reason:?}, got {other:?}"),
    }
}

/// The `k`th info-hash owned by shard `k % 4` of 4.
pub fn ih_on(k: u8) -> String {
    let ih = (0u8..=255)
        .map(|b| InfoHash([b; 20]))
        .filter(|ih| owner_of(ih, 4) == usize::from(k % 4))
        .nth(usize::from(k / 4))
        .expect("enough info-hashes on each worker");
    binstr_encode(&ih.0)
}

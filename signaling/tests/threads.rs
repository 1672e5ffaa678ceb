//! Connection threads: a connection moves to the thread that owns its first
//! torrent (`handoff.rs`), and nothing it sent or is sent is lost on the way.

mod common;

use common::*;
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use webswarm_signaling::config::Config;
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

fn four_threads() -> Config {
    Config {
        threads: 4,
        shards: 4,
        ..Config::default()
    }
}

async fn moved(t: &Tracker) -> u64 {
    let (_, body) = t.http("/stats.json").await;
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    stats["connections_moved"].as_u64().unwrap()
}

#[tokio::test]
async fn connections_move_to_their_torrents_thread_and_lose_nothing() {
    let t = Tracker::start(four_threads()).await;
    let mut pairs = Vec::new();
    for k in 0..8u8 {
        let (ih, a_id, b_id) = (ih_on(k), id((b'a' + k) as char), id((b'A' + k) as char));
        let mut a = t.client().await;
        send(&mut a, announce(&ih, &a_id, Some(0), &[])).await;
        assert!(matches!(recv(&mut a).await, TrackerMessage::Announced(_)));
        // B's first two frames go out in one write: the second arrives with
        // the first and must be handled wherever the connection moves.
        let mut b = t.client().await;
        let offer = binstr_encode(&[k; 20]);
        let scrape = serde_json::json!({"action": "scrape", "info_hash": ih});
        b.feed(Message::text(announce(
            &ih,
            &b_id,
            Some(9),
            &[(&offer, "v=0")],
        )))
        .await
        .unwrap();
        b.feed(Message::text(scrape.to_string())).await.unwrap();
        b.flush().await.unwrap();
        pairs.push((a, b, ih, a_id, b_id));
    }
    for (a, b, ih, a_id, b_id) in &mut pairs {
        let TrackerMessage::Offer(o) = recv(a).await else {
            panic!("A expected the offer")
        };
        assert_eq!(binstr_encode(&o.info_hash.0), *ih);
        let answer = serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": a_id,
            "to_peer_id": b_id, "offer_id": binstr_encode(&o.offer_id.0),
            "answer": {"type": "answer", "sdp": "v=0\r\nA"}});
        send(a, answer.to_string()).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(match recv(b).await {
                TrackerMessage::Announced(r) => {
                    assert_eq!((r.complete, r.incomplete), (1, 1));
                    "announced"
                }
                TrackerMessage::Scrape(s) => {
                    assert_eq!((s.files[0].1.complete, s.files[0].1.incomplete), (1, 1));
                    "scrape"
                }
                TrackerMessage::Answer(ans) => {
                    assert_eq!(ans.answer.sdp.text(), "v=0\r\nA");
                    "answer"
                }
                other => panic!("unexpected {other:?}"),
            });
        }
        got.sort_unstable();
        assert_eq!(got, ["announced", "answer", "scrape"]);
    }
    // Sixteen connections on four threads: unless every one was accepted by
    // the thread that owns its torrent, some moved.
    assert!(moved(&t).await > 0, "no connection moved");
    let (_, metrics) = t.http("/metrics").await;
    assert!(metrics.contains("webswarm_tracker_connections_moved_total"));
    t.stop().await;
}

/// A masked client text frame (payloads under 64 KiB).
fn client_frame(text: &str) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut f = vec![0x81];
    match text.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads the 101 response and the first text frame after it.
async fn read_reply(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = timeout(WAIT, s.read(&mut chunk)).await.unwrap().unwrap();
        assert!(
            n > 0,
            "closed before a reply: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
        let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        assert!(buf.starts_with(b"HTTP/1.1 101"));
        let f = &buf[head + 4..];
        if f.len() < 2 {
            continue;
        }
        let (len, at) = match f[1] {
            126 if f.len() >= 4 => (usize::from(u16::from_be_bytes([f[2], f[3]])), 4),
            126 => continue,
            n => (usize::from(n), 2),
        };
        if f.len() >= at + len {
            assert_eq!(f[0], 0x81, "a text frame");
            return String::from_utf8(f[at..at + len].to_vec()).unwrap();
        }
    }
}

#[tokio::test]
async fn a_first_frame_sent_with_the_upgrade_request_is_not_lost() {
    let t = Tracker::start(four_threads()).await;
    // Torrents on every thread: some of these connections move, some not.
    for k in 0..8u8 {
        let mut s = TcpStream::connect(t.addr).await.unwrap();
        let mut bytes = b"GET /announce HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\n\r\n"
            .to_vec();
        let peer = id((b'p' + k) as char);
        bytes.extend(client_frame(&announce(&ih_on(k), &peer, Some(0), &[])));
        s.write_all(&bytes).await.unwrap();
        let reply = read_reply(&mut s).await;
        let Ok(TrackerMessage::Announced(r)) = TrackerMessage::from_json(&reply) else {
            panic!("expected the announce's reply, got {reply}")
        };
        assert_eq!((r.complete, r.incomplete), (1, 0));
    }
    assert!(moved(&t).await > 0, "no connection moved");
    t.stop().await;
}

//! Hostile peers over real WebRTC, against a rate-capped `webswarm seed` and
//! honest `webswarm get`s: peers that join the swarm through the tracker,
//! open real data channels and then misbehave.
//!
//! - never reads: asks for every piece, then takes nothing off its channel
//!   (and sends keep-alives);
//! - trickles: starts a 16 KiB message and sends it a byte a second;
//! - never handshakes: opens the channel and says nothing;
//! - silent bitfield: says it has every piece, unchokes, then goes silent.
//!
//! Checked: the seeder's memory stays bounded, honest downloads keep their
//! speed (within 10 %), and each bad peer is dropped within its documented
//! time (never handshakes: the 20 s handshake timeout; never reads: the
//! 120 s write-stall timeout; the others send no whole message, so the
//! 180 s idle timeout). CI waits only for the first;
//! `WEBSWARM_HOSTILE_FULL=1` (`cargo xtask hostile`) waits for them all.

mod common;

use std::collections::HashMap;
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as Ws;
use webswarm_core::wire::{Handshake, Message};
use webswarm_core::{InfoHash, PeerId};
use webswarm_native::transport::webrtc_rs::{RtcConfig, WebRtcTransport};
use webswarm_native::transport::{Channel, Transport};
use webswarm_tracker_bench::{id_from, rss_kb};
use webswarm_tracker_proto::binstr_encode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    NeverReads,
    Trickles,
    NeverHandshakes,
    SilentBitfield,
}

const KINDS: [Kind; 4] = [
    Kind::NeverReads,
    Kind::Trickles,
    Kind::NeverHandshakes,
    Kind::SilentBitfield,
];

/// What the bad peers share: the torrent, and what happened to them.
struct Swarm {
    info_hash: [u8; 20],
    pieces: u32,
    piece_len: u32,
    /// Channels opened to the seeder (the first answer each bad peer got).
    to_seeder: AtomicUsize,
    /// Channels opened with anyone.
    opened: AtomicUsize,
    /// (kind, how long the channel lived) for every channel to the seeder
    /// that the seeder closed.
    closed: Mutex<Vec<(Kind, Duration)>>,
    /// Channels that must stay referenced (the never-readers' own).
    held: Mutex<Vec<Arc<dyn Channel>>>,
    /// When the last channel opened.
    last_open: Mutex<Option<Instant>>,
    /// Bad peers answer offers while this is set (the seeder's own offers
    /// would otherwise bring them back for ever).
    answering: AtomicBool,
    stop: AtomicBool,
}

fn encode(m: &Message) -> Bytes {
    let mut b = BytesMut::new();
    m.encode(&mut b);
    b.freeze()
}

/// One bad connection, from the moment its channel opens.
async fn misbehave(
    kind: Kind,
    me: [u8; 20],
    swarm: Arc<Swarm>,
    ch: Box<dyn Channel>,
    to_seeder: bool,
) {
    let ch: Arc<dyn Channel> = Arc::from(ch);
    swarm.opened.fetch_add(1, Ordering::Relaxed);
    let opened = Instant::now();
    *swarm.last_open.lock().unwrap() = Some(opened);
    let hs = Handshake::new(InfoHash(swarm.info_hash), PeerId(me)).encode();
    let send = |m: &Message| ch.send(encode(m));
    let _ = match kind {
        Kind::NeverHandshakes => Ok(()),
        Kind::NeverReads => {
            let _ = ch.send(Bytes::copy_from_slice(&hs)).await;
            let _ = send(&Message::HaveNone).await;
            let _ = send(&Message::Interested).await;
            for index in 0..swarm.pieces {
                for begin in (0..swarm.piece_len).step_by(16 << 10) {
                    let len = (swarm.piece_len - begin).min(16 << 10);
                    if send(&Message::Request { index, begin, len }).await.is_err() {
                        break;
                    }
                }
            }
            // Reads nothing, ever: the seeder's sends back up into its
            // buffers. Keep-alives keep it from looking idle, so only the
            // write-stall timeout can end it.
            // (Every 5 s: a failed send also tells when the seeder closed it.)
            let (alive, swarm2) = (ch.clone(), swarm.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if alive.send(encode(&Message::KeepAlive)).await.is_err() {
                        if to_seeder {
                            let lived = opened.elapsed();
                            swarm2.closed.lock().unwrap().push((kind, lived));
                        }
                        return;
                    }
                }
            });
            swarm.held.lock().unwrap().push(ch);
            return;
        }
        Kind::Trickles => ch.send(Bytes::copy_from_slice(&hs)).await,
        Kind::SilentBitfield => {
            let _ = ch.send(Bytes::copy_from_slice(&hs)).await;
            let _ = send(&Message::HaveAll).await;
            send(&Message::Unchoke).await
        }
    };
    if kind == Kind::Trickles {
        let _ = send(&Message::HaveNone).await;
        let trickle = ch.clone();
        tokio::spawn(async move {
            // A piece message's header and then its body, a byte a second.
            let mut header = vec![0, 0, 0x40, 0x09, 7];
            header.resize(16 << 10, 0);
            for b in header {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if trickle.send(Bytes::from(vec![b])).await.is_err() {
                    return;
                }
            }
        });
    }
    // Reads (and drops) whatever comes, until the far side closes.
    while ch.recv().await.is_some() {}
    if to_seeder {
        swarm.closed.lock().unwrap().push((kind, opened.elapsed()));
    }
}

/// A bad peer in the swarm: it offers until it has a channel to the seeder
/// (its offer answered, or the seeder's answered), and answers every honest
/// peer's offer; each channel misbehaves.
async fn bad_peer(kind: Kind, n: u64, url: String, bad_ids: Arc<Vec<String>>, swarm: Arc<Swarm>) {
    let me = id_from(n, b'H');
    let rtc = Arc::new(WebRtcTransport::new(RtcConfig {
        bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        ..RtcConfig::default()
    }));
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let (sink, mut stream) = ws.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let pending = Arc::new(Mutex::new(HashMap::new()));
    let connected = Arc::new(AtomicBool::new(false));
    let base = json!({"action": "announce", "info_hash": binstr_encode(&swarm.info_hash),
        "peer_id": binstr_encode(&me), "uploaded": 0, "downloaded": 0, "left": 1000});
    let offering = {
        let (rtc, sink, pending, connected, base) = (
            rtc.clone(),
            sink.clone(),
            pending.clone(),
            connected.clone(),
            base.clone(),
        );
        let swarm = swarm.clone();
        tokio::spawn(async move {
            let mut seq = 0u64;
            while !connected.load(Ordering::Relaxed) && !swarm.stop.load(Ordering::Relaxed) {
                let mut offers = Vec::new();
                for _ in 0..3 {
                    seq += 1;
                    let id = binstr_encode(&id_from(n << 32 | seq, b'o'));
                    let offer = rtc.offer().await.unwrap();
                    offers.push(
                        json!({"offer": {"type": "offer", "sdp": offer.sdp()}, "offer_id": id}),
                    );
                    pending.lock().unwrap().insert(id, offer);
                }
                let mut m = base.clone();
                m["numwant"] = offers.len().into();
                m["offers"] = offers.into();
                if sink
                    .lock()
                    .await
                    .send(Ws::text(m.to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    while let Some(Ok(msg)) = stream.next().await {
        if swarm.stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(v) = serde_json::from_str::<Value>(msg.to_text().unwrap_or("")) else {
            continue;
        };
        let (Some(id), Some(from)) = (v["offer_id"].as_str(), v["peer_id"].as_str()) else {
            continue;
        };
        if let Some(sdp) = v["answer"]["sdp"].as_str() {
            let Some(offer) = pending.lock().unwrap().remove(id) else {
                continue;
            };
            let first = !connected.swap(true, Ordering::Relaxed);
            let (swarm, sdp) = (swarm.clone(), sdp.to_owned());
            tokio::spawn(async move {
                if let Ok(ch) = offer.connect(sdp).await {
                    if first {
                        swarm.to_seeder.fetch_add(1, Ordering::Relaxed);
                    }
                    misbehave(kind, me, swarm, ch, first).await;
                }
            });
        } else if let Some(sdp) = v["offer"]["sdp"].as_str() {
            if bad_ids.iter().any(|b| b == from) || !swarm.answering.load(Ordering::Relaxed) {
                continue;
            }
            // The seeder offers too; until every bad peer has its channel
            // to the seeder, no other honest peer is in the swarm.
            let first = !connected.swap(true, Ordering::Relaxed);
            let Ok(answer) = rtc.answer(sdp.to_owned()).await else {
                continue;
            };
            let mut m = base.clone();
            m["to_peer_id"] = from.into();
            m["offer_id"] = id.into();
            m["answer"] = json!({"type": "answer", "sdp": answer.sdp});
            let _ = sink.lock().await.send(Ws::text(m.to_string())).await;
            let swarm = swarm.clone();
            tokio::spawn(async move {
                if let Ok(ch) = answer.channel.await {
                    if first {
                        swarm.to_seeder.fetch_add(1, Ordering::Relaxed);
                    }
                    misbehave(kind, me, swarm, ch, first).await;
                }
            });
        }
    }
    offering.abort();
}

/// The seeder's last status line (`--status-every 1`).
type Status = Arc<Mutex<Value>>;

async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_over_webrtc_are_dropped_and_cost_honest_peers_nothing() {
    let full = std::env::var_os("WEBSWARM_HOSTILE_FULL").is_some();
    let tracker = Tracker::start().await;
    let root = tempdir("hostile-rtc");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let src = root.join("src/data.bin");
    std::fs::write(&src, random_bytes(24 << 20, 5)).unwrap();
    // The same torrent `webswarm seed` makes: its geometry, for the requests.
    let meta = torrent_for(&src, &tracker.url, None);
    let extra = ["--max-upload-rate", "6M", "--status-every", "1"];
    let (seeder, magnet, out) = spawn_seed(&src, &tracker.url, &extra, Stdio::null());
    let status: Status = Arc::new(Mutex::new(Value::Null));
    let s = status.clone();
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                *s.lock().unwrap() = v;
            }
        }
    });
    let peers = || status.lock().unwrap()["peers"].as_u64();
    let pid = seeder.0.id();
    let get = |dir: &str| {
        let (d, magnet) = (root.join(dir), magnet.clone());
        tokio::task::spawn_blocking(move || timed_get(&magnet, &d))
    };
    let quiet = [get("quiet-0").await.unwrap(), get("quiet-1").await.unwrap()];
    let rss_before = rss_kb(pid);

    let layout = meta.info.layout;
    let swarm = Arc::new(Swarm {
        info_hash: meta.info.info_hash.0,
        pieces: layout.num_pieces(),
        piece_len: layout.piece_len(),
        to_seeder: AtomicUsize::new(0),
        opened: AtomicUsize::new(0),
        closed: Mutex::new(Vec::new()),
        held: Mutex::new(Vec::new()),
        last_open: Mutex::new(None),
        answering: AtomicBool::new(true),
        stop: AtomicBool::new(false),
    });
    // Two bad peers of each kind.
    let bad: Vec<(Kind, u64)> = (0..8).map(|n| (KINDS[n % 4], n as u64)).collect();
    let bad_ids = Arc::new(
        bad.iter()
            .map(|&(_, n)| binstr_encode(&id_from(n, b'H')))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    for &(kind, n) in &bad {
        let (url, ids, swarm) = (tracker.url.clone(), bad_ids.clone(), swarm.clone());
        tokio::spawn(bad_peer(kind, n, url, ids, swarm));
    }
    wait_for(
        "every bad peer connected to the seeder",
        Duration::from_secs(60),
        || swarm.to_seeder.load(Ordering::Relaxed) == bad.len(),
    )
    .await;
    let connected_in = started.elapsed();
    // Let the never-readers fill what the seeder will send them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hostile = [
        get("hostile-0").await.unwrap(),
        get("hostile-1").await.unwrap(),
    ];
    let rss_during = rss_kb(pid);
    let closed = |k: Kind| {
        swarm
            .closed
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.0 == k)
            .map(|c| c.1)
            .collect::<Vec<_>>()
    };
    eprintln!(
        "honest get: {quiet:.2?} s quiet, {hostile:.2?} s with 8 bad peers (connected in {connected_in:.1?}, {} channels opened); seeder RSS {rss_before} -> {rss_during} KiB",
        swarm.opened.load(Ordering::Relaxed)
    );
    let slowest_quiet = quiet[0].max(quiet[1]);
    for h in hostile {
        assert!(
            h <= slowest_quiet * 1.1,
            "honest download took {h:.2} s among bad peers, {quiet:.2?} s without"
        );
    }
    assert!(
        rss_during < rss_before + (48 << 10),
        "seeder RSS grew from {rss_before} to {rss_during} KiB"
    );
    // The handshake timeout (20 s) drops the silent ones, counted from when
    // their channel opened; a second of slack for the engine's tick.
    wait_for(
        "the never-handshaking peers dropped",
        Duration::from_secs(30),
        || closed(Kind::NeverHandshakes).len() == 2,
    )
    .await;
    for d in closed(Kind::NeverHandshakes) {
        assert!(d < Duration::from_secs(22), "dropped after {d:?}");
    }
    if full {
        // No new bad connections from now on; every other kind sends no
        // whole message, so the idle timeout (180 s) ends each.
        swarm.answering.store(false, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let last = swarm.last_open.lock().unwrap().unwrap();
        wait_for("every bad peer dropped", Duration::from_secs(200), || {
            peers() == Some(0)
        })
        .await;
        let gone = last.elapsed();
        eprintln!("the seeder has no peer {gone:.1?} after the last bad channel opened");
        assert!(gone < Duration::from_secs(185), "{gone:?}");
        // Never reads: the buffer fills within seconds, then 120 s; the
        // keep-alive that notices comes within 5 s.
        for (k, limit) in [
            (Kind::NeverReads, 130),
            (Kind::Trickles, 183),
            (Kind::SilentBitfield, 183),
        ] {
            let c = closed(k);
            eprintln!("{k:?}: dropped after {c:.1?}");
            assert!(!c.is_empty(), "{k:?} never dropped");
            assert!(
                c.iter().all(|d| *d < Duration::from_secs(limit)),
                "{k:?}: {c:?}"
            );
        }
        eprintln!("seeder RSS with every bad peer gone: {} KiB", rss_kb(pid));
    }
    eprintln!(
        "never handshakes: dropped after {:.1?}",
        closed(Kind::NeverHandshakes)
    );
    swarm.stop.store(true, Ordering::Relaxed);
    drop(seeder);
    remove_tree(&root);
    tracker.stop().await;
}

//! Tracker nodes linked through a real redis-server (Debian's), started by
//! the test on a free loopback port.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use webswarm_signaling::config::Config;
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

/// Seeds of torrent `id('i')` as the node behind `probe` sees them.
async fn seeds_seen_by_b(probe: &mut Ws) -> u32 {
    let scrape = serde_json::json!({"action": "scrape", "info_hash": id('i')});
    send(probe, scrape.to_string()).await;
    match recv(probe).await {
        TrackerMessage::Scrape(s) => s.files[0].1.complete,
        other => panic!("{other:?}"),
    }
}

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    fn start_with(port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(extra)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian's redis-server package)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Redis { child, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args([sig, &pid]).status().unwrap();
        assert!(ok.success());
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn node(redis: &str) -> Tracker {
    let mut cfg = Config::default();
    cfg.cluster.redis_url = Some(redis.to_owned());
    cfg.cluster.heartbeat_ms = 200;
    cfg.cluster.node_timeout_ms = 1000;
    Tracker::start(cfg).await
}

async fn stats(t: &Tracker) -> serde_json::Value {
    serde_json::from_str(&t.http("/stats.json").await.1).unwrap()
}

/// Waits until `t` sees `n` live nodes (itself included) and Redis up.
async fn until_nodes(t: &Tracker, n: u64) {
    for _ in 0..100 {
        let s = stats(t).await;
        if s["cluster"]["nodes"] == n && s["cluster"]["redis_up"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never saw {n} nodes: {}", stats(t).await);
}

/// A joins as a seed on node A; B announces with an offer on node B: the
/// offer reaches A, A's answer reaches B. Returns both clients.
async fn relay_across(a_node: &Tracker, b_node: &Tracker, tag: char) -> (Ws, Ws) {
    let (ih, a_id, b_id) = (id(tag.to_ascii_uppercase()), id(tag), id('b'));
    let mut a = a_node.client().await;
    send(&mut a, announce(&ih, &a_id, Some(0), &[])).await;
    assert!(matches!(recv(&mut a).await, TrackerMessage::Announced(_)));
    let mut b = b_node.client().await;
    // The join reaches node B through Redis: announce until B offers to A.
    let mut offered = None;
    for k in 0..50u8 {
        let offer = binstr_encode(&[k; 20]);
        send(&mut b, announce(&ih, &b_id, None, &[(&offer, "v=0\r\nB")])).await;
        let TrackerMessage::Announced(r) = recv(&mut b).await else {
            panic!("expected an announce reply")
        };
        if r.complete == 1 {
            offered = Some(offer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let offer = offered.expect("node B learned of A's seed");
    let TrackerMessage::Offer(o) = recv(&mut a).await else {
        panic!("expected the offer from node B")
    };
    assert_eq!(binstr_encode(&o.offer_id.0), offer);
    assert_eq!(o.offer.sdp, "v=0\r\nB");
    let answer = serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": a_id, "to_peer_id": b_id,
        "offer_id": offer, "answer": {"type": "answer", "sdp": "v=0\r\nA"}});
    send(&mut a, answer.to_string()).await;
    let TrackerMessage::Answer(ans) = recv(&mut b).await else {
        panic!("expected the answer from node A")
    };
    assert_eq!(ans.answer.sdp, "v=0\r\nA");
    // A forged answer (an offer never sent to A) is refused on A, as on one node.
    let forged = serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": a_id, "to_peer_id": b_id,
        "offer_id": binstr_encode(&[200; 20]), "answer": {"type": "answer", "sdp": "x"}});
    send(&mut a, forged.to_string()).await;
    expect_failure(&mut a, "not sent").await;
    // Replayed: the offer was answered once already.
    send(&mut a, answer.to_string()).await;
    expect_failure(&mut a, "not sent").await;
    (a, b)
}

#[tokio::test]
async fn offers_and_answers_cross_nodes_and_stats_cover_the_cluster() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    until_nodes(&a, 2).await;
    until_nodes(&b, 2).await;
    let _clients = relay_across(&a, &b, 'a').await;
    let s = stats(&b).await;
    assert_eq!(
        (&s["torrents"], &s["seeders"], &s["leechers"]),
        (&1.into(), &1.into(), &1.into())
    );
    // The cluster sums include A's counters (from its heartbeat).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let s = stats(&b).await;
    assert!(s["cluster"]["announces"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["cluster"]["offers_relayed"], 1);
    assert_eq!(s["cluster"]["answers_relayed"], 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_silent_node_leaves_and_redis_going_away_and_back_is_survived() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    until_nodes(&a, 2).await;
    let mut seed = a.client().await;
    send(&mut seed, announce(&id('i'), &id('s'), Some(0), &[])).await;
    recv(&mut seed).await;
    let mut probe = b.client().await;
    for _ in 0..50 {
        if seeds_seen_by_b(&mut probe).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seeds_seen_by_b(&mut probe).await, 1);

    // Redis goes away: each node keeps serving its own connections, says so.
    let port = redis.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, health) = b.http("/health").await;
    assert!(health.contains("Redis unreachable"), "{health}");
    assert_eq!(
        seeds_seen_by_b(&mut probe).await,
        0,
        "A's peers left B's view"
    );
    let mut local = b.client().await;
    send(&mut local, announce(&id('j'), &id('l'), Some(0), &[])).await;
    assert!(matches!(
        recv(&mut local).await,
        TrackerMessage::Announced(_)
    ));
    let (_, metrics) = b.http("/metrics").await;
    assert!(
        metrics.contains("webswarm_tracker_cluster_redis_up 0"),
        "{metrics}"
    );

    // Redis is back: the nodes find each other and each other's peers again.
    let redis = Redis::start_on(port);
    let t0 = std::time::Instant::now();
    until_nodes(&b, 2).await;
    let mut back = false;
    for _ in 0..100 {
        if seeds_seen_by_b(&mut probe).await == 1 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "A's seed is in B's view again");
    eprintln!(
        "cross-node view back {:?} after Redis returned",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    let _clients = relay_across(&a, &b, 'c').await;

    // Node A stops heartbeating (it stops): B drops its peers within the timeout.
    a.stop().await;
    drop(seed);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(seeds_seen_by_b(&mut probe).await, 0);
    until_nodes(&b, 1).await;
    b.stop().await;
    drop(redis);
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_redis_with_a_password_links_nodes_and_a_wrong_one_is_reported() {
    let redis = Redis::start_with(free_port(), &["--requirepass", "s3cret"]);
    let good = format!("redis://:s3cret@127.0.0.1:{}/", redis.port);
    let (a, b) = (node(&good).await, node(&good).await);
    until_nodes(&a, 2).await;
    let _clients = relay_across(&a, &b, 'p').await;
    let wrong = node(&format!("redis://:nope@127.0.0.1:{}/", redis.port)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, health) = wrong.http("/health").await;
    assert!(health.contains("Redis unreachable"), "{health}");
    for t in [a, b, wrong] {
        t.stop().await;
    }
}

/// A Redis that stops relaying without closing its sockets (frozen) is
/// noticed from the node's own heartbeats not coming back; once it runs
/// again the nodes are linked again.
#[tokio::test]
async fn a_frozen_redis_is_noticed_and_survived() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    until_nodes(&a, 2).await;
    redis.signal("-STOP");
    let t0 = std::time::Instant::now();
    let mut noticed = false;
    while t0.elapsed() < Duration::from_secs(5) {
        if stats(&b).await["cluster"]["redis_up"] == false {
            noticed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(noticed, "B still thinks Redis is up after 5 s");
    eprintln!("frozen Redis noticed after {:?}", t0.elapsed());
    redis.signal("-CONT");
    until_nodes(&a, 2).await;
    until_nodes(&b, 2).await;
    let _clients = relay_across(&a, &b, 'f').await;
    a.stop().await;
    b.stop().await;
}

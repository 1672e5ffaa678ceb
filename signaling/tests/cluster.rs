//! Tracker nodes linked through a real redis-server (Debian's), started by
//! the test on a free loopback port.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

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

/// A seed of torrent `id('i')` joins on node A; returns its socket and a
/// client of node B once B counts the seed.
async fn seed_on_a_seen_on_b(a: &Tracker, b: &Tracker) -> (Ws, Ws) {
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
    (seed, probe)
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
    assert_eq!(o.offer.sdp.text(), "v=0\r\nB");
    let answer = serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": a_id, "to_peer_id": b_id,
        "offer_id": offer, "answer": {"type": "answer", "sdp": "v=0\r\nA"}});
    send(&mut a, answer.to_string()).await;
    let TrackerMessage::Answer(ans) = recv(&mut b).await else {
        panic!("expected the answer from node A")
    };
    assert_eq!(ans.answer.sdp.text(), "v=0\r\nA");
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
    let (seed, mut probe) = seed_on_a_seen_on_b(&a, &b).await;

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

/// A node with the cluster's allow-list set `allowed`, read every 200 ms.
async fn allow_set_node(redis: &str) -> Tracker {
    let mut cfg = Config::default();
    cfg.cluster.redis_url = Some(redis.to_owned());
    cfg.cluster.heartbeat_ms = 200;
    cfg.cluster.node_timeout_ms = 1000;
    cfg.cluster.allow_set = Some("allowed".into());
    cfg.cluster.allow_refresh_ms = 200;
    Tracker::start(cfg).await
}

fn redis_cli(port: u16, args: &[&str]) {
    let ok = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli (Debian's redis-tools)");
    assert!(ok.success());
}

/// Announces torrent `[b; 20]` until the reply contains `want` (a refusal's
/// words, or "announced"), for up to 3 s; returns how long that took.
async fn until_reply(ws: &mut Ws, b: u8, want: &str) -> Duration {
    let t0 = std::time::Instant::now();
    let mut last = String::new();
    while t0.elapsed() < Duration::from_secs(3) {
        send(
            ws,
            announce(&binstr_encode(&[b; 20]), &id('p'), Some(1), &[]),
        )
        .await;
        last = match recv(ws).await {
            TrackerMessage::Announced(_) => "announced".into(),
            TrackerMessage::Failure(f) => f.reason,
            other => format!("{other:?}"),
        };
        if last.contains(want) {
            return t0.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("torrent {b}: wanted {want:?}, last reply {last:?}");
}

#[tokio::test]
async fn an_allow_list_set_in_redis_admits_torrents_on_every_node() {
    let redis = Redis::start();
    let hex = |b: u8| webswarm_core::hex_encode(&[b; 20]);
    redis_cli(redis.port, &["SADD", "allowed", &hex(1), "not-a-hash"]);
    let (a, b) = (
        allow_set_node(&redis.url()).await,
        allow_set_node(&redis.url()).await,
    );
    let (mut on_a, mut on_b) = (a.client().await, b.client().await);
    until_reply(&mut on_a, 1, "announced").await;
    until_reply(&mut on_b, 1, "announced").await;
    until_reply(&mut on_a, 2, "does not serve this torrent").await;

    // One SADD admits a torrent on both nodes; one SREM removes it.
    redis_cli(redis.port, &["SADD", "allowed", &hex(2).to_uppercase()]);
    let took = until_reply(&mut on_b, 2, "announced").await;
    until_reply(&mut on_a, 2, "announced").await;
    eprintln!("SADD took effect after {took:?}");
    redis_cli(redis.port, &["SREM", "allowed", &hex(1)]);
    until_reply(&mut on_a, 1, "does not serve this torrent").await;
    let s = stats(&a).await;
    assert_eq!(s["allow_set"]["entries"], 1, "{s}");
    assert_eq!(s["allow_set"]["malformed"], 1, "{s}");

    // Redis goes away: the last copy stays in force.
    let port = redis.stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    until_reply(&mut on_b, 2, "announced").await;
    until_reply(&mut on_b, 1, "does not serve this torrent").await;
    let (_, metrics) = b.http("/metrics").await;
    assert!(
        metrics.contains("webswarm_tracker_allow_set_loaded 1")
            && !metrics.contains("webswarm_tracker_allow_set_failed_reads_total 0\n"),
        "{metrics}"
    );
    // A node that never read the set refuses, saying why.
    let c = allow_set_node(&format!("redis://127.0.0.1:{port}/")).await;
    let mut on_c = c.client().await;
    until_reply(&mut on_c, 2, "has not read its allow-list yet").await;

    // Redis is back (empty: it kept nothing): the new node reads the set.
    let redis = Redis::start_on(port);
    redis_cli(port, &["SADD", "allowed", &hex(2)]);
    until_reply(&mut on_c, 2, "announced").await;
    for t in [a, b, c] {
        t.stop().await;
    }
    drop(redis);
}

/// Three redis-servers joined into a Redis Cluster (no replicas), each
/// holding a third of the slots.
struct RedisCluster {
    servers: Vec<Redis>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("webswarm-redis-cluster-{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let servers: Vec<Redis> = (0..3)
            .map(|_| {
                let port = free_port();
                let conf = dir.join(format!("nodes-{port}.conf"));
                Redis::start_with(
                    port,
                    &[
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        conf.to_str().unwrap(),
                    ],
                )
            })
            .collect();
        let addrs: Vec<String> = servers
            .iter()
            .map(|r| format!("127.0.0.1:{}", r.port))
            .collect();
        let ok = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli (Debian's redis-tools)");
        assert!(ok.success(), "redis-cli --cluster create");
        let c = RedisCluster { servers, dir };
        for _ in 0..100 {
            let ready = c.servers.iter().all(|r| {
                let out = Command::new("redis-cli")
                    .args(["-p", &r.port.to_string(), "cluster", "info"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok")
            });
            if ready {
                return c;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Redis Cluster never reached cluster_state:ok");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.servers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Nodes pointed at different members of a Redis Cluster: pub/sub crosses
/// the cluster's bus, and the allow-list set is read from the member that
/// holds its slot (MOVED followed) by every node.
#[tokio::test]
async fn nodes_on_different_members_of_a_redis_cluster_form_one_tracker_cluster() {
    let rc = RedisCluster::start();
    let urls: Vec<String> = rc.servers.iter().map(Redis::url).collect();
    let hex = |b: u8| webswarm_core::hex_encode(&[b; 20]);
    let sadd = |b: u8| {
        let ok = Command::new("redis-cli")
            .args([
                "-c",
                "-p",
                &rc.servers[0].port.to_string(),
                "SADD",
                "allowed",
                &hex(b),
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
    };
    // relay_across's torrent, id('A') as bytes.
    let torrent_a: Vec<u8> = id('A').chars().map(|c| c as u8).collect();
    let ok = Command::new("redis-cli")
        .args([
            "-c",
            "-p",
            &rc.servers[1].port.to_string(),
            "SADD",
            "allowed",
        ])
        .arg(webswarm_core::hex_encode(&torrent_a))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let mut nodes = Vec::new();
    for u in &urls {
        nodes.push(allow_set_node(u).await);
    }
    for n in &nodes {
        until_nodes(n, 3).await;
    }
    // Node 0's seed, node 2's offer and node 0's answer cross the cluster.
    let _clients = relay_across(&nodes[0], &nodes[2], 'a').await;
    // The same set, wherever each node is connected.
    sadd(7);
    for n in &nodes {
        let mut ws = n.client().await;
        until_reply(&mut ws, 7, "announced").await;
        until_reply(&mut ws, 8, "does not serve this torrent").await;
        assert_eq!(stats(n).await["allow_set"]["entries"], 2);
    }
    for n in nodes {
        n.stop().await;
    }
}

/// A node that shuts down says goodbye: the others drop its peers at once,
/// not after `node_timeout_ms` (10 s here).
#[tokio::test]
async fn a_node_that_shuts_down_is_dropped_at_once() {
    let redis = Redis::start();
    let slow_timeout = || {
        let mut cfg = Config::default();
        cfg.cluster.redis_url = Some(redis.url());
        cfg.cluster.heartbeat_ms = 200;
        cfg.cluster.node_timeout_ms = 10_000;
        cfg
    };
    let (a, b) = (
        Tracker::start(slow_timeout()).await,
        Tracker::start(slow_timeout()).await,
    );
    until_nodes(&b, 2).await;
    let (_seed, mut probe) = seed_on_a_seen_on_b(&a, &b).await;
    let t0 = std::time::Instant::now();
    a.stop().await;
    let mut gone = false;
    while t0.elapsed() < Duration::from_secs(3) {
        if seeds_seen_by_b(&mut probe).await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "B still lists A's seed 3 s after A left");
    eprintln!("A's peers left B's view {:?} after A stopped", t0.elapsed());
    until_nodes(&b, 1).await;
    assert!(t0.elapsed() < Duration::from_secs(5));
    b.stop().await;
}

/// A classic HTTP announce (compact) of torrent `[ih; 20]` from TCP port
/// `port` of 127.0.0.1; the IPv4 peers in the reply.
async fn http_announce(t: &Tracker, ih: u8, port: u16, event: &str) -> Vec<std::net::SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pct = |b: &[u8]| b.iter().map(|x| format!("%{x:02x}")).collect::<String>();
    let path = format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=1&compact=1&event={event}",
        pct(&[ih; 20]),
        pct(&[port as u8; 20]),
    );
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let at = buf
        .windows(7)
        .position(|w| w == b"5:peers")
        .unwrap_or_else(|| panic!("no peers in {}", String::from_utf8_lossy(&buf)))
        + 7;
    let colon = at + buf[at..].iter().position(|&b| b == b':').unwrap();
    let len: usize = std::str::from_utf8(&buf[at..colon])
        .unwrap()
        .parse()
        .unwrap();
    buf[colon + 1..colon + 1 + len]
        .chunks(6)
        .map(|c| {
            let ip = std::net::Ipv4Addr::new(c[0], c[1], c[2], c[3]);
            std::net::SocketAddr::from((ip, u16::from_be_bytes([c[4], c[5]])))
        })
        .collect()
}

/// Classic peers whose announces land on different nodes (as a load
/// balancer spreads HTTP requests) get each other's addresses; a stop or a
/// node that leaves takes its classic peers out of the others' answers.
#[tokio::test]
async fn classic_peers_announced_to_different_nodes_find_each_other() {
    let redis = Redis::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    until_nodes(&a, 2).await;
    until_nodes(&b, 2).await;
    let addr = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(http_announce(&a, 5, 1111, "started").await.is_empty());
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = http_announce(&b, 5, 2222, "started").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        vec![addr(1111)],
        "node B hands out node A's classic peer"
    );
    // And back: A learns B's peer.
    let mut back = Vec::new();
    for _ in 0..50 {
        back = http_announce(&a, 5, 1111, "").await;
        if !back.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(back, vec![addr(2222)]);
    let s = stats(&b).await;
    assert_eq!(s["leechers"], 2, "{s}");
    // 2222's next announce goes to node A: A holds it now, B still lists it.
    http_announce(&a, 5, 2222, "").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http_announce(&b, 5, 3333, "started").await.len(), 2);
    // 1111 stops (through B): A drops it too.
    http_announce(&b, 5, 1111, "stopped").await;
    let mut left = false;
    for _ in 0..50 {
        let peers = http_announce(&a, 5, 2222, "").await;
        if !peers.contains(&addr(1111)) {
            left = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(left, "node A still hands out a stopped classic peer");
    // Node A leaves: the classic peers it held leave B's answers.
    a.stop().await;
    let mut gone = false;
    for _ in 0..50 {
        if http_announce(&b, 5, 3333, "").await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        gone,
        "node B still hands out node A's classic peers after A left"
    );
    b.stop().await;
}

/// A cluster node that takes a flood from one client: no announce rate
/// limit, 400 unanswered offers per peer (4 x 100 per announce), a long send
/// queue, heartbeats every 500 ms.
fn flood_config(redis: &Redis) -> Config {
    let mut cfg = Config::default();
    cfg.cluster.redis_url = Some(redis.url());
    cfg.cluster.heartbeat_ms = 500;
    cfg.announces_per_second = 1e6;
    cfg.announce_burst = 1e6;
    cfg.max_offers_per_announce = 100;
    cfg.send_queue = 10_000;
    cfg
}

/// `n` leechers of torrent `ih` on node `t` that count the offers they get.
async fn offer_counting_leechers(t: &Tracker, ih: &str, n: u8) -> Arc<AtomicUsize> {
    let got = Arc::new(AtomicUsize::new(0));
    for k in 0..n {
        let mut ws = t.client().await;
        let peer = binstr_encode(&[k + 1; 20]);
        send(&mut ws, announce(ih, &peer, Some(1), &[])).await;
        recv(&mut ws).await;
        let got = got.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    if matches!(
                        TrackerMessage::from_json(t.as_str()),
                        Ok(TrackerMessage::Offer(_))
                    ) {
                        got.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    got
}

/// Waits until node `t` counts `n` leechers of torrent `ih`.
async fn until_leechers_seen(t: &Tracker, ih: &str, n: u8) {
    let mut probe = t.client().await;
    let scrape = serde_json::json!({"action": "scrape", "info_hash": ih}).to_string();
    let mut seen = 0;
    for _ in 0..100 {
        send(&mut probe, scrape.clone()).await;
        if let TrackerMessage::Scrape(s) = recv(&mut probe).await {
            seen = s.files[0].1.incomplete;
        }
        if seen == u32::from(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node sees {seen} of {n} leechers");
}

/// Waits until `got` reaches `n` (30 s at most); returns it.
async fn until_count(got: &AtomicUsize, n: usize) -> usize {
    let t0 = std::time::Instant::now();
    while got.load(Ordering::Relaxed) < n && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got.load(Ordering::Relaxed)
}

/// A quiet node publishes each crossing at once; a busy one waits a moment
/// to gather them (`pace`), and loses nothing either way: node A's client
/// sends offers to node B's ten leechers, first 20 announces 25 ms apart,
/// then 300 announces of ten offers each, ten every 10 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_node_gathers_what_crosses_and_a_quiet_one_does_not_wait() {
    const LEECHERS: u8 = 10;
    let redis = Redis::start();
    // Each leecher gets ~300 offers it never answers.
    let (a, b) = (
        Tracker::start(flood_config(&redis)).await,
        Tracker::start(flood_config(&redis)).await,
    );
    until_nodes(&a, 2).await;
    until_nodes(&b, 2).await;
    let ih = id('G');
    let got = offer_counting_leechers(&b, &ih, LEECHERS).await;
    until_leechers_seen(&a, &ih, LEECHERS).await;
    let (mut tx, mut rx) = a.client().await.split();
    tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
    let x = binstr_encode(&[200; 20]);
    let offers = |i: usize, n: usize| -> String {
        let ids: Vec<String> = (0..n)
            .map(|k| {
                let mut oid = [0u8; 20];
                oid[..3].copy_from_slice(&[(i >> 8) as u8, i as u8, k as u8]);
                binstr_encode(&oid)
            })
            .collect();
        let list: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "v=0")).collect();
        announce(&ih, &x, Some(1), &list)
    };
    for i in 0..20 {
        tx.send(Message::text(offers(i, 1))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(until_count(&got, 20).await, 20);
    let quiet = stats(&a).await["cluster"]["publish_waits"]
        .as_u64()
        .unwrap();
    assert_eq!(quiet, 0, "a quiet node waited before publishing");
    // ~10,000 crossings a second for ~300 ms: busy for several windows.
    for i in 20..320 {
        tx.send(Message::text(offers(i, 10))).await.unwrap();
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let all = 20 + 300 * usize::from(LEECHERS);
    assert_eq!(until_count(&got, all).await, all, "offers lost");
    let s = stats(&a).await;
    eprintln!("A: {}", s["cluster"]);
    assert!(
        s["cluster"]["publish_waits"].as_u64().unwrap() > 0,
        "a busy node never waited to gather crossings"
    );
    assert_eq!(s["cluster"]["messages_dropped"], 0);
    a.stop().await;
    b.stop().await;
}

/// A node whose link to Redis falls behind stops reading its clients instead
/// of dropping what they send across: Redis is frozen (SIGSTOP) while a
/// client of node A sends a burst of large offers to node B's peers, so A's
/// writes to Redis stop once the socket buffers are full and its queue (8
/// batches here) fills; every offer still reaches B once Redis runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_its_redis_holds_its_clients_back_and_loses_nothing() {
    const OFFERS: usize = 600;
    const LEECHERS: u8 = 10;
    let redis = Redis::start();
    let cfg = |queue| {
        let mut cfg = flood_config(&redis);
        // Frozen for 1.5 s is not gone.
        cfg.cluster.node_timeout_ms = 10_000;
        cfg.cluster.queue = queue;
        cfg
    };
    let (a, b) = (
        Tracker::start(cfg(8)).await,
        Tracker::start(cfg(16_384)).await,
    );
    until_nodes(&a, 2).await;
    until_nodes(&b, 2).await;
    let ih = id('Q');
    let got = offer_counting_leechers(&b, &ih, LEECHERS).await;
    // A knows B's leechers before the burst.
    until_leechers_seen(&a, &ih, LEECHERS).await;

    let (mut tx, mut rx) = a.client().await.split();
    // The client reads its replies throughout, as a real one does.
    let replies = tokio::spawn(async move {
        let mut n = 0;
        while let Some(Ok(m)) = rx.next().await {
            n += usize::from(matches!(m, Message::Text(_)));
        }
        n
    });
    redis.signal("-STOP");
    let sdp = "v".repeat(32 * 1024);
    let x = binstr_encode(&[200; 20]);
    let writer = tokio::spawn(async move {
        for i in 0..OFFERS {
            let mut oid = [0u8; 20];
            oid[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let text = announce(&ih, &x, Some(1), &[(&binstr_encode(&oid), &sdp)]);
            tx.send(Message::text(text)).await.unwrap();
        }
        tx
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused = stats(&a).await["cluster"]["reads_paused"].as_u64().unwrap();
    redis.signal("-CONT");
    assert!(
        paused > 0,
        "A never paused its client: the burst did not fill its queue"
    );
    let _tx = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("A read the whole burst once Redis ran again")
        .unwrap();
    let n = until_count(&got, OFFERS).await;
    let s = stats(&a).await;
    eprintln!(
        "reads paused {paused} times while Redis was frozen; B's peers got {n} of {OFFERS} offers; A: {}",
        s["cluster"]
    );
    assert_eq!(s["cluster"]["messages_dropped"], 0);
    assert_eq!(got.load(Ordering::Relaxed), OFFERS);
    drop(replies);
    a.stop().await;
    b.stop().await;
}

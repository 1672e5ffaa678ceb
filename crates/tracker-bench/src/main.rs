//! Tracker benchmark: the same WebSocket workload against webswarm-tracker
//! (one thread, one per core, and two nodes linked through Redis: each with
//! half the cores, then each with all of them) and the npm
//! `bittorrent-tracker` server, in one run, printed side by side.
//!
//! Workload: C connections spread over T torrents; every announce carries 10
//! offers with realistic SDP; every relayed offer is answered at once.
//! - light load (default 200 connections, 200 announces/s): offer relay latency;
//! - heavy load (2000 announces/s offered, or --heavy-rate): tracker CPU per
//!   announce, messages/s; every target runs from the start, and this phase
//!   goes round the targets --rounds times (3), the median counting, so that
//!   the machine's drift over minutes does not decide the ratios;
//! - idle: RSS growth per connection with 10k connections that announced once
//!   (with 10 offers, answered by the peers already there) and then idle;
//! - last, closed loop (2000 connections, or --closed; each announces again when
//!   the tracker replied to its last announce, at most 9 a second under our
//!   tracker's per-connection limit): the tracker as busy as the load
//!   generator, sharing these cores, can keep it; CPU per announce,
//!   announces/s, and the cross-node messages a cluster dropped meanwhile.
//!
//! `--alternate N` compares only one thread, one per core and two nodes with
//! half the cores each, in N heavy phases each, alternated.
//!
//! Usage: webswarm-tracker-bench [--tracker PATH] [--node-script PATH]
//!        [--connections C] [--idle K] [--seconds S] [--short-sdp]
//!        [--shards N] [--threads N] [--heavy-rate R] [--no-reference]
//!        [--closed N] [--alternate N] [--tracker-cpus LIST] [--no-cluster]
//!        [--cluster-config FILE] [--aquatic PATH]

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::Rng;
use webswarm_tracker_bench::{
    announce, answer_to, connect, cpu_secs, id_from, rss_kb, sdp, start, stats_of, OfferTemplate,
};
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

const OFFERS: usize = 10;
const TORRENTS: usize = 10;
/// A 47-byte SDP, for `--short-sdp`.
const SHORT_SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=\r\n";

/// Ends the run with `why` and the usage (exit status 2).
fn bad(why: &str) -> ! {
    eprintln!("webswarm-tracker-bench: {why}\n{USAGE}");
    std::process::exit(2)
}

/// The number `flag` was given, or the end of the run.
fn number<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse()
        .unwrap_or_else(|_| bad(&format!("{flag} takes a number, not {v:?}")))
}

struct Opts {
    tracker: String,
    /// Optional second reference: an `aquatic_ws` binary.
    aquatic: Option<String>,
    node_script: String,
    connections: usize,
    idle: usize,
    seconds: u64,
    /// Shards and threads for webswarm-tracker (its defaults when unset).
    shards: Option<usize>,
    threads: Option<usize>,
    /// Idle connections' offers carry a 47-byte SDP instead of a 1 KB one.
    short_sdp: bool,
    /// Announces per second offered in the heavy phase.
    heavy_rate: f64,
    /// Connections in the closed-loop phase (0: skip it).
    closed: usize,
    /// `taskset -c` list for our tracker processes (unset: any core).
    tracker_cpus: Option<String>,
    /// Only compare one thread with one per core, in this many alternated
    /// heavy phases (0: the full run).
    alternate: usize,
    /// Skip bittorrent-tracker (to compare configurations of ours quickly).
    no_reference: bool,
    /// Skip the two-node cluster.
    no_cluster: bool,
    /// A configuration file for the cluster's nodes (`--config`).
    cluster_config: Option<String>,
    /// Alternated heavy phases per target in the full run.
    rounds: usize,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    offers_received: AtomicU64,
    answers_sent: AtomicU64,
    answers_received: AtomicU64,
    responses: AtomicU64,
}

/// Relay latencies in µs: [offers same node, offers across nodes,
/// answers same node, answers across nodes].
type Latencies = [Vec<u64>; 4];

struct Shared {
    start: Instant,
    counters: Counters,
    latencies_us: Mutex<Latencies>,
    record: std::sync::atomic::AtomicBool,
    /// Tracker nodes the clients are spread over.
    nodes: usize,
}

impl Shared {
    fn new(nodes: usize, record: bool) -> Arc<Self> {
        Arc::new(Shared {
            start: Instant::now(),
            counters: Counters::default(),
            latencies_us: Mutex::new(Default::default()),
            record: std::sync::atomic::AtomicBool::new(record),
            nodes,
        })
    }

    /// p50 and p99 in ms of each bucket recorded so far.
    fn latency_percentiles(&self) -> [(f64, f64); 4] {
        let lat = self
            .latencies_us
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        lat.map(percentiles)
    }

    fn record(&self, bucket: usize, sent_us: u64) {
        if self.record.load(Ordering::Relaxed) {
            let now_us = self.start.elapsed().as_micros() as u64;
            if let Ok(mut l) = self.latencies_us.lock() {
                l[bucket].push(now_us.saturating_sub(sent_us));
            }
        }
    }
}

/// The node client `i` connects to: peers of one torrent alternate nodes.
fn node_of(i: u64, nodes: usize) -> usize {
    ((i / TORRENTS as u64) % nodes as u64) as usize
}

/// The client index a benchmark peer id was made from (`id_from`).
fn index_of(peer: &[u8; 20]) -> u64 {
    u64::from_be_bytes(peer[..8].try_into().unwrap_or([0; 8])) % 1_000_000
}

type Tx = mpsc::UnboundedSender<Message>;

/// One client connection: answers every offer, counts everything.
async fn client(url: String, peer: [u8; 20], shared: Arc<Shared>) -> Option<Tx> {
    let mut cfg = WebSocketConfig::default();
    cfg.read_buffer_size = 4096;
    cfg.write_buffer_size = 4096;
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(cfg), true)
        .await
        .ok()?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let answer_tx = tx.clone();
    tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            let c = &shared.counters;
            c.received.fetch_add(1, Ordering::Relaxed);
            match TrackerMessage::from_json(text.as_str()) {
                Ok(TrackerMessage::Offer(o)) => {
                    c.offers_received.fetch_add(1, Ordering::Relaxed);
                    let n = shared.nodes;
                    let cross = node_of(index_of(&o.peer_id.0), n) != node_of(index_of(&peer), n);
                    let sent_us =
                        u64::from_be_bytes(o.offer_id.0[..8].try_into().unwrap_or([0; 8]));
                    shared.record(usize::from(cross), sent_us);
                    let now_us = shared.start.elapsed().as_micros();
                    let answer = serde_json::json!({"action": "announce",
                        "info_hash": binstr_encode(&o.info_hash.0), "peer_id": binstr_encode(&peer),
                        "to_peer_id": binstr_encode(&o.peer_id.0), "offer_id": binstr_encode(&o.offer_id.0),
                        "answer": {"type": "answer", "sdp": format!("v=0\r\na=ts:{now_us}\r\n")}});
                    c.answers_sent.fetch_add(1, Ordering::Relaxed);
                    c.sent.fetch_add(1, Ordering::Relaxed);
                    let _ = answer_tx.send(Message::text(answer.to_string()));
                }
                Ok(TrackerMessage::Answer(a)) => {
                    c.answers_received.fetch_add(1, Ordering::Relaxed);
                    let n = shared.nodes;
                    let cross = node_of(index_of(&a.peer_id.0), n) != node_of(index_of(&peer), n);
                    let sent = a
                        .answer
                        .sdp
                        .text()
                        .split("a=ts:")
                        .nth(1)
                        .and_then(|t| t.trim().parse().ok());
                    if let Some(sent_us) = sent {
                        shared.record(2 + usize::from(cross), sent_us);
                    }
                }
                Ok(TrackerMessage::Announced(_)) => {
                    c.responses.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });
    Some(tx)
}

/// Starts aquatic_ws on a free loopback port with its default settings
/// (it prints no address, so readiness is a successful TCP connect).
async fn start_aquatic(path: &str, socket_workers: usize) -> Target {
    let defaults = std::process::Command::new(path)
        .arg("-p")
        .output()
        .expect("aquatic_ws -p");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = String::from_utf8_lossy(&defaults.stdout)
        .replace(
            "address = \"0.0.0.0:3000\"",
            &format!("address = \"127.0.0.1:{port}\""),
        )
        .replace(
            "socket_workers = 1",
            &format!("socket_workers = {socket_workers}"),
        );
    let file = std::env::temp_dir().join(format!("aquatic-bench-{}.toml", std::process::id()));
    std::fs::write(&file, config).expect("write aquatic config");
    let child = Command::new(path)
        .arg("-c")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start aquatic_ws");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Target::single(
                &format!("aquatic_ws, {socket_workers}+1 thr"),
                (child, format!("ws://127.0.0.1:{port}")),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aquatic_ws did not start");
}

/// What runs the workload: one tracker process, or several nodes (and the
/// Redis linking them); CPU and memory are summed over every process.
struct Target {
    name: String,
    children: Vec<Child>,
    urls: Vec<String>,
}

impl Target {
    fn single(name: &str, (child, url): (Child, String)) -> Self {
        Target {
            name: name.into(),
            children: vec![child],
            urls: vec![url],
        }
    }

    fn pids(&self) -> Vec<u32> {
        self.children.iter().filter_map(|c| c.id()).collect()
    }

    fn cpu_secs(&self) -> f64 {
        self.pids().into_iter().map(cpu_secs).sum()
    }

    fn rss_kb(&self) -> u64 {
        self.pids().into_iter().map(rss_kb).sum()
    }
}

#[derive(Default, Debug)]
struct Measured {
    /// p50 and p99 in ms: offers same node, offers across nodes, answers same, answers across.
    latency_ms: [(f64, f64); 4],
    /// Relay latencies in the heavy phases, all rounds together: what a
    /// busy node's batching costs.
    heavy_latencies_us: Latencies,
    cpu_us_per_announce: f64,
    msgs_per_sec: f64,
    /// Closed loop: CPU µs per announce and announces per second (NaN: not run).
    closed_cpu_us: f64,
    closed_rate: f64,
    offers_lost: u64,
    answers_lost: u64,
    rss_per_conn_kb: f64,
    idle_held: usize,
}

/// Prints every target side by side.
fn print_table(all: &[(String, Measured)]) {
    print!("\n{:<42}", "metric");
    for (name, _) in all {
        print!(" {name:>20}");
    }
    println!();
    let row = |metric: &str, f: &dyn Fn(&Measured) -> String| {
        print!("{metric:<42}");
        for (_, m) in all {
            print!(" {:>20}", f(m));
        }
        println!();
    };
    let ms = |v: f64| {
        if v.is_nan() {
            "-".to_owned()
        } else {
            format!("{v:.2}")
        }
    };
    row("CPU µs per announce (10 offers)", &|m| {
        format!("{:.1}", m.cpu_us_per_announce)
    });
    row("messages per second (heavy)", &|m| {
        format!("{:.0}", m.msgs_per_sec)
    });
    row("CPU µs per announce, closed loop", &|m| {
        format!("{:.1}", m.closed_cpu_us)
    });
    row("announces per second, closed loop", &|m| {
        format!("{:.0}", m.closed_rate)
    });
    row("offer relay p50/p99 ms, same node", &|m| {
        format!("{} / {}", ms(m.latency_ms[0].0), ms(m.latency_ms[0].1))
    });
    row("offer relay p50/p99 ms, across", &|m| {
        format!("{} / {}", ms(m.latency_ms[1].0), ms(m.latency_ms[1].1))
    });
    row("answer relay p50/p99 ms, same node", &|m| {
        format!("{} / {}", ms(m.latency_ms[2].0), ms(m.latency_ms[2].1))
    });
    row("answer relay p50/p99 ms, across", &|m| {
        format!("{} / {}", ms(m.latency_ms[3].0), ms(m.latency_ms[3].1))
    });
    for (k, what) in [(0, "same node"), (1, "across")] {
        row(&format!("offer relay p50/p99 ms, heavy, {what}"), &|m| {
            let (p50, p99) = percentiles(m.heavy_latencies_us[k].clone());
            format!("{} / {}", ms(p50), ms(p99))
        });
    }
    row("offers / answers lost", &|m| {
        format!("{} / {}", m.offers_lost, m.answers_lost)
    });
    row("RSS KB per idle connection", &|m| {
        format!("{:.2}", m.rss_per_conn_kb)
    });
    row("idle connections held", &|m| m.idle_held.to_string());
}

/// The CPU ratios the targets are stated in, each named by what it compares
/// (the columns present in this run only), at the heavy phase's offered rate
/// and in the closed loop.
fn print_ratios(all: &[(String, Measured)]) {
    type Field = fn(&Measured) -> f64;
    let phases: [(&str, Field); 2] = [
        ("CPU ratios", |m| m.cpu_us_per_announce),
        ("CPU ratios, closed loop", |m| m.closed_cpu_us),
    ];
    for (title, field) in phases {
        let cpu = |name: &str| {
            all.iter()
                .find(|(n, _)| n == name)
                .map(|(_, m)| field(m))
                .filter(|v| v.is_finite())
        };
        let (one, per_core) = (cpu("ours, 1 thread"), cpu("ours, 1 per core"));
        // The cluster columns come in this order: each node with its share
        // of the cores (when there are two or more), then each with all.
        let nodes: Vec<f64> = all
            .iter()
            .filter(|(n, _)| n.starts_with("2 nodes"))
            .map(|(_, m)| field(m))
            .collect();
        let (half, whole) = match nodes[..] {
            [h, w] => (Some(h), Some(w)),
            [w] => (None, Some(w)),
            _ => (None, None),
        };
        let pairs = [
            ("one per core / one thread (sharding)", per_core, one),
            (
                "two nodes, their share of the cores each / one thread",
                half,
                one,
            ),
            ("the same / one per core", half, per_core),
            ("two nodes, every core each / one per core", whole, per_core),
        ];
        let found: Vec<String> = pairs
            .iter()
            .filter_map(|&(what, a, b)| Some(format!("{what} {:.2}x", a? / b?)))
            .filter(|f| !f.contains("NaN"))
            .collect();
        if !found.is_empty() {
            println!("{title}: {}", found.join("; "));
        }
    }
}

/// What one load phase measured.
struct Phase {
    shared: Arc<Shared>,
    announces: u64,
    cpu_secs: f64,
    messages: u64,
    offers_lost: u64,
    answers_lost: u64,
    elapsed: Duration,
}

async fn load(
    target: &Target,
    o: &Opts,
    phase: u8,
    rate: f64,
    seconds: u64,
    record: bool,
) -> Phase {
    let shared = Shared::new(target.urls.len(), false);
    let mut rng = Rng::new(9);
    let mut peers = Vec::new();
    for i in 0..o.connections {
        // Fresh ids per phase: a tracker may keep relaying to an old socket
        // that announced the same peer id.
        let peer = id_from(i as u64, b'a' + phase);
        let url = &target.urls[node_of(i as u64, target.urls.len())];
        let tx = client(url.clone(), peer, shared.clone())
            .await
            .expect("connect");
        let ih = id_from((i % TORRENTS) as u64, b'i');
        tx.send(announce(&ih, &peer, Vec::new(), Some("started")))
            .ok();
        shared.counters.sent.fetch_add(1, Ordering::Relaxed);
        peers.push((tx, ih, peer));
    }
    // Joins cross nodes before the offers do.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.record.store(record, Ordering::Relaxed);
    let swarm = o.connections / TORRENTS;
    let expected_per = OFFERS.min(swarm.saturating_sub(1)) as u64;
    let (cpu0, t0) = (target.cpu_secs(), Instant::now());
    let split0: Vec<f64> = target.pids().into_iter().map(cpu_secs).collect();
    let threads0: Vec<_> = target.pids().into_iter().map(thread_cpu).collect();
    let before = (
        shared.counters.sent.load(Ordering::Relaxed),
        shared.counters.received.load(Ordering::Relaxed),
    );
    let total = (rate * seconds as f64) as u64;
    let offers_before = shared.counters.offers_received.load(Ordering::Relaxed);
    let answers_before = (
        shared.counters.answers_sent.load(Ordering::Relaxed),
        shared.counters.answers_received.load(Ordering::Relaxed),
    );
    let mut counter = 0u64;
    for k in 0..total {
        let due = t0 + Duration::from_secs_f64(k as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
        let (tx, ih, peer) = &peers[(k as usize) % peers.len()];
        let offers = (0..OFFERS)
            .map(|_| {
                counter += 1;
                let mut oid = id_from(shared.start.elapsed().as_micros() as u64, b'o');
                oid[8..16].copy_from_slice(&counter.to_be_bytes());
                serde_json::json!({"offer": {"type": "offer", "sdp": sdp(&mut rng)}, "offer_id": binstr_encode(&oid)})
            })
            .collect();
        tx.send(announce(ih, peer, offers, None)).ok();
        shared.counters.sent.fetch_add(1, Ordering::Relaxed);
    }
    // Wait until everything sent has had time to be relayed and answered.
    let mut last = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = shared.counters.received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    let elapsed = t0.elapsed();
    let cpu = target.cpu_secs() - cpu0;
    if target.children.len() > 1 {
        let split: Vec<String> = target
            .pids()
            .into_iter()
            .zip(split0)
            .map(|(p, c0)| format!("{:.2}", cpu_secs(p) - c0))
            .collect();
        eprintln!(
            "{}: CPU seconds by process: {}",
            target.name,
            split.join(" + ")
        );
        for (pid, before) in target.pids().into_iter().zip(threads0) {
            let mut by: std::collections::BTreeMap<String, f64> = Default::default();
            for (name, secs) in thread_cpu(pid) {
                let was = before
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(0.0, |(_, s)| *s);
                let kind = name
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(char::is_numeric);
                *by.entry(kind.to_owned()).or_default() += secs - was;
            }
            let parts: Vec<String> = by
                .iter()
                .filter(|(_, s)| **s > 0.005)
                .map(|(n, s)| format!("{n} {s:.2}"))
                .collect();
            eprintln!("  pid {pid} threads: {}", parts.join(", "));
        }
    }
    let c = &shared.counters;
    let msgs = (c.sent.load(Ordering::Relaxed) - before.0)
        + (c.received.load(Ordering::Relaxed) - before.1);
    let offers_lost = (total * expected_per)
        .saturating_sub(c.offers_received.load(Ordering::Relaxed) - offers_before);
    let answers_lost = (c.answers_sent.load(Ordering::Relaxed) - answers_before.0)
        .saturating_sub(c.answers_received.load(Ordering::Relaxed) - answers_before.1);
    for (tx, _, _) in &peers {
        let _ = tx.send(Message::Close(None));
    }
    Phase {
        shared,
        announces: total,
        cpu_secs: cpu,
        messages: msgs,
        offers_lost,
        answers_lost,
        elapsed,
    }
}

/// The closed-loop phase: every connection announces again (10 offers) as
/// soon as the tracker replied to its last announce, and answers every offer
/// it is sent. Returns the tracker's CPU µs per announce and announces/s,
/// over `--seconds` after a second of warm-up.
async fn closed_loop(target: &Target, o: &Opts) -> (f64, f64) {
    let counts = Arc::new(LoopCounts::default());
    let (go, _) = tokio::sync::watch::channel(Loop::Wait);
    let mut tasks = Vec::with_capacity(o.closed);
    for i in 0..o.closed as u64 {
        let url = target.urls[node_of(i, target.urls.len())].clone();
        let (counts, go) = (counts.clone(), go.subscribe());
        tasks.push(tokio::spawn(looping(url, i, counts, go)));
    }
    // Every connection open and joined before the loop starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = go.send(Loop::Run);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, n0, t0) = (target.cpu_secs(), counts.read(), Instant::now());
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    let (cpu, n, secs) = (
        target.cpu_secs() - cpu0,
        counts.read().map2(n0, |a, b| a - b),
        t0.elapsed().as_secs_f64(),
    );
    let [replies, offers, answers] = n.0;
    // Relayed offers and answers per announce, so that CPU per announce is
    // compared for the same work (a tracker may drop offers it cannot place).
    eprintln!(
        "{}: closed loop: {:.0} announces/s, {:.2} offers and {:.2} answers relayed per announce",
        target.name,
        replies as f64 / secs,
        offers as f64 / replies.max(1) as f64,
        answers as f64 / replies.max(1) as f64,
    );
    let _ = go.send(Loop::Stop);
    for t in tasks {
        t.abort();
    }
    for url in &target.urls {
        let Some(stats) = stats_of(url).await else {
            continue;
        };
        if let Some(c) = stats.get("cluster") {
            eprintln!(
                "{}: after the closed loop, {url}: cross-node messages dropped {} (outbound queue full or Redis lost), reconnects {}",
                target.name, c["messages_dropped"], c["reconnects"]
            );
        }
    }
    (cpu * 1e6 / replies.max(1) as f64, replies as f64 / secs)
}

/// Replies to looped announces, offers received, answers received.
#[derive(Default)]
struct LoopCounts([AtomicU64; 3]);

struct Counted([u64; 3]);

impl Counted {
    fn map2(self, other: Counted, f: fn(u64, u64) -> u64) -> Counted {
        Counted(std::array::from_fn(|k| f(self.0[k], other.0[k])))
    }
}

impl LoopCounts {
    fn read(&self) -> Counted {
        Counted(std::array::from_fn(|k| self.0[k].load(Ordering::Relaxed)))
    }

    fn add(&self, k: usize) {
        self.0[k].fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Loop {
    Wait,
    Run,
    Stop,
}

/// Our tracker's default limit is 10 announces a second per connection.
const MIN_GAP: Duration = Duration::from_millis(110);

/// One closed-loop connection (see `closed_loop`).
async fn looping(
    url: String,
    n: u64,
    counts: Arc<LoopCounts>,
    mut go: tokio::sync::watch::Receiver<Loop>,
) {
    let me = id_from(n, b'c');
    let ih = id_from(n % TORRENTS as u64, b'k');
    let template = OfferTemplate::new(&ih, &me, OFFERS, &mut Rng::new(n));
    let (mut sink, mut stream) = connect(&url).await.split();
    let started = announce(&ih, &me, Vec::new(), Some("started"));
    if sink.send(started).await.is_err() || go.wait_for(|g| *g != Loop::Wait).await.is_err() {
        return;
    }
    // The first reply is the started announce's; each one after it is a
    // looped announce's, and starts the next.
    let (mut seq, mut last) = (0u64, Instant::now());
    while let Some(Ok(m)) = stream.next().await {
        let Message::Text(text) = m else { continue };
        let reply = match TrackerMessage::from_json(text.as_str()) {
            Ok(TrackerMessage::Offer(offer)) => {
                counts.add(1);
                answer_to(&offer, &me)
            }
            Ok(TrackerMessage::Answer(_)) => {
                counts.add(2);
                continue;
            }
            Ok(TrackerMessage::Announced(_)) if *go.borrow() == Loop::Run => {
                if seq > 0 {
                    counts.add(0);
                }
                tokio::time::sleep_until((last + MIN_GAP).into()).await;
                (seq, last) = (seq + 1, Instant::now());
                template.fill(n << 24 | seq)
            }
            _ => continue,
        };
        if sink.send(reply).await.is_err() {
            return;
        }
    }
}

/// CPU seconds of each thread of a process, by thread name (and id).
fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let ticks = webswarm_tracker_bench::clock_ticks();
    dir.filter_map(|e| {
        let stat = std::fs::read_to_string(e.ok()?.path().join("stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let secs =
            (f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)) as f64 / ticks;
        Some((
            format!("{name}#{}", head.split_whitespace().next().unwrap_or("")),
            secs,
        ))
    })
    .collect()
}

fn percentiles(mut v: Vec<u64>) -> (f64, f64) {
    v.sort_unstable();
    let pct = |q: f64| {
        v.get(((v.len().max(1) - 1) as f64 * q) as usize)
            .map_or(f64::NAN, |&x| x as f64 / 1000.0)
    };
    (pct(0.5), pct(0.99))
}

/// Offer and answer relay latency, and messages lost, at light load.
async fn measure_light(target: &Target, o: &Opts) -> Measured {
    let mut r = Measured::default();
    eprintln!(
        "{}: light load ({} connections, 200 announces/s, {} s)",
        target.name, o.connections, o.seconds
    );
    let light = load(target, o, 0, 200.0, o.seconds, true).await;
    r.latency_ms = light.shared.latency_percentiles();
    r.offers_lost = light.offers_lost;
    r.answers_lost = light.answers_lost;
    r
}

/// One heavy phase: CPU µs per announce and messages per second (lost
/// messages added to `r`). `round` gives the phase its own peer ids.
async fn measure_heavy(target: &Target, o: &Opts, round: u8, r: &mut Measured) -> (f64, f64) {
    eprintln!(
        "{}: heavy load ({} announces/s offered), round {round}",
        target.name, o.heavy_rate
    );
    // Letters from 'd' on ('a' and 'c' belong to the light and closed
    // phases); `round` stays below 20.
    let heavy = load(target, o, 3 + round, o.heavy_rate, o.seconds.min(5), true).await;
    r.offers_lost += heavy.offers_lost;
    r.answers_lost += heavy.answers_lost;
    if let Ok(l) = heavy.shared.latencies_us.lock() {
        for (all, v) in r.heavy_latencies_us.iter_mut().zip(l.iter()) {
            all.extend_from_slice(v);
        }
    }
    (
        heavy.cpu_secs * 1e6 / heavy.announces as f64,
        heavy.messages as f64 / heavy.elapsed.as_secs_f64(),
    )
}

/// RSS per idle connection, then the closed loop.
async fn measure_idle_and_closed(target: &Target, o: &Opts, r: &mut Measured) {
    let name = &target.name;
    eprintln!("{name}: {} idle connections", o.idle);
    let rss0 = target.rss_kb();
    let shared = Shared::new(target.urls.len(), false);
    let mut idle = Vec::with_capacity(o.idle);
    let mut rng = Rng::new(11);
    for i in 0..o.idle {
        let peer = id_from(1_000_000 + i as u64, b'q');
        let url = &target.urls[node_of(i as u64, target.urls.len())];
        match client(url.clone(), peer, shared.clone()).await {
            Some(tx) => {
                // One announce with offers, as a page makes on joining; the
                // peers already connected answer them.
                let offers = (0..OFFERS)
                    .map(|k| {
                        let oid = id_from((i * OFFERS + k) as u64, b'z');
                        let sdp = match o.short_sdp {
                            true => SHORT_SDP.to_owned(),
                            false => sdp(&mut rng),
                        };
                        serde_json::json!({"offer": {"type": "offer", "sdp": sdp}, "offer_id": binstr_encode(&oid)})
                    })
                    .collect();
                let _ = tx.send(announce(
                    &id_from((i % 100) as u64, b'j'),
                    &peer,
                    offers,
                    Some("started"),
                ));
                idle.push(tx);
            }
            None => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.idle_held = idle.len();
    r.rss_per_conn_kb = (target.rss_kb().saturating_sub(rss0)) as f64 / idle.len().max(1) as f64;
    drop(idle);
    // Last: its 2000 busy connections would leave the allocator with memory
    // that the idle connections' RSS figure would then not show.
    (r.closed_cpu_us, r.closed_rate) = (f64::NAN, f64::NAN);
    if o.closed > 0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        eprintln!("{name}: closed loop ({} connections)", o.closed);
        (r.closed_cpu_us, r.closed_rate) = closed_loop(target, o).await;
    }
}

/// Every target, all running from the start: latency one after the other,
/// then the heavy phase in `o.rounds` alternated rounds (each target's CPU
/// figure is its median: the machine's drift over minutes, often ±20 %
/// here, falls on each alike), then idle memory and the closed loop.
async fn measure_all(targets: Vec<Target>, o: &Opts) -> Vec<(String, Measured)> {
    let mut all = Vec::new();
    for t in &targets {
        all.push(measure_light(t, o).await);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (cpu, rate) = heavy_rounds(&targets, o, o.rounds, &mut all).await;
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    // One at a time, each stopped after: a stopped tracker resets its
    // connections, so the next target's 10,000 idle clients find free ports.
    for (k, t) in targets.into_iter().enumerate() {
        all[k].cpu_us_per_announce = median(&cpu[k]);
        all[k].msgs_per_sec = median(&rate[k]);
        eprintln!(
            "{}: CPU µs per announce by round {:?}",
            t.name,
            cpu[k].iter().map(|x| x.round()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        measure_idle_and_closed(&t, o, &mut all[k]).await;
    }
    names.into_iter().zip(all).collect()
}

/// `rounds` heavy phases of every target, the first to go rotating: CPU µs
/// per announce and messages per second, by target, round by round (lost
/// messages added to `all`).
async fn heavy_rounds(
    targets: &[Target],
    o: &Opts,
    rounds: usize,
    all: &mut [Measured],
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut cpu = vec![Vec::new(); targets.len()];
    let mut rate = vec![Vec::new(); targets.len()];
    for round in 0..rounds {
        for j in 0..targets.len() {
            let k = (round + j) % targets.len();
            let (us, mps) = measure_heavy(&targets[k], o, (round % 20) as u8, &mut all[k]).await;
            cpu[k].push(us);
            rate[k].push(mps);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    (cpu, rate)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One thread, one per core and (unless `--no-cluster`) two nodes with half
/// the cores each, all running, in alternated heavy phases: the machine's
/// drift over minutes (here often ±20 %) falls on each alike, so the ratios
/// of the medians are what sharding and the cluster cost.
async fn alternate(o: &Opts) {
    let one = ["--shards", "1", "--threads", "1"].map(String::from);
    let mut targets = vec![
        Target::single(
            "ours, 1 thread",
            start("webswarm-tracker", ours(o, &one)).await,
        ),
        Target::single(
            "ours, 1 per core",
            start("webswarm-tracker", ours(o, &[])).await,
        ),
    ];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !o.no_cluster && cores >= 2 {
        targets.push(cluster(o, Some(cores / 2)).await);
    }
    let mut all: Vec<Measured> = targets.iter().map(|_| Measured::default()).collect();
    let (cpu, _) = heavy_rounds(&targets, o, o.alternate, &mut all).await;
    let m: Vec<f64> = cpu.iter().map(|v| median(v)).collect();
    println!(
        "CPU µs per announce at {} announces/s, {} alternated phases each:",
        o.heavy_rate, o.alternate
    );
    for ((t, v), m) in targets.iter().zip(&cpu).zip(&all) {
        let rounds: Vec<f64> = v.iter().map(|x| x.round()).collect();
        let p99 = |k: usize| percentiles(m.heavy_latencies_us[k].clone()).1;
        print!("  {}: {rounds:?} (median {:.1})", t.name, median(v));
        print!("; offer relay p99 {:.2} ms same node", p99(0));
        if !m.heavy_latencies_us[1].is_empty() {
            print!(", {:.2} across", p99(1));
        }
        println!(", {} / {} lost", m.offers_lost, m.answers_lost);
    }
    print!("sharding {:.2}x", m[1] / m[0]);
    if let Some(two) = m.get(2) {
        print!(
            "; two nodes / one thread {:.2}x, / one per core {:.2}x",
            two / m[0],
            two / m[1]
        );
    }
    println!();
}

fn ours(o: &Opts, extra: &[String]) -> Command {
    let mut c = match &o.tracker_cpus {
        Some(cpus) => {
            // taskset execs the tracker: the child's pid is the tracker's.
            let mut c = Command::new("taskset");
            c.args(["-c", cpus, &o.tracker]);
            c
        }
        None => Command::new(&o.tracker),
    };
    c.args(["--bind", "127.0.0.1:0", "--max-connections", "20000"])
        .args(extra)
        .env(
            "RUST_LOG",
            "warn,webswarm_tracker=info,webswarm_signaling=info",
        )
        .env("NO_COLOR", "1");
    if let Some(n) = o.shards {
        c.args(["--shards", &n.to_string()]);
    }
    if let Some(n) = o.threads {
        c.args(["--threads", &n.to_string()]);
    }
    c
}

/// Two webswarm-tracker nodes linked through a redis-server started here,
/// with `threads` connection threads each (`None`: `--threads` or the default).
async fn cluster(o: &Opts, threads: Option<usize>) -> Target {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let redis = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server (Debian's redis-server package)");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("redis://127.0.0.1:{port}/");
    let mut extra = vec!["--redis-url".to_owned(), url];
    if let Some(file) = &o.cluster_config {
        extra.extend(["--config".to_owned(), file.clone()]);
    }
    if let Some(n) = threads {
        extra.extend(["--threads".to_owned(), n.to_string()]);
    }
    let per_node = threads
        .or(o.threads)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let a = start("node A", ours(o, &extra)).await;
    let b = start("node B", ours(o, &extra)).await;
    // Until each node has heard the other's heartbeat.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    Target {
        name: format!("2 nodes × {per_node} thr + Redis"),
        urls: vec![a.1, b.1],
        children: vec![a.0, b.0, redis],
    }
}

const USAGE: &str =
    "webswarm-tracker-bench: our tracker (1 thread, 1 per core, 2 nodes + Redis) and
bittorrent-tracker under the same load, side by side.

  --seconds N        length of each load phase (10)
  --connections N    connections at light load (200)
  --idle N           idle connections for the memory figure (10000)
  --heavy-rate R     announces/s offered in the CPU phase (2000)
  --rounds N         CPU phases per target, alternated across targets, the
                     median counts (3, at most 5)
  --closed N         connections in the closed-loop phase (2000; 0 skips it)
  --alternate N      only one thread, one per core and two nodes with half
                     the cores each (not with --no-cluster): N heavy phases
                     each, alternated, medians and their ratios
  --cluster-config F the cluster nodes' configuration file (`--config`), to
                     compare settings
  --tracker-cpus L   run our trackers under `taskset -c L` (e.g. run the bench
                     itself under `taskset -c 1` and give the trackers 0)
  --threads N        connection threads of every node of ours (default: cores)
  --shards N         swarm shards of every node of ours (default: cores)
  --short-sdp        47-byte SDPs instead of 1 KB
  --no-reference     skip bittorrent-tracker
  --no-cluster       skip the two-node cluster
  --tracker PATH     our tracker binary (target/release/webswarm-tracker)
  --node-script PATH the reference's launcher (tests/bench/bittorrent-tracker.mjs)
  --aquatic PATH     also run aquatic_ws from this binary";

#[tokio::main]
async fn main() {
    let mut o = Opts {
        tracker: "target/release/webswarm-tracker".into(),
        aquatic: None,
        node_script: "tests/bench/bittorrent-tracker.mjs".into(),
        connections: 200,
        idle: 10_000,
        seconds: 10,
        shards: None,
        threads: None,
        no_reference: false,
        no_cluster: false,
        short_sdp: false,
        heavy_rate: 2000.0,
        closed: 2000,
        alternate: 0,
        tracker_cpus: None,
        cluster_config: None,
        rounds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--no-reference" => o.no_reference = true,
            "--no-cluster" => o.no_cluster = true,
            "--short-sdp" => o.short_sdp = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            _ => {
                let v = args
                    .next()
                    .unwrap_or_else(|| bad(&format!("{a} needs a value")));
                let num = |v: &str| number(&a, v);
                match a.as_str() {
                    "--tracker" => o.tracker = v,
                    "--aquatic" => o.aquatic = Some(v),
                    "--node-script" => o.node_script = v,
                    "--connections" => o.connections = num(&v),
                    "--idle" => o.idle = num(&v),
                    "--seconds" => o.seconds = number(&a, &v),
                    "--shards" => o.shards = Some(num(&v)),
                    "--threads" => o.threads = Some(num(&v)),
                    "--heavy-rate" => o.heavy_rate = number(&a, &v),
                    "--closed" => o.closed = num(&v),
                    "--alternate" => o.alternate = num(&v),
                    "--tracker-cpus" => o.tracker_cpus = Some(v),
                    "--cluster-config" => o.cluster_config = Some(v),
                    "--rounds" => o.rounds = num(&v).clamp(1, 5),
                    _ => bad(&format!("unknown argument {a}")),
                }
            }
        }
    }
    if o.alternate > 0 {
        return alternate(&o).await;
    }
    let mut targets = Vec::new();
    if o.shards.is_none() && o.threads.is_none() {
        let one = ["--shards", "1", "--threads", "1"].map(String::from);
        let started = start("webswarm-tracker", ours(&o, &one)).await;
        targets.push(Target::single("ours, 1 thread", started));
    }
    let started = start("webswarm-tracker", ours(&o, &[])).await;
    targets.push(Target::single("ours, 1 per core", started));
    if !o.no_cluster {
        // Each node with its share of the machine (as if on a machine of its
        // own), then each with every core (the default), competing.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if o.threads.is_none() && cores >= 2 {
            targets.push(cluster(&o, Some(cores / 2)).await);
        }
        targets.push(cluster(&o, None).await);
    }
    if !o.no_reference {
        let mut reference = Command::new("node");
        reference.arg(&o.node_script);
        let started = start("bittorrent-tracker", reference).await;
        targets.push(Target::single("bittorrent-tracker", started));
    }
    if let Some(path) = &o.aquatic {
        // Its default (one socket worker, one swarm worker), then a socket
        // worker per core, as its documentation recommends for small servers.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        for workers in [1, cores].into_iter().take(cores.min(2)) {
            targets.push(start_aquatic(path, workers).await);
        }
    }
    let all = measure_all(targets, &o).await;
    print_table(&all);
    print_ratios(&all);
    println!(
        "(CPU: every process of a target, Redis included, at {} announces/s offered (median of {} alternated rounds) and in a closed loop of {} connections; latency at 200 announces/s; {} cores)",
        o.heavy_rate,
        o.rounds,
        o.closed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

//! Tracker benchmark: the same WebSocket workload against webswarm-tracker and
//! the npm `bittorrent-tracker` server, in one run, printed side by side.
//!
//! Workload: C connections spread over T torrents; every announce carries 10
//! offers with realistic SDP; every relayed offer is answered at once.
//! - light load (default 200 connections, 200 announces/s): offer relay latency;
//! - heavy load (2000 announces/s offered, or --heavy-rate): tracker CPU per
//!   announce, messages/s;
//! - idle: RSS growth per connection with 10k connections that announced once
//!   (with 10 offers, answered by the peers already there) and then idle.
//!
//! Usage: webswarm-tracker-bench [--tracker PATH] [--node-script PATH]
//!        [--connections C] [--idle K] [--seconds S] [--short-sdp]
//!        [--shards N] [--threads N] [--heavy-rate R] [--no-reference]

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
use webswarm_tracker_bench::{announce, cpu_secs, id_from, rss_kb, sdp, start};
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

const OFFERS: usize = 10;
const TORRENTS: usize = 10;
/// A 47-byte SDP, for `--short-sdp`.
const SHORT_SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=\r\n";

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
    /// Skip bittorrent-tracker (to compare configurations of ours quickly).
    no_reference: bool,
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

struct Shared {
    start: Instant,
    counters: Counters,
    latencies_us: Mutex<Vec<u64>>,
    record: std::sync::atomic::AtomicBool,
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
                    if shared.record.load(Ordering::Relaxed) {
                        let sent_us =
                            u64::from_be_bytes(o.offer_id.0[..8].try_into().unwrap_or([0; 8]));
                        let now_us = shared.start.elapsed().as_micros() as u64;
                        if let Ok(mut l) = shared.latencies_us.lock() {
                            l.push(now_us.saturating_sub(sent_us));
                        }
                    }
                    let answer = serde_json::json!({"action": "announce",
                        "info_hash": binstr_encode(&o.info_hash.0), "peer_id": binstr_encode(&peer),
                        "to_peer_id": binstr_encode(&o.peer_id.0), "offer_id": binstr_encode(&o.offer_id.0),
                        "answer": {"type": "answer", "sdp": "v=0\r\na=answer\r\n"}});
                    c.answers_sent.fetch_add(1, Ordering::Relaxed);
                    c.sent.fetch_add(1, Ordering::Relaxed);
                    let _ = answer_tx.send(Message::text(answer.to_string()));
                }
                Ok(TrackerMessage::Answer(_)) => {
                    c.answers_received.fetch_add(1, Ordering::Relaxed);
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

/// Prints ours against one reference, with ratios (how many times better ours is).
fn print_table(a: &Measured, b: &Measured, name: &str) {
    println!(
        "\n{:<34} {:>18} {:>20} {:>9}",
        "metric", "webswarm-tracker", name, "ratio"
    );
    let row = |metric: &str, x: f64, y: f64, lower_better: bool| {
        let ratio = if lower_better { y / x } else { x / y };
        println!("{metric:<34} {x:>18.2} {y:>20.2} {ratio:>8.2}x");
    };
    row(
        "CPU µs per announce (10 offers)",
        a.cpu_us_per_announce,
        b.cpu_us_per_announce,
        true,
    );
    row(
        "messages per second (heavy)",
        a.msgs_per_sec,
        b.msgs_per_sec,
        false,
    );
    row("offer relay p50 ms (light)", a.p50_ms, b.p50_ms, true);
    row("offer relay p99 ms (light)", a.p99_ms, b.p99_ms, true);
    row(
        "RSS KB per idle connection",
        a.rss_per_conn_kb,
        b.rss_per_conn_kb,
        true,
    );
    println!(
        "{:<34} {:>18} {:>20}",
        "idle connections held", a.idle_held, b.idle_held
    );
    println!(
        "{:<34} {:>18} {:>20}",
        "offers lost", a.offers_lost, b.offers_lost
    );
    println!(
        "{:<34} {:>18} {:>20}",
        "answers lost", a.answers_lost, b.answers_lost
    );
}

/// Starts aquatic_ws on a free loopback port with its default settings
/// (it prints no address, so readiness is a successful TCP connect).
async fn start_aquatic(path: &str) -> (Child, String) {
    let defaults = std::process::Command::new(path)
        .arg("-p")
        .output()
        .expect("aquatic_ws -p");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let config = String::from_utf8_lossy(&defaults.stdout).replace(
        "address = \"0.0.0.0:3000\"",
        &format!("address = \"127.0.0.1:{port}\""),
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
            return (child, format!("ws://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aquatic_ws did not start");
}

#[derive(Default, Debug)]
struct Measured {
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_announce: f64,
    msgs_per_sec: f64,
    offers_lost: u64,
    answers_lost: u64,
    rss_per_conn_kb: f64,
    idle_held: usize,
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
    url: &str,
    pid: u32,
    o: &Opts,
    phase: u8,
    rate: f64,
    seconds: u64,
    record: bool,
) -> Phase {
    let shared = Arc::new(Shared {
        start: Instant::now(),
        counters: Counters::default(),
        latencies_us: Mutex::new(Vec::new()),
        record: std::sync::atomic::AtomicBool::new(false),
    });
    let mut rng = Rng::new(9);
    let mut peers = Vec::new();
    for i in 0..o.connections {
        // Fresh ids per phase: a tracker may keep relaying to an old socket
        // that announced the same peer id.
        let peer = id_from(i as u64, b'a' + phase);
        let tx = client(url.to_owned(), peer, shared.clone())
            .await
            .expect("connect");
        let ih = id_from((i % TORRENTS) as u64, b'i');
        tx.send(announce(&ih, &peer, Vec::new(), Some("started")))
            .ok();
        shared.counters.sent.fetch_add(1, Ordering::Relaxed);
        peers.push((tx, ih, peer));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.record.store(record, Ordering::Relaxed);
    let swarm = o.connections / TORRENTS;
    let expected_per = OFFERS.min(swarm.saturating_sub(1)) as u64;
    let (cpu0, t0) = (cpu_secs(pid), Instant::now());
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
    let cpu = cpu_secs(pid) - cpu0;
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

async fn measure(name: &str, started: (Child, String), o: &Opts) -> Measured {
    let (child, url) = started;
    let pid = child.id().expect("running");
    let mut r = Measured::default();
    eprintln!(
        "{name}: light load ({} connections, 200 announces/s, {} s)",
        o.connections, o.seconds
    );
    let light = load(&url, pid, o, 0, 200.0, o.seconds, true).await;
    let mut lat = light
        .shared
        .latencies_us
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len().max(1) - 1) as f64 * q) as usize)
            .map_or(f64::NAN, |&v| v as f64 / 1000.0)
    };
    (r.p50_ms, r.p99_ms) = (pct(0.5), pct(0.99));
    r.offers_lost = light.offers_lost;
    r.answers_lost = light.answers_lost;
    tokio::time::sleep(Duration::from_secs(1)).await;
    eprintln!("{name}: heavy load ({} announces/s offered)", o.heavy_rate);
    let heavy = load(&url, pid, o, 1, o.heavy_rate, o.seconds.min(5), false).await;
    r.cpu_us_per_announce = heavy.cpu_secs * 1e6 / heavy.announces as f64;
    r.msgs_per_sec = heavy.messages as f64 / heavy.elapsed.as_secs_f64();
    r.offers_lost += heavy.offers_lost;
    r.answers_lost += heavy.answers_lost;
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("{name}: {} idle connections", o.idle);
    let rss0 = rss_kb(pid);
    let shared = Arc::new(Shared {
        start: Instant::now(),
        counters: Counters::default(),
        latencies_us: Mutex::new(Vec::new()),
        record: Default::default(),
    });
    let mut idle = Vec::with_capacity(o.idle);
    let mut rng = Rng::new(11);
    for i in 0..o.idle {
        let peer = id_from(1_000_000 + i as u64, b'q');
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
    r.rss_per_conn_kb = (rss_kb(pid).saturating_sub(rss0)) as f64 / idle.len().max(1) as f64;
    drop(idle);
    drop(child);
    r
}

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
        short_sdp: false,
        heavy_rate: 2000.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--no-reference" || a == "--short-sdp" {
            o.no_reference |= a == "--no-reference";
            o.short_sdp |= a == "--short-sdp";
            continue;
        }
        let v = args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--tracker" => o.tracker = v,
            "--aquatic" => o.aquatic = Some(v),
            "--node-script" => o.node_script = v,
            "--connections" => o.connections = v.parse().expect("number"),
            "--idle" => o.idle = v.parse().expect("number"),
            "--seconds" => o.seconds = v.parse().expect("number"),
            "--shards" => o.shards = Some(v.parse().expect("number")),
            "--heavy-rate" => o.heavy_rate = v.parse().expect("number"),
            "--threads" => o.threads = Some(v.parse().expect("number")),
            _ => panic!("unknown argument {a}"),
        }
    }
    let mut ours = Command::new(&o.tracker);
    ours.args(["--bind", "127.0.0.1:0", "--max-connections", "20000"])
        .env("RUST_LOG", "warn,webswarm_tracker=info")
        .env("NO_COLOR", "1");
    if let Some(n) = o.shards {
        ours.args(["--shards", &n.to_string()]);
    }
    if let Some(n) = o.threads {
        ours.args(["--threads", &n.to_string()]);
    }
    let mut reference = Command::new("node");
    reference.arg(&o.node_script);
    let a = measure(
        "webswarm-tracker",
        start("webswarm-tracker", ours).await,
        &o,
    )
    .await;
    if o.no_reference {
        println!("{a:#?}");
        return;
    }
    let b = measure(
        "bittorrent-tracker",
        start("bittorrent-tracker", reference).await,
        &o,
    )
    .await;
    let c = match &o.aquatic {
        Some(path) => Some(measure("aquatic_ws", start_aquatic(path).await, &o).await),
        None => None,
    };
    print_table(&a, &b, "bittorrent-tracker");
    if let Some(c) = c {
        print_table(&a, &c, "aquatic_ws 0.9.0");
    }
    println!("(ratio: how many times better webswarm-tracker is; CPU measured at 2000 announces/s offered)");
}

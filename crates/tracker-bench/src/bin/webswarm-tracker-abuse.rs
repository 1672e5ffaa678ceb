//! The tracker under abuse: many connections in a closed announce loop that
//! keeps it saturated, a few readers that stop reading, oversize frames, and
//! honest pairs whose every offer and answer is counted.
//!
//! Checked at the end (exit status 1 if any fails):
//! - honest pairs lost nothing: every offer reached its peer, every answer
//!   came back, and no honest connection was closed;
//! - every reader that stopped was closed by the tracker (its send queue
//!   filled), and the connections that kept up were not;
//! - every oversize frame got a 1009 close frame;
//! - the tracker's RSS after the warm-up stayed within 10 %.
//!
//! Usage: webswarm-tracker-abuse --tracker PATH [--connections 10000]
//!        [--seconds 600] [--stalled 20] [--pairs 20]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::Rng;
use webswarm_tracker_bench::{
    announce, answer_to, connect, cpu_secs, id_from, rss_kb, sdp, start, stats_of, OfferTemplate,
};
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

/// Torrents the load connections are spread over.
const TORRENTS: u64 = 200;
/// Offers in each load announce.
const OFFERS: usize = 5;
/// The tracker's default rate limit is 10 announces a second per connection.
const MIN_GAP: Duration = Duration::from_millis(110);

struct Opts {
    tracker: String,
    connections: usize,
    seconds: u64,
    stalled: usize,
    pairs: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        tracker: "target/release/webswarm-tracker".into(),
        connections: 10_000,
        seconds: 600,
        stalled: 20,
        pairs: 20,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        let n = || {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: a number", pair[0]))
        };
        match pair[0].as_str() {
            "--tracker" => o.tracker = v.clone(),
            "--connections" => o.connections = n() as usize,
            "--seconds" => o.seconds = n(),
            "--stalled" => o.stalled = n() as usize,
            "--pairs" => o.pairs = n() as usize,
            other => panic!("unknown option {other}"),
        }
    }
    o
}

#[derive(Default)]
struct Counters {
    announces: AtomicU64,
    /// Connections that kept up and were closed anyway.
    load_closed: AtomicU64,
    honest_offers_sent: AtomicU64,
    honest_offers_received: AtomicU64,
    honest_answers_received: AtomicU64,
    honest_closed: AtomicU64,
    oversize_1009: AtomicU64,
    oversize_other: AtomicU64,
}

/// A load connection: announces again as soon as the previous announce is
/// answered (closed loop, at most the tracker's per-connection rate), and
/// answers every offer relayed to it.
async fn load_conn(url: String, n: u64, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let me = id_from(n, b'l');
    let ih = id_from(n % TORRENTS, b'i');
    let mut rng = Rng::new(n);
    let template = OfferTemplate::new(&ih, &me, OFFERS, &mut rng);
    let mut seq = 0u64;
    // Fresh offer ids each time, as a real client sends.
    let mut again = || {
        seq += 1;
        template.fill(n << 24 | seq)
    };
    let (mut sink, mut stream) = connect(&url).await.split();
    if sink
        .send(announce(&ih, &me, Vec::new(), Some("started")))
        .await
        .is_err()
    {
        c.load_closed.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut last = Instant::now();
    while let Some(Ok(m)) = stream.next().await {
        let Message::Text(text) = m else { continue };
        let reply = match TrackerMessage::from_json(text.as_str()) {
            Ok(TrackerMessage::Offer(o)) => Some(answer_to(&o, &me)),
            Ok(TrackerMessage::Announced(_)) if !stop.load(Ordering::Relaxed) => {
                c.announces.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep_until((last + MIN_GAP).into()).await;
                last = Instant::now();
                Some(again())
            }
            _ => None,
        };
        if let Some(r) = reply {
            if sink.send(r).await.is_err() {
                break;
            }
        }
    }
    if !stop.load(Ordering::Relaxed) {
        c.load_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// A client that keeps announcing (10 offers, as fast as the rate limit
/// allows) but stops reading after its first reply, on a socket with a small
/// receive buffer, in a swarm whose other peers answer every offer with a
/// large SDP. Returns `true` once the tracker closed it (seen as a failed
/// write), which is what should happen, or `false` if the run ended first.
async fn stalled_conn(url: String, n: u64, hot: u64, stop: Arc<AtomicBool>) -> bool {
    let me = id_from(n, b's');
    let ih = id_from(n % hot, b'h');
    let addr = url.trim_start_matches("ws://").to_owned();
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    let _ = sock.set_recv_buffer_size(4096);
    let Ok(tcp) = sock.connect(addr.parse().expect("addr")).await else {
        return false;
    };
    let Ok((mut ws, _)) = tokio_tungstenite::client_async(url.as_str(), tcp).await else {
        return false;
    };
    let _ = ws
        .send(announce(&ih, &me, Vec::new(), Some("started")))
        .await;
    let _ = ws.next().await;
    let mut rng = Rng::new(n + 500);
    let sdps: Vec<String> = (0..10).map(|_| sdp(&mut rng)).collect();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let offers = sdps
            .iter()
            .map(|sdp| {
                seq += 1;
                serde_json::json!({"offer": {"type": "offer", "sdp": sdp},
                    "offer_id": binstr_encode(&id_from(n << 32 | seq, b'S'))})
            })
            .collect();
        let sent = ws.send(announce(&ih, &me, offers, None));
        // A write that times out is a full socket, not yet a close.
        if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(2), sent).await {
            return true;
        }
        tokio::time::sleep(MIN_GAP).await;
    }
    false
}

/// Peers of the stalled clients' swarms that read everything and answer
/// every offer with a large SDP (~4.5 KB, many candidates), so the stalled
/// clients' queues fill in seconds rather than minutes.
async fn hot_answerer(url: String, n: u64, hot: u64, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let me = id_from(n, b'H');
    let ih = id_from(n % hot, b'h');
    let mut rng = Rng::new(n + 77);
    let candidates = "a=candidate:2 1 udp 1686052607 192.0.2.1 50712 typ srflx raddr 127.0.0.1 rport 50712 generation 0\r\n".repeat(40);
    let big = sdp(&mut rng) + &candidates;
    let (mut sink, mut stream) = connect(&url).await.split();
    let _ = sink
        .send(announce(&ih, &me, Vec::new(), Some("started")))
        .await;
    let mut keep_alive = tokio::time::interval(Duration::from_secs(30));
    loop {
        let reply = tokio::select! {
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => match TrackerMessage::from_json(t.as_str()) {
                    Ok(TrackerMessage::Offer(o)) => Some(Message::text(
                        serde_json::json!({"action": "announce",
                            "info_hash": binstr_encode(&o.info_hash.0), "peer_id": binstr_encode(&me),
                            "to_peer_id": binstr_encode(&o.peer_id.0), "offer_id": binstr_encode(&o.offer_id.0),
                            "answer": {"type": "answer", "sdp": big}})
                        .to_string(),
                    )),
                    _ => None,
                },
                Some(Ok(_)) => None,
                _ => break,
            },
            _ = keep_alive.tick() => Some(announce(&ih, &me, Vec::new(), None)),
        };
        if let Some(r) = reply {
            if sink.send(r).await.is_err() {
                break;
            }
        }
    }
    if !stop.load(Ordering::Relaxed) {
        c.load_closed.fetch_add(1, Ordering::Relaxed);
    }
}

/// One honest pair in a torrent of its own: A offers twice a second, B
/// answers every offer; every offer and answer is counted.
async fn honest_pair(url: String, n: u64, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let (a, b) = (id_from(n, b'A'), id_from(n, b'B'));
    let ih = id_from(n, b'p');
    let (mut b_sink, mut b_stream) = connect(&url).await.split();
    let _ = b_sink
        .send(announce(&ih, &b, Vec::new(), Some("started")))
        .await;
    let c2 = c.clone();
    let (b_tx, mut b_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = b_rx.recv().await {
            if b_sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let b_again = b_tx.clone();
    let b_reader = tokio::spawn(async move {
        let mut seen = std::collections::HashSet::new();
        while let Some(Ok(Message::Text(t))) = b_stream.next().await {
            if let Ok(TrackerMessage::Offer(o)) = TrackerMessage::from_json(t.as_str()) {
                if seen.insert(o.offer_id) {
                    c2.honest_offers_received.fetch_add(1, Ordering::Relaxed);
                }
                let _ = b_tx.send(answer_to(&o, &b));
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut a_sink, mut a_stream) = connect(&url).await.split();
    let c3 = c.clone();
    let a_reader = tokio::spawn(async move {
        while let Some(Ok(Message::Text(t))) = a_stream.next().await {
            if let Ok(TrackerMessage::Answer(_)) = TrackerMessage::from_json(t.as_str()) {
                c3.honest_answers_received.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut rng = Rng::new(n + 1_000_000);
    let mut seq = 0u64;
    let mut last_b = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let offer = serde_json::json!({"offer": {"type": "offer", "sdp": sdp(&mut rng)},
            "offer_id": binstr_encode(&id_from(n << 32 | seq, b'q'))});
        let event = (seq == 1).then_some("started");
        if a_sink
            .send(announce(&ih, &a, vec![offer], event))
            .await
            .is_err()
        {
            c.honest_closed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        c.honest_offers_sent.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if last_b.elapsed() > Duration::from_secs(60) {
            // Keeps B in its swarm (the peer timeout is 180 s).
            last_b = Instant::now();
            let _ = b_again.send(announce(&ih, &b, Vec::new(), None));
        }
    }
    // Let the last answers arrive, then see whether either side was closed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for reader in [a_reader, b_reader] {
        if reader.is_finished() {
            c.honest_closed.fetch_add(1, Ordering::Relaxed);
        }
        reader.abort();
    }
}

/// Sends one frame larger than the tracker's 64 KiB limit and records the
/// close code it gets back.
async fn oversize(url: String, c: Arc<Counters>) {
    let mut ws = connect(&url).await;
    let _ = ws.send(Message::text("x".repeat(70_000))).await;
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| f.code);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let counter = if code == Some(CloseCode::Size) {
        &c.oversize_1009
    } else {
        &c.oversize_other
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

async fn stats(url: &str) -> serde_json::Value {
    stats_of(url).await.unwrap_or(serde_json::Value::Null)
}

fn median(mut xs: Vec<u64>) -> u64 {
    xs.sort_unstable();
    xs.get(xs.len() / 2).copied().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let o = opts();
    let config = std::env::temp_dir().join(format!("tracker-abuse-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:0\"\nmax_connections = {}\n",
            o.connections + 2 * o.stalled + 2 * o.pairs + 1000
        ),
    )
    .expect("write the tracker config");
    let mut cmd = tokio::process::Command::new(&o.tracker);
    cmd.arg("--config").arg(&config);
    let (child, url) = start("webswarm-tracker", cmd).await;
    let pid = child.id().expect("tracker pid");
    let c = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let hot = (o.stalled as u64 / 4).max(1);

    eprintln!("connecting {} load connections…", o.connections);
    let t0 = Instant::now();
    for n in 0..o.connections as u64 {
        tokio::spawn(load_conn(url.clone(), n, c.clone(), stop.clone()));
        if n % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let pairs: Vec<_> = (0..o.pairs as u64)
        .map(|n| tokio::spawn(honest_pair(url.clone(), n, c.clone(), stop.clone())))
        .collect();
    let stalled: Vec<_> = (0..o.stalled as u64)
        .map(|n| tokio::spawn(stalled_conn(url.clone(), n, hot, stop.clone())))
        .collect();
    for n in 0..hot * 5 {
        tokio::spawn(hot_answerer(url.clone(), n, hot, c.clone(), stop.clone()));
    }
    eprintln!(
        "connected in {:.1} s; running {} s",
        t0.elapsed().as_secs_f64(),
        o.seconds
    );

    let run = Duration::from_secs(o.seconds);
    let t0 = Instant::now();
    let (cpu0, mut samples) = (cpu_secs(pid), Vec::new());
    let mut oversize_every = tokio::time::interval(Duration::from_secs(5));
    let mut sample_every = tokio::time::interval(Duration::from_secs(5));
    let mut last_print = Instant::now();
    while t0.elapsed() < run {
        tokio::select! {
            _ = oversize_every.tick() => { tokio::spawn(oversize(url.clone(), c.clone())); }
            _ = sample_every.tick() => {
                let (t, rss) = (t0.elapsed().as_secs(), rss_kb(pid));
                samples.push((t, rss));
                if last_print.elapsed() >= Duration::from_secs(30) {
                    last_print = Instant::now();
                    let s = stats(&url).await;
                    eprintln!("{t:>4} s  rss {rss} KiB  connections {}  announces {}  offers relayed {}  failures {}  slow closed {}  cpu {:.0} %",
                        s["connections"], s["announces"], s["offers_relayed"], s["failures"], s["slow_clients_closed"],
                        100.0 * (cpu_secs(pid) - cpu0) / t0.elapsed().as_secs_f64());
                }
            }
        }
    }
    let cpu = cpu_secs(pid) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for p in pairs {
        let _ = p.await;
    }
    let mut stalled_closed = 0;
    for s in stalled {
        // Each has been closed by now, or it never will be.
        if s.is_finished() && s.await.unwrap_or(false) {
            stalled_closed += 1;
        }
    }
    let s = stats(&url).await;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let warm_from = o.seconds / 4;
    let warm = median(
        samples
            .iter()
            .filter(|(t, _)| *t >= warm_from && *t < warm_from + o.seconds / 4)
            .map(|x| x.1)
            .collect(),
    );
    let end = median(
        samples
            .iter()
            .filter(|(t, _)| *t + (o.seconds / 10).max(10) >= o.seconds)
            .map(|x| x.1)
            .collect(),
    );
    let peak = samples.iter().map(|x| x.1).max().unwrap_or(0);
    println!(
        "tracker abuse: {} connections for {} s",
        o.connections, o.seconds
    );
    println!(
        "  announces answered by the tracker: {} ({:.0}/s); tracker cpu {:.0} % of a core",
        n(&c.announces),
        n(&c.announces) as f64 / wall,
        100.0 * cpu / wall
    );
    println!(
        "  tracker RSS KiB: start {}  warm {warm}  end {end}  peak {peak}",
        samples.first().map_or(0, |x| x.1)
    );
    println!(
        "  honest pairs: {} offers sent, {} received, {} answers back, {} connections closed",
        n(&c.honest_offers_sent),
        n(&c.honest_offers_received),
        n(&c.honest_answers_received),
        n(&c.honest_closed)
    );
    println!(
        "  stalled readers closed by the tracker: {stalled_closed} of {}; slow_clients_closed {}",
        o.stalled, s["slow_clients_closed"]
    );
    println!(
        "  load connections closed while keeping up: {}",
        n(&c.load_closed)
    );
    println!(
        "  oversize frames: {} got 1009, {} did not",
        n(&c.oversize_1009),
        n(&c.oversize_other)
    );
    let mut failed = Vec::new();
    let lost =
        n(&c.honest_offers_sent) - n(&c.honest_offers_received).min(n(&c.honest_offers_sent));
    if lost > 0
        || n(&c.honest_answers_received) != n(&c.honest_offers_received)
        || n(&c.honest_closed) > 0
    {
        failed.push("honest pairs lost messages or were closed");
    }
    if stalled_closed < o.stalled {
        failed.push("a reader that stopped reading was not closed");
    }
    if n(&c.load_closed) > 0 {
        failed.push("connections that kept up were closed");
    }
    if n(&c.oversize_other) > 0 || n(&c.oversize_1009) == 0 {
        failed.push("an oversize frame did not get a 1009 close");
    }
    if end as f64 > warm as f64 * 1.1 {
        failed.push("tracker RSS grew more than 10 % after the warm-up");
    }
    drop(child);
    let _ = std::fs::remove_file(&config);
    if !failed.is_empty() {
        eprintln!("FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
}

//! The classic BitTorrent world, with real clients from Debian's packages
//! (transmission, aria2, python3-libtorrent) and a real tracker
//! (opentracker), all on loopback: `webswarm` downloads from them and seeds
//! to them over TCP, finding peers through HTTP and UDP announces.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A whole download of 64 MiB on loopback takes ~20 s from transmission
/// (it unchokes a new peer after up to 10 s and sends in 500 ms bursts).
const DEADLINE: Duration = Duration::from_secs(120);

/// The log a failed bridge test shows: connections, closes, announces.
const LOG: &str = "warn,webswarm_native=debug";

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is missing: `cargo xtask setup` installs it");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(c: &mut Command) -> Reap {
    Reap(
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}")),
    )
}

/// opentracker on loopback, HTTP and UDP on `port`, taking one torrent
/// (Debian builds it whitelist-only).
fn opentracker(dir: &Path, port: u16, hash: &str) -> Reap {
    need("opentracker");
    let list = dir.join("whitelist");
    std::fs::write(&list, format!("{hash}\n")).unwrap();
    let p = port.to_string();
    let child = spawn(
        Command::new("opentracker")
            .args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-w"])
            .arg(&list)
            .current_dir(dir),
    );
    wait_listening(port);
    child
}

/// Two files in a directory, 64 MiB in all. `seed` makes each test's
/// content, and so its info-hash, its own: tests run side by side, and a
/// classic client that dials an address another test's peer held before
/// (every webswarm here is 127.0.0.1) must not find the same torrent there.
fn two_files(root: &Path, seed: u64) -> PathBuf {
    let src = root.join("src/multi");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.bin"), random_bytes(40 << 20, 2 * seed)).unwrap();
    std::fs::write(src.join("sub/b.bin"), random_bytes(24 << 20, 2 * seed + 1)).unwrap();
    src
}

fn same_tree(a: &Path, b: &Path) {
    for f in ["a.bin", "sub/b.bin"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs");
    }
}

/// The response (head and body) to a plain HTTP/1.0 GET on loopback.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    String::from_utf8_lossy(&body).into_owned()
}

/// Waits until the tracker counts `n` seeders of `hash` (scrape, BEP 48):
/// a download that announces before the seeder did would otherwise wait
/// out the tracker's minimum interval (opentracker: ~15 minutes).
fn wait_for_seeders(port: u16, hash: &str, n: u32) {
    let escaped: String = (0..20)
        .map(|i| format!("%{}", &hash[2 * i..2 * i + 2]))
        .collect();
    let t = Instant::now();
    loop {
        let body = http_get(port, &format!("/scrape?info_hash={escaped}"));
        let complete = body
            .split_once("8:completei")
            .and_then(|(_, rest)| rest.split_once('e'))
            .and_then(|(n, _)| n.parse::<u32>().ok());
        if complete.is_some_and(|c| c >= n) {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no seeder announced: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn info_hash_of_magnet(m: &str) -> String {
    let i = m.find("btih:").expect("a btih magnet") + 5;
    m[i..i + 40].to_lowercase()
}

/// `webswarm get` with `args`, within the deadline; returns its stderr.
fn get(args: &[&str]) -> String {
    try_get(args, "").unwrap_or_else(|e| panic!("{e}")).1
}

/// `webswarm get --json` with `args`: its summary, and its stderr.
fn get_json(args: &[&str]) -> (serde_json::Value, String) {
    get_json_logged(args, "")
}

/// `get_json` with `RUST_LOG=log`.
fn get_json_logged(args: &[&str], log: &str) -> (serde_json::Value, String) {
    let mut a = args.to_vec();
    a.push("--json");
    let (out, err) = try_get(&a, log).unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (v, err)
}

/// `webswarm get` with `args` and `RUST_LOG=log` (none if empty), listening
/// for TCP peers on a port of its own (not 6881, which tests running side by
/// side would take in turns); its stdout and stderr, or why it failed.
fn try_get(args: &[&str], log: &str) -> Result<(String, String), String> {
    let mut cmd = webswarm(&["get"]);
    cmd.args(args);
    if !args.iter().any(|a| a.starts_with("--listen-port")) {
        cmd.arg(format!("--listen-port={}", free_port()));
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if !log.is_empty() {
        cmd.env("RUST_LOG", log);
    }
    let mut child = cmd.spawn().unwrap();
    // Read as it comes: a chatty log would fill the pipe and block the child.
    fn drain(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    }
    let out = drain(child.stdout.take().unwrap());
    let reader = drain(child.stderr.take().unwrap());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = reader.join().unwrap();
    let out = out.join().unwrap();
    match status {
        Some(s) if s.success() => Ok((out, err)),
        Some(_) => Err(format!("webswarm get {args:?} failed: {err}")),
        None => Err(format!(
            "webswarm get {args:?} did not finish in {DEADLINE:?}: {err}"
        )),
    }
}

#[test]
fn transmission_seeds_over_tcp_and_webswarm_gets_it_through_http_and_udp_announces() {
    need("transmission-cli");
    let root = tempdir("classic-transmission");
    let src = two_files(&root, 1);
    // The announce URL's port is fixed in the torrent before the tracker
    // starts: pick it first.
    let tracker_port = free_port();
    let (torrent, hash) = transmission_torrent(&root, &src, tracker_port);
    let _tracker = opentracker(&root, tracker_port, &hash);
    // Transmission (3.00, cli and daemon alike) does not unchoke a second
    // downloader from an address whose first one finished, and every
    // client here is 127.0.0.1: each download gets a fresh transmission.
    let transmission = |tag: &str, seeders: u32| {
        let child = spawn(
            Command::new("transmission-cli")
                .arg("-g")
                .arg(root.join(tag))
                .args(["-p", &free_port().to_string(), "-w"])
                .arg(src.parent().unwrap())
                .arg(&torrent),
        );
        // Transmission checks its data, then announces `started`.
        wait_for_seeders(tracker_port, &hash, seeders);
        child
    };
    let seeder = transmission("tr-http", 1);
    // The .torrent's HTTP tracker.
    let dl = root.join("dl-http");
    let (summary, err) = get_json(&[torrent.to_str().unwrap(), "-o", dl.to_str().unwrap()]);
    same_tree(&src, &dl.join("multi"));
    eprintln!("over HTTP: {}", err.lines().last().unwrap_or_default());
    // Every byte came over TCP; `--json` says so.
    assert_eq!(summary["bytes"], 64 << 20, "{summary}");
    assert!(
        summary["downloaded"]["tcp"].as_u64() >= Some(64 << 20),
        "{summary}"
    );
    assert_eq!(summary["downloaded"]["webrtc"], 0, "{summary}");

    // Killed, the first one stays on the tracker's list (a dead address
    // to dial, as on any real tracker) until its interval runs out.
    drop(seeder);
    let _seeder = transmission("tr-udp", 2);
    // A magnet naming only the UDP tracker: the metadata comes from
    // transmission too (BEP 9).
    let magnet = format!("magnet:?xt=urn:btih:{hash}&tr=udp://127.0.0.1:{tracker_port}");
    let dl = root.join("dl-udp");
    let err = get(&[&magnet, "-o", dl.to_str().unwrap()]);
    same_tree(&src, &dl.join("multi"));
    eprintln!("over UDP: {}", err.lines().last().unwrap_or_default());
    std::fs::remove_dir_all(&root).unwrap();
}

/// A torrent of `src` made by transmission-create, announcing to
/// `tracker_port`; returns its path and info-hash.
fn transmission_torrent(root: &Path, src: &Path, tracker_port: u16) -> (PathBuf, String) {
    need("transmission-create");
    let torrent = root.join("t.torrent");
    let url = format!("http://127.0.0.1:{tracker_port}/announce");
    let o = Command::new("transmission-create")
        .args(["-s", "256", "-t", &url, "-o"])
        .arg(&torrent)
        .arg(src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let show = Command::new("transmission-show")
        .arg(&torrent)
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    let hash = show
        .lines()
        .find_map(|l| l.trim().strip_prefix("Hash: "))
        .expect("transmission-show prints the info-hash")
        .to_owned();
    (torrent, hash)
}

/// The bridge: transmission is the only seeder, over TCP; `webswarm get
/// --seed` joins its swarm and a WebSocket tracker's; a WebRTC-only peer
/// (`--no-tcp`), started at the same time, gets every piece through the
/// bridge while the bridge is still downloading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webrtc_only_peer_gets_a_transmission_torrent_through_the_bridge() {
    need("transmission-cli");
    let root = tempdir("classic-bridge");
    let src = two_files(&root, 2);
    let tracker_port = free_port();
    let (torrent, hash) = transmission_torrent(&root, &src, tracker_port);
    let _tracker = opentracker(&root, tracker_port, &hash);
    let _transmission = spawn(
        Command::new("transmission-cli")
            .arg("-g")
            .arg(root.join("tr"))
            .args(["-p", &free_port().to_string(), "-w"])
            .arg(src.parent().unwrap())
            .arg(&torrent),
    );
    tokio::task::block_in_place(|| wait_for_seeders(tracker_port, &hash, 1));
    let ws = Tracker::start().await;
    let t = torrent.to_str().unwrap().to_owned();
    let bridge_dir = root.join("bridge");
    let started = Instant::now();
    let mut bridge = Reap(
        webswarm(&[
            "get",
            &t,
            "--seed",
            "--tracker",
            &ws.url,
            "--bind",
            "127.0.0.1",
        ])
        .arg(format!("--listen-port={}", free_port()))
        .arg("-o")
        .arg(&bridge_dir)
        .env("RUST_LOG", LOG)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let bridge_err = bridge.0.stderr.take().unwrap();
    // The bridge's summary line says when its own download finished; its
    // log is kept to say why, should the WebRTC-only peer not finish.
    let bridge_log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let bridge_done = {
        let log = bridge_log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut done = None;
            for line in std::io::BufReader::new(bridge_err).lines() {
                let line = line.unwrap_or_default();
                if line.starts_with("downloaded ") && done.is_none() {
                    done = Some(started.elapsed());
                }
                log.lock().unwrap().push(line);
            }
            done
        })
    };
    let leech = root.join("leech");
    let args = [
        "--no-tcp",
        "--tracker",
        &ws.url,
        "--bind",
        "127.0.0.1",
        "-o",
    ];
    let mut a: Vec<&str> = vec![&t];
    a.extend(args);
    a.push(leech.to_str().unwrap());
    let leech_started = started.elapsed();
    a.push("--json");
    let (out, err) = tokio::task::block_in_place(|| try_get(&a, LOG)).unwrap_or_else(|e| {
        let log = bridge_log.lock().unwrap();
        let tail = &log[log.len().saturating_sub(200)..];
        panic!(
            "{e}\n--- the bridge's log (last 200 lines):\n{}",
            tail.join("\n")
        )
    });
    let leech_done = started.elapsed();
    same_tree(&src, &leech.join("multi"));
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        summary["downloaded"]["webrtc"].as_u64() >= Some(64 << 20),
        "{summary}"
    );
    assert_eq!(summary["downloaded"]["tcp"], 0, "{summary}");
    drop(bridge);
    let bridge_done = bridge_done.join().unwrap().expect("the bridge finished");
    eprintln!(
        "bridge done after {:.1} s; WebRTC-only peer (started at {:.1} s) after {:.1} s: {}",
        bridge_done.as_secs_f64(),
        leech_started.as_secs_f64(),
        leech_done.as_secs_f64(),
        err.lines()
            .find(|l| l.starts_with("downloaded "))
            .unwrap_or_default()
    );
    // It ran alongside the bridge's download, not after it.
    assert!(leech_started < bridge_done / 2);
    ws.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

/// python3-libtorrent: a DHT of N nodes on loopback (ports given), the
/// first seeding `dir` (a torrent with no tracker). Prints the info-hash,
/// then "ready" once another node finds the seeder through the DHT.
const LIBTORRENT_DHT: &str = r#"
import sys, os, time, libtorrent as lt
src, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
def node(port):
    return lt.session({'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': True,
        'dht_bootstrap_nodes': '', 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_outgoing_utp': False, 'enable_incoming_utp': False,
        # Every node is 127.0.0.1: the defaults would keep one per address.
        'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
        'dht_ignore_dark_internet': False, 'dht_enforce_node_id': False,
        'dht_prefer_verified_node_ids': False, 'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.dht_operation_notification})
nodes = [node(p) for p in ports]
# Bootstrap routers are not kept in libtorrent's routing table: add nodes.
for s in nodes:
    for p in ports:
        s.add_dht_node(('127.0.0.1', p))
fs = lt.file_storage()
lt.add_files(fs, src)
# v1 only: a hybrid torrent's "best" info-hash is its truncated v2 one.
t = lt.create_torrent(fs, 0, lt.create_torrent.v1_only)
lt.set_piece_hashes(t, os.path.dirname(src))
ti = lt.torrent_info(t.generate())
nodes[0].add_torrent({'ti': ti, 'save_path': os.path.dirname(src)})
print(str(ti.info_hashes().v1), flush=True)
deadline = time.time() + 60
while time.time() < deadline:
    nodes[-1].dht_get_peers(ti.info_hashes().v1)
    time.sleep(1)
    if any(isinstance(a, lt.dht_get_peers_reply_alert) and a.num_peers() > 0 for a in nodes[-1].pop_alerts()):
        print('ready', flush=True)
        break
else:
    sys.exit('the DHT never found the seeder')
time.sleep(600)
"#;

/// python3-libtorrent, two sessions: B seeds `torrent` from `src` and is on
/// no tracker and speaks no PEX; A (announced to the torrent's tracker)
/// holds no data and downloads none (upload mode), connected to B. Whoever finishes from A's swarm
/// learnt B from A's PEX messages. Prints "ready"; exits when killed.
const LIBTORRENT_PEX: &str = r#"
import sys, time, libtorrent as lt
torrent, src, empty, pa, pb = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def sess(port, extra={}, plugins=True):
    s = {'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': False, 'enable_lsd': False,
         'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
         'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True,
         # A wants nothing and B has everything: kept connected all the same.
         'close_redundant_connections': False}
    s.update(extra)
    return lt.session(s) if plugins else lt.session(s, 0)
# B without plugins: no PEX of its own, so it cannot learn webswarm from A
# and connect first; the connection must be webswarm's.
a, b = sess(pa), sess(pb, plugins=False)
# Paused until its tracker is gone: B must not announce even once.
hb = b.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': src, 'flags': lt.torrent_flags.paused})
hb.replace_trackers([])
hb.resume()
# Upload mode: A downloads nothing (rate limits do not apply on loopback).
ha = a.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': empty,
                    'flags': lt.torrent_flags.upload_mode})
while not hb.status().is_seeding:
    time.sleep(0.1)
ha.connect_peer(('127.0.0.1', pb))
while not any(p.ip[1] == pb for p in ha.get_peer_info()):
    time.sleep(0.1)
print('ready', flush=True)
time.sleep(600)
"#;

/// python3-libtorrent, two sessions: B serves what `src` holds of `torrent`
/// through its tracker, with no PEX of its own; once told "go PORT" on
/// stdin, C (on no tracker) connects to PORT only, and exits 0 once it has
/// connected to B, which it can only have learnt from PORT's PEX.
const LIBTORRENT_PEX_LEARN: &str = r#"
import sys, time, libtorrent as lt
torrent, src, empty, pb, pc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def sess(port, plugins=True):
    s = {'listen_interfaces': '127.0.0.1:%d' % port, 'enable_dht': False, 'enable_lsd': False,
         'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
         'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True,
         'close_redundant_connections': False}
    return lt.session(s) if plugins else lt.session(s, 0)
b, c = sess(pb, plugins=False), sess(pc)
hb = b.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': src})
while hb.status().state != lt.torrent_status.downloading:
    time.sleep(0.1)
print('ready', flush=True)
port = int(sys.stdin.readline().split()[1])
# Nobody has the second file: C never completes and keeps looking for peers.
hc = c.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': empty,
                    'flags': lt.torrent_flags.paused})
hc.replace_trackers([])
hc.resume()
t = time.time()
tried = 0
while time.time() - t < 60:
    peers = hc.get_peer_info()
    if any(p.ip[1] == pb for p in peers):
        print('learnt B after %.1f s' % (time.time() - t), flush=True)
        sys.exit(0)
    # Until the torrent has started, a connect is dropped: ask again.
    if not peers and time.time() - tried > 2:
        hc.connect_peer(('127.0.0.1', port))
        tried = time.time()
    time.sleep(0.2)
sys.exit('C never connected to B: %s' % [p.ip for p in hc.get_peer_info()])
"#;

/// A python3-libtorrent leecher: downloads `torrent` into `dir` over TCP
/// only and exits 0 once it is seeding.
const LIBTORRENT_GET: &str = r#"
import sys, time, libtorrent as lt
torrent, dest = sys.argv[1], sys.argv[2]
s = lt.session({'listen_interfaces': '127.0.0.1:0', 'enable_dht': False, 'enable_lsd': False,
                'enable_upnp': False, 'enable_natpmp': False, 'enable_outgoing_utp': False,
                'enable_incoming_utp': False, 'allow_multiple_connections_per_ip': True})
h = s.add_torrent({'ti': lt.torrent_info(torrent), 'save_path': dest})
t = time.time()
while not h.status().is_seeding:
    if time.time() - t > 100:
        sys.exit('libtorrent: no progress: %s' % h.status().progress)
    time.sleep(0.1)
print('libtorrent done in %.2f s' % (time.time() - t))
"#;

#[test]
fn webswarm_seeds_over_tcp_to_aria2_and_libtorrent() {
    need("aria2c");
    need("/usr/bin/python3");
    let root = tempdir("classic-seed");
    let src = two_files(&root, 3);
    let tracker_port = free_port();
    let url = format!("http://127.0.0.1:{tracker_port}/announce");
    let torrent = root.join("t.torrent");
    let o = webswarm(&["create", src.to_str().unwrap(), "-t", &url, "-o"])
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hash = info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout));
    let _tracker = opentracker(&root, tracker_port, &hash);
    let seed_port = free_port().to_string();
    let (_seed, _magnet, _out) = {
        use std::io::BufRead;
        let mut child = Reap(
            webswarm(&["seed", torrent.to_str().unwrap(), "--dir"])
                .arg(src.parent().unwrap())
                .args(["--listen-port", &seed_port])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("magnet:"), "seed printed {line:?}");
        (child, line, out)
    };

    let dl = root.join("dl-aria2");
    let t = Instant::now();
    let o = Command::new("aria2c")
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--console-log-level=warn",
            "--summary-interval=0",
            "--bt-stop-timeout=100",
        ])
        .arg(format!("--listen-port={}", free_port()))
        .arg("-d")
        .arg(&dl)
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "aria2c: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    same_tree(&src, &dl.join("multi"));
    eprintln!("aria2c: {:.2} s", t.elapsed().as_secs_f64());

    let dl = root.join("dl-libtorrent");
    std::fs::create_dir_all(&dl).unwrap();
    let o = Command::new("/usr/bin/python3")
        .args(["-c", LIBTORRENT_GET])
        .arg(&torrent)
        .arg(&dl)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "libtorrent: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    same_tree(&src, &dl.join("multi"));
    eprintln!("{}", String::from_utf8_lossy(&o.stdout).trim());
    std::fs::remove_dir_all(&root).unwrap();
}

/// An HTTP "tracker" that answers each announce with the next of: junk
/// bencode, HTTP 500, a failure reason, and a connection closed unanswered.
fn junk_tracker() -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, s) in l.incoming().enumerate() {
            let Ok(mut s) = s else { continue };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let reply: &[u8] = match i % 4 {
                0 => b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nd5:peersi",
                1 => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
                2 => b"HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\nd14:failure reason7:go awaye",
                _ => b"",
            };
            let _ = s.write_all(reply);
        }
    });
    port
}

/// Reads until the peer closes; panics if it keeps the connection open.
fn closed_by_peer(mut s: TcpStream, what: &str) {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: the seeder kept the connection ({e})"),
        }
    }
}

fn handshake(info_hash: &[u8; 20]) -> Vec<u8> {
    let mut h = b"\x13BitTorrent protocol\0\0\0\0\0\x10\0\x04".to_vec();
    h.extend_from_slice(info_hash);
    h.extend_from_slice(b"-XX0001-hostilepeer!");
    h
}

/// A magnet with no tracker: webswarm joins a DHT of libtorrent nodes
/// through one of them, finds the seeder (another), gets the metadata and
/// the data from it over TCP. Junk datagrams sent to webswarm's DHT port
/// all along change nothing.
#[test]
fn a_trackerless_magnet_is_found_through_a_dht_of_libtorrent_nodes() {
    need("/usr/bin/python3");
    let root = tempdir("classic-dht");
    let src = two_files(&root, 5);
    let ports: Vec<String> = (0..4).map(|_| free_port().to_string()).collect();
    let mut nodes = Reap(
        Command::new("/usr/bin/python3")
            .args(["-c", LIBTORRENT_DHT])
            .arg(&src)
            .args(&ports)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let (hash, _out) = {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(nodes.0.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let hash = line.trim().to_owned();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the libtorrent DHT did not form");
        (hash, out)
    };
    let listen = free_port();
    let junk = std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let t = Instant::now();
        let mut sent = 0u32;
        while t.elapsed() < Duration::from_secs(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 1500) as usize;
            let mut d: Vec<u8> = (0..len).map(|i| (x >> (i % 57)) as u8).collect();
            // Some of it nearly KRPC: a dictionary with wrong fields.
            if sent % 3 == 0 {
                d = b"d1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q9:get_peers1:t2:aa1:y1:qe".to_vec();
            }
            let _ = s.send_to(&d, ("127.0.0.1", listen));
            sent += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        sent
    });
    let magnet = format!("magnet:?xt=urn:btih:{hash}");
    let dl = root.join("dl");
    let bootstrap = format!("127.0.0.1:{}", ports[2]);
    let (summary, err) = get_json(&[
        &magnet,
        "--dht-bootstrap",
        &bootstrap,
        &format!("--listen-port={listen}"),
        "-o",
        dl.to_str().unwrap(),
    ]);
    same_tree(&src, &dl.join("multi"));
    assert!(
        summary["downloaded"]["tcp"].as_u64() >= Some(64 << 20),
        "{summary}"
    );
    eprintln!(
        "through the DHT ({} junk datagrams on its port): {}",
        junk.join().unwrap(),
        err.lines().last().unwrap_or_default()
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// PEX (BEP 11): the tracker knows only libtorrent A, which has no data;
/// A is connected to libtorrent B, the only seeder, on no tracker and no
/// DHT. webswarm can only finish by learning B from A's `ut_pex` messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webswarm_learns_a_seeder_from_a_libtorrent_peers_pex() {
    need("/usr/bin/python3");
    let root = tempdir("classic-pex");
    let src = two_files(&root, 6);
    let ws = Tracker::start().await;
    let torrent = root.join("t.torrent");
    let url = format!("http://127.0.0.1:{}/announce", ws.addr.port());
    let o = webswarm(&["create", src.to_str().unwrap(), "-t", &url, "-o"])
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hash = info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout));
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut peers = Reap(
        Command::new("/usr/bin/python3")
            .args(["-c", LIBTORRENT_PEX])
            .arg(&torrent)
            .arg(src.parent().unwrap())
            .arg(&empty)
            .args([free_port().to_string(), free_port().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(peers.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "libtorrent did not start");
    }
    // A announced `started` to the tracker (as a downloader).
    let port = ws.addr.port();
    tokio::task::block_in_place(|| {
        let t = Instant::now();
        let escaped: String = (0..20)
            .map(|i| format!("%{}", &hash[2 * i..2 * i + 2]))
            .collect();
        while !http_get(port, &format!("/scrape?info_hash={escaped}")).contains("10:incompletei1e")
        {
            assert!(t.elapsed() < Duration::from_secs(30), "A never announced");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let dl = root.join("dl");
    let t = Instant::now();
    let (summary, err) = tokio::task::block_in_place(|| {
        get_json_logged(
            &[
                torrent.to_str().unwrap(),
                "--no-dht",
                "-o",
                dl.to_str().unwrap(),
            ],
            "warn,webswarm_native::classic::discovery=debug",
        )
    });
    // The tracker named one peer (A), PEX the other (and us: A learnt our
    // port from our extension handshake).
    assert!(err.contains("/announce: 1 peers"), "{err}");
    assert!(err.contains("PEX: "), "{err}");
    same_tree(&src, &dl.join("multi"));
    assert!(
        summary["downloaded"]["tcp"].as_u64() >= Some(64 << 20),
        "{summary}"
    );
    eprintln!(
        "through PEX after {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        err.lines()
            .find(|l| l.starts_with("downloaded "))
            .unwrap_or_default()
    );
    ws.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

/// PEX sent: webswarm, connected to libtorrent B (through the tracker),
/// tells libtorrent C, which knows only webswarm, where B is; C connects to
/// B. B holds one of the two files, so neither B nor webswarm ever
/// completes and they stay connected (two seeds would part).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libtorrent_peer_learns_a_seeder_from_webswarms_pex() {
    use std::io::{BufRead, Write};
    need("/usr/bin/python3");
    let root = tempdir("classic-pex-sent");
    let src = two_files(&root, 7);
    let ws = Tracker::start().await;
    let port = ws.addr.port();
    let torrent = root.join("t.torrent");
    let url = format!("http://127.0.0.1:{port}/announce");
    let o = webswarm(&["create", src.to_str().unwrap(), "-t", &url, "-o"])
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hash = info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout));
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let half = root.join("half");
    std::fs::create_dir_all(half.join("multi")).unwrap();
    std::fs::copy(src.join("a.bin"), half.join("multi/a.bin")).unwrap();
    let mut peers = Reap(
        Command::new("/usr/bin/python3")
            .args(["-c", LIBTORRENT_PEX_LEARN])
            .arg(&torrent)
            .arg(&half)
            .arg(&empty)
            .args([free_port().to_string(), free_port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut out = std::io::BufReader::new(peers.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "libtorrent did not start");
    // B announced (as a downloader: it lacks a file).
    tokio::task::block_in_place(|| {
        let t = Instant::now();
        let escaped: String = (0..20)
            .map(|i| format!("%{}", &hash[2 * i..2 * i + 2]))
            .collect();
        while !http_get(port, &format!("/scrape?info_hash={escaped}")).contains("10:incompletei1e")
        {
            assert!(t.elapsed() < Duration::from_secs(30), "B never announced");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let listen = free_port();
    let dl = root.join("dl");
    let bridge = Reap(
        webswarm(&["get", torrent.to_str().unwrap(), "--no-dht"])
            .args(["--listen-port", &listen.to_string(), "-o"])
            .arg(&dl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Connected to B once B's file is here.
    tokio::task::block_in_place(|| {
        let t = Instant::now();
        while std::fs::metadata(dl.join("multi/a.bin")).map_or(0, |m| m.len()) < 40 << 20 {
            assert!(t.elapsed() < Duration::from_secs(30), "nothing came from B");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut stdin = peers.0.stdin.take().unwrap();
    writeln!(stdin, "go {listen}").unwrap();
    line.clear();
    tokio::task::block_in_place(|| out.read_line(&mut line).unwrap());
    assert!(line.starts_with("learnt B"), "{line}");
    eprintln!("libtorrent C {}", line.trim());
    drop(bridge);
    ws.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

/// A BEP 15 tracker that answers every request twice: first with a wrong
/// transaction id, then rightly, naming `peers` (IPv4 TCP ports on
/// 127.0.0.1). Returns its port.
fn two_faced_udp_tracker(peers: Vec<u16>) -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            if n < 16 {
                continue;
            }
            let action = u32::from_be_bytes(buf[8..12].try_into().unwrap());
            let tid = u32::from_be_bytes(buf[12..16].try_into().unwrap());
            let reply = |tid: u32| {
                let mut r = match action {
                    0 => [&0u32.to_be_bytes()[..], &tid.to_be_bytes(), &[0x42; 8]].concat(),
                    _ => [
                        &1u32.to_be_bytes()[..],
                        &tid.to_be_bytes(),
                        &1800u32.to_be_bytes(),
                        &0u32.to_be_bytes(),
                        &(peers.len() as u32).to_be_bytes(),
                    ]
                    .concat(),
                };
                if action == 1 {
                    for p in &peers {
                        r.extend_from_slice(&[127, 0, 0, 1]);
                        r.extend_from_slice(&p.to_be_bytes());
                    }
                }
                r
            };
            let _ = s.send_to(&reply(tid ^ 0xdead_beef), from);
            let _ = s.send_to(&reply(tid), from);
        }
    });
    port
}

/// A classic peer that claims every piece, unchokes, and answers every
/// request with the right length of wrong bytes. Returns its port.
fn corrupt_peer(info_hash: [u8; 20]) -> u16 {
    use std::io::{Read, Write};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut theirs = [0u8; 68];
                s.read_exact(&mut theirs)?;
                s.write_all(&handshake(&info_hash))?;
                // Have-all (BEP 6: both handshakes set the fast bit), unchoke.
                let msg = [0, 0, 0, 1, 14, 0, 0, 0, 1, 1];
                s.write_all(&msg)?;
                loop {
                    let mut len = [0u8; 4];
                    s.read_exact(&mut len)?;
                    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                    s.read_exact(&mut body)?;
                    if body.first() == Some(&6) && body.len() == 13 {
                        let block = u32::from_be_bytes(body[9..13].try_into().unwrap());
                        let mut piece = ((9 + block) as u32).to_be_bytes().to_vec();
                        piece.push(7);
                        piece.extend_from_slice(&body[1..9]);
                        piece.extend(std::iter::repeat_n(0x5a, block as usize));
                        s.write_all(&piece)?;
                    }
                }
            });
        }
    });
    port
}

/// A corrupt TCP peer and a good seeder, named by a UDP tracker that
/// answers each request with a wrong transaction id first: the wrong
/// replies are ignored, the corrupt peer is banned, its pieces are fetched
/// again from the seeder, and the download is byte-exact.
#[test]
fn a_corrupt_tcp_peer_is_banned_and_wrong_udp_transaction_ids_are_ignored() {
    let root = tempdir("classic-corrupt");
    let file = root.join("data.bin");
    std::fs::write(&file, random_bytes(8 << 20, 77)).unwrap();
    let seed_port = free_port();
    // The tracker is started before the torrent names it; it needs the
    // corrupt peer's port, which needs the info-hash: make the torrent
    // against a placeholder tracker first (the info-hash does not cover it).
    let probe = webswarm(&[
        "create",
        file.to_str().unwrap(),
        "-t",
        "udp://127.0.0.1:9/announce",
        "-o",
    ])
    .arg(root.join("probe.torrent"))
    .output()
    .unwrap();
    assert!(
        probe.status.success(),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let hash = info_hash_of_magnet(&String::from_utf8_lossy(&probe.stdout));
    let ih: [u8; 20] = webswarm_core::hex_decode(&hash)
        .unwrap()
        .try_into()
        .unwrap();
    let corrupt = corrupt_peer(ih);
    let tracker = two_faced_udp_tracker(vec![corrupt, seed_port]);
    let torrent = root.join("t.torrent");
    let url = format!("udp://127.0.0.1:{tracker}/announce");
    let o = webswarm(&["create", file.to_str().unwrap(), "-t", &url, "-o"])
        .arg(&torrent)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout)),
        hash
    );
    let mut seed = Reap(
        webswarm(&[
            "seed",
            torrent.to_str().unwrap(),
            "--dir",
            root.to_str().unwrap(),
            "--no-dht",
        ])
        .args(["--listen-port", &seed_port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(seed.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("magnet:"), "seed printed {line:?}");
    }
    let dl = root.join("dl");
    let (summary, err) = get_json_logged(
        &[
            torrent.to_str().unwrap(),
            "--no-dht",
            "-o",
            dl.to_str().unwrap(),
        ],
        "warn,webswarm_native::classic::discovery=debug",
    );
    assert!(std::fs::read(dl.join("data.bin")).unwrap() == std::fs::read(&file).unwrap());
    assert!(summary["banned"].as_u64() >= Some(1), "{summary}\n{err}");
    // Each is said in the log.
    assert!(
        err.contains("ignored a reply with another transaction id"),
        "{err}"
    );
    assert!(err.contains("banned"), "{err}");
    eprintln!(
        "corrupt peer banned: {}",
        err.lines()
            .find(|l| l.starts_with("downloaded "))
            .unwrap_or_default()
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// Hostile input on the classic side: junk handshakes, a wrong torrent, an
/// oversize message (each connection is closed and nothing else is hurt)
/// and a tracker answering junk, HTTP 500, a refusal and nothing (the user
/// reads why in one line per tracker; the other tracker's peers are used).
#[test]
fn hostile_tcp_peers_and_a_junk_http_tracker() {
    use std::io::{Read, Write};
    let root = tempdir("classic-hostile");
    let file = root.join("data.bin");
    std::fs::write(&file, random_bytes(4 << 20, 3)).unwrap();
    let good = free_port();
    let junk = junk_tracker();
    let torrent = root.join("t.torrent");
    let o = webswarm(&[
        "create",
        file.to_str().unwrap(),
        "-o",
        torrent.to_str().unwrap(),
    ])
    .args(["-t", &format!("http://127.0.0.1:{junk}/announce")])
    .args(["-t", &format!("http://127.0.0.1:{good}/announce")])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hash = info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout));
    let _tracker = opentracker(&root, good, &hash);
    let seed_port = free_port();
    let mut seed = Reap(
        webswarm(&[
            "seed",
            torrent.to_str().unwrap(),
            "--dir",
            root.to_str().unwrap(),
        ])
        .args(["--listen-port", &seed_port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(seed.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("magnet:"), "seed printed {line:?}");
    }
    let connect = || TcpStream::connect(("127.0.0.1", seed_port)).unwrap();
    let ih: [u8; 20] = webswarm_core::hex_decode(&hash)
        .unwrap()
        .try_into()
        .unwrap();

    let mut s = connect();
    s.write_all(&[0xAB; 68]).unwrap();
    closed_by_peer(s, "a junk handshake");

    let mut s = connect();
    s.write_all(&handshake(&[7; 20])).unwrap();
    closed_by_peer(s, "a torrent it does not have");

    let mut s = connect();
    s.write_all(&handshake(&ih)).unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &ih, "the seeder answers for its torrent");
    s.write_all(&0x0100_0000u32.to_be_bytes()).unwrap();
    s.write_all(&[7; 1024]).unwrap();
    closed_by_peer(s, "a 16 MiB message");

    let dl = root.join("dl");
    let err = get(&[torrent.to_str().unwrap(), "-o", dl.to_str().unwrap()]);
    assert!(std::fs::read(dl.join("data.bin")).unwrap() == std::fs::read(&file).unwrap());
    let junk_url = format!("http://127.0.0.1:{junk}/announce");
    let said: Vec<&str> = err.lines().filter(|l| l.contains(&junk_url)).collect();
    assert!(!said.is_empty(), "nothing said of the junk tracker: {err}");
    assert!(
        said.iter().all(|l| [
            "not a valid announce response",
            "HTTP 500",
            "refused the announce: go away",
            "error sending request",
            "connection closed"
        ]
        .iter()
        .any(|why| l.contains(why))),
        "{said:?}"
    );
    eprintln!("{}", said.join("\n"));
    std::fs::remove_dir_all(&root).unwrap();
}

/// Our tracker serves classic clients too: transmission announces to it
/// over HTTP, its scrape and `/stats.json` count the classic seeder, and
/// `webswarm get` of a magnet naming only the tracker's UDP side (BEP 15,
/// the same port number) finds transmission in the same swarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmission_and_webswarm_meet_on_our_tracker_over_http_and_udp() {
    need("transmission-cli");
    let root = tempdir("classic-our-tracker");
    let src = two_files(&root, 4);
    let ws = Tracker::start().await;
    let port = ws.addr.port();
    let (torrent, hash) = transmission_torrent(&root, &src, port);
    let _transmission = spawn(
        Command::new("transmission-cli")
            .arg("-g")
            .arg(root.join("tr"))
            .args(["-p", &free_port().to_string(), "-w"])
            .arg(src.parent().unwrap())
            .arg(&torrent),
    );
    tokio::task::block_in_place(|| wait_for_seeders(port, &hash, 1));
    let stats = http_get(port, "/stats.json");
    assert!(stats.contains("\"seeders\":1"), "{stats}");
    let dl = root.join("dl");
    let magnet = format!("magnet:?xt=urn:btih:{hash}&tr=udp://127.0.0.1:{port}");
    let err = tokio::task::block_in_place(|| get(&[&magnet, "-o", dl.to_str().unwrap()]));
    same_tree(&src, &dl.join("multi"));
    eprintln!(
        "through our tracker: {}",
        err.lines().last().unwrap_or_default()
    );
    ws.stop().await;
    std::fs::remove_dir_all(&root).unwrap();
}

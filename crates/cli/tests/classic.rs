//! The classic BitTorrent world, with real clients from Debian's packages
//! (transmission, aria2, python3-libtorrent) and a real tracker
//! (opentracker), all on loopback: `webswarm` downloads from them and seeds
//! to them over TCP, finding peers through HTTP and UDP announces.

mod common;
#[path = "classic/hostile.rs"]
mod hostile;
#[path = "classic/libtorrent.rs"]
mod libtorrent;
#[path = "classic/qbittorrent.rs"]
mod qbittorrent;
#[path = "classic/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use hostile::*;
use libtorrent::*;
use qbittorrent::QBittorrent;
use support::*;

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
    remove_tree(&root);
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
    remove_tree(&root);
}

#[test]
fn webswarm_seeds_over_tcp_to_aria2_and_libtorrent() {
    need("aria2c");
    need("/usr/bin/python3");
    let root = tempdir("classic-seed");
    let src = two_files(&root, 3);
    let tr = tracked_torrent(&root, &src, &[]);
    let torrent = &tr.torrent;
    let _seed = seed_torrent(torrent, src.parent().unwrap(), free_port(), &[]);

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
        .arg(torrent)
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
    eprintln!("{}", libtorrent_get(torrent, &dl, "tcp"));
    same_tree(&src, &dl.join("multi"));
    remove_tree(&root);
}

/// uTP both ways with libtorrent. A libtorrent that takes uTP only seeds:
/// webswarm's TCP dial gets nowhere and its next wire, uTP, connects, with
/// junk datagrams (random, near-KRPC, near-uTP) arriving at its uTP port all
/// along. Then `webswarm seed` serves a libtorrent that dials uTP only.
#[test]
fn utp_both_ways_with_libtorrent() {
    need("/usr/bin/python3");
    let root = tempdir("classic-utp");
    let src = two_files(&root, 6);
    let tr = tracked_torrent(&root, &src, &[]);
    let (tracker_port, torrent, hash) = (tr.port, &tr.torrent, &tr.hash);
    let lt = libtorrent_seeding(&tr, &src, "utp");

    let listen = free_port();
    let junk = junk_datagrams(listen, Duration::from_secs(4));
    let dl = root.join("dl");
    let (summary, err) = get_json(&[
        torrent.to_str().unwrap(),
        "--no-dht",
        &format!("--listen-port={listen}"),
        "-o",
        dl.to_str().unwrap(),
    ]);
    same_tree(&src, &dl.join("multi"));
    assert_eq!(summary["downloaded"]["utp"], 64 << 20, "{summary}");
    assert_eq!(summary["downloaded"]["tcp"], 0, "{summary}");
    eprintln!(
        "from libtorrent over uTP ({} junk datagrams at its port): {}",
        junk.join().unwrap(),
        err.lines().last().unwrap_or_default()
    );

    // Gone, so that libtorrent can get the data from webswarm only (the
    // tracker still lists it, and the finished `get`: a stale seeder each).
    drop(lt);
    let stale = scrape_count(tracker_port, hash, "complete").unwrap_or(0);
    let _seed = seed_torrent(torrent, src.parent().unwrap(), free_port(), &["--no-dht"]);
    wait_for_seeders(tracker_port, hash, stale + 1);
    let dl = root.join("dl-libtorrent");
    eprintln!("{}", libtorrent_get(torrent, &dl, "utp"));
    same_tree(&src, &dl.join("multi"));
    remove_tree(&root);
}

/// Message Stream Encryption with libtorrent set to "require encryption"
/// (MSE only, RC4 for the data): it seeds over TCP to `webswarm get`, which
/// dials it encrypted; then `webswarm seed --encryption require` refuses a
/// plaintext handshake and seeds to such a libtorrent over uTP.
#[test]
fn encrypted_both_ways_with_libtorrent_that_requires_it() {
    need("/usr/bin/python3");
    let root = tempdir("classic-mse");
    let src = two_files(&root, 6);
    let tr = tracked_torrent(&root, &src, &[]);
    let (tracker_port, torrent, hash) = (tr.port, &tr.torrent, &tr.hash);
    let lt = libtorrent_seeding(&tr, &src, "tcp+rc4");
    let dl = root.join("dl");
    let (summary, err) = get_json(&[
        torrent.to_str().unwrap(),
        "--no-dht",
        "--no-utp",
        &format!("--listen-port={}", free_port()),
        "-o",
        dl.to_str().unwrap(),
    ]);
    same_tree(&src, &dl.join("multi"));
    assert_eq!(summary["downloaded"]["tcp"], 64 << 20, "{summary}");
    eprintln!(
        "from libtorrent, encrypted: {}",
        err.lines().last().unwrap_or_default()
    );

    drop(lt);
    let stale = scrape_count(tracker_port, hash, "complete").unwrap_or(0);
    let port = free_port();
    let _seed = seed_torrent(
        torrent,
        src.parent().unwrap(),
        port,
        &["--no-dht", "--encryption", "require"],
    );
    wait_for_seeders(tracker_port, hash, stale + 1);
    // A plaintext handshake for the torrent: closed, no handshake back.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0; 8]);
    hs.extend((0..20).map(|i| u8::from_str_radix(&hash[2 * i..2 * i + 2], 16).unwrap()));
    hs.extend_from_slice(b"-XX0000-plaintext!!!");
    plain.write_all(&hs).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut back = Vec::new();
    assert_eq!(
        plain.read_to_end(&mut back).map_err(|e| e.kind()),
        Ok(0),
        "closed without a reply"
    );

    let dl = root.join("dl-libtorrent");
    eprintln!("{}", libtorrent_get(torrent, &dl, "utp+rc4"));
    same_tree(&src, &dl.join("multi"));
    remove_tree(&root);
}

/// qBittorrent (qbittorrent-nox in its default settings: TCP and uTP,
/// encryption allowed) gets a magnet from `webswarm seed`, metadata and
/// all, then seeds the torrent to `webswarm get`.
#[test]
fn qbittorrent_gets_a_magnet_from_webswarm_and_seeds_it_back() {
    need("qbittorrent-nox");
    let root = tempdir("classic-qbittorrent");
    let src = two_files(&root, 8);
    let tr = tracked_torrent(&root, &src, &[]);
    let (tracker_port, url, torrent, hash) = (tr.port, &tr.url, &tr.torrent, &tr.hash);
    let seed = seed_torrent(torrent, src.parent().unwrap(), free_port(), &["--no-dht"]);
    wait_for_seeders(tracker_port, hash, 1);
    let qb = QBittorrent::start(&root.join("qb"));
    let t = Instant::now();
    qb.add(
        &format!("magnet:?xt=urn:btih:{hash}&tr={url}"),
        &root.join("dl-qb"),
    );
    let peers = qb.wait_complete(hash);
    same_tree(&src, &root.join("dl-qb/multi"));
    eprintln!(
        "qBittorrent got it in {:.2} s from {peers:?}",
        t.elapsed().as_secs_f64()
    );

    // Killed, webswarm stays on the tracker's list: two seeders.
    drop(seed);
    wait_for_seeders(tracker_port, hash, 2);
    let dl = root.join("dl");
    let (summary, err) = get_json(&[
        torrent.to_str().unwrap(),
        "--no-dht",
        "-o",
        dl.to_str().unwrap(),
    ]);
    same_tree(&src, &dl.join("multi"));
    let classic = summary["downloaded"]["tcp"].as_u64().unwrap_or(0)
        + summary["downloaded"]["utp"].as_u64().unwrap_or(0);
    assert_eq!(classic, 64 << 20, "{summary}");
    eprintln!(
        "from qBittorrent: {}",
        err.lines().last().unwrap_or_default()
    );
    remove_tree(&root);
}

/// BEP 27 for a magnet: whether a torrent is private is only known once its
/// metadata arrives. `webswarm create --private` makes one, `webswarm seed`
/// serves it; a magnet of it starts with the DHT like any magnet, and stops
/// using it once the metadata says private.
#[test]
fn a_magnet_that_turns_out_private_leaves_the_dht() {
    let root = tempdir("classic-private");
    let src = two_files(&root, 7);
    let tr = tracked_torrent(&root, &src, &["--private"]);
    let (tracker_port, url, torrent, hash) = (tr.port, &tr.url, &tr.torrent, &tr.hash);
    // Slow enough for the download to outlive the metadata by a while.
    let slow = ["--no-dht", "--max-upload-rate", "32M"];
    let _seed = seed_torrent(torrent, src.parent().unwrap(), free_port(), &slow);
    // A download that announced first would wait out opentracker's interval.
    wait_for_seeders(tracker_port, hash, 1);
    // A DHT "node" that never answers: the magnet's lookups keep failing
    // and would be retried, but for the torrent being private.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bootstrap = silent.local_addr().unwrap().to_string();
    let magnet = format!("magnet:?xt=urn:btih:{hash}&tr={url}");
    let dl = root.join("dl");
    let (summary, err) = get_json_logged(
        &[
            &magnet,
            "--dht-bootstrap",
            &bootstrap,
            "-o",
            dl.to_str().unwrap(),
        ],
        "warn,webswarm_native::classic=info",
    );
    same_tree(&src, &dl.join("multi"));
    assert_eq!(summary["downloaded"]["tcp"], 64 << 20, "{summary}");
    assert!(
        err.contains("the torrent is private (BEP 27): no more DHT lookups for it"),
        "{err}"
    );
    remove_tree(&root);
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
    let mut args = vec![src.as_os_str()];
    args.extend(ports.iter().map(std::ffi::OsStr::new));
    let (_nodes, mut out) = python(LIBTORRENT_DHT, &args);
    let hash = out.next_line();
    assert_eq!(out.next_line(), "ready", "the libtorrent DHT did not form");
    let (listen, dht_port) = (free_port(), free_port());
    let junk = junk_datagrams(dht_port, Duration::from_secs(8));
    let magnet = format!("magnet:?xt=urn:btih:{hash}");
    let dl = root.join("dl");
    let bootstrap = format!("127.0.0.1:{}", ports[2]);
    let (summary, err) = get_json(&[
        &magnet,
        "--dht-bootstrap",
        &bootstrap,
        &format!("--listen-port={listen}"),
        &format!("--dht-port={dht_port}"),
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
    remove_tree(&root);
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
    let port = ws.addr.port();
    let torrent = root.join("t.torrent");
    let url = format!("http://127.0.0.1:{port}/announce");
    let hash = create_torrent(&src, &[&url], &torrent);
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let _peers = two_libtorrents(LIBTORRENT_PEX, &torrent, src.parent().unwrap(), &empty);
    // A announced `started` to the tracker (as a downloader).
    tokio::task::block_in_place(|| wait_for_scrape(port, &hash, "incomplete", 1));
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
    remove_tree(&root);
}

/// PEX sent: webswarm, connected to libtorrent B (through the tracker),
/// tells libtorrent C, which knows only webswarm, where B is; C connects to
/// B. B holds one of the two files, so neither B nor webswarm ever
/// completes and they stay connected (two seeds would part).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libtorrent_peer_learns_a_seeder_from_webswarms_pex() {
    use std::io::Write;
    need("/usr/bin/python3");
    let root = tempdir("classic-pex-sent");
    let src = two_files(&root, 7);
    let ws = Tracker::start().await;
    let port = ws.addr.port();
    let torrent = root.join("t.torrent");
    let url = format!("http://127.0.0.1:{port}/announce");
    let hash = create_torrent(&src, &[&url], &torrent);
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let half = root.join("half");
    std::fs::create_dir_all(half.join("multi")).unwrap();
    std::fs::copy(src.join("a.bin"), half.join("multi/a.bin")).unwrap();
    let (mut peers, mut out) = two_libtorrents(LIBTORRENT_PEX_LEARN, &torrent, &half, &empty);
    // B announced (as a downloader: it lacks a file).
    tokio::task::block_in_place(|| wait_for_scrape(port, &hash, "incomplete", 1));
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
    let line = tokio::task::block_in_place(|| out.next_line());
    assert!(line.starts_with("learnt B"), "{line}");
    eprintln!("libtorrent C {}", line.trim());
    drop(bridge);
    ws.stop().await;
    remove_tree(&root);
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
    let placeholder = ["udp://127.0.0.1:9/announce"];
    let hash = create_torrent(&file, &placeholder, &root.join("probe.torrent"));
    let ih: [u8; 20] = webswarm_core::hex_decode(&hash)
        .unwrap()
        .try_into()
        .unwrap();
    let corrupt = corrupt_peer(ih);
    let tracker = two_faced_udp_tracker(vec![corrupt, seed_port]);
    let torrent = root.join("t.torrent");
    let url = format!("udp://127.0.0.1:{tracker}/announce");
    assert_eq!(create_torrent(&file, &[&url], &torrent), hash);
    let _seed = seed_torrent(&torrent, &root, seed_port, &["--no-dht"]);
    let dl = root.join("dl");
    // The corrupt peer speaks no MSE and ignores what it reads: an encrypted
    // dial would wait out its timeout while the honest seeder serves all.
    let (summary, err) = get_json_logged(
        &[
            torrent.to_str().unwrap(),
            "--no-dht",
            "--encryption=off",
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
    remove_tree(&root);
}

/// Hostile input on the classic side: junk handshakes, a wrong torrent, an
/// oversize message (each connection is closed and nothing else is hurt),
/// a host holding more silent connections than the seeder has slots for
/// pending handshakes, and a tracker answering junk, HTTP 500, a refusal and nothing (the user
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
    let junk_url = format!("http://127.0.0.1:{junk}/announce");
    let good_url = format!("http://127.0.0.1:{good}/announce");
    let hash = create_torrent(&file, &[&junk_url, &good_url], &torrent);
    let _tracker = opentracker(&root, good, &hash);
    let seed_port = free_port();
    let _seed = seed_torrent(&torrent, &root, seed_port, &[]);
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

    // With no --bind the listener takes IPv6 peers too (one dual-stack socket).
    let mut s = TcpStream::connect(("::1", seed_port)).expect("the seeder listens on IPv6 too");
    s.write_all(&handshake(&ih)).unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    assert_eq!(&theirs[28..48], &ih, "the seeder answers an IPv6 peer");
    drop(s);

    // A host that holds 80 silent connections (more than the seeder's 64
    // slots for pending handshakes) the whole time: the download, which
    // reaches the seeder as an incoming peer, gets through all the same.
    let flood = SilentFlood::start(seed_port, [127, 0, 0, 2].into(), 80);
    std::thread::sleep(Duration::from_millis(500));
    let dl = root.join("dl");
    // Over TCP: a uTP connection would go around the TCP listener's slots.
    let args = [
        torrent.to_str().unwrap(),
        "--no-utp",
        "-o",
        dl.to_str().unwrap(),
    ];
    let err = get(&args);
    eprintln!("{} silent connections meanwhile", flood.stop());
    assert!(std::fs::read(dl.join("data.bin")).unwrap() == std::fs::read(&file).unwrap());
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
    remove_tree(&root);
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
    remove_tree(&root);
}

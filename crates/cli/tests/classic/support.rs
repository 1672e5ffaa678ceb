//! What the classic tests share: tools from Debian's packages, opentracker,
//! the test data, `webswarm get` with a deadline, scrapes, torrents.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

/// A whole download of 64 MiB on loopback takes ~20 s from transmission
/// (it unchokes a new peer after up to 10 s and sends in 500 ms bursts).
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The log a failed bridge test shows: connections, closes, announces.
pub const LOG: &str = "warn,webswarm_native=debug";

pub fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is missing: `cargo xtask setup` installs it");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_listening(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn spawn(c: &mut Command) -> Reap {
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
pub fn opentracker(dir: &Path, port: u16, hash: &str) -> Reap {
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
pub fn two_files(root: &Path, seed: u64) -> PathBuf {
    let src = root.join("src/multi");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.bin"), random_bytes(40 << 20, 2 * seed)).unwrap();
    std::fs::write(src.join("sub/b.bin"), random_bytes(24 << 20, 2 * seed + 1)).unwrap();
    src
}

pub fn same_tree(a: &Path, b: &Path) {
    for f in ["a.bin", "sub/b.bin"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs");
    }
}

/// The response (head and body) to a plain HTTP/1.0 GET on loopback.
pub fn http_get(port: u16, path: &str) -> String {
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
pub fn wait_for_seeders(port: u16, hash: &str, n: u32) {
    wait_for_scrape(port, hash, "complete", n);
}

/// Waits until the tracker's scrape counts `n` in `field` ("complete":
/// seeders, "incomplete": downloaders) for `hash`.
pub fn wait_for_scrape(port: u16, hash: &str, field: &str, n: u32) {
    let t = Instant::now();
    loop {
        if scrape_count(port, hash, field).is_some_and(|c| c >= n) {
            return;
        }
        // Transmission checks 64 MiB before it announces: slow on a busy machine.
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "the tracker never counted {n} {field}: {}",
            http_get(port, &scrape_path(hash))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What the tracker's scrape counts in `field` for `hash` now.
pub fn scrape_count(port: u16, hash: &str, field: &str) -> Option<u32> {
    let body = http_get(port, &scrape_path(hash));
    let key = format!("{}:{field}i", field.len());
    body.split_once(&key)
        .and_then(|(_, rest)| rest.split_once('e'))
        .and_then(|(n, _)| n.parse::<u32>().ok())
}

fn scrape_path(hash: &str) -> String {
    let escaped: String = (0..20)
        .map(|i| format!("%{}", &hash[2 * i..2 * i + 2]))
        .collect();
    format!("/scrape?info_hash={escaped}")
}

/// `webswarm create` of `src` announcing to `trackers`, into `out`; the
/// info-hash.
pub fn create_torrent(src: &Path, trackers: &[&str], out: &Path) -> String {
    create_torrent_with(src, trackers, out, &[])
}

/// `create_torrent` with `extra` arguments (`--private`).
pub fn create_torrent_with(src: &Path, trackers: &[&str], out: &Path, extra: &[&str]) -> String {
    let mut c = webswarm(&["create", src.to_str().unwrap(), "-o"]);
    c.arg(out).args(extra);
    for t in trackers {
        c.args(["-t", t]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    info_hash_of_magnet(&String::from_utf8_lossy(&o.stdout))
}

/// A torrent of `src` (`root/t.torrent`, made with `extra` arguments to
/// `webswarm create`) announcing to an opentracker of its own on loopback.
pub struct Tracked {
    _tracker: Reap,
    /// The tracker's HTTP and UDP port.
    pub port: u16,
    /// Its HTTP announce URL.
    pub url: String,
    pub torrent: PathBuf,
    pub hash: String,
}

pub fn tracked_torrent(root: &Path, src: &Path, extra: &[&str]) -> Tracked {
    // The announce URL's port is fixed in the torrent before the tracker
    // starts: pick it first.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/announce");
    let torrent = root.join("t.torrent");
    let hash = create_torrent_with(src, &[&url], &torrent, extra);
    let _tracker = opentracker(root, port, &hash);
    Tracked {
        _tracker,
        port,
        url,
        torrent,
        hash,
    }
}

/// python3-libtorrent (`LIBTORRENT_GET`) downloads `torrent` into `dl`
/// (created) over `wire` only, and is done; what it printed.
pub fn libtorrent_get(torrent: &Path, dl: &Path, wire: &str) -> String {
    std::fs::create_dir_all(dl).unwrap();
    let o = Command::new("/usr/bin/python3")
        .args(["-c", super::libtorrent::LIBTORRENT_GET])
        .arg(torrent)
        .arg(dl)
        .arg(wire)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "libtorrent: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

/// `webswarm seed` of `torrent`'s data in `dir`, TCP peers on `port`, with
/// `extra` arguments; returns once it printed its magnet (it is ready),
/// with its stdout kept open (a closed pipe would fail its next line).
pub fn seed_torrent(torrent: &Path, dir: &Path, port: u16, extra: &[&str]) -> (Reap, Lines) {
    let mut child = Reap(
        webswarm(&[
            "seed",
            torrent.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ])
        .args(["--listen-port", &port.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut out = Lines(std::io::BufReader::new(child.0.stdout.take().unwrap()));
    let line = out.next_line();
    assert!(line.starts_with("magnet:"), "seed printed {line:?}");
    (child, out)
}

/// A python3-libtorrent program (`script`, see `libtorrent.rs`) with
/// `args`; its stdout, line by line.
pub fn python(script: &str, args: &[&std::ffi::OsStr]) -> (Reap, Lines) {
    let mut child = Reap(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    (child, Lines(out))
}

/// `LIBTORRENT_SEED` of `tr`'s torrent from `src`'s directory on `mode`
/// (`tcp`, `utp`, `tcp+rc4`), once it seeds and the tracker lists it (a
/// download that announced first would wait out opentracker's interval).
pub fn libtorrent_seeding(tr: &Tracked, src: &Path, mode: &str) -> (Reap, Lines) {
    let port = free_port().to_string();
    let args = [
        tr.torrent.as_os_str(),
        src.parent().unwrap().as_os_str(),
        port.as_ref(),
        mode.as_ref(),
    ];
    let (lt, mut out) = python(super::libtorrent::LIBTORRENT_SEED, &args);
    assert_eq!(out.next_line(), "ready", "libtorrent did not start");
    wait_for_seeders(tr.port, &tr.hash, 1);
    (lt, out)
}

/// A two-session libtorrent program of `libtorrent.rs` (`LIBTORRENT_PEX`,
/// `LIBTORRENT_PEX_LEARN`): `torrent`, its data in `data`, an empty
/// directory, two fresh ports; returns once it says "ready".
pub fn two_libtorrents(script: &str, torrent: &Path, data: &Path, empty: &Path) -> (Reap, Lines) {
    let ports = [free_port().to_string(), free_port().to_string()];
    let mut args = vec![torrent.as_os_str(), data.as_os_str(), empty.as_os_str()];
    args.extend(ports.iter().map(std::ffi::OsStr::new));
    let (child, mut out) = python(script, &args);
    assert_eq!(out.next_line(), "ready", "libtorrent did not start");
    (child, out)
}

/// A child's stdout, read a line at a time.
pub struct Lines(std::io::BufReader<std::process::ChildStdout>);

impl Lines {
    /// The next line, trimmed ("" at the end).
    pub fn next_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        self.0.read_line(&mut line).unwrap();
        line.trim().to_owned()
    }
}

pub fn info_hash_of_magnet(m: &str) -> String {
    let i = m.find("btih:").expect("a btih magnet") + 5;
    m[i..i + 40].to_lowercase()
}

/// `webswarm get` with `args`, within the deadline; returns its stderr.
pub fn get(args: &[&str]) -> String {
    try_get(args, "").unwrap_or_else(|e| panic!("{e}")).1
}

/// `webswarm get --json` with `args`: its summary, and its stderr.
pub fn get_json(args: &[&str]) -> (serde_json::Value, String) {
    get_json_logged(args, "")
}

/// `get_json` with `RUST_LOG=log`.
pub fn get_json_logged(args: &[&str], log: &str) -> (serde_json::Value, String) {
    let mut a = args.to_vec();
    a.push("--json");
    let (out, err) = try_get(&a, log).unwrap_or_else(|e| panic!("{e}"));
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (v, err)
}

/// `webswarm get` with `args` and `RUST_LOG=log` (none if empty), listening
/// for TCP peers on a port of its own (not 6881, which tests running side by
/// side would take in turns); its stdout and stderr, or why it failed.
pub fn try_get(args: &[&str], log: &str) -> Result<(String, String), String> {
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

/// A torrent of `src` made by transmission-create, announcing to
/// `tracker_port`; returns its path and info-hash.
pub fn transmission_torrent(root: &Path, src: &Path, tracker_port: u16) -> (PathBuf, String) {
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

//! Faults: a seeder killed mid-transfer, a tracker restart, a peer sending
//! corrupt blocks, and a downloader killed and restarted.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;
use webswarm_core::Bitfield;
use webswarm_native::session::{AddOptions, Client, What};

const WAIT: Duration = Duration::from_secs(120);

async fn poll_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_killed_mid_transfer_another_seeder_finishes_it() {
    let tracker = Tracker::start().await;
    let root = tempdir("kill-seeder");
    let src = make_dir(&root.join("src"), "data", &[96 << 20]);
    // The default piece length, as `webswarm seed` chooses it: the same torrent.
    let meta = torrent_for(&src, &tracker.url, None);
    let mut a = tokio::task::block_in_place(|| seed_process(&[&src], &tracker.url)).0;
    let (_bc, _b) = seeder(&meta, &src).await;
    let dir = root.join("dl");
    let (_lc, h) = leecher(What::Torrent(Box::new(meta.clone())), &dir).await;
    // Kill the process seeder while both seeders are serving the download.
    poll_until("two peers and 5 % progress", || {
        let s = h.stats();
        s.peers >= 2 && s.progress() >= 0.05
    })
    .await;
    let at = h.stats().progress();
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    assert!(
        at < 0.9,
        "the transfer was nearly over ({at}) when the seeder died"
    );
    tokio::time::timeout(WAIT, h.wait_complete())
        .await
        .expect("finishes")
        .unwrap();
    assert_same_tree(&src, &dir.join("data"));
    remove_tree(&root);
    tracker.stop().await;
}

/// Runs `webswarm tracker` on `bind` and returns it with its ws:// URL.
fn tracker_process(bind: &str) -> (Child, String) {
    let mut child = webswarm(&[])
        .args(["tracker", "--bind", bind, "--interval", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("ws://"), "tracker printed {line:?}");
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracker_restart_peers_reconnect_and_the_swarm_recovers() {
    use webswarm_native::tracker_client::TrackerState;
    let (t1, url) = tokio::task::block_in_place(|| tracker_process("127.0.0.1:0"));
    let mut t1 = Reap(t1);
    let root = tempdir("tracker-restart");
    let src = make_dir(&root.join("src"), "data", &[4 << 20]);
    let meta = torrent_for(&src, &url, None);
    let (_sc, seed) = seeder(&meta, &src).await;
    let state =
        |h: &webswarm_native::session::TorrentHandle| h.trackers()[0].state.borrow().clone();
    poll_until("seeder connected", || {
        state(&seed) == TrackerState::Connected
    })
    .await;
    t1.0.kill().unwrap();
    t1.0.wait().unwrap();
    poll_until("seeder notices the loss", || {
        state(&seed) != TrackerState::Connected
    })
    .await;
    // A new tracker on the same address knows nobody until peers come back.
    let addr = url.trim_start_matches("ws://").to_owned();
    let (t2, _) = tokio::task::block_in_place(|| tracker_process(&addr));
    let _t2 = Reap(t2);
    poll_until("seeder reconnects", || {
        state(&seed) == TrackerState::Connected
    })
    .await;
    let dir = root.join("dl");
    let (_lc, h) = leecher(What::Torrent(Box::new(meta.clone())), &dir).await;
    tokio::time::timeout(WAIT, h.wait_complete())
        .await
        .expect("finishes after the restart")
        .unwrap();
    assert_same_tree(&src, &dir.join("data"));
    remove_tree(&root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_corrupt_blocks_is_banned_and_the_file_is_right() {
    let tracker = Tracker::start().await;
    let root = tempdir("corrupt");
    let src = make_dir(&root.join("src"), "data", &[8 << 20]);
    let meta = torrent_for(&src, &tracker.url, Some(64 << 10));
    // A liar: the same files with one byte changed in every piece, claimed complete.
    let bad_root = root.join("bad");
    let bad = make_dir(&bad_root, "data", &[8 << 20]);
    let f = bad.join("file0.bin");
    let mut bytes = std::fs::read(&f).unwrap();
    for i in (100..bytes.len()).step_by(64 << 10) {
        bytes[i] ^= 0xff;
    }
    std::fs::write(&f, bytes).unwrap();
    let (_xc, _x) = seeder(&meta, &bad).await;
    let dir = root.join("dl");
    let (_lc, h) = leecher(What::Torrent(Box::new(meta.clone())), &dir).await;
    poll_until("the liar banned", || h.stats().banned >= 1).await;
    let (_sc, _s) = seeder(&meta, &src).await;
    tokio::time::timeout(WAIT, h.wait_complete())
        .await
        .expect("finishes from the honest seeder")
        .unwrap();
    assert_same_tree(&src, &dir.join("data"));
    assert_eq!(h.stats().banned, 1);
    remove_tree(&root);
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_download_resumes_without_fetching_verified_pieces() {
    let tracker = Tracker::start().await;
    let root = tempdir("resume");
    let src = make_dir(&root.join("src"), "data", &[96 << 20]);
    let (bytes, meta) = torrent_bytes_for(&src, &tracker.url, Some(256 << 10));
    let torrent = root.join("data.torrent");
    std::fs::write(&torrent, bytes).unwrap();
    let client = Client::new(loopback_config());
    let seed = client
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: root.join("src"),
            trackers: vec![],
            verified: Some(Bitfield::full(meta.info.layout.num_pieces())),
            require_complete: false,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    let dir = root.join("dl");
    let get = |dir: &Path| {
        webswarm(&[])
            .args([
                "get",
                torrent.to_str().unwrap(),
                "-o",
                dir.to_str().unwrap(),
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let total = meta.info.layout.total_len();
    let mut first = Reap(get(&dir));
    poll_until("40 % uploaded", || seed.stats().uploaded >= total * 2 / 5).await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let second = tokio::task::block_in_place(|| get(&dir).wait_with_output()).unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{err}");
    let num = |re_after: &str| -> u64 {
        let i = err
            .find(re_after)
            .unwrap_or_else(|| panic!("{re_after:?} not in {err}"))
            + re_after.len();
        err[i..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let resumed = num("resuming: ");
    let fetched = num("fetched ");
    let piece = u64::from(meta.info.layout.piece_len());
    eprintln!("resumed with {resumed} pieces; fetched {fetched} of {total} bytes");
    assert!(resumed > 0, "{err}");
    // Only what was not verified is fetched again (plus endgame duplicates).
    assert!(fetched <= total - resumed * piece + 8 * piece, "{err}");
    assert_same_tree(&src, &dir.join("data"));
    remove_tree(&root);
    tracker.stop().await;
}

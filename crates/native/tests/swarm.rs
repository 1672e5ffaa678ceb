//! Native peers through our tracker over real WebRTC on loopback.

mod common;

use std::time::Duration;

use common::*;
use webswarm_core::Magnet;
use webswarm_native::session::What;

const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seeder_three_leechers_64mib_multi_file() {
    let tracker = Tracker::start().await;
    let root = tempdir("swarm");
    let src = make_dir(
        &root.join("src"),
        "album",
        &[20 << 20, 1, 30 << 20, 0, (14 << 20) - 1, 12345],
    );
    let meta = torrent_for(&src, &tracker.url, Some(256 << 10));
    let (_sc, _seed) = seeder(&meta, &src).await;
    let mut leechers = Vec::new();
    for i in 0..3 {
        let dir = root.join(format!("l{i}"));
        leechers.push((
            leecher(What::Torrent(Box::new(meta.clone())), &dir).await,
            dir,
        ));
    }
    let start = std::time::Instant::now();
    for ((_, h), _) in &leechers {
        tokio::time::timeout(WAIT, h.wait_complete())
            .await
            .expect("download finishes")
            .unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!("3 leechers x 64 MiB in {secs:.1} s");
    for (_, dir) in &leechers {
        assert_same_tree(&src, &dir.join("album"));
    }
    remove_tree(&root);
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_leecher_gets_metadata_from_peers() {
    let tracker = Tracker::start().await;
    let root = tempdir("magnet");
    let src = make_dir(&root.join("src"), "set", &[3 << 20, 77_777]);
    let meta = torrent_for(&src, &tracker.url, None);
    let (_sc, _seed) = seeder(&meta, &src).await;
    let mut magnet = Magnet::new(meta.info.info_hash);
    magnet.trackers.push(tracker.url.clone());
    let dir = root.join("dl");
    let (_lc, h) = leecher(What::Magnet(magnet), &dir).await;
    tokio::time::timeout(WAIT, h.wait_complete())
        .await
        .expect("download finishes")
        .unwrap();
    assert_eq!(h.stats().name.as_deref(), Some("set"));
    assert_same_tree(&src, &dir.join("set"));
    remove_tree(&root);
    tracker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeder_whose_file_changed_never_serves_the_changed_piece() {
    use std::os::unix::fs::FileExt;
    let tracker = Tracker::start().await;
    let root = tempdir("changed");
    let src = make_dir(&root.join("src"), "set", &[4 << 20]);
    let meta = torrent_for(&src, &tracker.url, Some(256 << 10));
    let (_sc, seed) = seeder(&meta, &src).await;
    // Someone edits the seeded file: one byte of piece 5.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(src.join("file0.bin"))
        .unwrap();
    let at = 5 * (256 << 10) + 77;
    let mut b = [0u8];
    file.read_exact_at(&mut b, at).unwrap();
    file.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
    let dir = root.join("l");
    let (_lc, h) = leecher(What::Torrent(Box::new(meta.clone())), &dir).await;
    let n = meta.info.layout.num_pieces();
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.stats().pieces_have < n - 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other pieces did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Time for a wrong piece 5 to arrive, were it sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (l, s) = (h.stats(), seed.stats());
    assert_eq!(l.pieces_have, n - 1, "piece 5 cannot be had from anyone");
    assert_eq!(l.banned, 0, "the seeder never sent wrong data");
    assert_eq!(s.pieces_have, n - 1, "the seeder no longer counts piece 5");
    assert_ne!(l.left, Some(0));
    remove_tree(&root);
    tracker.stop().await;
}

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
    std::fs::remove_dir_all(&root).unwrap();
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
    std::fs::remove_dir_all(&root).unwrap();
    tracker.stop().await;
}

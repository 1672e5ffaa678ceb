//! Hostile peers over the real stack: a flood of offers that never connect
//! (half-open WebRTC connections: the seeder answers, ICE never completes)
//! must not starve honest peers of a native seeder, nor grow its memory
//! without bound. An honest `webswarm get` is timed before and during the
//! flood against a rate-capped seeder.

mod common;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use webswarm_core::Rng;
use webswarm_tracker_bench::{announce, id_from, rss_kb, sdp};
use webswarm_tracker_proto::binstr_encode;

/// Fake peers announcing offers to the torrent as fast as the tracker's
/// rate limit allows; each offer names a candidate nobody listens on, so a
/// connection answered for it stays half-open until the seeder gives up.
fn flood(
    url: String,
    info_hash: [u8; 20],
    fakes: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    for n in 0..fakes {
        let (url, stop, sent) = (url.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let me = id_from(n, b'F');
            let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
            let mut rng = Rng::new(n);
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let offers = (0..10)
                    .map(|_| {
                        seq += 1;
                        serde_json::json!({"offer": {"type": "offer", "sdp": sdp(&mut rng)},
                            "offer_id": binstr_encode(&id_from(n << 32 | seq, b'f'))})
                    })
                    .collect();
                if sink
                    .send(announce(&info_hash, &me, offers, None))
                    .await
                    .is_err()
                {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(110)).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_flood_does_not_starve_honest_peers_of_a_seeder() {
    let tracker = Tracker::start().await;
    let root = tempdir("flood");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let src = root.join("src/data.bin");
    std::fs::write(&src, random_bytes(24 << 20, 3)).unwrap();
    let extra = ["--max-upload-rate", "6M"];
    let (seeder, magnet, _) = spawn_seed(&src, &tracker.url, &extra, Stdio::null());
    let info_hash = webswarm_core::Magnet::parse(&magnet)
        .unwrap()
        .info_hash
        .unwrap()
        .0;
    let pid = seeder.0.id();
    let get = |dir: &str| {
        let d = root.join(dir);
        let magnet = magnet.clone();
        tokio::task::spawn_blocking(move || timed_get(&magnet, &d))
    };
    let quiet = [get("quiet-0").await.unwrap(), get("quiet-1").await.unwrap()];
    let rss_before = rss_kb(pid);

    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    // Three fakes: every honest offer still reaches the seeder (four other
    // peers, five offers per announce), so this measures the seeder alone;
    // with more, the tracker's sampling decides whether it is reached.
    flood(
        tracker.url.clone(),
        info_hash,
        3,
        stop.clone(),
        sent.clone(),
    );
    tokio::time::sleep(Duration::from_secs(8)).await;
    let flooded = [get("flood-0").await.unwrap(), get("flood-1").await.unwrap()];
    let rss_during = rss_kb(pid);
    stop.store(true, Ordering::Relaxed);
    eprintln!(
        "honest get: {quiet:.2?} s quiet, {flooded:.2?} s during a flood of {} announces of 10 offers; seeder RSS {rss_before} -> {rss_during} KiB",
        sent.load(Ordering::Relaxed)
    );
    let slowest_quiet = quiet[0].max(quiet[1]);
    for f in flooded {
        assert!(
            f <= slowest_quiet * 1.1,
            "honest download took {f:.2} s during the flood, {quiet:.2?} s without"
        );
    }
    assert!(
        rss_during < rss_before + (64 << 10),
        "seeder RSS grew from {rss_before} to {rss_during} KiB in the flood"
    );
    drop(seeder);
    remove_tree(&root);
    tracker.stop().await;
}

//! Crash consistency: `webswarm get` killed with SIGKILL at random moments
//! (while connecting, writing blocks, hashing, saving its resume record, or
//! right after finishing), and restarted each time. After every kill the
//! pieces the client would trust on restart (`DiskStorage::load_verified`:
//! the resume record if the files still match it, else a recheck) are hashed
//! from disk independently; every one must be right. Each completed round's
//! file must be byte-exact. CI runs 10 kills; `WEBSWARM_CRASH_KILLS=100`
//! (or `cargo xtask crash-loop`) runs the full loop.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use webswarm_core::{sha1, Metainfo, Rng};
use webswarm_native::session::ClientConfig;
use webswarm_native::storage::DiskStorage;

/// Pieces `load_verified` would trust, each checked against its hash with a
/// plain read of the file. Returns how many were claimed.
fn check_trusted_pieces(dir: &Path, meta: &Metainfo) -> u32 {
    let info = &meta.info;
    let storage = DiskStorage::open(dir, info).unwrap();
    let have = storage.load_verified().unwrap();
    let mut file = std::fs::File::open(dir.join(&info.name)).unwrap();
    let mut claimed = 0;
    for p in info.layout.pieces() {
        if !have.get(p.get()) {
            continue;
        }
        claimed += 1;
        let mut buf = vec![0; info.layout.piece_size(p) as usize];
        file.seek(SeekFrom::Start(info.layout.piece_offset(p)))
            .unwrap();
        file.read_exact(&mut buf).unwrap();
        assert_eq!(
            sha1(&buf),
            info.piece_hash(p),
            "piece {} trusted but wrong on disk",
            p.get()
        );
    }
    claimed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_killed_at_random_moments_never_trusts_a_wrong_piece() {
    let kills: u32 = std::env::var("WEBSWARM_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let tracker = Tracker::start().await;
    let root = tempdir("crash");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let src = root.join("src/data.bin");
    std::fs::write(&src, random_bytes(16 << 20, 7)).unwrap();
    let (bytes, meta) = webswarm_native::create::create_torrent(
        &src,
        &webswarm_native::create::CreateOptions {
            trackers: vec![tracker.url.clone()],
            webseeds: vec![],
            piece_len: Some(64 << 10),
            private: false,
        },
        &mut |_, _| {},
    )
    .unwrap();
    std::fs::write(root.join("data.torrent"), bytes).unwrap();
    // A rate-capped seeder: a round lasts several seconds, so kills land
    // in the middle of the transfer as well as at its start and end.
    let seed_cfg = ClientConfig {
        max_upload_rate: Some(4 << 20),
        ..loopback_config()
    };
    let (_sc, _s) = seeder_with(seed_cfg, &meta, &src).await;
    let mut rng = Rng::new(u64::from(kills));
    let (mut killed, mut rounds, mut claimed_total) = (0, 0, 0u64);
    let mut round_dir = root.join("dl-0");
    let torrent = root.join("data.torrent");
    let get = |dir: &Path| {
        let mut c = webswarm(&[
            "get",
            torrent.to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "-o",
        ]);
        c.arg(dir).stdout(Stdio::null()).stderr(Stdio::piped());
        c
    };
    let started = Instant::now();
    while killed < kills {
        let mut child = Reap(get(&round_dir).stderr(Stdio::null()).spawn().unwrap());
        let delay = Duration::from_millis(100 + rng.below(4500) as u64);
        tokio::time::sleep(delay).await;
        let finished = child.0.try_wait().unwrap();
        if finished.is_none() {
            child.0.kill().unwrap();
            child.0.wait().unwrap();
            killed += 1;
        }
        let claimed = check_trusted_pieces(&round_dir, &meta);
        claimed_total += u64::from(claimed);
        if let Some(status) = finished {
            assert!(status.success(), "webswarm get failed: {status}");
            assert_same_tree(&root.join("src"), &round_dir);
            assert_eq!(claimed, meta.info.layout.num_pieces());
            rounds += 1;
            round_dir = root.join(format!("dl-{rounds}"));
        }
    }
    // The last round, to the end, without a kill.
    let last = tokio::task::block_in_place(|| get(&round_dir).output().unwrap());
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_same_tree(&root.join("src"), &round_dir);
    // Once more: complete on disk, nothing to fetch, and it says so.
    let again = tokio::task::block_in_place(|| get(&round_dir).output().unwrap());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{said}");
    assert!(said.contains("was complete already"), "{said}");
    eprintln!(
        "{killed} kills over {} rounds in {:.0} s; {claimed_total} trusted pieces checked after kills, all right",
        rounds + 1,
        started.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&root).unwrap();
    tracker.stop().await;
}

//! Crash consistency: `webswarm get` killed with SIGKILL at random moments
//! (while connecting, writing blocks, hashing, saving its resume record, or
//! right after finishing), and restarted each time. After every kill the
//! pieces the client would trust on restart (`DiskStorage::load_verified`:
//! the resume record if the files still match it, else a recheck) are hashed
//! from disk independently; every one must be right. Each completed round's
//! file must be byte-exact. CI runs 10 kills; `WEBSWARM_CRASH_KILLS=100`
//! (or `cargo xtask crash-loop`) runs the full loop. A second test kills a
//! download after its record, changes a recorded piece, and restarts it.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
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
    // A rate-capped seeder: a round lasts several seconds, so kills land
    // in the middle of the transfer as well as at its start and end.
    let (meta, _seeder) = rig(&root, &tracker, 4 << 20).await;
    let mut rng = Rng::new(u64::from(kills));
    let (mut killed, mut rounds, mut claimed_total) = (0, 0, 0u64);
    let mut round_dir = root.join("dl-0");
    let torrent = root.join("data.torrent");
    let get = |dir: &Path| get_into(&torrent, dir);
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
    remove_tree(&root);
    tracker.stop().await;
}

/// `webswarm get` of `torrent` into `dir`, its stderr piped.
fn get_into(torrent: &Path, dir: &Path) -> std::process::Command {
    let mut c = webswarm(&[
        "get",
        torrent.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "-o",
    ]);
    c.arg(dir).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// A 16 MiB torrent of 64 KiB pieces in `root` (its data in `root/src`) and
/// a seeder for it capped at `rate` bytes/s.
async fn rig(root: &Path, tracker: &Tracker, rate: u64) -> (Metainfo, impl Sized) {
    std::fs::create_dir_all(root.join("src")).unwrap();
    let src = root.join("src/data.bin");
    std::fs::write(&src, random_bytes(16 << 20, 7)).unwrap();
    let (bytes, meta) = torrent_bytes_for(&src, &tracker.url, Some(64 << 10));
    std::fs::write(root.join("data.torrent"), bytes).unwrap();
    let cfg = ClientConfig {
        max_upload_rate: Some(rate),
        ..loopback_config()
    };
    let seeder = seeder_with(cfg, &meta, &src).await;
    (meta, seeder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_killed_after_its_record_resumes_at_once_and_refetches_a_piece_changed_since() {
    let tracker = Tracker::start().await;
    let root = tempdir("killed-after-record");
    let (meta, _seeder) = rig(&root, &tracker, 2 << 20).await;
    let torrent = root.join("data.torrent");
    let dl = root.join("dl");
    let get = || get_into(&torrent, &dl);
    // Killed soon after its first record (one is written every 5 s while
    // pieces arrive), well before the end (16 MiB at 2 MB/s).
    let record = dl.join(format!("{}.webswarm-resume", meta.info.info_hash.to_hex()));
    let mut child = Reap(get().stderr(Stdio::null()).spawn().unwrap());
    let started = Instant::now();
    while !record.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no resume record"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "finished before the kill"
    );
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // Someone changes one byte of a piece the record lists.
    let info = &meta.info;
    let listed = DiskStorage::open(&dl, info)
        .unwrap()
        .load_verified()
        .unwrap();
    assert!(
        !listed.is_full() && listed.count() > 0,
        "{} pieces",
        listed.count()
    );
    let p = info
        .layout
        .piece(listed.iter_ones().next().unwrap())
        .unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dl.join(&info.name))
        .unwrap();
    let at = info.layout.piece_offset(p) + 1000;
    let mut byte = [0];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[!byte[0]], at).unwrap();
    drop(file);
    // Restarted: the record's pieces count at once (none hashed before the
    // start), the changed one is found in the background and fetched again.
    let mut again = Reap(get().spawn().unwrap());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = again.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the restart never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut said = String::new();
    again
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(status.success(), "{said}");
    assert!(
        said.contains("from a resume record the files outgrew"),
        "{said}"
    );
    assert_same_tree(&root.join("src"), &dl);
    remove_tree(&root);
    tracker.stop().await;
}

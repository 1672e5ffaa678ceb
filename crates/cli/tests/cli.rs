//! The `webswarm` binary end to end: several torrents seeded by one process,
//! and failures that end as one clear line with a non-zero exit code.

mod common;

use std::process::{Command, Output};

use common::*;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last line of stderr, which is the error a user sees.
fn error_line(o: &Output) -> String {
    stderr(o).lines().last().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_seeds_several_torrents() {
    let tracker = Tracker::start().await;
    let root = tempdir("cli-multi");
    let (a, b) = (root.join("a.bin"), root.join("b.bin"));
    std::fs::write(&a, random_bytes(3 << 20, 1)).unwrap();
    std::fs::write(&b, random_bytes(5 << 20, 2)).unwrap();
    let (_seeder, magnets) = seed_process(&[&a, &b], &tracker.url);
    for (m, src) in magnets.iter().zip([&a, &b]) {
        let dir = root.join("dl");
        let o = tokio::task::block_in_place(|| {
            webswarm(&["get", m, "-o", dir.to_str().unwrap(), "--bind", "127.0.0.1"]).output()
        })
        .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            std::fs::read(dir.join(src.file_name().unwrap())).unwrap()
                == std::fs::read(src).unwrap()
        );
    }
    remove_tree(&root);
    tracker.stop().await;
}

/// More torrents than a tracker takes announces at once on one connection
/// (ours: 50, then 10 a second): before the tracker client paced its
/// announces, `webswarm seed` of 100 files ended at the 38th with "too many
/// announces: slow down".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_seeds_more_torrents_than_a_burst_of_announces() {
    let tracker = Tracker::start().await;
    let root = tempdir("cli-many");
    let files: Vec<std::path::PathBuf> = (0..80u64)
        .map(|k| {
            let f = root.join(format!("f{k}.bin"));
            std::fs::write(&f, random_bytes(2000, k)).unwrap();
            f
        })
        .collect();
    let paths: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    let started = std::time::Instant::now();
    let (_seeder, magnets) = tokio::task::block_in_place(|| seed_process(&paths, &tracker.url));
    assert_eq!(magnets.len(), 80);
    // 40 at once, then 10 a second: well within the 15 s a first answer may take.
    assert!(started.elapsed() < std::time::Duration::from_secs(12));
    remove_tree(&root);
    tracker.stop().await;
}

#[test]
fn bad_input_is_one_clear_line_and_a_failure_code() {
    let root = tempdir("cli-errors");
    let o = webswarm(&["get", "magnet:?xt=urn:btih:nothex"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        error_line(&o).starts_with("webswarm: bad magnet link"),
        "{}",
        stderr(&o)
    );

    let junk = root.join("junk.torrent");
    std::fs::write(&junk, b"d4:infoi3ee").unwrap();
    let o = webswarm(&["get", junk.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    assert!(
        error_line(&o).contains("is not a valid .torrent"),
        "{}",
        stderr(&o)
    );

    // Nothing listens on port 1.
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=ws://127.0.0.1:1";
    let o = webswarm(&["get", magnet, "-o", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        error_line(&o).starts_with("webswarm: cannot reach the tracker (ws://127.0.0.1:1"),
        "{}",
        stderr(&o)
    );
    remove_tree(&root);
}

fn make_torrent(src: &std::path::Path, tracker: &str) -> std::path::PathBuf {
    let opts = webswarm_native::create::CreateOptions {
        trackers: vec![tracker.to_owned()],
        webseeds: vec![],
        piece_len: Some(64 << 10),
        private: false,
    };
    let (bytes, _) = webswarm_native::create::create_torrent(src, &opts, &mut |_, _| {}).unwrap();
    let t = src.with_extension("torrent");
    std::fs::write(&t, bytes).unwrap();
    t
}

#[test]
fn seeding_wrong_data_is_refused() {
    let root = tempdir("cli-wrong");
    let src = root.join("w.bin");
    std::fs::write(&src, random_bytes(2 << 20, 3)).unwrap();
    let t = make_torrent(&src, "ws://127.0.0.1:1");
    let mut bytes = std::fs::read(&src).unwrap();
    bytes[100_000] ^= 1;
    std::fs::write(&src, bytes).unwrap();
    let o = webswarm(&["seed", t.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    assert_eq!(
        error_line(&o),
        format!(
            "webswarm: wrong data on disk: only 31 of 32 pieces of w.bin in {} are correct",
            root.display()
        )
    );
    remove_tree(&root);
}

/// A download into a 1 MiB tmpfs (a private mount namespace; needs root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_ends_the_download_with_a_clear_error() {
    let is_root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    });
    if !is_root && std::env::var_os("WEBSWARM_REQUIRE_TOOLS").is_none() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let tracker = Tracker::start().await;
    let root = tempdir("cli-full");
    let src = root.join("big.bin");
    std::fs::write(&src, random_bytes(4 << 20, 4)).unwrap();
    let t = make_torrent(&src, &tracker.url);
    let meta = webswarm_core::Metainfo::from_bytes(&std::fs::read(&t).unwrap()).unwrap();
    let (_sc, _seed) = seeder(&meta, &src).await;
    let small = root.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs '{d}' && exec timeout 60 '{bin}' get '{t}' -o '{d}' --bind 127.0.0.1",
        d = small.display(),
        bin = env!("CARGO_BIN_EXE_webswarm"),
        t = t.display()
    );
    let o = tokio::task::block_in_place(|| {
        Command::new("unshare")
            .args(["--mount", "sh", "-c", &script])
            .output()
    })
    .unwrap();
    assert!(!o.status.success());
    let line = error_line(&o);
    assert!(
        line.starts_with("webswarm: cannot write")
            && line.contains("No space left on device")
            && line.ends_with("(is the disk full?)"),
        "{}",
        stderr(&o)
    );
    remove_tree(&root);
    tracker.stop().await;
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A tracker that refuses a torrent says why, and the user sees it: at start
/// as the error, and while running as a line when the refusal appears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracker_refusal_reaches_the_user() {
    use std::io::{BufRead, BufReader};
    use webswarm_signaling::token::{issue, Scope};
    let root = tempdir("cli-refused");
    std::fs::create_dir_all(&root).unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, "site-secret").unwrap();
    let cfg = webswarm_signaling::config::Config {
        interval_secs: 5,
        token_secret_file: Some(secret),
        ..Default::default()
    };
    let tracker = Tracker::start_with("127.0.0.1:0".parse().unwrap(), cfg).await;
    let src = root.join("r.bin");
    std::fs::write(&src, random_bytes(1 << 20, 4)).unwrap();

    let expired = issue(b"site-secret", None, unix_now() - 10, Scope::Announce);
    let url = format!("{}?token={expired}", tracker.url);
    let o = tokio::task::block_in_place(|| {
        webswarm(&[
            "seed",
            src.to_str().unwrap(),
            "--tracker",
            &url,
            "--bind",
            "127.0.0.1",
        ])
        .output()
    })
    .unwrap();
    assert!(!o.status.success());
    let line = error_line(&o);
    assert!(
        line.starts_with("webswarm: no tracker took the torrent (")
            && line.contains("refused this torrent: ")
            && line.contains("expired")
            && !line.contains(&expired),
        "{}",
        stderr(&o)
    );

    // Good for 3 s: taken at start, refused at the re-announce after 5 s.
    let brief = issue(b"site-secret", None, unix_now() + 3, Scope::Announce);
    let url = format!("{}?token={brief}", tracker.url);
    let mut child = Reap(
        webswarm(&[
            "seed",
            src.to_str().unwrap(),
            "--tracker",
            &url,
            "--bind",
            "127.0.0.1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let err = BufReader::new(child.0.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        err.lines()
            .map_while(Result::ok)
            .try_for_each(|l| tx.send(l))
    });
    let seen = tokio::task::block_in_place(|| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut lines = Vec::new();
        while let Ok(l) =
            rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            let refused = l.contains("refused this torrent") && l.contains("expired");
            lines.push(l);
            if refused {
                break;
            }
        }
        lines
    });
    assert!(
        seen.iter().any(|l| l.starts_with("seeding "))
            && seen
                .last()
                .is_some_and(|l| l.contains("refused this torrent")),
        "{seen:#?}"
    );
    drop(child);
    remove_tree(&root);
    tracker.stop().await;
}

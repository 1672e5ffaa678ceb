//! Torrents made by mktorrent and transmission-create parse with the info-hash
//! transmission-show prints, and transmission-show accepts ours with our hash.
//! Needs those Debian tools; `cargo xtask test` installs them and sets
//! WEBSWARM_REQUIRE_TOOLS=1 so that a missing tool fails instead of skipping.
#![cfg(not(target_arch = "wasm32"))]
// A harness around core, not core: it may read the clock and files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::Command;

use webswarm_core::{Metainfo, TorrentCreator};

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("WEBSWARM_REQUIRE_TOOLS").is_none(),
            "{name} is required (apt-get install mktorrent transmission-cli)"
        );
        eprintln!("skipping: {name} not installed");
    }
    found
}

fn workdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("webswarm-interop-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("content/sub")).unwrap();
    // Sizes chosen so pieces straddle the file boundary.
    let a: Vec<u8> = (0..300_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let b: Vec<u8> = (0..70_003u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d.join("content/a.bin"), a).unwrap();
    std::fs::write(d.join("content/sub/b.bin"), b).unwrap();
    d
}

fn transmission_hash(torrent: &Path) -> String {
    let out = Command::new("transmission-show")
        .arg(torrent)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "transmission-show refused {torrent:?}"
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Hash: ")
                .or_else(|| l.trim().strip_prefix("Hash v1: "))
        })
        .unwrap_or_else(|| panic!("no hash in transmission-show output:\n{text}"))
        .trim()
        .to_owned()
}

#[test]
fn mktorrent_and_transmission_create_torrents_parse_with_the_same_info_hash() {
    if !tool("mktorrent") || !tool("transmission-create") || !tool("transmission-show") {
        return;
    }
    let d = workdir("parse");
    let m = d.join("m.torrent");
    let t = d.join("t.torrent");
    let ok = Command::new("mktorrent")
        .args([
            "-a",
            "ws://127.0.0.1:8000",
            "-l",
            "15",
            "-w",
            "http://127.0.0.1/seed/",
            "-o",
        ])
        .arg(&m)
        .arg(d.join("content"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = Command::new("transmission-create")
        .args(["-t", "http://127.0.0.1:8000/announce", "-s", "16", "-o"])
        .arg(&t)
        .arg(d.join("content"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for file in [&m, &t] {
        let meta = Metainfo::from_bytes(&std::fs::read(file).unwrap()).unwrap();
        assert_eq!(
            meta.info.info_hash.to_hex(),
            transmission_hash(file),
            "{file:?}"
        );
        assert_eq!(meta.info.files.len(), 2);
        assert_eq!(meta.info.layout.total_len(), 370_004);
    }
    let meta = Metainfo::from_bytes(&std::fs::read(&m).unwrap()).unwrap();
    assert_eq!(meta.url_list, vec!["http://127.0.0.1/seed/"]);
    assert_eq!(meta.trackers[0][0], "ws://127.0.0.1:8000");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn transmission_accepts_our_torrents_with_our_info_hash() {
    if !tool("transmission-show") {
        return;
    }
    let d = workdir("create");
    let a = std::fs::read(d.join("content/a.bin")).unwrap();
    let b = std::fs::read(d.join("content/sub/b.bin")).unwrap();
    let mut c = TorrentCreator::new(
        "content",
        vec![
            (vec!["a.bin".into()], a.len() as u64),
            (vec!["sub".into(), "b.bin".into()], b.len() as u64),
        ],
        None,
    )
    .unwrap();
    c.trackers = vec![vec!["http://127.0.0.1:8000/announce".into()]];
    c.update(&a);
    c.update(&b);
    let (bytes, meta) = c.finish().unwrap();
    let path = d.join("ours.torrent");
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(transmission_hash(&path), meta.info.info_hash.to_hex());
    std::fs::remove_dir_all(&d).unwrap();
}

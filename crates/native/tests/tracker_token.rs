//! A tracker that requires signed tokens: the token travels in the tracker
//! URL's query string, and the native peer passes it through unchanged.

mod common;

use std::time::Duration;

use common::*;
use webswarm_native::session::What;
use webswarm_signaling::config::Config;
use webswarm_signaling::token::{issue, Scope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_with_a_token_in_the_tracker_url_find_each_other() {
    let root = tempdir("token");
    let secret = root.join("secret");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(&secret, "site-secret").unwrap();
    let cfg = Config {
        interval_secs: 10,
        token_secret_file: Some(secret),
        ..Config::default()
    };
    let tracker = Tracker::start_with("127.0.0.1:0".parse().unwrap(), cfg).await;
    let src = make_dir(&root.join("src"), "clip", &[3 << 20]);
    // Made for any torrent, so it can go into the torrent before the
    // info-hash is known; a site's backend would usually name the torrent.
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = issue(b"site-secret", None, expires, Scope::Announce);
    let url = format!("{}?token={token}", tracker.url);
    let meta = torrent_for(&src, &url, None);
    let (_sc, _seed) = seeder(&meta, &src).await;
    let dir = root.join("dl");
    let (_lc, h) = leecher(What::Torrent(Box::new(meta)), &dir).await;
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download finishes")
        .unwrap();
    assert_same_tree(&src, &dir.join("clip"));
    remove_tree(&root);
    tracker.stop().await;
}

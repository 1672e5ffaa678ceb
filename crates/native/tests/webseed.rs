//! BEP 19 webseeds in the native peer, against a real HTTP server on
//! 127.0.0.1 (tower-http's ServeFile, with Range): a torrent with no peers and
//! no tracker downloads from its webseed alone; one serving wrong bytes is dropped.

mod common;

use std::time::Duration;

use axum::Router;
use common::*;
use tower_http::services::ServeFile;
use webswarm_native::create::{create_torrent, CreateOptions};
use webswarm_native::session::What;

async fn serve(router: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torrent_without_peers_downloads_from_its_webseed_and_a_bad_one_is_dropped() {
    let tmp = std::env::temp_dir().join(format!("webswarm-webseed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(tmp.join("src")).unwrap();
    let data = random_bytes(3 << 20 | 12345, 9);
    let file = tmp.join("src/data.bin");
    std::fs::write(&file, &data).unwrap();
    let mut bad = data.clone();
    bad.iter_mut().step_by(1000).for_each(|b| *b ^= 0x5a);
    std::fs::write(tmp.join("bad.bin"), &bad).unwrap();
    let router = Router::new()
        .route_service("/good/data.bin", ServeFile::new(&file))
        .route_service("/bad/data.bin", ServeFile::new(tmp.join("bad.bin")));
    let (base, server) = serve(router).await;

    let meta_with = |seed: &str| {
        let opts = CreateOptions {
            trackers: vec![],
            webseeds: vec![format!("{base}/{seed}/data.bin")],
            piece_len: Some(64 << 10),
            private: false,
        };
        create_torrent(&file, &opts, &mut |_, _| {}).unwrap().1
    };

    let out = tmp.join("good-out");
    let (_c, h) = leecher(What::Torrent(Box::new(meta_with("good"))), &out).await;
    tokio::time::timeout(Duration::from_secs(30), h.wait_complete())
        .await
        .expect("downloaded from the webseed within 30 s")
        .unwrap();
    assert_eq!(std::fs::read(out.join("data.bin")).unwrap(), data);
    assert_eq!(h.stats().peers, 0);

    let out = tmp.join("bad-out");
    let (_c2, h2) = leecher(What::Torrent(Box::new(meta_with("bad"))), &out).await;
    let dropped = tokio::time::timeout(Duration::from_secs(20), async {
        while h2.stats().webseeds > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(dropped.is_ok(), "the bad webseed is dropped");
    assert_eq!(h2.stats().pieces_have, 0, "nothing from it was kept");
    server.abort();
    let _ = std::fs::remove_dir_all(&tmp);
}

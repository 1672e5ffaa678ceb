//! Peers reach each other through a wss:// tracker: TLS with a private CA
//! given as `tracker_ca`; without it the certificate is refused.

mod common;

use std::time::Duration;

use common::*;
use tokio::net::TcpListener;
use webswarm_core::Bitfield;
use webswarm_native::session::{AddOptions, Client, ClientConfig, What};
use webswarm_native::tracker_client::TrackerState;
use webswarm_signaling::config::Config;
use webswarm_signaling::server::{serve, App};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_tracker_with_a_private_ca() {
    let root = tempdir("wss");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(root.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(root.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let cfg = Config {
        tls_cert: Some(root.join("cert.pem")),
        tls_key: Some(root.join("key.pem")),
        ..Config::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(
        App::new(cfg, 1).unwrap(),
        listener,
        std::future::pending::<()>(),
    ));
    let url = format!("wss://localhost:{port}/announce");

    let ca = webswarm_native::session::load_ca_file(&root.join("cert.pem")).unwrap();
    let config = || ClientConfig {
        tracker_ca: ca.clone(),
        ..loopback_config()
    };
    let src = root.join("w.bin");
    std::fs::write(&src, random_bytes(2 << 20, 9)).unwrap();
    let meta = torrent_for(&src, &url, None);
    let seed = Client::new(config());
    let _s = seed
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: root.clone(),
            trackers: vec![],
            verified: Some(Bitfield::full(meta.info.layout.num_pieces())),
            require_complete: true,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    let dir = root.join("dl");
    let get = Client::new(config());
    let h = get
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: dir.clone(),
            trackers: vec![],
            verified: None,
            require_complete: false,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("finishes")
        .unwrap();
    assert!(std::fs::read(&src).unwrap() == std::fs::read(dir.join("w.bin")).unwrap());

    // Without the CA the handshake fails and says why.
    let untrusting = Client::new(loopback_config());
    let h = untrusting
        .add(AddOptions {
            what: What::Torrent(Box::new(meta.clone())),
            dir: root.join("dl2"),
            trackers: vec![],
            verified: None,
            require_complete: false,
            webseeds: Vec::new(),
        })
        .await
        .unwrap();
    let mut state = h.trackers()[0].state.clone();
    let s = tokio::time::timeout(
        Duration::from_secs(20),
        state.wait_for(|s| matches!(s, TrackerState::Failed(_))),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    let TrackerState::Failed(why) = s else {
        unreachable!()
    };
    assert!(why.to_lowercase().contains("certificate"), "{why}");
    server.abort();
    remove_tree(&root);
}

//! wss:// with a certificate generated for the test.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_rustls::{rustls, TlsConnector};
use tokio_tungstenite::tungstenite::Message;
use webswarm_signaling::config::Config;
use webswarm_signaling::server::{serve, App};
use webswarm_tracker_proto::TrackerMessage;

#[tokio::test]
async fn announces_work_over_wss() {
    let dir = std::env::temp_dir().join(format!("webswarm-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    let cfg = Config {
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..Config::default()
    };

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(App::new(cfg, 1).unwrap(), listener, async {
        let _ = stopped.await;
    }));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ck.cert.der().to_vec()))
        .unwrap();
    let client_cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    // A client that never starts its TLS handshake must not block the next one.
    let _silent = TcpStream::connect(addr).await.unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = TlsConnector::from(Arc::new(client_cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/announce", tls)
        .await
        .unwrap();
    let id = "a".repeat(20);
    let announce = serde_json::json!({"action": "announce", "info_hash": id, "peer_id": id, "left": 0,
        "uploaded": 0, "downloaded": 0, "event": "started"});
    ws.send(Message::text(announce.to_string())).await.unwrap();
    let reply = timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Text(text) = reply else {
        panic!("{reply:?}")
    };
    assert!(
        matches!(TrackerMessage::from_json(text.as_str()).unwrap(), TrackerMessage::Announced(r) if r.complete == 1)
    );

    let _ = stop.send(());
    let _ = timeout(Duration::from_secs(5), server).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_certificate_without_its_key_is_refused() {
    let e = Config::from_toml("tls_cert = \"/x.pem\"", "x.toml".into()).unwrap_err();
    assert!(e.to_string().contains("together"), "{e}");
    let e = webswarm_signaling::tls::server_config(
        "/nonexistent/c.pem".as_ref(),
        "/nonexistent/k.pem".as_ref(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/c.pem"), "{e}");
}

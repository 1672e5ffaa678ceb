//! Access control over real WebSockets: the allow-list (and its reload on
//! SIGHUP, through the real binary), signed tokens, page origins and the
//! per-address cap. Each refusal is a failure message with a reason the
//! client can act on, and is counted in /metrics.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use futures_util::StreamExt;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use webswarm_signaling::config::Config;
use webswarm_signaling::token::{issue, Scope};
use webswarm_tracker_proto::{binstr_encode, InfoHash, TrackerMessage};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ws-access-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn hex(b: u8) -> String {
    webswarm_core::hex_encode(&[b; 20])
}

fn ih(b: u8) -> String {
    binstr_encode(&[b; 20])
}

async fn connect(t: &Tracker, query: &str, origin: Option<&str>) -> Ws {
    let mut req = format!("ws://{}/announce{query}", t.addr)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    let (ws, _) = timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .unwrap()
        .unwrap();
    ws
}

/// A refused connection: one failure saying `why`, then a 1008 close.
async fn expect_refused(ws: &mut Ws, why: &str) {
    expect_failure(ws, why).await;
    match timeout(WAIT, ws.next()).await.unwrap() {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1008),
        other => panic!("expected a 1008 close, got {other:?}"),
    }
}

async fn announced(ws: &mut Ws, torrent: &str) {
    send(ws, announce(torrent, &id('p'), Some(1), &[])).await;
    match recv(ws).await {
        TrackerMessage::Announced(_) => {}
        other => panic!("expected an announce reply, got {other:?}"),
    }
}

async fn refusals(t: &Tracker, kind: &str) -> u64 {
    let (_, metrics) = t.http("/metrics").await;
    let key = format!("webswarm_tracker_refusals_total{{kind=\"{kind}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in {metrics}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn tokens_valid_expired_other_torrent_wrong_scope_and_tampered() {
    let d = dir("tokens");
    let secret = d.join("secret");
    std::fs::write(&secret, "site-secret\n").unwrap();
    let t = Tracker::start(Config {
        token_secret_file: Some(secret),
        ..Config::default()
    })
    .await;
    let key = b"site-secret";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let one = InfoHash([1; 20]);

    let mut ws = connect(&t, "", None).await;
    expect_refused(&mut ws, "needs a token").await;
    let good = issue(key, Some(&one), now + 600, Scope::Announce);
    let tampered = good.replacen(&hex(1), &hex(2), 1);
    let mut ws = connect(&t, &format!("?token={tampered}"), None).await;
    expect_refused(&mut ws, "signature does not match").await;
    let forged = issue(b"guessed", Some(&one), now + 600, Scope::Announce);
    let mut ws = connect(&t, &format!("?token={forged}"), None).await;
    expect_refused(&mut ws, "signature does not match").await;

    // Percent-encoding and other parameters around it are fine.
    let query = format!("?x=1&token={}", good.replace('.', "%2E"));
    let mut ws = connect(&t, &query, None).await;
    announced(&mut ws, &ih(1)).await;
    send(&mut ws, announce(&ih(2), &id('p'), Some(1), &[])).await;
    expect_failure(&mut ws, "token is for another torrent").await;

    let expired = issue(key, Some(&one), now - 1, Scope::Announce);
    let mut ws = connect(&t, &format!("?token={expired}"), None).await;
    send(&mut ws, announce(&ih(1), &id('p'), Some(1), &[])).await;
    expect_failure(&mut ws, "token expired").await;

    let scrape_only = issue(key, None, now + 600, Scope::Scrape);
    let mut ws = connect(&t, &format!("?token={scrape_only}"), None).await;
    send(&mut ws, announce(&ih(1), &id('q'), Some(1), &[])).await;
    expect_failure(&mut ws, "scrapes only").await;
    let scrape = serde_json::json!({"action": "scrape", "info_hash": ih(1)});
    send(&mut ws, scrape.to_string()).await;
    let TrackerMessage::Scrape(s) = recv(&mut ws).await else {
        panic!("a scrape-scoped token may scrape")
    };
    assert_eq!(s.files[0].1.incomplete, 1, "the announce above is counted");

    for (kind, n) in [
        ("token_missing", 1),
        ("token_invalid", 2),
        ("token_torrent", 1),
        ("token_expired", 1),
        ("token_scope", 1),
    ] {
        assert_eq!(refusals(&t, kind).await, n, "{kind}");
    }
    t.stop().await;
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn origins_and_connections_per_address() {
    let t = Tracker::start(Config {
        allowed_origins: vec!["https://site.example".into()],
        max_connections_per_ip: 2,
        ..Config::default()
    })
    .await;
    let mut evil = connect(&t, "", Some("https://evil.example")).await;
    expect_refused(&mut evil, "pages from https://evil.example may not use").await;
    let mut page = connect(&t, "", Some("https://site.example")).await;
    announced(&mut page, &ih(1)).await;
    // A native peer sends no Origin (and could claim any): not refused.
    let native = connect(&t, "", None).await;
    let mut third = connect(&t, "", Some("https://site.example")).await;
    expect_refused(&mut third, "too many connections from your address").await;
    drop(native);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut again = connect(&t, "", None).await;
    announced(&mut again, &ih(2)).await;
    assert_eq!(refusals(&t, "origin").await, 1);
    assert_eq!(refusals(&t, "connections_per_ip").await, 1);
    t.stop().await;
}

/// The real binary: the allow-list file, then a new one read on SIGHUP.
#[tokio::test]
async fn the_allow_list_refuses_other_torrents_and_is_reloaded_on_sighup() {
    let d = dir("allow");
    let list = d.join("allow.txt");
    std::fs::write(&list, format!("# site torrents\n{}\n", hex(1))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_webswarm-tracker"))
        .args(["--bind", "127.0.0.1:0", "--allow-list"])
        .arg(&list)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("tracker exited").unwrap();
        if let Some(rest) = line.split("listening on ws://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep reading its log so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let t = Tracker::at(addr);
    let mut ws = connect(&t, "", None).await;
    announced(&mut ws, &ih(1)).await;
    send(&mut ws, announce(&ih(2), &id('p'), Some(1), &[])).await;
    expect_failure(&mut ws, "does not serve this torrent").await;

    std::fs::write(&list, format!("{}\n{}\n", hex(1), hex(2))).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let mut allowed = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        send(&mut ws, announce(&ih(2), &id('p'), Some(1), &[])).await;
        if matches!(recv(&mut ws).await, TrackerMessage::Announced(_)) {
            allowed = true;
            break;
        }
    }
    assert!(allowed, "the reloaded list allows the second torrent");
    // A broken file keeps the list in force.
    std::fs::write(&list, "oops\n").unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    announced(&mut ws, &ih(2)).await;
    send(&mut ws, announce(&ih(3), &id('p'), Some(1), &[])).await;
    expect_failure(&mut ws, "does not serve this torrent").await;
    assert!(refusals(&t, "not_allowed").await >= 2);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(d);
}

#[tokio::test]
async fn turn_credentials_for_allowed_pages_only_and_in_coturns_scheme() {
    let off = Tracker::start(Config::default()).await;
    assert_eq!(off.http("/turn-credentials").await.0, 404);
    off.stop().await;

    let d = dir("turn");
    let secret = d.join("turn.secret");
    std::fs::write(&secret, "coturn-secret\n").unwrap();
    let mut cfg = Config {
        allowed_origins: vec!["https://site.example".into()],
        ..Config::default()
    };
    cfg.turn.secret_file = Some(secret);
    cfg.turn.urls = vec!["turn:turn.site.example:3478".into()];
    cfg.turn.ttl_secs = 600;
    let t = Tracker::start(cfg).await;
    let refused = t
        .http_raw("/turn-credentials", "Origin: https://evil.example\r\n")
        .await;
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    let ok = t
        .http_raw("/turn-credentials", "Origin: https://site.example\r\n")
        .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok
        .to_ascii_lowercase()
        .contains("access-control-allow-origin: https://site.example"));
    let body = ok.split_once("\r\n\r\n").unwrap().1;
    let c: webswarm_signaling::turn::Credentials = serde_json::from_str(body).unwrap();
    assert_eq!(c.ttl, 600);
    let s = &c.ice_servers[0];
    assert_eq!(s.urls, ["turn:turn.site.example:3478"]);
    let (expiry, user) = s.username.split_once(':').unwrap();
    assert_eq!(user, "webswarm");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "{expiry} vs {now}"
    );
    // Native clients send no Origin: served too.
    assert_eq!(t.http("/turn-credentials").await.0, 200);
    t.stop().await;
    std::fs::remove_dir_all(&d).unwrap();
}

//! The tracker over real WebSockets on 127.0.0.1.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::Rng;
use webswarm_signaling::config::Config;
use webswarm_tracker_proto::{binstr_encode, TrackerMessage};

#[tokio::test]
async fn offers_and_answers_are_relayed_between_real_websocket_clients() {
    let t = Tracker::start(Config::default()).await;
    let (ih, a_id, b_id, offer) = (id('i'), id('a'), id('b'), id('o'));
    let mut a = t.client().await;
    send(&mut a, announce(&ih, &a_id, Some(0), &[])).await;
    let TrackerMessage::Announced(r) = recv(&mut a).await else {
        panic!()
    };
    assert_eq!((r.complete, r.incomplete), (1, 0));

    let mut b = t.client().await;
    send(&mut b, announce(&ih, &b_id, None, &[(&offer, "v=0\r\nB")])).await;
    let TrackerMessage::Offer(o) = recv(&mut a).await else {
        panic!()
    };
    assert_eq!(
        (o.offer.sdp.text(), binstr_encode(&o.peer_id.0)),
        ("v=0\r\nB".to_owned(), b_id.clone())
    );
    let TrackerMessage::Announced(r) = recv(&mut b).await else {
        panic!()
    };
    assert_eq!(
        (r.complete, r.incomplete),
        (1, 1),
        "left: null counts as incomplete"
    );

    let answer = serde_json::json!({"action": "announce", "info_hash": ih, "peer_id": a_id, "to_peer_id": b_id,
        "offer_id": offer, "answer": {"type": "answer", "sdp": "v=0\r\nA"}});
    send(&mut a, answer.to_string()).await;
    let TrackerMessage::Answer(ans) = recv(&mut b).await else {
        panic!()
    };
    assert_eq!(ans.answer.sdp.text(), "v=0\r\nA");
    // Only once.
    send(&mut a, answer.to_string()).await;
    expect_failure(&mut a, "not sent").await;

    let (status, body) = t.http("/stats.json").await;
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["offers_relayed"], 1);
    assert_eq!(stats["answers_relayed"], 1);
    assert_eq!(stats["connections"], 2);
    let (_, metrics) = t.http("/metrics").await;
    assert!(
        metrics.contains("webswarm_tracker_announces_total 2"),
        "{metrics}"
    );
    assert_eq!(t.http("/health").await, (200, "ok\n".into()));

    // Closing a socket stops every swarm it joined.
    a.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(
        &mut b,
        serde_json::json!({"action": "scrape", "info_hash": ih}).to_string(),
    )
    .await;
    let TrackerMessage::Scrape(s) = recv(&mut b).await else {
        panic!()
    };
    assert_eq!((s.files[0].1.complete, s.files[0].1.incomplete), (0, 1));
    t.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_reply_and_the_socket_stays_open() {
    let t = Tracker::start(Config::default()).await;
    let mut c = t.client().await;
    let cases = [
        ("{not json".to_owned(), "malformed JSON"),
        ("[1,2]".to_owned(), "not a JSON object"),
        (r#"{"action":"launch"}"#.to_owned(), "invalid action"),
        (announce("0123456789abcdef0123456789abcdef01234567", &id('p'), Some(1), &[]), "invalid info_hash"),
        (announce(&id('i'), "short", Some(1), &[]), "invalid peer_id"),
        (r#"{"action":"announce","info_hash":5}"#.to_owned(), "invalid message"),
        (
            serde_json::json!({"action":"announce","info_hash":id('i'),"peer_id":id('p'),"to_peer_id":id('q'),
                "offer_id":id('o'),"answer":{"type":"answer","sdp":"x"}}).to_string(),
            "not joined",
        ),
        (r#"{"action":"scrape","info_hash":[]}"#.to_owned(), "at least one"),
    ];
    for (text, reason) in cases {
        send(&mut c, text).await;
        expect_failure(&mut c, reason).await;
    }
    c.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    expect_failure(&mut c, "binary frames").await;
    // Still serving this socket.
    send(&mut c, announce(&id('i'), &id('p'), Some(0), &[])).await;
    assert!(matches!(recv(&mut c).await, TrackerMessage::Announced(_)));

    // A frame over the limit closes that socket with 1009; others are unaffected.
    let mut big = t.client().await;
    big.send(Message::text("x".repeat(70_000))).await.unwrap();
    let closed = timeout(WAIT, async {
        loop {
            match big.next().await {
                Some(Ok(Message::Close(Some(f)))) => return Some(u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert!(closed.is_none() || closed == Some(1009), "{closed:?}");
    send(
        &mut c,
        r#"{"action":"scrape","info_hash":["aaaaaaaaaaaaaaaaaaaa"]}"#.to_owned(),
    )
    .await;
    assert!(matches!(recv(&mut c).await, TrackerMessage::Scrape(_)));
    t.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_others_keep_being_served() {
    let t = Tracker::start(Config {
        send_queue: 8,
        ..Config::default()
    })
    .await;
    let mut other = t.client().await;
    let mut sleeper = t.client().await;
    send(&mut sleeper, announce(&id('i'), &id('s'), Some(0), &[])).await;
    // The sleeper asks for large scrapes and never reads the replies; once the
    // kernel buffers and its queue of 8 are full, the tracker closes it.
    let hashes: Vec<String> = (0..255u32).map(|i| format!("{:0>20}", i)).collect();
    let scrape = serde_json::json!({"action": "scrape", "info_hash": hashes}).to_string();
    let mut closed = false;
    for round in 0..200 {
        for _ in 0..50 {
            if sleeper.send(Message::text(scrape.clone())).await.is_err() {
                break;
            }
        }
        let (_, body) = t.http("/stats.json").await;
        let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
        if stats["slow_clients_closed"] == 1 {
            assert_eq!(stats["seeders"], 0, "the closed client left its swarm");
            closed = true;
            break;
        }
        // Meanwhile a client that reads is served normally.
        send(
            &mut other,
            format!(r#"{{"action":"scrape","info_hash":"{}"}}"#, id('i')),
        )
        .await;
        assert!(
            matches!(recv(&mut other).await, TrackerMessage::Scrape(_)),
            "round {round}"
        );
    }
    assert!(closed, "the client that stopped reading was never closed");
    // Its connection is really gone on the tracker's side.
    let mut open = serde_json::Value::Null;
    for _ in 0..50 {
        let (_, body) = t.http("/stats.json").await;
        open = serde_json::from_str::<serde_json::Value>(&body).unwrap()["connections"].clone();
        if open == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, body) = t.http("/stats.json").await;
    assert_eq!(
        open, 1,
        "the slow client's connection is still open: {body}"
    );
    t.stop().await;
}

#[tokio::test]
async fn connections_past_the_limit_are_refused_with_503() {
    let t = Tracker::start(Config {
        max_connections: 2,
        ..Config::default()
    })
    .await;
    let _a = t.client().await;
    let _b = t.client().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let third = connect_async(format!("ws://{}/", t.addr)).await;
    let err = third
        .expect_err("third connection must be refused")
        .to_string();
    assert!(err.contains("503"), "{err}");
    t.stop().await;
}

#[tokio::test]
async fn random_frames_never_take_the_tracker_down() {
    let t = Tracker::start(Config {
        announces_per_second: 1000.0,
        announce_burst: 1000.0,
        ..Config::default()
    })
    .await;
    let mut rng = Rng::new(7);
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"action\"",
        "\"announce\"",
        "\"scrape\"",
        "\"info_hash\"",
        "\"peer_id\"",
        "\"offers\"",
        "\"answer\"",
        "\"offer_id\"",
        "\"to_peer_id\"",
        "null",
        "0",
        "-1",
        "1e309",
        "true",
        "\"\\u0000\"",
        "\"aaaaaaaaaaaaaaaaaaaa\"",
        "\"é\"",
        "\"event\"",
        "\"stopped\"",
        "{\"type\":\"offer\",\"sdp\":\"x\"}",
    ];
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(t.client().await);
    }
    for i in 0..2000 {
        let n = 1 + rng.below(12);
        let text: String = (0..n).map(|_| pieces[rng.below(pieces.len())]).collect();
        let c = &mut clients[i % 4];
        if rng.below(10) == 0 {
            let mut bytes = vec![0u8; rng.below(64)];
            rng.fill(&mut bytes);
            c.send(Message::binary(bytes)).await.unwrap();
        } else {
            c.send(Message::text(text)).await.unwrap();
        }
        // Every frame gets exactly one reply (a failure, or a response).
        let _ = recv(c).await;
    }
    // A proper exchange still works afterwards.
    let mut a = t.client().await;
    send(&mut a, announce(&id('x'), &id('y'), Some(0), &[])).await;
    assert!(matches!(recv(&mut a).await, TrackerMessage::Announced(_)));
    assert_eq!(t.http("/health").await.0, 200);
    t.stop().await;
}

/// What the client reads after sending `text`: the close frame's code, if
/// any came before the socket ended.
async fn close_code_after(ws: &mut Ws, text: String) -> Option<u16> {
    // The send itself may fail once the tracker has closed; what counts is what comes back.
    let _ = ws.send(Message::text(text)).await;
    loop {
        match timeout(WAIT, ws.next())
            .await
            .expect("the socket stayed open")
        {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_message_over_the_limit_gets_a_1009_close_frame() {
    let t = Tracker::start(Config::default()).await;
    for size in [70_000, 200_000] {
        let mut ws = t.client().await;
        let text = format!(r#"{{"action":"announce","pad":"{}"}}"#, "x".repeat(size));
        assert_eq!(
            close_code_after(&mut ws, text).await,
            Some(1009),
            "{size} B"
        );
    }
    // Under the limit, a bad message gets its failure reply and the socket stays open.
    let mut ws = t.client().await;
    send(
        &mut ws,
        format!(r#"{{"action":"nope","pad":"{}"}}"#, "x".repeat(60_000)),
    )
    .await;
    assert!(matches!(recv(&mut ws).await, TrackerMessage::Failure(_)));
    // The server ends a closed connection's task after its close frame went
    // out: on a busy machine the count can lag the client's view (CI, once).
    let mut connections = serde_json::Value::Null;
    for _ in 0..50 {
        let (_, body) = t.http("/stats.json").await;
        let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
        connections = stats["connections"].clone();
        if connections == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(connections, 1, "the oversize clients are gone within 5 s");
    t.stop().await;
}

#[tokio::test]
async fn four_shards_relay_scrape_and_disconnect_across_their_torrents() {
    let cfg = Config {
        shards: 4,
        ..Config::default()
    };
    let t = Tracker::start(cfg).await;
    let (a_id, b_id) = (id('a'), id('b'));
    let (mut a, mut b) = (t.client().await, t.client().await);
    // Eight torrents, two on each shard: A seeds all of them, B offers to each.
    for k in 0..8 {
        send(&mut a, announce(&ih_on(k), &a_id, Some(0), &[])).await;
        assert!(matches!(recv(&mut a).await, TrackerMessage::Announced(_)));
    }
    for k in 0..8 {
        let offer = binstr_encode(&[k; 20]);
        send(
            &mut b,
            announce(&ih_on(k), &b_id, Some(9), &[(&offer, "v=0")]),
        )
        .await;
    }
    let mut offered = Vec::new();
    for _ in 0..8 {
        let TrackerMessage::Offer(o) = recv(&mut a).await else {
            panic!("expected an offer")
        };
        let answer = serde_json::json!({"action": "announce", "info_hash": binstr_encode(&o.info_hash.0),
            "peer_id": a_id, "to_peer_id": b_id, "offer_id": binstr_encode(&o.offer_id.0),
            "answer": {"type": "answer", "sdp": "v=0\r\nA"}});
        send(&mut a, answer.to_string()).await;
        offered.push(binstr_encode(&o.info_hash.0));
    }
    offered.sort_unstable();
    let mut expected: Vec<String> = (0..8).map(ih_on).collect();
    expected.sort_unstable();
    assert_eq!(offered, expected);
    let (mut answers, mut announced) = (0, 0);
    while answers + announced < 16 {
        match recv(&mut b).await {
            TrackerMessage::Answer(_) => answers += 1,
            TrackerMessage::Announced(r) => {
                assert_eq!((r.complete, r.incomplete), (1, 1));
                announced += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let scrape = |hashes: Vec<String>| serde_json::json!({"action": "scrape", "info_hash": hashes});
    let mut all: Vec<String> = (0..8).map(ih_on).collect();
    all.push(binstr_encode(&[b'x'; 20]));
    send(&mut b, scrape(all.clone()).to_string()).await;
    let TrackerMessage::Scrape(s) = recv(&mut b).await else {
        panic!()
    };
    let counts: Vec<(u32, u32)> = s
        .files
        .iter()
        .map(|(_, f)| (f.complete, f.incomplete))
        .collect();
    assert_eq!(counts[..8], [(1, 1); 8]);
    assert_eq!(counts[8], (0, 0), "a torrent nobody joined");
    let (_, body) = t.http("/stats.json").await;
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&stats["shards"], &stats["torrents"], &stats["seeders"]),
        (&4.into(), &8.into(), &8.into())
    );
    assert_eq!(
        (&stats["offers_relayed"], &stats["answers_relayed"]),
        (&8.into(), &8.into())
    );
    // A's socket closing leaves every torrent, whichever shard owns it.
    a.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    send(&mut b, scrape(all).to_string()).await;
    let TrackerMessage::Scrape(s) = recv(&mut b).await else {
        panic!()
    };
    assert!(s.files[..8]
        .iter()
        .all(|(_, f)| (f.complete, f.incomplete) == (0, 1)));
    t.stop().await;
}

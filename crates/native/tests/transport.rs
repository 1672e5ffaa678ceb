//! Two native WebRTC peers on loopback: the offer/answer flow opens a channel
//! that carries bytes both ways, in order, with back-pressure.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use webswarm_native::transport::webrtc_rs::{RtcConfig, WebRtcTransport};
use webswarm_native::transport::{Channel, Transport};

fn loopback() -> RtcConfig {
    RtcConfig {
        bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        ..RtcConfig::default()
    }
}

/// Two transports on loopback and the open channel between them, the
/// offerer's first.
async fn connected_pair() -> (Box<dyn Channel>, Box<dyn Channel>) {
    let a = WebRtcTransport::new(loopback());
    let b = WebRtcTransport::new(loopback());
    let offer = a.offer().await.unwrap();
    assert!(
        offer.sdp().contains("127.0.0.1"),
        "loopback candidate in {}",
        offer.sdp()
    );
    let answer = b.answer(offer.sdp().to_owned()).await.unwrap();
    let (ca, cb) = tokio::join!(offer.connect(answer.sdp), answer.channel);
    (ca.unwrap(), cb.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_answer_opens_a_channel_that_moves_bytes() {
    let run = async {
        let (ca, cb) = connected_pair().await;
        // 8.4 MB in 100 kB writes (split into channel messages underneath,
        // at sizes that need not match the writes).
        let total = 84 * 100_000;
        let writer = async {
            let mut sent = 0usize;
            while sent < total {
                let chunk: Vec<u8> = (sent..sent + 100_000).map(|i| (i % 251) as u8).collect();
                ca.send(Bytes::from(chunk)).await.unwrap();
                sent += 100_000;
            }
            sent
        };
        let reader = async {
            let mut got = 0usize;
            while got < total {
                let m = cb.recv().await.expect("channel stays open");
                for (k, &x) in m.iter().enumerate() {
                    assert_eq!(x, ((got + k) % 251) as u8, "byte {}", got + k);
                }
                got += m.len();
            }
            got
        };
        let (sent, got) = tokio::join!(writer, reader);
        assert_eq!((sent, got), (total, total));
        cb.send(Bytes::from_static(b"back")).await.unwrap();
        assert_eq!(ca.recv().await.unwrap(), Bytes::from_static(b"back"));
        ca.close().await;
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(10), cb.recv())
                .await
                .unwrap(),
            None,
            "the other side sees the close"
        );
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_sdp_is_an_error_not_a_panic() {
    let b = WebRtcTransport::new(loopback());
    assert!(b.answer("not sdp".into()).await.is_err());
}

/// A peer that stops reading stops our writes (its receive window closes
/// and the send window stays full) instead of letting them queue without
/// bound; once it reads again every byte arrives. A native receiver holds
/// up to 256 messages (webrtc-rs' event queue) plus its SCTP buffer: with
/// the window a native remote gets, 34 MiB of 64 KiB messages here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_holds_back_our_writes() {
    let run = async {
        let (ca, cb) = connected_pair().await;
        let ca: std::sync::Arc<dyn Channel> = ca.into();
        let total = 128usize << 20;
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = tokio::spawn({
            let (ca, sent) = (ca.clone(), sent.clone());
            async move {
                let chunk = Bytes::from(vec![9u8; 64 << 10]);
                while sent.load(std::sync::atomic::Ordering::Relaxed) < total {
                    ca.send(chunk.clone()).await.unwrap();
                    sent.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        // Nobody reads on b for a while: the writer must stall well short
        // of the total.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let stalled_at = sent.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("{stalled_at} bytes out with nobody reading");
        assert!(
            stalled_at < total / 2,
            "{stalled_at} of {total} bytes went out with nobody reading"
        );
        let mut got = 0usize;
        while got < total {
            got += cb.recv().await.expect("channel stays open").len();
        }
        writer.await.unwrap();
        assert_eq!(got, total);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap();
}

//! The ceiling the native seeder works under: our WebRTC transport sending
//! raw bytes (no BitTorrent) to a browser. Driven by tests/bench/raw-native.mjs:
//! reads the browser's offer SDP as one JSON string line on stdin, prints the
//! answer the same way, then sends `MIB` MiB in `MSG`-byte writes.
//!   raw_send [MiB] [message bytes] [send buffer bytes]
use std::io::BufRead;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use webswarm_native::transport::webrtc_rs::{RtcConfig, WebRtcTransport};
use webswarm_native::transport::Transport;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let msg: usize = args.next().map_or(Ok(262_144), |s| s.parse())?;
    let defaults = RtcConfig::default();
    let send_buffer: usize = args
        .next()
        .map_or(Ok(defaults.send_buffer), |s| s.parse())?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let offer: String = serde_json::from_str(line.trim())?;
    let transport = WebRtcTransport::new(RtcConfig {
        bind: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        send_buffer,
        ..defaults
    });
    let answer = transport.answer(offer).await?;
    println!("{}", serde_json::to_string(&answer.sdp)?);
    let channel: std::sync::Arc<dyn webswarm_native::transport::Channel> =
        answer.channel.await?.into();
    // A reader, as every real user has: it also delivers the events that
    // wake a write waiting for the send window.
    let reader = channel.clone();
    tokio::spawn(async move { while reader.recv().await.is_some() {} });
    let buf = Bytes::from(vec![7u8; msg]);
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < mib << 20 {
        channel.send(buf.clone()).await?;
        sent += msg;
    }
    eprintln!(
        "native queued {} MiB in {:.2} s",
        mib,
        t0.elapsed().as_secs_f64()
    );
    // Keep the connection up while the browser drains what is in flight.
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    Ok(())
}

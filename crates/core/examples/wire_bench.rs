//! Wire decoder throughput, for `cargo xtask bench-wire` (which runs WebTorrent's
//! parser, bittorrent-protocol, on the same streams and prints both).
//! Workloads: 16 KiB `piece` messages fed in data-channel-sized chunks, and
//! `have` messages (9 bytes each) fed in 16 KiB chunks. Prints one JSON line.
// A harness around core, not core: it may read the clock and files.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Instant;

use bytes::BytesMut;
use webswarm_core::wire::{Decoder, Handshake, Message};
use webswarm_core::{InfoHash, PeerId};

fn stream(messages: impl Iterator<Item = Message>) -> Vec<u8> {
    let mut out = Handshake::new(InfoHash([1; 20]), PeerId([2; 20]))
        .encode()
        .to_vec();
    let mut b = BytesMut::new();
    messages.for_each(|m| m.encode(&mut b));
    out.extend_from_slice(&b);
    out
}

/// Decodes `data` fed in `chunk`-byte pieces; returns (messages, seconds) for the best of 5 runs.
fn decode(data: &[u8], chunk: usize) -> (usize, f64) {
    let mut best = f64::INFINITY;
    let mut count = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let mut d = Decoder::new(1 << 20);
        count = 0;
        for c in data.chunks(chunk) {
            d.feed(c);
            // Takes the 68-byte handshake once it has arrived; later calls return None.
            d.handshake().expect("valid stream");
            while let Some(m) = d.next_message().expect("valid stream") {
                std::hint::black_box(&m);
                count += 1;
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    (count, best)
}

fn main() {
    let block = bytes::Bytes::from(vec![7u8; 16384]);
    let pieces = 8192; // 128 MiB
    let piece_stream = stream((0..pieces).map(|i| Message::Piece {
        index: i / 16,
        begin: (i % 16) * 16384,
        data: block.clone(),
    }));
    let haves = 1_000_000;
    let have_stream = stream((0..haves).map(Message::Have));
    let (n, secs) = decode(&piece_stream, 16384 + 13);
    assert_eq!(n, pieces as usize);
    let mbps = (pieces as f64 * 16384.0) / secs / 1e6;
    let (n, secs) = decode(&have_stream, 16384);
    assert_eq!(n, haves as usize);
    let msgs = haves as f64 / secs;
    println!("{{\"piece_mb_per_s\": {mbps:.0}, \"have_msgs_per_s\": {msgs:.0}}}");
}

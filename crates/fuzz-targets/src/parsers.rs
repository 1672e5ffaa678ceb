//! The parsers of network and disk input, each with its round trip.

use bytes::{Bytes, BytesMut};
use webswarm_core::bencode::{self, OwnedValue};
use webswarm_core::tracker::{json, Incoming};
use webswarm_core::wire::Decoder;
use webswarm_core::{Magnet, Metainfo};
use webswarm_tracker_proto::{ClientMessage, TrackerMessage};

use crate::cursor::Cursor;

/// Decoded values encode to bytes that decode to the same value.
pub fn bencode(data: &[u8]) {
    let _ = bencode::decode_prefix(data);
    let Ok(v) = bencode::decode(data) else {
        return;
    };
    let once = bencode::encode(&OwnedValue::from(&v));
    let again = bencode::decode(&once).expect("our encoding decodes");
    assert_eq!(bencode::encode(&OwnedValue::from(&again)), once);
}

/// A .torrent that parses names itself in a magnet link that parses back.
pub fn metainfo(data: &[u8]) {
    let Ok(m) = Metainfo::from_bytes(data) else {
        return;
    };
    let layout = m.info.layout;
    let files: u64 = m.info.files.iter().map(|f| f.length).sum();
    assert_eq!(files, layout.total_len(), "files cover the torrent");
    let uri = Magnet::of(&m).to_uri();
    let back = Magnet::parse(&uri).expect("our magnet link parses");
    assert_eq!(back.info_hash(), m.info.info_hash);
}

/// A magnet link that parses prints as one that parses to the same link.
pub fn magnet(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Magnet::parse(text) else {
        return;
    };
    let back = Magnet::parse(&m.to_uri()).expect("our magnet link parses");
    assert_eq!(back.info_hash(), m.info_hash());
    assert_eq!(back.name, m.name);
    assert_eq!(back.trackers, m.trackers);
}

/// The peer wire decoder fed a handshake and messages split at any points:
/// each message decoded encodes to bytes that decode to it again, and the
/// same chunks fed as owned bytes (every one, or every other one) decode to
/// the same messages and errors.
pub fn wire(data: &[u8]) {
    let mut c = Cursor::new(data);
    let mut d = Decoder::new(1 << 17);
    let mut owned = [Decoder::new(1 << 17), Decoder::new(1 << 17)];
    let mut shook = false;
    let mut chunk_no = 0usize;
    while !c.is_empty() {
        let chunk = c.bytes(4096);
        d.feed(chunk);
        owned[0].feed_bytes(Bytes::copy_from_slice(chunk));
        match chunk_no % 2 {
            0 => owned[1].feed(chunk),
            _ => owned[1].feed_bytes(Bytes::copy_from_slice(chunk)),
        }
        chunk_no += 1;
        if !shook {
            let hs = d.handshake();
            for o in &mut owned {
                assert_eq!(o.handshake(), hs, "owned bytes give the same handshake");
            }
            match hs {
                Ok(Some(_)) => shook = true,
                Ok(None) => continue,
                Err(_) => return,
            }
        }
        loop {
            let next = d.next_message();
            for o in &mut owned {
                assert_eq!(o.next_message(), next, "owned bytes give the same message");
            }
            match next {
                Ok(Some(m)) => {
                    let mut out = BytesMut::new();
                    m.encode(&mut out);
                    let mut again = Decoder::new(1 << 17);
                    again.feed(&out);
                    assert_eq!(again.next_message().ok().flatten(), Some(m));
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        for dec in [&d, &owned[0], &owned[1]] {
            assert!(
                dec.buffered() <= (1 << 17) + 4096 + 4,
                "the decoder's buffer is bounded"
            );
        }
    }
}

/// The tracker protocol's text both ways: the tracker's parser of client
/// messages, the clients' parser of tracker messages (ours and serde's).
pub fn tracker_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = json::parse(&text);
    let _ = Incoming::parse(&text);
    if let Ok(m) = ClientMessage::from_json(&text) {
        let back = ClientMessage::from_json(&m.to_json()).expect("our encoding parses");
        assert_eq!(back, m);
    }
    if let Ok(m) = TrackerMessage::from_json(&text) {
        let back = TrackerMessage::from_json(&m.to_json()).expect("our encoding parses");
        assert_eq!(back, m);
    }
}

/// The tracker's WebSocket frame decoder fed any bytes, in chunks of any
/// size (the first byte picks it): no panic, and nothing held once decoded.
pub fn ws_frames(data: &[u8]) {
    use webswarm_signaling::ws::frame::Decoder;
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let mut d = Decoder::new(1024);
    for part in rest.chunks(usize::from(chunk).max(1)) {
        d.feed(part);
        loop {
            match d.next_frame() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// Cluster batches from another node: what decodes encodes back to the same bytes.
pub fn cluster_wire(data: &[u8]) {
    use webswarm_signaling::cluster::wire;
    if let Some((from, m)) = wire::decode(data) {
        assert_eq!(wire::encode(from, &m), data, "a decoded batch encodes back");
    }
}

/// Classic BitTorrent input at both ends: an HTTP tracker's response and a
/// peer's PEX message (the native client), an announce or scrape query and
/// a BEP 15 datagram (our tracker). A PEX message that parses encodes back
/// to the same addresses.
pub fn classic(data: &[u8]) {
    use webswarm_core::classic::{parse_announce_response, PexMessage};
    use webswarm_signaling::classic;
    let _ = parse_announce_response(data);
    if let Ok(m) = PexMessage::parse(data) {
        assert_eq!(PexMessage::parse(&m.encode()), Ok(m), "PEX round trip");
    }
    let text = String::from_utf8_lossy(data);
    let _ = classic::parse_announce(&text, [127, 0, 0, 1].into());
    let _ = classic::parse_scrape(&text);
    let from = ([127, 0, 0, 1], 6881).into();
    let _ = classic::udp::parse(&[7; 20], data, from, webswarm_core::Time::ZERO);
}

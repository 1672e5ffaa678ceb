//! Property tests: codec round trips, any chunking, and random input never panics.
#![cfg(not(target_arch = "wasm32"))]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use webswarm_core::bencode::{decode, encode, OwnedValue};
use webswarm_core::engine::{Config, Output, Source, Torrent};
use webswarm_core::wire::{Decoder, ExtendedHandshake, Handshake, Message, MetadataMessage};
use webswarm_core::{Bitfield, InfoHash, Magnet, Metainfo, PeerId, Time, TorrentCreator};

fn value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(OwnedValue::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..12),
                inner,
                0..8
            )
            .prop_map(|m| OwnedValue::Dict(m.into_iter().collect())),
        ]
    })
}

fn message() -> impl Strategy<Value = Message> {
    let u = any::<u32>;
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        u().prop_map(Message::Have),
        u().prop_map(Message::Suggest),
        u().prop_map(Message::AllowedFast),
        any::<u16>().prop_map(Message::Port),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Message::Bitfield(b.into())),
        (u(), u(), u()).prop_map(|(index, begin, len)| Message::Request { index, begin, len }),
        (u(), u(), u()).prop_map(|(index, begin, len)| Message::Cancel { index, begin, len }),
        (u(), u(), u()).prop_map(|(index, begin, len)| Message::Reject { index, begin, len }),
        (u(), u(), proptest::collection::vec(any::<u8>(), 0..3000)).prop_map(
            |(index, begin, d)| Message::Piece {
                index,
                begin,
                data: d.into()
            }
        ),
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(id, p)| {
            Message::Extended {
                id,
                payload: p.into(),
            }
        }),
    ]
}

/// Decodes `chunks`, the i-th fed as owned bytes when bit i of `owned` is set.
fn decode_all(chunks: &[&[u8]], owned: u64) -> Vec<Message> {
    let mut d = Decoder::new(1 << 20);
    let mut out = Vec::new();
    let mut hs = false;
    for (i, c) in chunks.iter().enumerate() {
        match owned >> (i % 64) & 1 {
            1 => d.feed_bytes(Bytes::copy_from_slice(c)),
            _ => d.feed(c),
        }
        if !hs {
            match d.handshake().unwrap() {
                Some(_) => hs = true,
                None => continue,
            }
        }
        while let Some(m) = d.next_message().unwrap() {
            out.push(m);
        }
    }
    out
}

proptest! {
    #[test]
    fn bencode_round_trips(v in value()) {
        let enc = encode(&v);
        prop_assert_eq!(OwnedValue::from(&decode(&enc).unwrap()), v);
    }

    #[test]
    fn wire_messages_round_trip_under_any_chunking(
        msgs in proptest::collection::vec(message(), 1..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        owned in any::<u64>(),
    ) {
        let mut stream = Handshake::new(InfoHash([3; 20]), PeerId([4; 20])).encode().to_vec();
        let mut b = BytesMut::new();
        msgs.iter().for_each(|m| m.encode(&mut b));
        stream.extend_from_slice(&b);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        let chunks: Vec<&[u8]> = points.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
        prop_assert_eq!(decode_all(&chunks, owned), msgs);
    }

    #[test]
    fn extension_messages_round_trip(size in 1u32..(16 << 20), reqq in any::<u32>(), piece in any::<u32>(), port in 1u16.., data in proptest::collection::vec(any::<u8>(), 0..100)) {
        let h = ExtendedHandshake {
            ut_metadata: Some(1), lt_donthave: Some(2), metadata_size: Some(size), reqq: Some(reqq), client: Some("x".into()),
            #[cfg(not(target_arch = "wasm32"))]
            ut_pex: Some(3),
            #[cfg(not(target_arch = "wasm32"))]
            port: Some(port),
        };
        let _ = port;
        prop_assert_eq!(ExtendedHandshake::parse(&h.encode()).unwrap(), h);
        let m = MetadataMessage { msg_type: webswarm_core::wire::MetadataMsgType::Data, piece, total_size: Some(size), data: data.into() };
        prop_assert_eq!(MetadataMessage::parse(&Bytes::from(m.encode())).unwrap(), m);
    }

    #[test]
    fn random_bytes_never_panic_the_parsers(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = decode(&data);
        let _ = Metainfo::from_bytes(&data);
        let _ = ExtendedHandshake::parse(&data);
        let _ = MetadataMessage::parse(&Bytes::from(data.clone()));
        #[cfg(not(target_arch = "wasm32"))]
        let _ = webswarm_core::classic::PexMessage::parse(&data);
        let _ = Magnet::parse(&String::from_utf8_lossy(&data));
        let _ = Bitfield::from_wire(&data, 100);
        let mut d = Decoder::new(1 << 16);
        d.feed(&data);
        if d.handshake().is_ok() {
            while let Ok(Some(_)) = d.next_message() {}
        }
    }

    #[test]
    fn random_messages_after_a_handshake_never_panic_the_engine(
        msgs in proptest::collection::vec(message(), 1..30),
        seed in any::<u64>(),
        magnet in any::<bool>(),
    ) {
        let data = vec![7u8; 70_000];
        let mut c = TorrentCreator::new("x", vec![(vec![], data.len() as u64)], Some(16384)).unwrap();
        c.update(&data);
        let info = c.finish().unwrap().1.info;
        let source = if magnet {
            Source::Magnet(info.info_hash)
        } else {
            Source::Info { have: Some(Bitfield::full(5)), info: Box::new(info.clone()) }
        };
        let mut t = Torrent::new(Config::default(), source, PeerId([1; 20]), Time::ZERO, seed);
        let k = t.add_peer(Time::ZERO, None).unwrap();
        let mut input = Handshake::new(info.info_hash, PeerId([2; 20])).encode().to_vec();
        let mut b = BytesMut::new();
        msgs.iter().for_each(|m| m.encode(&mut b));
        input.extend_from_slice(&b);
        for (i, chunk) in input.chunks(97).enumerate() {
            let now = Time::from_millis(i as u64 * 10);
            match i % 2 {
                0 => t.handle_data(now, k, chunk),
                _ => t.handle_bytes(now, k, Bytes::copy_from_slice(chunk)),
            }
            t.handle_timeout(now);
            while let Some(o) = t.poll_output() {
                if let Output::Read { peer, block } = o {
                    t.block_read(now, peer, block, Bytes::from(vec![0u8; block.len as usize]));
                }
            }
        }
        prop_assert!(t.peer_count() <= 1);
    }
}

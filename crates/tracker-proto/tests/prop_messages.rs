//! Property tests for the tracker protocol codec.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use webswarm_tracker_proto::*;

fn id() -> impl Strategy<Value = [u8; 20]> {
    any::<[u8; 20]>()
}

proptest! {
    #[test]
    fn binary_strings_round_trip_through_json(b in id()) {
        let json = serde_json::to_string(&binstr_encode(&b)).unwrap();
        let back: String = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(binstr_decode(&back), Some(b));
    }

    #[test]
    fn announces_round_trip(ih in id(), pid in id(), oid in id(), left in proptest::option::of(any::<u64>()), sdp in ".{0,200}", n in 0usize..10) {
        let a = Announce {
            action: "announce",
            info_hash: InfoHash(ih),
            peer_id: PeerId(pid),
            numwant: Some(n as u32),
            uploaded: 1,
            downloaded: 2,
            left,
            event: Some(AnnounceEvent::Started),
            offers: (0..n).map(|_| Offer { offer: Sdp::offer(&sdp), offer_id: OfferId(oid) }).collect(),
            trackerid: None,
        };
        let m = ClientMessage::Announce(a);
        prop_assert_eq!(ClientMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn relayed_offers_round_trip(ih in id(), pid in id(), oid in id(), sdp in ".{0,200}") {
        let m = TrackerMessage::Offer(RelayedOffer { action: "announce".into(), offer: Sdp::offer(&sdp), offer_id: OfferId(oid), peer_id: PeerId(pid), info_hash: InfoHash(ih) });
        prop_assert_eq!(TrackerMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ClientMessage::from_json(&text);
        let _ = TrackerMessage::from_json(&text);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = ClientMessage::from_json(&lossy);
    }
}

// The peers' own codec (core's tracker client, used by the native and
// browser peers) against this one (the tracker's).
mod client_codec {
    use super::*;
    use webswarm_core::tracker as core;

    proptest! {
        #[test]
        fn what_peers_send_parses_here(ih in id(), pid in id(), oid in id(), left in proptest::option::of(any::<u64>()), sdp in ".{0,200}", n in 0usize..6, up in any::<u64>()) {
            let a = core::Announce {
                info_hash: InfoHash(ih),
                peer_id: PeerId(pid),
                uploaded: up,
                downloaded: 2,
                left,
                event: (n % 2 == 0).then_some(core::AnnounceEvent::Completed),
                offers: (0..n).map(|_| (OfferId(oid), sdp.clone())).collect(),
            };
            let ClientMessage::Announce(got) = ClientMessage::from_json(&a.to_json()).unwrap() else { panic!() };
            prop_assert_eq!((got.info_hash, got.peer_id, got.uploaded, got.left), (a.info_hash, a.peer_id, up, left));
            prop_assert_eq!(got.numwant, (n > 0).then_some(n as u32));
            prop_assert_eq!(got.event.is_some(), n % 2 == 0);
            prop_assert_eq!(got.offers.len(), n);
            for o in &got.offers {
                prop_assert_eq!((o.offer.sdp.text(), o.offer_id), (sdp.clone(), OfferId(oid)));
            }
            let ans = core::Answer { info_hash: InfoHash(ih), peer_id: PeerId(pid), to_peer_id: PeerId(oid), offer_id: OfferId(oid), sdp: sdp.clone() };
            let ClientMessage::Answer(got) = ClientMessage::from_json(&ans.to_json()).unwrap() else { panic!() };
            prop_assert_eq!((got.to_peer_id, got.answer.sdp.text()), (PeerId(oid), sdp));
        }

        #[test]
        fn what_trackers_send_parses_there(ih in id(), pid in id(), oid in id(), sdp in ".{0,200}", interval in any::<u32>()) {
            let offer = TrackerMessage::Offer(RelayedOffer { action: "announce".into(), offer: Sdp::offer(&sdp), offer_id: OfferId(oid), peer_id: PeerId(pid), info_hash: InfoHash(ih) });
            prop_assert_eq!(core::Incoming::parse(&offer.to_json()), Some(core::Incoming::Offer { info_hash: InfoHash(ih), peer_id: PeerId(pid), offer_id: OfferId(oid), sdp: sdp.clone() }));
            let answer = TrackerMessage::Answer(RelayedAnswer { action: "announce".into(), answer: Sdp::answer(&sdp), offer_id: OfferId(oid), peer_id: PeerId(pid), info_hash: InfoHash(ih) });
            prop_assert_eq!(core::Incoming::parse(&answer.to_json()), Some(core::Incoming::Answer { info_hash: InfoHash(ih), peer_id: PeerId(pid), offer_id: OfferId(oid), sdp }));
            let reply = TrackerMessage::Announced(AnnounceResponse { action: "announce".into(), info_hash: InfoHash(ih), complete: 1, incomplete: 2, interval });
            prop_assert_eq!(core::Incoming::parse(&reply.to_json()), Some(core::Incoming::Announced { info_hash: InfoHash(ih), interval, counts: Some((1, 2)) }));
        }

        #[test]
        fn arbitrary_text_never_panics_the_peers_parser(text in ".{0,300}") {
            let _ = core::Incoming::parse(&text);
            let _ = core::json::parse(&text);
        }
    }
}

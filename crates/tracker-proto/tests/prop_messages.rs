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
            offers: (0..n).map(|_| Offer { offer: Sdp::offer(sdp.clone()), offer_id: OfferId(oid) }).collect(),
            trackerid: None,
        };
        let m = ClientMessage::Announce(a);
        prop_assert_eq!(ClientMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn relayed_offers_round_trip(ih in id(), pid in id(), oid in id(), sdp in ".{0,200}") {
        let m = TrackerMessage::Offer(RelayedOffer { action: "announce".into(), offer: Sdp::offer(sdp), offer_id: OfferId(oid), peer_id: PeerId(pid), info_hash: InfoHash(ih) });
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

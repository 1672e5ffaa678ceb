//! What a tracker spends parsing one announce with ten offers and writing
//! the ten relayed offers, with the SDP passed through as its JSON literal
//! (`SdpText`, what the tracker does) and, in the same run, with the SDP
//! unescaped into a `String` and escaped again (what it did before; here on
//! top of the literal's scan, so slightly more than before).
//!   cargo run --release -p webswarm-tracker-proto --example relay_bench

use std::time::Instant;

use serde::Serialize;
use webswarm_tracker_proto::{binstr_encode, ClientMessage, RelayedOffer, TrackerMessage};

/// A no-trickle Chromium data-channel offer with one host candidate.
const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
m=application 50712 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n\
a=candidate:1 1 udp 2113937151 127.0.0.1 50712 typ host generation 0 network-cost 999\r\n\
a=ice-ufrag:7Hc3\r\na=ice-pwd:Wv0mX2k7JtQe0bVn6hYcXq2Z\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 1F:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7:08:19:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7:08\r\n\
a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";

const ROUNDS: u32 = 20_000;

/// The relayed offer as it was written before: the SDP as a `String`.
#[derive(Serialize)]
struct OwnedOffer<'a> {
    action: &'static str,
    offer: OwnedSdp,
    offer_id: &'a str,
    peer_id: &'a str,
    info_hash: &'a str,
}

#[derive(Serialize)]
struct OwnedSdp {
    #[serde(rename = "type")]
    kind: &'static str,
    sdp: String,
}

fn announce() -> String {
    let offers: Vec<serde_json::Value> = (0..10u8)
        .map(|i| serde_json::json!({"offer": {"type": "offer", "sdp": SDP}, "offer_id": binstr_encode(&[i; 20])}))
        .collect();
    serde_json::json!({"action": "announce", "info_hash": binstr_encode(&[7; 20]),
        "peer_id": binstr_encode(&[9; 20]), "numwant": 10, "uploaded": 0, "downloaded": 0,
        "left": 100, "event": "started", "offers": offers})
    .to_string()
}

fn main() {
    let text = announce();
    for round in 1..=3 {
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..ROUNDS {
            let Ok(ClientMessage::Announce(a)) = ClientMessage::from_json(&text) else {
                panic!("the sample announce parses");
            };
            for o in a.offers {
                let relayed = TrackerMessage::Offer(RelayedOffer {
                    action: "announce".into(),
                    offer: o.offer,
                    offer_id: o.offer_id,
                    peer_id: a.peer_id,
                    info_hash: a.info_hash,
                });
                bytes += relayed.to_json().len();
            }
        }
        let passed = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        let t = Instant::now();
        let mut owned_bytes = 0;
        for _ in 0..ROUNDS {
            let Ok(ClientMessage::Announce(a)) = ClientMessage::from_json(&text) else {
                panic!("the sample announce parses");
            };
            let (peer, ih) = (binstr_encode(&a.peer_id.0), binstr_encode(&a.info_hash.0));
            for o in a.offers {
                let offer = OwnedOffer {
                    action: "announce",
                    offer: OwnedSdp {
                        kind: "offer",
                        sdp: o.offer.sdp.text(),
                    },
                    offer_id: &binstr_encode(&o.offer_id.0),
                    peer_id: &peer,
                    info_hash: &ih,
                };
                owned_bytes += serde_json::to_string(&offer).map_or(0, |s| s.len());
            }
        }
        let owned = t.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
        assert_eq!(bytes, owned_bytes, "both write the same relayed offers");
        println!(
            "round {round}: parse an announce with ten {}-byte SDPs and write the ten relayed offers: \
             passed through {passed:.2} µs, unescaped and escaped again {owned:.2} µs ({:.2}x)",
            SDP.len(),
            owned / passed
        );
    }
}

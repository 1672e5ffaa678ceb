//! The WebSocket tracker messages a peer sends and acts on, as typed values
//! and as JSON text (see `shared/docs/protocol.md`). The tracker server has
//! its own full codec (`webswarm-tracker-proto`); this is the client's half,
//! small enough for the browser peer, and tested against that one.

use super::json::{self, Json};
use crate::types::{InfoHash, PeerId};

/// Names one WebRTC offer so the answer can be matched to it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct OfferId(pub [u8; 20]);

/// WebTorrent's "binary strings": 20 bytes as a string of 20 characters whose
/// code points are the byte values (U+0000–U+00FF).
pub mod binstr {
    /// Encodes 20 bytes as a latin-1 string.
    pub fn encode(bytes: &[u8; 20]) -> String {
        bytes.iter().map(|&b| char::from(b)).collect()
    }

    /// Decodes a latin-1 string of exactly 20 characters.
    pub fn decode(s: &str) -> Option<[u8; 20]> {
        let mut out = [0u8; 20];
        let mut n = 0;
        for c in s.chars() {
            *out.get_mut(n)? = u8::try_from(u32::from(c)).ok()?;
            n += 1;
        }
        (n == 20).then_some(out)
    }
}

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// Joining the swarm.
    Started,
    /// Leaving it.
    Stopped,
    /// The download finished.
    Completed,
}

impl AnnounceEvent {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnounceEvent::Started => "started",
            AnnounceEvent::Stopped => "stopped",
            AnnounceEvent::Completed => "completed",
        }
    }
}

/// An announce: joining, updating or leaving a swarm, maybe with offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our id.
    pub peer_id: PeerId,
    /// Bytes sent to peers.
    pub uploaded: u64,
    /// Bytes received.
    pub downloaded: u64,
    /// `None` for a magnet download without metadata (sent as `null`).
    pub left: Option<u64>,
    /// `started`, `stopped`, `completed`, or a periodic update.
    pub event: Option<AnnounceEvent>,
    /// Complete SDPs, no trickle.
    pub offers: Vec<(OfferId, String)>,
}

/// The answer to a relayed offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our id.
    pub peer_id: PeerId,
    /// The offerer.
    pub to_peer_id: PeerId,
    /// The offer answered.
    pub offer_id: OfferId,
    /// Our SDP.
    pub sdp: String,
}

fn key(out: &mut String, k: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    json::write_str(out, k);
    out.push(':');
}

fn id(out: &mut String, k: &str, v: &[u8; 20]) {
    key(out, k);
    json::write_str(out, &binstr::encode(v));
}

fn sdp(out: &mut String, k: &str, kind: &str, sdp: &str) {
    key(out, k);
    out.push_str("{\"type\":");
    json::write_str(out, kind);
    out.push_str(",\"sdp\":");
    json::write_str(out, sdp);
    out.push('}');
}

fn num(out: &mut String, k: &str, v: u64) {
    key(out, k);
    json::write_u64(out, v);
}

impl Announce {
    /// The frame to send.
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\"action\":\"announce\"");
        id(&mut o, "info_hash", &self.info_hash.0);
        id(&mut o, "peer_id", &self.peer_id.0);
        if !self.offers.is_empty() {
            num(&mut o, "numwant", self.offers.len() as u64);
        }
        num(&mut o, "uploaded", self.uploaded);
        num(&mut o, "downloaded", self.downloaded);
        match self.left {
            Some(l) => num(&mut o, "left", l),
            None => {
                key(&mut o, "left");
                o.push_str("null");
            }
        }
        if let Some(e) = self.event {
            key(&mut o, "event");
            json::write_str(&mut o, e.as_str());
        }
        if !self.offers.is_empty() {
            key(&mut o, "offers");
            o.push('[');
            for (i, (offer_id, s)) in self.offers.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                o.push('{');
                sdp(&mut o, "offer", "offer", s);
                id(&mut o, "offer_id", &offer_id.0);
                o.push('}');
            }
            o.push(']');
        }
        o.push('}');
        o
    }
}

impl Answer {
    /// The frame to send.
    pub fn to_json(&self) -> String {
        let mut o = String::from("{\"action\":\"announce\"");
        id(&mut o, "info_hash", &self.info_hash.0);
        id(&mut o, "peer_id", &self.peer_id.0);
        id(&mut o, "to_peer_id", &self.to_peer_id.0);
        id(&mut o, "offer_id", &self.offer_id.0);
        sdp(&mut o, "answer", "answer", &self.sdp);
        o.push('}');
        o
    }
}

/// What the tracker sends that a peer acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// The reply to our announce.
    Announced {
        /// The torrent.
        info_hash: InfoHash,
        /// Seconds until the next announce.
        interval: u32,
        /// The swarm's seeds and leechers by the tracker's count
        /// (`complete`, `incomplete`), if it gives both.
        counts: Option<(u32, u32)>,
    },
    /// Another peer's offer, relayed to us.
    Offer {
        /// The torrent.
        info_hash: InfoHash,
        /// The offerer.
        peer_id: PeerId,
        /// Names the offer in our answer.
        offer_id: OfferId,
        /// Its SDP.
        sdp: String,
    },
    /// The answer to one of our offers.
    Answer {
        /// The torrent.
        info_hash: InfoHash,
        /// The answerer.
        peer_id: PeerId,
        /// Our offer it answers.
        offer_id: OfferId,
        /// Its SDP.
        sdp: String,
    },
    /// The tracker refused something.
    Failure {
        /// The tracker's words.
        reason: String,
        /// The torrent it concerns, if it said.
        info_hash: Option<InfoHash>,
    },
    /// Valid, but nothing for a peer to do (a scrape reply).
    Ignored,
}

fn id_of(v: &Json, k: &str) -> Option<[u8; 20]> {
    binstr::decode(v.get(k)?.as_str()?)
}

fn sdp_of(v: &Json, k: &str) -> Option<String> {
    Some(v.get(k)?.get("sdp")?.as_str()?.to_owned())
}

impl Incoming {
    /// Parses one tracker message; `None` for anything malformed.
    #[must_use]
    pub fn parse(text: &str) -> Option<Incoming> {
        let v = json::parse(text)?;
        if let Some(reason) = v.get("failure reason") {
            return Some(Incoming::Failure {
                reason: reason.as_str().unwrap_or("no reason given").to_owned(),
                info_hash: id_of(&v, "info_hash").map(InfoHash),
            });
        }
        match v.get("action")?.as_str()? {
            "announce" => {}
            "scrape" => return Some(Incoming::Ignored),
            _ => return None,
        }
        let info_hash = InfoHash(id_of(&v, "info_hash")?);
        let from = |v: &Json| Some((PeerId(id_of(v, "peer_id")?), OfferId(id_of(v, "offer_id")?)));
        if let Some(sdp) = sdp_of(&v, "offer") {
            let (peer_id, offer_id) = from(&v)?;
            return Some(Incoming::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            });
        }
        if let Some(sdp) = sdp_of(&v, "answer") {
            let (peer_id, offer_id) = from(&v)?;
            return Some(Incoming::Answer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            });
        }
        // `as` saturates: a negative count is 0, a huge one u32::MAX.
        let num = |k| Some(v.get(k)?.as_f64()? as u32);
        let counts = (|| Some((num("complete")?, num("incomplete")?)))();
        Some(Incoming::Announced {
            info_hash,
            interval: num("interval")?,
            counts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: u8) -> [u8; 20] {
        let mut a = [x; 20];
        a[0] = 0;
        a[1] = 0xff;
        a[2] = b'"';
        a
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn binary_strings_round_trip_and_wrong_lengths_fail() {
        let x = b(0x80);
        assert_eq!(binstr::decode(&binstr::encode(&x)), Some(x));
        assert_eq!(binstr::decode(&"a".repeat(19)), None);
        assert_eq!(binstr::decode(&"a".repeat(21)), None);
        assert_eq!(binstr::decode(&format!("{}\u{100}", "a".repeat(19))), None);
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn an_announce_is_the_json_webtorrent_sends() {
        let a = Announce {
            info_hash: InfoHash(b(1)),
            peer_id: PeerId(b(2)),
            uploaded: 5,
            downloaded: 6,
            left: None,
            event: Some(AnnounceEvent::Started),
            offers: vec![(OfferId(b(3)), "v=0\r\n".into())],
        };
        let v = json::parse(&a.to_json()).unwrap();
        assert_eq!(v.get("action").and_then(Json::as_str), Some("announce"));
        assert_eq!(id_of(&v, "info_hash"), Some(b(1)));
        assert_eq!(id_of(&v, "peer_id"), Some(b(2)));
        assert_eq!(v.get("numwant"), Some(&Json::Num(1.0)));
        assert_eq!(v.get("left"), Some(&Json::Null));
        assert_eq!(v.get("event").and_then(Json::as_str), Some("started"));
        let Some(Json::Arr(offers)) = v.get("offers") else {
            panic!("no offers")
        };
        assert_eq!(sdp_of(&offers[0], "offer").as_deref(), Some("v=0\r\n"));
        assert_eq!(id_of(&offers[0], "offer_id"), Some(b(3)));
        let plain = Announce {
            offers: vec![],
            event: None,
            left: Some(0),
            ..a
        };
        let v = json::parse(&plain.to_json()).unwrap();
        assert_eq!(v.get("numwant"), None);
        assert_eq!(v.get("offers"), None);
        assert_eq!(v.get("event"), None);
        assert_eq!(v.get("left"), Some(&Json::Num(0.0)));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn relayed_messages_parse_and_junk_does_not() {
        let ih = binstr::encode(&b(1));
        let pid = binstr::encode(&b(2));
        let oid = binstr::encode(&b(3));
        let mut offer =
            String::from("{\"action\":\"announce\",\"offer\":{\"type\":\"offer\",\"sdp\":\"s\"},");
        for (k, v) in [("offer_id", &oid), ("peer_id", &pid), ("info_hash", &ih)] {
            offer.push_str(&format!("\"{k}\":"));
            json::write_str(&mut offer, v);
            offer.push(',');
        }
        offer.pop();
        offer.push('}');
        assert_eq!(
            Incoming::parse(&offer),
            Some(Incoming::Offer {
                info_hash: InfoHash(b(1)),
                peer_id: PeerId(b(2)),
                offer_id: OfferId(b(3)),
                sdp: "s".into()
            })
        );
        let answer = offer.replace(
            "\"offer\":{\"type\":\"offer\"",
            "\"answer\":{\"type\":\"answer\"",
        );
        assert!(matches!(
            Incoming::parse(&answer),
            Some(Incoming::Answer { .. })
        ));
        let mut reply = String::from("{\"action\":\"announce\",\"interval\":120,\"info_hash\":");
        json::write_str(&mut reply, &ih);
        reply.push('}');
        assert_eq!(
            Incoming::parse(&reply),
            Some(Incoming::Announced {
                info_hash: InfoHash(b(1)),
                interval: 120,
                counts: None
            })
        );
        // The swarm's size, when the tracker gives it.
        for (said, counts) in [
            ("\"complete\":1,\"incomplete\":2,", Some((1, 2))),
            ("\"incomplete\":4,", None),
            ("\"complete\":-3,\"incomplete\":1e12,", Some((0, u32::MAX))),
        ] {
            let with = reply.replacen(",\"interval\"", &format!(",{said}\"interval\""), 1);
            assert!(
                matches!(Incoming::parse(&with), Some(Incoming::Announced { counts: c, .. }) if c == counts),
                "{with}"
            );
        }
        assert_eq!(
            Incoming::parse("{\"failure reason\":\"no\"}"),
            Some(Incoming::Failure {
                reason: "no".into(),
                info_hash: None
            })
        );
        for junk in [
            "[]",
            "{\"action\":\"announce\"}",
            "{\"action\":\"other\",\"interval\":1}",
            "{\"action\":\"announce\",\"info_hash\":\"short\",\"interval\":1}",
        ] {
            assert_eq!(Incoming::parse(junk), None, "{junk}");
        }
    }
}

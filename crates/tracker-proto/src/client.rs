//! Messages peers send to the tracker.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::binstr;
use crate::ids::*;
use crate::{InfoHash, OfferId, PeerId, Sdp, SdpKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnounceEvent {
    Started,
    Stopped,
    Completed,
    Paused,
}

/// One WebRTC offer carried by an announce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub offer: Sdp,
    #[serde(serialize_with = "ser_offer_id", deserialize_with = "de_offer_id")]
    pub offer_id: OfferId,
}

/// `announce` without an answer: joining, updating or leaving a swarm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Announce {
    pub action: &'static str,
    #[serde(serialize_with = "ser_info_hash")]
    pub info_hash: InfoHash,
    #[serde(serialize_with = "ser_peer_id")]
    pub peer_id: PeerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numwant: Option<u32>,
    pub uploaded: u64,
    pub downloaded: u64,
    /// `None` for a magnet leecher that does not know the size yet (sent as `null`).
    pub left: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<AnnounceEvent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<Offer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trackerid: Option<String>,
}

/// `announce` carrying the answer to a relayed offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub action: &'static str,
    #[serde(serialize_with = "ser_info_hash")]
    pub info_hash: InfoHash,
    #[serde(serialize_with = "ser_peer_id")]
    pub peer_id: PeerId,
    #[serde(serialize_with = "ser_peer_id")]
    pub to_peer_id: PeerId,
    #[serde(serialize_with = "ser_offer_id")]
    pub offer_id: OfferId,
    pub answer: Sdp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scrape {
    pub info_hashes: Vec<InfoHash>,
}

/// Anything a peer may send to the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Announce(Announce),
    Answer(Answer),
    Scrape(Scrape),
}

/// Why a message was refused, with what was understood of it so the failure
/// reply can name the `action` and `info_hash` (clients need them).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub reason: String,
    pub action: Option<String>,
    pub info_hash: Option<InfoHash>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    #[serde(borrow)]
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

#[derive(Deserialize)]
struct RawOffer<'a> {
    offer: Option<Sdp>,
    #[serde(borrow)]
    offer_id: Option<Cow<'a, str>>,
}

/// Every field a client message may have, checked afterwards.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    info_hash: Option<OneOrMany<'a>>,
    #[serde(borrow)]
    peer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    to_peer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    offer_id: Option<Cow<'a, str>>,
    numwant: Option<u32>,
    uploaded: Option<u64>,
    downloaded: Option<u64>,
    left: Option<u64>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    offers: Option<Vec<RawOffer<'a>>>,
    answer: Option<Sdp>,
    trackerid: Option<String>,
}

fn id(field: &Option<Cow<'_, str>>) -> Option<[u8; 20]> {
    field.as_deref().and_then(binstr::from_str)
}

impl ClientMessage {
    /// Parses one text frame.
    pub fn from_json(text: &str) -> Result<Self, ParseError> {
        let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| salvage(text, e))?;
        let action = raw.action.as_deref().map(str::to_owned);
        let err = |reason: &str, info_hash: Option<InfoHash>| ParseError {
            reason: reason.to_owned(),
            action: action.clone(),
            info_hash,
        };
        match raw.action.as_deref() {
            Some("announce") => {}
            Some("scrape") => {
                let hashes: Vec<Cow<'_, str>> = match raw.info_hash {
                    Some(OneOrMany::One(h)) => vec![h],
                    Some(OneOrMany::Many(v)) => v,
                    None => Vec::new(),
                };
                let info_hashes = hashes
                    .iter()
                    .map(|h| binstr::from_str(h).map(InfoHash))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err("invalid info_hash", None))?;
                return Ok(ClientMessage::Scrape(Scrape { info_hashes }));
            }
            _ => return Err(err("invalid action", None)),
        }
        let info_hash = match &raw.info_hash {
            Some(OneOrMany::One(h)) => binstr::from_str(h).map(InfoHash),
            _ => None,
        }
        .ok_or_else(|| err("invalid info_hash", None))?;
        let ih = Some(info_hash);
        let peer_id = id(&raw.peer_id)
            .map(PeerId)
            .ok_or_else(|| err("invalid peer_id", ih))?;
        if let Some(answer) = raw.answer {
            let to_peer_id = id(&raw.to_peer_id)
                .map(PeerId)
                .ok_or_else(|| err("invalid to_peer_id", ih))?;
            let offer_id = id(&raw.offer_id)
                .map(OfferId)
                .ok_or_else(|| err("invalid offer_id", ih))?;
            if answer.kind != SdpKind::Answer {
                return Err(err("answer must have type \"answer\"", ih));
            }
            return Ok(ClientMessage::Answer(Answer {
                action: "announce",
                info_hash,
                peer_id,
                to_peer_id,
                offer_id,
                answer,
            }));
        }
        let event = match raw.event.as_deref() {
            None | Some("") | Some("update") => None,
            Some("started") => Some(AnnounceEvent::Started),
            Some("stopped") => Some(AnnounceEvent::Stopped),
            Some("completed") => Some(AnnounceEvent::Completed),
            Some("paused") => Some(AnnounceEvent::Paused),
            Some(_) => return Err(err("invalid event", ih)),
        };
        let offers = raw
            .offers
            .unwrap_or_default()
            .into_iter()
            .map(|o| match (o.offer, id(&o.offer_id)) {
                (Some(offer), Some(oid)) if offer.kind == SdpKind::Offer => Some(Offer {
                    offer,
                    offer_id: OfferId(oid),
                }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| err("invalid offer", ih))?;
        Ok(ClientMessage::Announce(Announce {
            action: "announce",
            info_hash,
            peer_id,
            numwant: raw.numwant,
            uploaded: raw.uploaded.unwrap_or(0),
            downloaded: raw.downloaded.unwrap_or(0),
            left: raw.left,
            event,
            offers,
            trackerid: raw.trackerid,
        }))
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        match self {
            ClientMessage::Announce(a) => serde_json::to_string(a),
            ClientMessage::Answer(a) => serde_json::to_string(a),
            ClientMessage::Scrape(s) => {
                let hashes: Vec<String> = s
                    .info_hashes
                    .iter()
                    .map(|h| binstr::to_string(&h.0))
                    .collect();
                serde_json::to_string(&serde_json::json!({"action": "scrape", "info_hash": hashes}))
            }
        }
        .unwrap_or_default()
    }
}

/// After a JSON or type error, recovers `action` and `info_hash` if possible.
fn salvage(text: &str, e: serde_json::Error) -> ParseError {
    let v: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|x| x.as_str());
    let reason = if v.is_none() {
        "malformed JSON".to_owned()
    } else if v.as_ref().is_some_and(|v| !v.is_object()) {
        "message is not a JSON object".to_owned()
    } else {
        format!("invalid message: {e}")
    };
    ParseError {
        reason,
        action: field("action").map(str::to_owned),
        info_hash: field("info_hash").and_then(binstr::from_str).map(InfoHash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s20(c: char) -> String {
        c.to_string().repeat(20)
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parses_a_webtorrent_announce_with_offers_and_null_left() {
        let ih = "\u{00ff}\u{0000}".repeat(10);
        let text = format!(
            r#"{{"numwant":5,"uploaded":0,"downloaded":0,"left":null,"event":"started","action":"announce","info_hash":{},"peer_id":"{}","offers":[{{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":"{}"}}]}}"#,
            serde_json::to_string(&ih).unwrap(),
            s20('p'),
            s20('o')
        );
        let ClientMessage::Announce(a) = ClientMessage::from_json(&text).unwrap() else {
            panic!()
        };
        assert_eq!(a.info_hash.0, [0xff, 0].repeat(10)[..]);
        assert_eq!(a.left, None);
        assert_eq!(a.event, Some(AnnounceEvent::Started));
        assert_eq!(a.offers.len(), 1);
        let again =
            ClientMessage::from_json(&ClientMessage::Announce(a.clone()).to_json()).unwrap();
        assert_eq!(again, ClientMessage::Announce(a));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parses_answers_and_scrapes() {
        let text = format!(
            r#"{{"action":"announce","info_hash":"{}","peer_id":"{}","to_peer_id":"{}","offer_id":"{}","answer":{{"type":"answer","sdp":"x"}}}}"#,
            s20('i'),
            s20('a'),
            s20('b'),
            s20('o')
        );
        assert!(matches!(
            ClientMessage::from_json(&text),
            Ok(ClientMessage::Answer(_))
        ));
        let one = format!(r#"{{"action":"scrape","info_hash":"{}"}}"#, s20('i'));
        let many = format!(
            r#"{{"action":"scrape","info_hash":["{}","{}"]}}"#,
            s20('i'),
            s20('j')
        );
        let ClientMessage::Scrape(s) = ClientMessage::from_json(&one).unwrap() else {
            panic!()
        };
        assert_eq!(s.info_hashes.len(), 1);
        let ClientMessage::Scrape(s) = ClientMessage::from_json(&many).unwrap() else {
            panic!()
        };
        assert_eq!(s.info_hashes.len(), 2);
        let round = ClientMessage::from_json(&ClientMessage::Scrape(s.clone()).to_json()).unwrap();
        assert_eq!(round, ClientMessage::Scrape(s));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn errors_keep_action_and_info_hash_for_the_reply() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let e = ClientMessage::from_json(&format!(
            r#"{{"action":"announce","info_hash":"{hex}","peer_id":"{}"}}"#,
            s20('p')
        ))
        .unwrap_err();
        assert_eq!(
            (e.reason.as_str(), e.action.as_deref()),
            ("invalid info_hash", Some("announce"))
        );
        let e = ClientMessage::from_json(&format!(
            r#"{{"action":"announce","info_hash":"{}","peer_id":"short"}}"#,
            s20('i')
        ))
        .unwrap_err();
        assert_eq!(e.reason, "invalid peer_id");
        assert_eq!(e.info_hash, Some(InfoHash([b'i'; 20])));
        let e = ClientMessage::from_json(&format!(
            r#"{{"action":"announce","info_hash":"{}","numwant":"x"}}"#,
            s20('i')
        ))
        .unwrap_err();
        assert_eq!(e.action.as_deref(), Some("announce"));
        assert_eq!(e.info_hash, Some(InfoHash([b'i'; 20])));
        assert_eq!(
            ClientMessage::from_json("{nope").unwrap_err().reason,
            "malformed JSON"
        );
        assert_eq!(
            ClientMessage::from_json("[1]").unwrap_err().reason,
            "message is not a JSON object"
        );
        assert_eq!(
            ClientMessage::from_json(r#"{"action":"hello"}"#)
                .unwrap_err()
                .reason,
            "invalid action"
        );
        let e = ClientMessage::from_json(&format!(
            r#"{{"action":"announce","info_hash":"{}","peer_id":"{}","event":"boom"}}"#,
            s20('i'),
            s20('p')
        ))
        .unwrap_err();
        assert_eq!(e.reason, "invalid event");
    }
}

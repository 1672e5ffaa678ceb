//! Messages the tracker sends to peers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::binstr;
use crate::ids::*;
use crate::{InfoHash, OfferId, PeerId, Sdp};

/// Reply to an announce: swarm counts and the re-announce interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceResponse {
    pub action: String,
    #[serde(serialize_with = "ser_info_hash", deserialize_with = "de_info_hash")]
    pub info_hash: InfoHash,
    pub complete: u32,
    pub incomplete: u32,
    pub interval: u32,
}

/// An offer relayed from `peer_id` to the receiving peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedOffer {
    pub action: String,
    pub offer: Sdp,
    #[serde(serialize_with = "ser_offer_id", deserialize_with = "de_offer_id")]
    pub offer_id: OfferId,
    #[serde(serialize_with = "ser_peer_id", deserialize_with = "de_peer_id")]
    pub peer_id: PeerId,
    #[serde(serialize_with = "ser_info_hash", deserialize_with = "de_info_hash")]
    pub info_hash: InfoHash,
}

/// An answer relayed from `peer_id` back to the offerer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedAnswer {
    pub action: String,
    pub answer: Sdp,
    #[serde(serialize_with = "ser_offer_id", deserialize_with = "de_offer_id")]
    pub offer_id: OfferId,
    #[serde(serialize_with = "ser_peer_id", deserialize_with = "de_peer_id")]
    pub peer_id: PeerId,
    #[serde(serialize_with = "ser_info_hash", deserialize_with = "de_info_hash")]
    pub info_hash: InfoHash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ScrapeFile {
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeResponse {
    pub files: Vec<(InfoHash, ScrapeFile)>,
    pub min_request_interval: u32,
}

/// A refusal; the socket stays open. `action` and `info_hash` are echoed when
/// known, because WebTorrent's client treats a failure without `action` as a
/// broken socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    #[serde(rename = "failure reason")]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        serialize_with = "ser_opt_info_hash",
        deserialize_with = "de_opt_info_hash"
    )]
    pub info_hash: Option<InfoHash>,
}

fn ser_opt_info_hash<S: serde::Serializer>(v: &Option<InfoHash>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(h) => ser_info_hash(h, s),
        None => s.serialize_none(),
    }
}

fn de_opt_info_hash<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<InfoHash>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.as_deref().and_then(binstr::from_str).map(InfoHash))
}

/// Anything the tracker may send to a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerMessage {
    Announced(AnnounceResponse),
    Offer(RelayedOffer),
    Answer(RelayedAnswer),
    Scrape(ScrapeResponse),
    Failure(Failure),
}

#[derive(Serialize)]
struct ScrapeOut<'a> {
    action: &'static str,
    files: BTreeMap<String, &'a ScrapeFile>,
    flags: BTreeMap<&'static str, u32>,
}

impl TrackerMessage {
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        match self {
            TrackerMessage::Announced(m) => serde_json::to_string(m),
            TrackerMessage::Offer(m) => serde_json::to_string(m),
            TrackerMessage::Answer(m) => serde_json::to_string(m),
            TrackerMessage::Failure(m) => serde_json::to_string(m),
            TrackerMessage::Scrape(s) => serde_json::to_string(&ScrapeOut {
                action: "scrape",
                files: s
                    .files
                    .iter()
                    .map(|(h, f)| (binstr::to_string(&h.0), f))
                    .collect(),
                flags: [("min_request_interval", s.min_request_interval)]
                    .into_iter()
                    .collect(),
            }),
        }
        .unwrap_or_default()
    }

    /// Parses a tracker frame on the peer side.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let v: serde_json::Value = serde_json::from_str(text)?;
        let has = |k: &str| v.get(k).is_some();
        if has("failure reason") {
            return serde_json::from_value(v).map(TrackerMessage::Failure);
        }
        if v.get("action").and_then(|a| a.as_str()) == Some("scrape") {
            let mut files = Vec::new();
            if let Some(map) = v.get("files").and_then(|f| f.as_object()) {
                for (k, f) in map {
                    if let Some(h) = binstr::from_str(k) {
                        files.push((InfoHash(h), serde_json::from_value(f.clone())?));
                    }
                }
            }
            let min_request_interval = v
                .pointer("/flags/min_request_interval")
                .and_then(|x| x.as_u64())
                .unwrap_or(0) as u32;
            return Ok(TrackerMessage::Scrape(ScrapeResponse {
                files,
                min_request_interval,
            }));
        }
        if has("offer") {
            return serde_json::from_value(v).map(TrackerMessage::Offer);
        }
        if has("answer") {
            return serde_json::from_value(v).map(TrackerMessage::Answer);
        }
        serde_json::from_value(v).map(TrackerMessage::Announced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_tracker_message_round_trips() {
        let ih = InfoHash([0x80; 20]);
        let msgs = vec![
            TrackerMessage::Announced(AnnounceResponse {
                action: "announce".into(),
                info_hash: ih,
                complete: 1,
                incomplete: 2,
                interval: 120,
            }),
            TrackerMessage::Offer(RelayedOffer {
                action: "announce".into(),
                offer: Sdp::offer("o"),
                offer_id: OfferId([1; 20]),
                peer_id: PeerId([2; 20]),
                info_hash: ih,
            }),
            TrackerMessage::Answer(RelayedAnswer {
                action: "announce".into(),
                answer: Sdp::answer("a"),
                offer_id: OfferId([1; 20]),
                peer_id: PeerId([3; 20]),
                info_hash: ih,
            }),
            TrackerMessage::Scrape(ScrapeResponse {
                files: vec![(
                    ih,
                    ScrapeFile {
                        complete: 2,
                        incomplete: 0,
                        downloaded: 2,
                    },
                )],
                min_request_interval: 600,
            }),
            TrackerMessage::Failure(Failure {
                reason: "invalid info_hash".into(),
                action: Some("announce".into()),
                info_hash: None,
            }),
        ];
        for m in msgs {
            let text = m.to_json();
            assert_eq!(TrackerMessage::from_json(&text).unwrap(), m, "{text}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_the_reference_wire_shape() {
        let f = TrackerMessage::Failure(Failure {
            reason: "x".into(),
            action: Some("announce".into()),
            info_hash: Some(InfoHash([0x41; 20])),
        });
        assert_eq!(
            f.to_json(),
            format!(
                r#"{{"failure reason":"x","action":"announce","info_hash":"{}"}}"#,
                "A".repeat(20)
            )
        );
        let s = TrackerMessage::Scrape(ScrapeResponse {
            files: vec![(
                InfoHash([0x42; 20]),
                ScrapeFile {
                    complete: 2,
                    incomplete: 0,
                    downloaded: 2,
                },
            )],
            min_request_interval: 600,
        });
        assert_eq!(
            s.to_json(),
            format!(
                r#"{{"action":"scrape","files":{{"{}":{{"complete":2,"incomplete":0,"downloaded":2}}}},"flags":{{"min_request_interval":600}}}}"#,
                "B".repeat(20)
            )
        );
    }
}

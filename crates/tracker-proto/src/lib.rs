//! The WebTorrent WebSocket tracker protocol (see ../shared/docs/protocol.md):
//! typed messages in both directions, with the 20-character "binary string"
//! encoding for ids. Parsing turns JSON text into these types once; everything
//! after that works with checked values.

pub mod binstr;
mod client;
mod tracker;

pub use binstr::{from_str as binstr_decode, to_string as binstr_encode};
pub use client::{Announce, AnnounceEvent, Answer, ClientMessage, Offer, ParseError, Scrape};
pub use tracker::{
    AnnounceResponse, Failure, RelayedAnswer, RelayedOffer, ScrapeFile, ScrapeResponse,
    TrackerMessage,
};

use serde::{Deserialize, Serialize};

pub use webswarm_core::{InfoHash, PeerId};

pub use webswarm_core::tracker::OfferId;

/// A session description as RTCPeerConnection produces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sdp {
    #[serde(rename = "type")]
    pub kind: SdpKind,
    pub sdp: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    Offer,
    Answer,
}

impl Sdp {
    pub fn offer(sdp: impl Into<String>) -> Self {
        Sdp {
            kind: SdpKind::Offer,
            sdp: sdp.into(),
        }
    }
    pub fn answer(sdp: impl Into<String>) -> Self {
        Sdp {
            kind: SdpKind::Answer,
            sdp: sdp.into(),
        }
    }
}

/// serde adapters for the 20-byte id types.
mod ids {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn ser_info_hash<S: Serializer>(v: &InfoHash, s: S) -> Result<S::Ok, S::Error> {
        binstr::serialize(&v.0, s)
    }
    pub fn ser_peer_id<S: Serializer>(v: &PeerId, s: S) -> Result<S::Ok, S::Error> {
        binstr::serialize(&v.0, s)
    }
    pub fn ser_offer_id<S: Serializer>(v: &OfferId, s: S) -> Result<S::Ok, S::Error> {
        binstr::serialize(&v.0, s)
    }
    pub fn de_info_hash<'de, D: Deserializer<'de>>(d: D) -> Result<InfoHash, D::Error> {
        binstr::deserialize(d).map(InfoHash)
    }
    pub fn de_peer_id<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
        binstr::deserialize(d).map(PeerId)
    }
    pub fn de_offer_id<'de, D: Deserializer<'de>>(d: D) -> Result<OfferId, D::Error> {
        binstr::deserialize(d).map(OfferId)
    }
}

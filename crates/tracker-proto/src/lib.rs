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
    pub sdp: SdpText,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    Offer,
    Answer,
}

impl Sdp {
    pub fn offer(sdp: &str) -> Self {
        Sdp {
            kind: SdpKind::Offer,
            sdp: SdpText::new(sdp),
        }
    }
    pub fn answer(sdp: &str) -> Self {
        Sdp {
            kind: SdpKind::Answer,
            sdp: SdpText::new(sdp),
        }
    }
}

/// An SDP's text as tracker JSON carries it: the JSON string literal itself,
/// quotes and escapes included. A tracker relays it as it came, instead of
/// unescaping it on the way in and escaping it again on the way out (a
/// Chromium SDP has a `\r\n` every 40 bytes or so; the two were ~8 % of a
/// tracker thread's CPU in `webswarm-tracker-bench`). [`SdpText::text`]
/// gives the SDP itself.
#[derive(Clone)]
pub struct SdpText(Box<serde_json::value::RawValue>);

impl SdpText {
    pub fn new(text: &str) -> Self {
        // A string always serialises; the fallback is never taken.
        SdpText(serde_json::value::to_raw_value(text).unwrap_or_default())
    }

    /// A JSON string literal (`"..."`, escapes allowed); `None` for any
    /// other JSON value or text that is not JSON.
    pub fn from_json(literal: String) -> Option<Self> {
        let raw = serde_json::value::RawValue::from_string(literal).ok()?;
        raw.get().starts_with('"').then_some(SdpText(raw))
    }

    /// The JSON string literal, as sent and relayed.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The SDP itself.
    pub fn text(&self) -> String {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }
}

impl PartialEq for SdpText {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl Eq for SdpText {}

impl std::fmt::Debug for SdpText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

impl Serialize for SdpText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SdpText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        match raw.get().starts_with('"') {
            true => Ok(SdpText(raw)),
            false => Err(serde::de::Error::custom("sdp must be a string")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn an_sdp_keeps_its_text_through_escaping() {
        let text = "v=0\r\no=- 1 2 IN IP4 \"x\" é \\ \u{1}\r\n";
        let s = SdpText::new(text);
        assert_eq!(s.text(), text);
        assert!(s.json().starts_with('"') && s.json().contains("\\r\\n"));
        assert_eq!(SdpText::from_json(s.json().to_owned()), Some(s));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn an_sdp_is_relayed_as_the_client_escaped_it() {
        // Escapes serde_json would write differently (\u000d, \/) come out as
        // they went in: the literal is passed through, not re-encoded.
        let json = r#"{"type":"offer","sdp":"v=0\u000d\u000a\/x"}"#;
        let sdp: Sdp = serde_json::from_str(json).unwrap();
        assert_eq!(sdp.sdp.text(), "v=0\r\n/x");
        assert_eq!(serde_json::to_string(&sdp).unwrap(), json);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn an_sdp_that_is_not_a_string_is_refused() {
        for bad in [
            r#"{"type":"offer","sdp":5}"#,
            r#"{"type":"offer","sdp":{"a":1}}"#,
            r#"{"type":"offer","sdp":null}"#,
            "{\"type\":\"offer\",\"sdp\":\"a\u{1}b\"}",
        ] {
            assert!(serde_json::from_str::<Sdp>(bad).is_err(), "{bad}");
        }
        for bad in ["5", "\"unterminated", "\"a\" \"b\"", "[\"x\"]"] {
            assert_eq!(SdpText::from_json(bad.to_owned()), None, "{bad}");
        }
    }
}

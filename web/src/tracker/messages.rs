//! Tracker messages as JSON, built and parsed by the browser's own `JSON`
//! instead of serde_json: the same wire format as `webswarm-tracker-proto`
//! (which the tracker and native peer use), at a fraction of the wasm size.

use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::JsValue;
use webswarm_core::{InfoHash, PeerId};
use webswarm_tracker_proto::binstr;
use webswarm_tracker_proto::{AnnounceEvent, OfferId};

/// An announce, with offers or not.
pub struct Announce<'a> {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub uploaded: u64,
    pub downloaded: u64,
    /// `None` before a magnet's metadata is known (sent as `null`).
    pub left: Option<u64>,
    pub event: Option<AnnounceEvent>,
    pub offers: &'a [(OfferId, String)],
}

/// What the tracker sends that a peer acts on.
pub enum Incoming {
    Announced {
        info_hash: InfoHash,
        interval: u32,
    },
    Offer {
        info_hash: InfoHash,
        peer_id: PeerId,
        offer_id: OfferId,
        sdp: String,
    },
    /// Matched to our offer by `offer_id`, which knows its torrent.
    Answer {
        peer_id: PeerId,
        offer_id: OfferId,
        sdp: String,
    },
    Failure(String),
}

fn set(o: &Object, k: &str, v: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn bin(b: &[u8; 20]) -> JsValue {
    JsValue::from_str(&binstr::to_string(b))
}

fn sdp(kind: &str, sdp: &str) -> Object {
    let o = Object::new();
    set(&o, "type", &kind.into());
    set(&o, "sdp", &sdp.into());
    o
}

fn stringify(o: &Object) -> String {
    JSON::stringify(o)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

pub fn announce(a: &Announce) -> String {
    let o = Object::new();
    set(&o, "action", &"announce".into());
    set(&o, "info_hash", &bin(&a.info_hash.0));
    set(&o, "peer_id", &bin(&a.peer_id.0));
    set(&o, "numwant", &(a.offers.len() as f64).into());
    set(&o, "uploaded", &(a.uploaded as f64).into());
    set(&o, "downloaded", &(a.downloaded as f64).into());
    let left = a.left.map_or(JsValue::NULL, |l| (l as f64).into());
    set(&o, "left", &left);
    if let Some(e) = a.event {
        let name = match e {
            AnnounceEvent::Started => "started",
            AnnounceEvent::Stopped => "stopped",
            AnnounceEvent::Completed => "completed",
            AnnounceEvent::Paused => "paused",
        };
        set(&o, "event", &name.into());
    }
    if !a.offers.is_empty() {
        let offers: Array = a
            .offers
            .iter()
            .map(|(id, s)| {
                let x = Object::new();
                set(&x, "offer", &sdp("offer", s));
                set(&x, "offer_id", &bin(&id.0));
                JsValue::from(x)
            })
            .collect();
        set(&o, "offers", &offers);
    }
    stringify(&o)
}

pub fn answer(
    info_hash: InfoHash,
    ours: PeerId,
    to: PeerId,
    offer_id: OfferId,
    answer_sdp: &str,
) -> String {
    let o = Object::new();
    set(&o, "action", &"announce".into());
    set(&o, "info_hash", &bin(&info_hash.0));
    set(&o, "peer_id", &bin(&ours.0));
    set(&o, "to_peer_id", &bin(&to.0));
    set(&o, "offer_id", &bin(&offer_id.0));
    set(&o, "answer", &sdp("answer", answer_sdp));
    stringify(&o)
}

fn field(o: &JsValue, k: &str) -> Option<JsValue> {
    Reflect::get(o, &JsValue::from_str(k))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn id20(o: &JsValue, k: &str) -> Option<[u8; 20]> {
    binstr::from_str(&field(o, k)?.as_string()?)
}

fn sdp_of(o: &JsValue, k: &str) -> Option<String> {
    field(&field(o, k)?, "sdp")?.as_string()
}

/// Parses one message; anything malformed or irrelevant is `None`.
pub fn parse(text: &str) -> Option<Incoming> {
    let v = JSON::parse(text).ok()?;
    if !v.is_object() {
        return None;
    }
    if let Some(reason) = field(&v, "failure reason") {
        return Some(Incoming::Failure(reason.as_string().unwrap_or_default()));
    }
    if field(&v, "action")?.as_string()? != "announce" {
        return None;
    }
    let info_hash = InfoHash(id20(&v, "info_hash")?);
    if let Some(s) = sdp_of(&v, "offer") {
        return Some(Incoming::Offer {
            info_hash,
            peer_id: PeerId(id20(&v, "peer_id")?),
            offer_id: OfferId(id20(&v, "offer_id")?),
            sdp: s,
        });
    }
    if let Some(s) = sdp_of(&v, "answer") {
        return Some(Incoming::Answer {
            peer_id: PeerId(id20(&v, "peer_id")?),
            offer_id: OfferId(id20(&v, "offer_id")?),
            sdp: s,
        });
    }
    let interval = field(&v, "interval")?.as_f64()?;
    Some(Incoming::Announced {
        info_hash,
        interval: interval.clamp(0.0, f64::from(u32::MAX)) as u32,
    })
}

//! Reading option objects passed from JavaScript.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::WebError;
use crate::rtc::RtcConfig;
use crate::session::SessionConfig;
use crate::storage::{opfs_available, StorageKind};

/// WebTorrent's default STUN servers: a page on the open internet needs one
/// to connect across NATs. Pass `iceServers` to use your own (or none).
const DEFAULT_STUN: [&str; 2] = [
    "stun:stun.l.google.com:19302",
    "stun:global.stun.twilio.com:3478",
];

pub fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    if !o.is_object() {
        return None;
    }
    Reflect::get(o, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

pub fn get_u32(o: &JsValue, key: &str) -> Result<Option<u32>, WebError> {
    match get(o, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n >= 0.0 && n <= f64::from(u32::MAX) && n.fract() == 0.0 => {
                Ok(Some(n as u32))
            }
            _ => Err(WebError::input(format!(
                "option `{key}` must be a non-negative integer"
            ))),
        },
    }
}

pub fn get_strings(o: &JsValue, key: &str) -> Result<Vec<String>, WebError> {
    let Some(v) = get(o, key) else {
        return Ok(Vec::new());
    };
    if let Some(s) = v.as_string() {
        return Ok(vec![s]);
    }
    let arr: Array = v.dyn_into().map_err(|_| {
        WebError::input(format!(
            "option `{key}` must be a string or an array of strings"
        ))
    })?;
    arr.iter()
        .map(|x| {
            x.as_string()
                .ok_or_else(|| WebError::input(format!("option `{key}` must hold strings")))
        })
        .collect()
}

pub fn storage_kind(o: &JsValue, default: StorageKind) -> Result<StorageKind, WebError> {
    let kind = match get(o, "storage").and_then(|v| v.as_string()).as_deref() {
        None => default,
        Some("memory") => StorageKind::Memory,
        Some("opfs") => StorageKind::Opfs,
        Some(other) => {
            return Err(WebError::input(format!(
                "option `storage` must be \"opfs\" or \"memory\", not {other:?}"
            )))
        }
    };
    // No OPFS (old browser, some private modes): memory still works.
    Ok(if kind == StorageKind::Opfs && !opfs_available() {
        StorageKind::Memory
    } else {
        kind
    })
}

pub fn session_config(o: &JsValue) -> Result<SessionConfig, WebError> {
    let ice_servers = match get(o, "iceServers") {
        Some(v) => v
            .dyn_into::<Array>()
            .map_err(|_| WebError::input("option `iceServers` must be an array of RTCIceServer"))?,
        None => {
            let arr = Array::new();
            let urls: Array = DEFAULT_STUN.iter().map(|u| JsValue::from_str(u)).collect();
            let server = Object::new();
            let _ = Reflect::set(&server, &"urls".into(), &urls);
            arr.push(&server);
            arr
        }
    };
    let mut engine = webswarm_core::engine::Config::default();
    if let Some(n) = get_u32(o, "maxPeersPerTorrent")? {
        engine.max_peers = n.max(1) as usize;
    }
    Ok(SessionConfig {
        rtc: RtcConfig {
            ice_servers,
            gather_timeout_ms: get_u32(o, "iceGatherTimeout")?.unwrap_or(3000),
            connect_timeout_ms: get_u32(o, "connectTimeout")?.unwrap_or(20_000),
        },
        max_connections: get_u32(o, "maxConnections")?.unwrap_or(100).max(1) as usize,
        offers_per_announce: get_u32(o, "offersPerAnnounce")?.unwrap_or(5) as usize,
        storage: storage_kind(o, StorageKind::Opfs)?,
        trackers: get_strings(o, "trackers")?,
        engine,
    })
}

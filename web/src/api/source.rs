//! Turning what `add` was given (magnet link, .torrent bytes or URL) into
//! an info-hash, maybe an info dictionary, and trackers.

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webswarm_core::{Info, InfoHash, Magnet, Metainfo};

use crate::error::{js_message, WebError};
use crate::http::fetch_bytes;

pub struct Parsed {
    pub info_hash: InfoHash,
    pub info: Option<Info>,
    pub trackers: Vec<String>,
    /// BEP 19 webseeds (magnet `ws=`, torrent `url-list`).
    pub webseeds: Vec<String>,
}

pub async fn parse(source: &JsValue) -> Result<Parsed, WebError> {
    if let Some(s) = source.as_string() {
        let s = s.trim();
        if s.starts_with("magnet:") {
            return from_magnet(s);
        }
        if let Some(h) = InfoHash::from_hex(s) {
            return Ok(Parsed {
                info_hash: h,
                info: None,
                trackers: Vec::new(),
                webseeds: Vec::new(),
            });
        }
        if s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/') {
            let bytes = JsFuture::from(fetch_bytes(s))
                .await
                .map_err(|e| WebError::Fetch {
                    url: s.to_owned(),
                    reason: js_message(&e),
                })?;
            return from_torrent(&Uint8Array::new(&bytes).to_vec());
        }
        return Err(WebError::input(
            "expected a magnet link, an info-hash, a .torrent URL or .torrent bytes",
        ));
    }
    if let Some(buf) = source.dyn_ref::<ArrayBuffer>() {
        return from_torrent(&Uint8Array::new(buf).to_vec());
    }
    if let Some(u8s) = source.dyn_ref::<Uint8Array>() {
        return from_torrent(&u8s.to_vec());
    }
    Err(WebError::input(
        "expected a magnet link, an info-hash, a .torrent URL or .torrent bytes",
    ))
}

fn from_magnet(s: &str) -> Result<Parsed, WebError> {
    let m = Magnet::parse(s)?;
    let info_hash = m.info_hash();
    Ok(Parsed {
        info_hash,
        info: None,
        trackers: m.trackers,
        webseeds: m.webseeds,
    })
}

fn from_torrent(bytes: &[u8]) -> Result<Parsed, WebError> {
    let m = Metainfo::from_bytes(bytes)?;
    let trackers = m.tracker_urls();
    Ok(Parsed {
        info_hash: m.info.info_hash,
        info: Some(m.info),
        trackers,
        webseeds: m.url_list,
    })
}

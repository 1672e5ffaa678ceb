use std::rc::Rc;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;
use webswarm_core::{Bitfield, Info, TorrentCreator};

use super::options::{self, get};
use super::source;
use super::torrent::Torrent;
use crate::error::{js_message, WebError};
use crate::hash;
use crate::session::driver::{Driver, Start};
use crate::session::Shared;
use crate::storage::{self, BlobStore, Storage};

/// A browser peer: any number of torrents sharing tracker sockets and one
/// budget of peer connections.
#[wasm_bindgen]
pub struct Client {
    shared: Rc<Shared>,
}

#[wasm_bindgen]
impl Client {
    /// Options: `trackers` (ws:// or wss:// URLs added to every torrent),
    /// `iceServers` (RTCIceServer[]; default: public STUN), `maxConnections`
    /// (default 100), `storage` ("opfs", the default where available, or
    /// "memory"), `offersPerAnnounce` (5), `iceGatherTimeout` ms (3000),
    /// `connectTimeout` ms (20000), `maxPeersPerTorrent` (50).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<Client, JsValue> {
        #[cfg(debug_assertions)]
        crate::platform::log_panics();
        let cfg = options::session_config(&options)?;
        Ok(Client {
            shared: Shared::new(cfg),
        })
    }

    /// Starts downloading. `source`: a magnet link, a hex info-hash, a
    /// .torrent URL, or .torrent bytes. Options: `trackers`, `storage`.
    /// Resolves to the torrent at once; its metadata may come later.
    pub fn add(&self, source: JsValue, options: JsValue) -> Promise {
        let shared = self.shared.clone();
        crate::platform::promise(async move {
            let t = add(&shared, &source, &options).await?;
            Ok(t.into())
        })
    }

    /// Seeds a File, a Blob, or an array (or FileList) of them. Options:
    /// `name`, `trackers`, `pieceLength`. Resolves once every piece is
    /// hashed; the torrent's `magnetURI` and `torrentFile` are then ready.
    pub fn seed(&self, files: JsValue, options: JsValue) -> Promise {
        let shared = self.shared.clone();
        crate::platform::promise(async move {
            let t = seed(&shared, &files, &options).await?;
            Ok(t.into())
        })
    }

    /// The torrents added, in no particular order.
    #[wasm_bindgen(getter)]
    pub fn torrents(&self) -> Array {
        self.shared
            .torrents
            .borrow()
            .values()
            .map(|h| JsValue::from(Torrent::new(self.shared.clone(), h.clone(), None)))
            .collect()
    }

    /// Whether every tracker socket is open, and the last tracker error.
    #[wasm_bindgen(js_name = trackerStatus)]
    pub fn tracker_status(&self) -> Array {
        self.shared
            .trackers
            .borrow()
            .iter()
            .map(|(url, t)| {
                let o = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&o, &"url".into(), &url.into());
                let _ = js_sys::Reflect::set(&o, &"connected".into(), &t.is_connected().into());
                let err = t.last_error().map(JsValue::from).unwrap_or(JsValue::NULL);
                let _ = js_sys::Reflect::set(&o, &"error".into(), &err);
                JsValue::from(o)
            })
            .collect()
    }

    /// Stops every torrent and closes the tracker sockets.
    pub fn destroy(&self) {
        let torrents = std::mem::take(&mut *self.shared.torrents.borrow_mut());
        for (_, h) in torrents {
            Torrent::new(self.shared.clone(), h, None).stop(true);
        }
        self.shared.trackers.borrow_mut().clear();
    }
}

/// The same calls for Rust code (tests, other wasm crates).
impl Client {
    pub async fn add_torrent(
        &self,
        source: &JsValue,
        options: &JsValue,
    ) -> Result<Torrent, WebError> {
        add(&self.shared, source, options).await
    }

    pub async fn seed_files(
        &self,
        files: &JsValue,
        options: &JsValue,
    ) -> Result<Torrent, WebError> {
        seed(&self.shared, files, options).await
    }
}

fn browser_trackers(urls: Vec<String>) -> Vec<String> {
    // Browsers can only speak to WebSocket trackers.
    urls.into_iter()
        .filter(|u| u.starts_with("ws://") || u.starts_with("wss://"))
        .collect()
}

fn merge(mut a: Vec<String>, b: &[String]) -> Vec<String> {
    for u in b {
        if !a.contains(u) {
            a.push(u.clone());
        }
    }
    a
}

async fn add(
    shared: &Rc<Shared>,
    source: &JsValue,
    options: &JsValue,
) -> Result<Torrent, WebError> {
    let parsed = source::parse(source).await?;
    if shared.torrent(&parsed.info_hash).is_some() {
        return Err(WebError::Duplicate);
    }
    let kind = options::storage_kind(options, shared.cfg.storage)?;
    let resume = storage::load_resume(kind, parsed.info_hash).await;
    let have = if resume.info.is_some() {
        resume.have
    } else {
        None
    };
    let info = parsed.info.or(resume.info);
    let trackers = merge(
        merge(options::get_strings(options, "trackers")?, &parsed.trackers),
        &shared.cfg.trackers,
    );
    let webseeds = merge(options::get_strings(options, "webseeds")?, &parsed.webseeds)
        .into_iter()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .collect();
    let start = Start {
        info_hash: parsed.info_hash,
        info,
        have,
        storage: None,
        storage_kind: kind,
        trackers: browser_trackers(trackers),
        webseeds,
    };
    Ok(register(shared, start, None))
}

fn register(shared: &Rc<Shared>, start: Start, torrent_file: Option<Vec<u8>>) -> Torrent {
    let hash = start.info_hash;
    let h = Driver::start(shared, start);
    shared.torrents.borrow_mut().insert(hash, h.clone());
    let urls = h.borrow().trackers.clone();
    for url in urls {
        shared.tracker(&url).join(&h);
    }
    Torrent::new(shared.clone(), h, torrent_file)
}

/// The blobs to seed and their names.
fn seed_inputs(files: &JsValue) -> Result<Vec<(String, Blob)>, WebError> {
    let list: Vec<JsValue> = if files.is_instance_of::<Blob>() {
        vec![files.clone()]
    } else if let Some(it) = js_sys::try_iter(files).ok().flatten() {
        it.collect::<Result<_, _>>()
            .map_err(|e| WebError::input(js_message(&e)))?
    } else {
        return Err(WebError::input(
            "seed takes a File, a Blob, or an array of them",
        ));
    };
    let mut out = Vec::new();
    for (i, v) in list.into_iter().enumerate() {
        let blob: Blob = v
            .dyn_into()
            .map_err(|_| WebError::input("seed takes a File, a Blob, or an array of them"))?;
        let name = get(&blob, "name")
            .and_then(|n| n.as_string())
            .unwrap_or_else(|| format!("file{i}"));
        out.push((name, blob));
    }
    if out.is_empty() {
        return Err(WebError::input("nothing to seed"));
    }
    Ok(out)
}

async fn seed(
    shared: &Rc<Shared>,
    files: &JsValue,
    options: &JsValue,
) -> Result<Torrent, WebError> {
    let inputs = seed_inputs(files)?;
    let name = get(options, "name")
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| inputs[0].0.clone());
    let entries: Vec<(Vec<String>, u64)> = if inputs.len() == 1 {
        vec![(Vec::new(), inputs[0].1.size() as u64)]
    } else {
        inputs
            .iter()
            .map(|(n, b)| (vec![n.clone()], b.size() as u64))
            .collect()
    };
    let piece_len = options::get_u32(options, "pieceLength")?.map(u64::from);
    let mut creator = TorrentCreator::new(&name, entries, piece_len)?;
    let trackers = browser_trackers(merge(
        options::get_strings(options, "trackers")?,
        &shared.cfg.trackers,
    ));
    creator.trackers = trackers.iter().map(|t| vec![t.clone()]).collect();
    let blobs: Vec<Blob> = inputs.into_iter().map(|(_, b)| b).collect();
    hash_blobs(&mut creator, &blobs).await?;
    let (bytes, meta) = creator.finish()?;
    let info: Info = meta.info;
    let have = Bitfield::full(info.layout.num_pieces());
    let store = Storage::Blob(Rc::new(BlobStore::new(blobs, info.clone())));
    let start = Start {
        info_hash: info.info_hash,
        info: Some(info),
        have: Some(have),
        storage: Some(store),
        storage_kind: storage::StorageKind::Memory,
        trackers,
        webseeds: Vec::new(),
    };
    if shared.torrent(&start.info_hash).is_some() {
        return Err(WebError::Duplicate);
    }
    Ok(register(shared, start, Some(bytes)))
}

/// Hashes the concatenated blobs piece by piece with WebCrypto; the next
/// piece is read while the current one is hashed.
async fn hash_blobs(creator: &mut TorrentCreator, blobs: &[Blob]) -> Result<(), WebError> {
    let parts: js_sys::Array = blobs.iter().collect();
    let all =
        Blob::new_with_blob_sequence(&parts).map_err(|e| WebError::Storage(js_message(&e)))?;
    let total = creator.total_len();
    let piece_len = creator.piece_len();
    let read = |start: u64| -> Result<Promise, WebError> {
        let end = (start + piece_len).min(total);
        let b = all
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|e| WebError::Storage(js_message(&e)))?;
        Ok(b.array_buffer())
    };
    let mut start = 0;
    let mut next = (total > 0).then(|| read(0)).transpose()?;
    while let Some(p) = next.take() {
        let buf = JsFuture::from(p)
            .await
            .map_err(|e| WebError::Storage(js_message(&e)))?;
        let data = js_sys::Uint8Array::new(&buf);
        let len = u64::from(data.length());
        if start + len < total {
            next = Some(read(start + len)?);
        }
        let h = hash::sha1_js(&data).await;
        creator.add_piece_hash(h, len)?;
        start += len;
    }
    Ok(())
}

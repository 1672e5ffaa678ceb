use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use webswarm_core::picker::Priority;
use webswarm_core::{InfoHash, Magnet, PieceIndex};

use super::options::get;
use crate::error::WebError;
use crate::platform;
use crate::session::driver::{with, Handle};
use crate::session::Shared;

/// One torrent. Cheap to clone on the JS side: every copy drives the same one.
#[wasm_bindgen]
pub struct Torrent {
    shared: Rc<Shared>,
    h: Handle,
    torrent_file: Option<Vec<u8>>,
}

fn set(o: &Object, k: &str, v: JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), &v);
}

impl Torrent {
    pub(crate) fn new(shared: Rc<Shared>, h: Handle, torrent_file: Option<Vec<u8>>) -> Self {
        Torrent {
            shared,
            h,
            torrent_file,
        }
    }

    fn hash(&self) -> InfoHash {
        self.h.borrow().info_hash()
    }

    /// Leaves the swarm and stops the torrent.
    pub(crate) fn stop(&self, keep_record: bool) {
        let hash = self.hash();
        for url in self.h.borrow().trackers.clone() {
            self.shared.tracker(&url).leave(hash, &self.h);
        }
        with(&self.h, |d| d.destroy(keep_record));
        self.shared.torrents.borrow_mut().remove(&hash);
    }
}

/// For Rust code and tests.
impl Torrent {
    pub async fn wait_ready(&self) -> Result<(), WebError> {
        let rx = self.h.borrow_mut().wait_info();
        wait(rx).await
    }

    pub async fn read_range(&self, start: u64, end: u64) -> Result<Uint8Array, WebError> {
        read(&self.h, start as f64, end as f64).await
    }

    /// Connects two torrents of this page directly, signalling in memory
    /// instead of through a tracker: real WebRTC, no server.
    pub async fn connect_direct(&self, other: &Torrent) -> Result<(), WebError> {
        let offer = crate::rtc::create_offer(&self.shared.cfg.rtc).await?;
        let (sdp, pending) = crate::rtc::answer_offer(&other.shared.cfg.rtc, &offer.sdp).await?;
        let ours = offer.connect(&sdp, &self.shared.cfg.rtc).await?;
        let theirs = pending.connected().await?;
        let full = || WebError::Rtc("connection limit reached".into());
        let (slot_a, slot_b) = (
            self.shared.take_slot().ok_or_else(full)?,
            other.shared.take_slot().ok_or_else(full)?,
        );
        let (id_a, id_b) = (self.h.borrow().peer_id(), other.h.borrow().peer_id());
        with(&self.h, |d| d.add_channel(ours, Some(id_b), slot_a, true));
        with(&other.h, |d| {
            d.add_channel(theirs, Some(id_a), slot_b, false)
        });
        Ok(())
    }
}

/// Waits for `rx`, failing if the torrent went away first.
async fn wait(rx: futures_channel::oneshot::Receiver<()>) -> Result<(), WebError> {
    rx.await.map_err(|_| WebError::Destroyed)
}

#[wasm_bindgen]
impl Torrent {
    #[wasm_bindgen(getter, js_name = infoHash)]
    pub fn info_hash(&self) -> String {
        self.hash().to_hex()
    }

    /// Our peer id in this swarm, as hex.
    #[wasm_bindgen(getter, js_name = peerId)]
    pub fn peer_id(&self) -> String {
        self.h.borrow().peer_id().to_hex()
    }

    #[wasm_bindgen(getter, js_name = magnetURI)]
    pub fn magnet_uri(&self) -> String {
        let d = self.h.borrow();
        let mut m = Magnet::new(d.info_hash());
        m.name = d.engine().info().map(|i| i.name.clone());
        m.trackers = d.trackers.clone();
        m.to_uri()
    }

    /// The .torrent file, for torrents made by `seed`.
    #[wasm_bindgen(getter, js_name = torrentFile)]
    pub fn torrent_file(&self) -> Option<Uint8Array> {
        self.torrent_file.as_deref().map(Uint8Array::from)
    }

    /// `null` until the metadata is known.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> Option<String> {
        self.h.borrow().engine().info().map(|i| i.name.clone())
    }

    #[wasm_bindgen(getter)]
    pub fn length(&self) -> Option<f64> {
        self.h
            .borrow()
            .engine()
            .info()
            .map(|i| i.layout.total_len() as f64)
    }

    #[wasm_bindgen(getter, js_name = pieceLength)]
    pub fn piece_length(&self) -> Option<u32> {
        self.h
            .borrow()
            .engine()
            .info()
            .map(|i| i.layout.piece_len())
    }

    /// Verified fraction, 0–1.
    #[wasm_bindgen(getter)]
    pub fn progress(&self) -> f64 {
        self.h.borrow().progress()
    }

    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.h.borrow().engine().is_complete()
    }

    #[wasm_bindgen(getter)]
    pub fn paused(&self) -> bool {
        self.h.borrow().is_paused()
    }

    /// Bytes received from peers (verified or not).
    #[wasm_bindgen(getter)]
    pub fn downloaded(&self) -> f64 {
        self.h.borrow().engine().downloaded() as f64
    }

    #[wasm_bindgen(getter)]
    pub fn uploaded(&self) -> f64 {
        self.h.borrow().engine().uploaded() as f64
    }

    /// Bytes per second, averaged over the last seconds.
    #[wasm_bindgen(getter, js_name = downloadSpeed)]
    pub fn download_speed(&self) -> f64 {
        self.h.borrow().engine().download_rate(platform::now())
    }

    #[wasm_bindgen(getter, js_name = uploadSpeed)]
    pub fn upload_speed(&self) -> f64 {
        self.h.borrow().engine().upload_rate(platform::now())
    }

    /// The part of `downloadSpeed` that comes from webseeds.
    #[wasm_bindgen(getter, js_name = webseedSpeed)]
    pub fn webseed_speed(&self) -> f64 {
        self.h.borrow().engine().webseed_rate(platform::now())
    }

    /// Webseeds in use (one that fails or sends bad data is dropped).
    #[wasm_bindgen(getter, js_name = numWebseeds)]
    pub fn num_webseeds(&self) -> u32 {
        self.h.borrow().engine().webseed_count() as u32
    }

    #[wasm_bindgen(getter, js_name = numPeers)]
    pub fn num_peers(&self) -> u32 {
        self.h.borrow().num_peers() as u32
    }

    /// Peers banned for sending data that failed verification.
    #[wasm_bindgen(getter)]
    pub fn banned(&self) -> u32 {
        self.h.borrow().banned()
    }

    /// Milliseconds from `add` to the first verified piece.
    #[wasm_bindgen(getter, js_name = timeToFirstPiece)]
    pub fn time_to_first_piece(&self) -> Option<f64> {
        self.h.borrow().first_piece_ms()
    }

    /// Pieces already verified when the torrent was added (resumed).
    #[wasm_bindgen(getter)]
    pub fn error(&self) -> Option<String> {
        self.h.borrow().error().map(str::to_owned)
    }

    /// `[{name, path, length, offset}]`, empty until the metadata is known.
    #[wasm_bindgen(getter)]
    pub fn files(&self) -> Array {
        let d = self.h.borrow();
        let Some(info) = d.engine().info() else {
            return Array::new();
        };
        info.files
            .iter()
            .filter(|f| !f.padding)
            .map(|f| {
                let o = Object::new();
                let path = if info.multi_file {
                    format!("{}/{}", info.name, f.path.join("/"))
                } else {
                    info.name.clone()
                };
                let name = f.path.last().cloned().unwrap_or_else(|| info.name.clone());
                set(&o, "name", name.into());
                set(&o, "path", path.into());
                set(&o, "length", (f.length as f64).into());
                set(&o, "offset", (f.offset as f64).into());
                JsValue::from(o)
            })
            .collect()
    }

    /// Receives every event as `(type, detail)`: metadata, progress (0–1),
    /// verified (piece index), done, error (message), warning (message),
    /// peer-connected / peer-disconnected (peer count).
    #[wasm_bindgen(js_name = setListener)]
    pub fn set_listener(&self, f: Option<Function>) {
        self.h.borrow_mut().events.set_listener(f);
    }

    /// Resolves when the metadata is known and storage is open.
    pub fn ready(&self) -> Promise {
        let rx = self.h.borrow_mut().wait_info();
        crate::platform::promise(async move {
            wait(rx).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Bytes `[start, end)` of the torrent, waiting for their pieces and
    /// moving them to the front of the download (streaming).
    pub fn read(&self, start: f64, end: f64) -> Promise {
        let h = self.h.clone();
        crate::platform::promise(async move { Ok(read(&h, start, end).await?.into()) })
    }

    /// Blob parts covering `[start, end)` (disk-backed with OPFS), waiting
    /// for every piece: `new Blob(parts)` then costs no memory.
    #[wasm_bindgen(js_name = blobParts)]
    pub fn blob_parts(&self, start: f64, end: f64) -> Promise {
        let h = self.h.clone();
        crate::platform::promise(async move { Ok(blob_parts(&h, start, end).await?.into()) })
    }

    /// Downloads the file (`true`) or skips it (`false`).
    pub fn select(&self, file: u32, wanted: bool) {
        let prio = if wanted {
            Priority::Normal
        } else {
            Priority::Skip
        };
        with(&self.h, |d| d.set_file_priority(file as usize, prio));
    }

    pub fn pause(&self) {
        let hash = self.hash();
        with(&self.h, |d| d.pause());
        for url in self.h.borrow().trackers.clone() {
            self.shared.tracker(&url).leave(hash, &self.h);
        }
    }

    pub fn resume(&self) {
        with(&self.h, |d| d.resume());
        for url in self.h.borrow().trackers.clone() {
            let t = self.shared.tracker(&url);
            t.join(&self.h);
        }
    }

    /// Leaves the swarm. Options: `removeStorage` (delete what OPFS holds).
    pub fn destroy(&self, options: JsValue) -> Promise {
        let remove = get(&options, "removeStorage").is_some_and(|v| v.is_truthy());
        self.stop(!remove);
        let storage = self.h.borrow().storage();
        crate::platform::promise(async move {
            if let (true, Some(s)) = (remove, storage) {
                s.remove().await?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// The pieces covering `[start, end)`, and the range clamped to the torrent.
fn pieces_of(h: &Handle, start: f64, end: f64) -> Result<(u64, u64, Vec<PieceIndex>), WebError> {
    let d = h.borrow();
    let info = d
        .engine()
        .info()
        .ok_or_else(|| WebError::input("the torrent's metadata is not known yet: await ready()"))?;
    let total = info.layout.total_len();
    if !(start >= 0.0 && end >= start) {
        return Err(WebError::input("read needs 0 <= start <= end"));
    }
    let (s, e) = ((start as u64).min(total), (end as u64).min(total));
    let pieces = info
        .layout
        .pieces_in_range(s, e)
        .filter_map(|i| info.layout.piece(i))
        .collect();
    Ok((s, e, pieces))
}

fn piece_start(h: &Handle, p: PieceIndex) -> u64 {
    h.borrow()
        .engine()
        .info()
        .map_or(0, |i| i.layout.piece_offset(p))
}

async fn read(h: &Handle, start: f64, end: f64) -> Result<Uint8Array, WebError> {
    let (s, e, pieces) = pieces_of(h, start, end)?;
    with(h, |d| d.want_range(s, e));
    let out = Uint8Array::new_with_length((e - s) as u32);
    for p in pieces {
        let rx = h.borrow_mut().wait_piece(p);
        wait(rx).await?;
        let storage = h.borrow().storage().ok_or(WebError::Destroyed)?;
        let data = storage.read_piece(p).await?;
        let p0 = piece_start(h, p);
        let (from, to) = (s.max(p0), e.min(p0 + u64::from(data.length())));
        if from < to {
            let part = data.subarray((from - p0) as u32, (to - p0) as u32);
            out.set(&part, (from - s) as u32);
        }
    }
    Ok(out)
}

async fn blob_parts(h: &Handle, start: f64, end: f64) -> Result<Array, WebError> {
    let (s, e, pieces) = pieces_of(h, start, end)?;
    let parts = Array::new();
    for p in pieces {
        let rx = h.borrow_mut().wait_piece(p);
        wait(rx).await?;
        let storage = h.borrow().storage().ok_or(WebError::Destroyed)?;
        let part = storage.piece_part(p).await?;
        let p0 = piece_start(h, p);
        let len = h
            .borrow()
            .engine()
            .info()
            .map_or(0, |i| u64::from(i.layout.piece_size(p)));
        let (from, to) = (s.max(p0) - p0, e.min(p0 + len) - p0);
        parts.push(&slice_part(&part, from, to, len));
    }
    Ok(parts)
}

/// Trims a Blob or Uint8Array part to `[from, to)` of its piece.
fn slice_part(part: &JsValue, from: u64, to: u64, len: u64) -> JsValue {
    if from == 0 && to == len {
        return part.clone();
    }
    if let Some(b) = part.dyn_ref::<web_sys::Blob>() {
        if let Ok(s) = b.slice_with_f64_and_f64(from as f64, to as f64) {
            return s.into();
        }
    }
    if let Some(u) = part.dyn_ref::<Uint8Array>() {
        return u.subarray(from as u32, to as u32).into();
    }
    part.clone()
}

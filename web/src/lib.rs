//! webswarm-web: the browser peer's WebAssembly module. One instance is one
//! client: core's torrent hosts and tracker clients, driven synchronously.
//! It imports nothing. The JS layer (`web/js/index.js`) does all browser
//! I/O (data channels, WebSockets, OPFS, WebCrypto, fetch, timers), calls
//! these exports with the time in milliseconds and the results, and carries
//! out the ops that [`take`] returns (see [`ops`]).
//!
//! Bytes and text pass through linear memory: the page asks for an input
//! buffer with [`buf`] and writes into it before a call that reads `input`;
//! answers are left in the reply buffer ([`reply_ptr`], [`reply_len`]).

mod app;
mod describe;
mod heap;
pub mod ops;
mod source;

use std::cell::RefCell;

use app::{time, App};
use webswarm_core::Priority;

/// The client. wasm32 without threads: a plain static (`thread_local!`
/// costs 3 KB of code there); elsewhere (native tests) a thread-local.
#[cfg(target_arch = "wasm32")]
mod global {
    use super::*;

    pub struct Global(RefCell<Option<App>>);
    // SAFETY: this module is only built for wasm32-unknown-unknown, which
    // has one thread: the cell is never reached from two threads.
    unsafe impl Sync for Global {}
    pub static APP: Global = Global(RefCell::new(None));

    pub fn with<R>(f: impl FnOnce(&mut App) -> R) -> R {
        f(APP.0.borrow_mut().get_or_insert_with(App::default))
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod global {
    use super::*;

    thread_local! {
        static APP: RefCell<App> = RefCell::new(App::default());
    }

    pub fn with<R>(f: impl FnOnce(&mut App) -> R) -> R {
        APP.with(|a| f(&mut a.borrow_mut()))
    }
}

use global::with;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: heap::Allocator = heap::Allocator::new();

/// Replies with an error message and returns `fail`.
fn answer<T>(a: &mut App, r: Result<T, String>, fail: T) -> T {
    r.unwrap_or_else(|e| {
        a.reply_text(&e);
        fail
    })
}

// ---- memory ----------------------------------------------------------------------

/// Makes the input buffer `len` bytes long; returns where it is.
#[no_mangle]
pub extern "C" fn buf(len: u32) -> u32 {
    with(|a| {
        a.input.clear();
        a.input.resize(len as usize, 0);
        a.input.as_mut_ptr() as u32
    })
}

#[no_mangle]
pub extern "C" fn reply_ptr() -> u32 {
    with(|a| a.reply.as_ptr() as u32)
}

#[no_mangle]
pub extern "C" fn reply_len() -> u32 {
    with(|a| a.reply.len() as u32)
}

/// Runs everything until idle; returns the length of the ops at [`taken_ptr`].
#[no_mangle]
pub extern "C" fn take(now: f64) -> u32 {
    with(|a| a.take(time(now)).len() as u32)
}

#[no_mangle]
pub extern "C" fn taken_ptr() -> u32 {
    with(|a| a.take_ptr())
}

// ---- the client --------------------------------------------------------------------

/// Once, first. Trackers staged before it are added to every torrent.
#[no_mangle]
pub extern "C" fn setup(seed: f64, max_connections: u32, offers_per_announce: u32, max_peers: u32) {
    with(|a| a.setup(seed as u64, max_connections, offers_per_announce, max_peers))
}

/// What [`stage`] stages.
const STAGE_TRACKER: u32 = 1;
const STAGE_WEBSEED: u32 = 2;
const STAGE_INFO: u32 = 3;
const STAGE_HAVE: u32 = 4;
const STAGE_PIECE: u32 = 5;
const STAGE_FILE: u32 = 6;

/// Stages part of the next `start` or `create_begin` from `input`: a
/// tracker or webseed URL, the `info` or `have` record, a piece file
/// index `n`, or a file to seed (path `a/b` of `n` bytes).
#[no_mangle]
pub extern "C" fn stage(kind: u32, n: f64) {
    with(|a| {
        let text = a.input_text().unwrap_or_default().to_owned();
        let s = &mut a.staged;
        match kind {
            STAGE_TRACKER => s.trackers.push(text),
            STAGE_WEBSEED => s.webseeds.push(text),
            STAGE_INFO => s.info = Some(a.input.clone()),
            STAGE_HAVE => s.have = Some(a.input.clone()),
            STAGE_PIECE => s.pieces.push(n as u32),
            STAGE_FILE => {
                let path = text.split('/').filter(|p| !p.is_empty()).map(str::to_owned);
                a.files.push((path.collect(), n as u64));
            }
            _ => {}
        }
    })
}

/// Parses the source in `input` (`text`: a magnet link or info-hash, else
/// .torrent bytes). 1: the reply is its info-hash hex; 0: an error message.
#[no_mangle]
pub extern "C" fn probe(text: u32) -> u32 {
    with(|a| {
        let r = a.probe(text != 0).map(|()| 1);
        answer(a, r, 0)
    })
}

/// Starts the probed torrent; its id, or 0 with an error message.
#[no_mangle]
pub extern "C" fn start(now: f64) -> u32 {
    with(|a| {
        let r = a.start(time(now));
        answer(a, r, 0)
    })
}

/// Begins a torrent of the staged files named `input` (`piece_len` 0:
/// chosen by size); its piece length, or -1 with an error message.
#[no_mangle]
pub extern "C" fn create_begin(piece_len: f64) -> f64 {
    with(|a| {
        let len = (piece_len > 0.0).then_some(piece_len as u64);
        let r = a.create_begin(len).map(|l| l as f64);
        answer(a, r, -1.0)
    })
}

/// The next piece's SHA-1 (in `input`), `len` bytes long; 0 on error.
#[no_mangle]
pub extern "C" fn create_piece(len: f64) -> u32 {
    with(|a| {
        let r = a.create_piece(len as u64).map(|()| 1);
        answer(a, r, 0)
    })
}

/// Seeds the torrent made; its id (the reply holds the .torrent), or 0.
#[no_mangle]
pub extern "C" fn create_finish(now: f64) -> u32 {
    with(|a| {
        let r = a.create_finish(time(now));
        answer(a, r, 0)
    })
}

/// Stops every torrent and closes the tracker sockets.
#[no_mangle]
pub extern "C" fn destroy(now: f64) {
    with(|a| a.destroy(time(now)))
}

/// Trackers as JSON `[{url, connected, error}]` in the reply.
#[no_mangle]
pub extern "C" fn trackers() {
    with(App::tracker_status)
}

/// SHA-1 of `input` into the reply (where WebCrypto is missing).
#[no_mangle]
pub extern "C" fn sha1() {
    with(|a| a.reply = webswarm_core::sha1(&a.input).to_vec())
}

// ---- one torrent -----------------------------------------------------------------------

/// A stream reads bytes `start..end` now.
#[no_mangle]
pub extern "C" fn want(now: f64, t: u32, start: f64, end: f64) {
    with(|a| {
        if let Some(h) = a.host(t) {
            h.want_range(time(now), start as u64, end as u64)
        }
    })
}

/// Downloads file `file` (`wanted`) or skips it.
#[no_mangle]
pub extern "C" fn select(now: f64, t: u32, file: u32, wanted: u32) {
    let prio = match wanted {
        0 => Priority::Skip,
        _ => Priority::Normal,
    };
    with(|a| {
        if let Some(h) = a.host(t) {
            h.set_file_priority(time(now), file as usize, prio)
        }
    })
}

#[no_mangle]
pub extern "C" fn pause(now: f64, t: u32) {
    with(|a| a.pause(time(now), t))
}

#[no_mangle]
pub extern "C" fn resume(now: f64, t: u32) {
    with(|a| a.resume(time(now), t))
}

/// Leaves the swarms; `keep_record` 0 when storage is about to be deleted.
#[no_mangle]
pub extern "C" fn stop(now: f64, t: u32, keep_record: u32) {
    with(|a| a.stop(time(now), t, keep_record != 0))
}

/// Writes the torrent's numbers (see `describe::stats`); 0 if it is gone.
#[no_mangle]
pub extern "C" fn stats(now: f64, t: u32) -> u32 {
    with(|a| {
        let App { stats, .. } = a;
        let mut out = std::mem::take(stats);
        let found = a
            .host_ref(t)
            .map(|h| describe::stats(h, time(now), &mut out));
        a.stats = out;
        u32::from(found.is_some())
    })
}

#[no_mangle]
pub extern "C" fn stats_ptr() -> u32 {
    with(|a| a.stats.as_ptr() as u32)
}

/// The torrent's description as JSON in the reply; 0 if it is gone.
#[no_mangle]
pub extern "C" fn meta(t: u32) -> u32 {
    with(|a| {
        let urls = a.urls(t);
        let Some(m) = a.host_ref(t).map(|h| describe::meta(h, &urls)) else {
            return 0;
        };
        a.reply_text(&m);
        1
    })
}

/// Whether piece `piece` is verified.
#[no_mangle]
pub extern "C" fn has(t: u32, piece: u32) -> u32 {
    with(|a| {
        let have = a.host_ref(t).and_then(|h| h.have());
        u32::from(have.is_some_and(|b| b.get(piece)))
    })
}

// ---- storage, hashing, HTTP answers ------------------------------------------------------

/// Storage opened (`ok`), or failed with the message in `input`.
#[no_mangle]
pub extern "C" fn opened(now: f64, t: u32, ok: u32) {
    with(|a| {
        let r = match ok {
            0 => Err(a.input_text().unwrap_or("storage failed").to_owned()),
            _ => Ok(()),
        };
        if let Some(h) = a.host(t) {
            h.handle_storage_opened(time(now), r);
        }
    })
}

/// A stored piece read. `result`: 1, its bytes are in `input`; 2, it is
/// gone from storage; 0, reading failed (the reason in `input`).
#[no_mangle]
pub extern "C" fn piece_read(now: f64, t: u32, piece: u32, result: u32) {
    with(|a| a.piece_read(time(now), t, piece, result))
}

/// A piece hashed (and stored if right).
#[no_mangle]
pub extern "C" fn checked(now: f64, t: u32, piece: u32, ok: u32) {
    with(|a| {
        if let Some(h) = a.host(t) {
            if let Some(p) = h.info().and_then(|i| i.layout.piece(piece)) {
                h.handle_piece_checked(time(now), p, ok != 0);
            }
        }
    })
}

/// Storage failed (message in `input`): the download stops.
#[no_mangle]
pub extern "C" fn storage_failed(now: f64, t: u32) {
    with(|a| {
        let msg = a.input_text().unwrap_or("storage failed").to_owned();
        if let Some(h) = a.host(t) {
            h.handle_storage_failed(time(now), msg);
        }
    })
}

/// The resume record was written (`ok`), or not (message in `input`).
#[no_mangle]
pub extern "C" fn saved(now: f64, t: u32, ok: u32) {
    with(|a| {
        let r = match ok {
            0 => Err(a.input_text().unwrap_or("cannot save").to_owned()),
            _ => Ok(()),
        };
        if let Some(h) = a.host(t) {
            h.handle_resume_saved(time(now), r);
        }
    })
}

/// A webseed fetch finished (`ok`: the bytes are in `input`; else the reason).
#[no_mangle]
pub extern "C" fn fetched(now: f64, t: u32, webseed: u32, piece: u32, offset: u32, ok: u32) {
    with(|a| {
        let r = match ok {
            0 => Err(a.input_text().unwrap_or_default().to_owned()),
            _ => Ok(bytes::Bytes::copy_from_slice(&a.input)),
        };
        if let Some(h) = a.host(t) {
            if let Some(p) = h.info().and_then(|i| i.layout.piece(piece)) {
                let key = webswarm_core::PeerKey(u64::from(webseed));
                h.handle_fetched(time(now), key, p, offset, r);
            }
        }
    })
}

// ---- WebRTC and tracker sockets ---------------------------------------------------------

#[no_mangle]
pub extern "C" fn offer_made(now: f64, h: u32, ok: u32) {
    with(|a| a.offer_made(time(now), h, ok != 0))
}

#[no_mangle]
pub extern "C" fn answer_made(h: u32, ok: u32) {
    with(|a| a.answer_made(h, ok != 0))
}

#[no_mangle]
pub extern "C" fn rtc_open(now: f64, h: u32) {
    with(|a| a.rtc_open(time(now), h))
}

#[no_mangle]
pub extern "C" fn rtc_data(now: f64, h: u32) {
    with(|a| a.rtc_data(time(now), h))
}

#[no_mangle]
pub extern "C" fn rtc_writable(now: f64, h: u32, writable: u32) {
    with(|a| a.rtc_writable(time(now), h, writable != 0))
}

#[no_mangle]
pub extern "C" fn rtc_closed(now: f64, h: u32) {
    with(|a| a.rtc_closed(time(now), h))
}

#[no_mangle]
pub extern "C" fn ws_opened(now: f64, r: u32) {
    with(|a| a.ws_opened(time(now), r))
}

#[no_mangle]
pub extern "C" fn ws_message(now: f64, r: u32) {
    with(|a| a.ws_message(time(now), r))
}

#[no_mangle]
pub extern "C" fn ws_closed(now: f64, r: u32) {
    with(|a| a.ws_closed(time(now), r))
}

// ---- time ----------------------------------------------------------------------------------

#[no_mangle]
pub extern "C" fn tick(now: f64) {
    with(|a| a.tick(time(now)))
}

/// Milliseconds until [`tick`] has work; -1: none.
#[no_mangle]
pub extern "C" fn next_timer(now: f64) -> f64 {
    with(|a| a.next_timer(time(now)))
}

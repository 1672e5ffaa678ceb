//! The WebSocket tracker client: one socket per tracker URL, shared by every
//! torrent of the client (as WebTorrent does). It announces each torrent,
//! sends offers made lazily when an announce goes out, answers offers the
//! tracker relays, and reconnects with backoff and jitter.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, WebSocket};
use webswarm_core::host::{backoff, lonely_wait};
use webswarm_core::vec_map::VecMap;
use webswarm_core::{InfoHash, PeerId};
use webswarm_tracker_proto::{AnnounceEvent, OfferId};

mod messages;
use messages::{Announce, Incoming};

use crate::platform::{self, Interval};
use crate::rtc;
use crate::session::driver::{with, Handle};
use crate::session::{Shared, Slot};

/// Unanswered offers are dropped after this long (WebTorrent's figure).
const OFFER_TTL_MS: f64 = 50_000.0;
/// Re-announce interval until the tracker names one.
const DEFAULT_INTERVAL_MS: f64 = 120_000.0;
/// The shortest interval a tracker may set (a downloader with no peers
/// announces sooner, on [`lonely_wait`]).
const MIN_INTERVAL_MS: f64 = 8_000.0;
const RECONNECT_MAX: Duration = Duration::from_secs(60);
const TICK_MS: i32 = 1000;

struct Joined {
    torrent: Weak<RefCell<crate::session::Driver>>,
    next_announce: f64,
    interval_ms: f64,
    /// Announces in a row made while it had no peers ([`lonely_wait`]).
    lonely_retries: u32,
    started: bool,
}

struct PendingOffer {
    offer: rtc::Offer,
    info_hash: InfoHash,
    created: f64,
    slot: Slot,
}

struct Socket {
    ws: WebSocket,
    open: bool,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

#[derive(Default)]
struct State {
    socket: Option<Socket>,
    failures: u32,
    reconnect_at: f64,
    torrents: VecMap<InfoHash, Joined>,
    offers: VecMap<OfferId, PendingOffer>,
    last_error: Option<String>,
}

pub struct Tracker {
    url: String,
    shared: Weak<Shared>,
    me: Weak<Tracker>,
    st: RefCell<State>,
    _tick: RefCell<Option<Interval>>,
}

impl Tracker {
    pub fn start(url: &str, shared: Weak<Shared>) -> Rc<Tracker> {
        let t = Rc::new_cyclic(|me: &Weak<Tracker>| Tracker {
            url: url.to_owned(),
            shared,
            me: me.clone(),
            st: RefCell::default(),
            _tick: RefCell::new(None),
        });
        let weak = t.me.clone();
        *t._tick.borrow_mut() = Some(Interval::new(TICK_MS, move || {
            if let Some(t) = weak.upgrade() {
                t.tick();
            }
        }));
        t.connect();
        t
    }

    pub fn is_connected(&self) -> bool {
        self.st.borrow().socket.as_ref().is_some_and(|s| s.open)
    }

    pub fn last_error(&self) -> Option<String> {
        self.st.borrow().last_error.clone()
    }

    /// Starts announcing a torrent.
    pub fn join(&self, handle: &Handle) {
        let hash = handle.borrow().info_hash();
        self.st.borrow_mut().torrents.insert(
            hash,
            Joined {
                torrent: Rc::downgrade(handle),
                next_announce: 0.0,
                interval_ms: DEFAULT_INTERVAL_MS,
                lonely_retries: 0,
                started: false,
            },
        );
        self.announce_due();
    }

    /// Stops announcing a torrent and tells the tracker.
    pub fn leave(&self, hash: InfoHash, handle: &Handle) {
        let joined = self.st.borrow_mut().torrents.remove(&hash);
        if joined.is_some_and(|j| j.started) {
            self.send_announce(handle, Some(AnnounceEvent::Stopped), &[]);
        }
    }

    pub fn completed(&self, hash: InfoHash) {
        let handle = self
            .st
            .borrow()
            .torrents
            .get(&hash)
            .and_then(|j| j.torrent.upgrade());
        if let Some(h) = handle {
            self.send_announce(&h, Some(AnnounceEvent::Completed), &[]);
        }
    }

    // ---- socket -------------------------------------------------------------------

    fn connect(&self) {
        let ws = match WebSocket::new(&self.url) {
            Ok(ws) => ws,
            Err(e) => {
                self.st.borrow_mut().last_error = Some(crate::error::js_message(&e));
                self.socket_lost();
                return;
            }
        };
        let (a, b, c) = (self.me.clone(), self.me.clone(), self.me.clone());
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(t) = a.upgrade() {
                t.socket_open();
            }
        });
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let Some(t) = b.upgrade() else { return };
            if let Some(text) = e.unchecked_into::<MessageEvent>().data().as_string() {
                t.on_message(&text);
            }
        });
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if let Some(t) = c.upgrade() {
                t.socket_lost();
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_close.as_ref().unchecked_ref()));
        self.st.borrow_mut().socket = Some(Socket {
            ws,
            open: false,
            _handlers: [on_open, on_message, on_close],
        });
    }

    fn socket_open(&self) {
        {
            let mut st = self.st.borrow_mut();
            st.failures = 0;
            st.last_error = None;
            if let Some(s) = st.socket.as_mut() {
                s.open = true;
            }
            // A new socket: every torrent joins again.
            for j in st.torrents.values_mut() {
                j.next_announce = 0.0;
                j.started = false;
            }
        }
        self.announce_due();
    }

    fn socket_lost(&self) {
        let mut st = self.st.borrow_mut();
        if let Some(s) = st.socket.take() {
            detach(&s.ws);
            s.ws.close().ok();
            // This may run inside one of the socket's own handlers.
            crate::platform::spawn(async move { drop(s) });
        }
        st.failures += 1;
        if st.last_error.is_none() {
            st.last_error = Some(format!("cannot reach the tracker {}", self.url));
        }
        let wait = backoff(st.failures, RECONNECT_MAX, platform::random_u64());
        st.reconnect_at = platform::now_ms() + wait.as_secs_f64() * 1000.0;
    }

    fn send(&self, json: &str) {
        if let Some(s) = self.st.borrow().socket.as_ref().filter(|s| s.open) {
            let _ = s.ws.send_with_str(json);
        }
    }

    // ---- announcing -------------------------------------------------------------------

    fn tick(&self) {
        let now = platform::now_ms();
        let reconnect = {
            let mut st = self.st.borrow_mut();
            // Unanswered offers hold connection slots: let them go.
            st.offers.retain(|_, o| {
                let keep = now - o.created < OFFER_TTL_MS;
                if !keep {
                    o.offer.close();
                }
                keep
            });
            st.torrents.retain(|_, j| j.torrent.strong_count() > 0);
            st.socket.is_none() && now >= st.reconnect_at
        };
        if reconnect {
            self.connect();
        }
        self.announce_due();
    }

    fn announce_due(&self) {
        if !self.is_connected() {
            return;
        }
        let now = platform::now_ms();
        let due: Vec<(Handle, bool)> = {
            let mut st = self.st.borrow_mut();
            st.torrents
                .values_mut()
                .filter(|j| now >= j.next_announce)
                .filter_map(|j| {
                    let h = j.torrent.upgrade()?;
                    let d = h.borrow();
                    if d.is_paused() || d.is_destroyed() {
                        return None;
                    }
                    let lonely = d.num_peers() == 0 && !d.engine().is_complete();
                    j.next_announce = now
                        + if lonely {
                            let wait = lonely_wait(j.lonely_retries);
                            j.lonely_retries = j.lonely_retries.saturating_add(1);
                            wait.as_secs_f64() * 1000.0
                        } else {
                            j.lonely_retries = 0;
                            j.interval_ms
                        };
                    let first = !j.started;
                    j.started = true;
                    drop(d);
                    Some((h, first))
                })
                .collect()
        };
        for (h, first) in due {
            if first {
                // Join at once; offers follow when they are ready.
                self.send_announce(&h, Some(AnnounceEvent::Started), &[]);
            }
            self.announce_with_offers(h);
        }
    }

    fn send_announce(
        &self,
        h: &Handle,
        event: Option<AnnounceEvent>,
        offers: &[(OfferId, String)],
    ) {
        let json = {
            let d = h.borrow();
            let e = d.engine();
            messages::announce(&Announce {
                info_hash: e.info_hash(),
                peer_id: e.peer_id(),
                uploaded: e.uploaded(),
                downloaded: e.downloaded(),
                left: e.bytes_left(),
                event,
                offers,
            })
        };
        self.send(&json);
    }

    /// Makes offers (as many as the connection budget allows, up to the
    /// configured number) and announces them in one message.
    fn announce_with_offers(&self, h: Handle) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if !h.borrow().wants_peers() {
            return;
        }
        let n = shared.cfg.offers_per_announce.min(shared.free_slots());
        if n == 0 {
            return;
        }
        let made: Rc<RefCell<Vec<(rtc::Offer, Slot)>>> = Rc::default();
        let promises = Array::new();
        for _ in 0..n {
            let Some(slot) = shared.take_slot() else {
                break;
            };
            let cfg = shared.cfg.rtc.clone();
            let made = made.clone();
            promises.push(&crate::platform::promise(async move {
                if let Ok(o) = rtc::create_offer(&cfg).await {
                    made.borrow_mut().push((o, slot));
                }
                Ok(JsValue::UNDEFINED)
            }));
        }
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let _ = JsFuture::from(Promise::all(&promises)).await;
            let Some(t) = me.upgrade() else { return };
            let hash = h.borrow().info_hash();
            let now = platform::now_ms();
            let mut offers = Vec::new();
            {
                let mut st = t.st.borrow_mut();
                for (offer, slot) in made.take() {
                    let id = OfferId(platform::random_id());
                    offers.push((id, offer.sdp.clone()));
                    st.offers.insert(
                        id,
                        PendingOffer {
                            offer,
                            info_hash: hash,
                            created: now,
                            slot,
                        },
                    );
                }
            }
            if !offers.is_empty() {
                t.send_announce(&h, None, &offers);
            }
        });
    }

    // ---- relayed messages -------------------------------------------------------------

    fn on_message(&self, text: &str) {
        match messages::parse(text) {
            Some(Incoming::Announced {
                info_hash,
                interval,
            }) => {
                if let Some(j) = self.st.borrow_mut().torrents.get_mut(&info_hash) {
                    j.interval_ms = (f64::from(interval) * 1000.0).max(MIN_INTERVAL_MS);
                }
            }
            Some(Incoming::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            }) => self.on_offer(info_hash, peer_id, offer_id, sdp),
            Some(Incoming::Answer {
                peer_id,
                offer_id,
                sdp,
            }) => self.on_answer(peer_id, offer_id, sdp),
            Some(Incoming::Failure(reason)) => {
                self.st.borrow_mut().last_error = Some(format!("tracker {}: {reason}", self.url));
            }
            None => {}
        }
    }

    fn on_offer(&self, info_hash: InfoHash, remote: PeerId, offer_id: OfferId, offer_sdp: String) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let Some(h) = shared.torrent(&info_hash) else {
            return;
        };
        let our_id = h.borrow().peer_id();
        if remote == our_id || !h.borrow().wants_peers() {
            return;
        }
        let Some(slot) = shared.take_slot() else {
            return;
        };
        let cfg = shared.cfg.rtc.clone();
        let me = self.me.clone();
        crate::platform::spawn(async move {
            let Ok((sdp, pending)) = rtc::answer_offer(&cfg, &offer_sdp).await else {
                return;
            };
            if let Some(t) = me.upgrade() {
                t.send(&messages::answer(info_hash, our_id, remote, offer_id, &sdp));
            }
            if let Ok(ch) = pending.connected().await {
                with(&h, |d| d.add_channel(ch, Some(remote), slot, false));
            }
        });
    }

    fn on_answer(&self, remote: PeerId, offer_id: OfferId, answer_sdp: String) {
        let Some(pending) = self.st.borrow_mut().offers.remove(&offer_id) else {
            return;
        };
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let Some(h) = shared.torrent(&pending.info_hash) else {
            return;
        };
        let cfg = shared.cfg.rtc.clone();
        crate::platform::spawn(async move {
            let PendingOffer { offer, slot, .. } = pending;
            if let Ok(ch) = offer.connect(&answer_sdp, &cfg).await {
                with(&h, |d| d.add_channel(ch, Some(remote), slot, true));
            }
        });
    }
}

fn detach(ws: &WebSocket) {
    ws.set_onopen(None);
    ws.set_onmessage(None);
    ws.set_onclose(None);
    ws.set_onerror(None);
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let st = self.st.get_mut();
        for o in st.offers.values() {
            o.offer.close();
        }
        if let Some(s) = st.socket.take() {
            detach(&s.ws);
            s.ws.close().ok();
            crate::platform::spawn(async move { drop(s) });
        }
    }
}

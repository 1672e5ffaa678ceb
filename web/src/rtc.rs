//! WebRTC peer connections with one data channel each, signalled the way
//! WebTorrent does it: a complete SDP per offer and answer (no trickle),
//! gathered within a bounded wait.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelType, RtcPeerConnection,
    RtcSdpType, RtcSessionDescriptionInit,
};

use crate::error::{js_message, WebError};
use crate::platform;

// Promise glue: wasm-bindgen closures cannot be dropped from inside the
// promise executor cleanly, so the few event-to-promise adapters are JS.
#[wasm_bindgen(inline_js = r#"
export function gatherDone(pc, ms) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
}
// A message event with no listener is lost, and the remote's first message
// (its handshake) can arrive before Rust attaches its handler a few tasks
// later; on the offering side even before `setRemoteDescription`'s promise
// has been seen to resolve. The decoder then saw a stream without a handshake
// and closed the connection: 2 to 7 of 25 first browser <-> browser
// connections. Messages are kept from the channel's creation and handed over
// on attach.
const early = new WeakMap();
export function keepEarly(ch) {
  if (early.has(ch)) return;
  const kept = [];
  const keep = (e) => kept.push(e.data);
  ch.addEventListener('message', keep);
  early.set(ch, () => {
    ch.removeEventListener('message', keep);
    for (const data of kept) ch.dispatchEvent(new MessageEvent('message', { data }));
    if (ch.readyState === 'closed') ch.dispatchEvent(new Event('close'));
  });
}
// Runs after the current task's code (no message task can come between), and
// outside the caller's borrows.
export function handOverEarly(ch) {
  const f = early.get(ch);
  if (f) { early.delete(ch); queueMicrotask(f); }
}
export function channelOpen(pc, dc, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the connection did not open within ' + ms + ' ms')), ms);
    const ready = (ch) => {
      ch.binaryType = 'arraybuffer';
      keepEarly(ch);
      if (ch.readyState === 'open') { clearTimeout(t); resolve(ch); return; }
      ch.addEventListener('open', () => { clearTimeout(t); resolve(ch); }, { once: true });
    };
    if (dc) ready(dc); else pc.addEventListener('datachannel', (e) => ready(e.channel), { once: true });
    pc.addEventListener('connectionstatechange', () => {
      const s = pc.connectionState;
      if (s === 'failed' || s === 'closed') { clearTimeout(t); reject(new Error('the connection ' + s)); }
    });
  });
}
export function maxMessageSize(pc) {
  const s = pc.sctp;
  return s && s.maxMessageSize ? s.maxMessageSize : 0;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = gatherDone)]
    fn gather_done(pc: &RtcPeerConnection, ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = channelOpen)]
    fn channel_open(pc: &RtcPeerConnection, dc: Option<RtcDataChannel>, ms: u32)
        -> js_sys::Promise;
    #[wasm_bindgen(js_name = maxMessageSize)]
    fn max_message_size(pc: &RtcPeerConnection) -> f64;
    #[wasm_bindgen(js_name = keepEarly)]
    fn keep_early(dc: &RtcDataChannel);
    #[wasm_bindgen(js_name = handOverEarly)]
    fn hand_over_early(dc: &RtcDataChannel);
}

/// Largest message sent when the remote does not say (RFC 8841's default).
const DEFAULT_MAX_MESSAGE: usize = 64 << 10;
/// Never send more than this in one message, whatever the remote allows.
const MAX_MESSAGE: usize = 256 << 10;

/// How connections are made.
#[derive(Clone)]
pub struct RtcConfig {
    /// The `iceServers` array of RTCConfiguration (STUN/TURN).
    pub ice_servers: Array,
    pub gather_timeout_ms: u32,
    pub connect_timeout_ms: u32,
}

impl RtcConfig {
    fn new_pc(&self) -> Result<RtcPeerConnection, WebError> {
        let cfg = RtcConfiguration::new();
        cfg.set_ice_servers(&self.ice_servers);
        RtcPeerConnection::new_with_configuration(&cfg).map_err(rtc_err)
    }
}

fn rtc_err(e: JsValue) -> WebError {
    WebError::Rtc(js_message(&e))
}

/// Our offer, waiting for its answer. Dropped unanswered, it closes.
pub struct Offer {
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    pub sdp: String,
    handed_off: Cell<bool>,
}

pub async fn create_offer(cfg: &RtcConfig) -> Result<Offer, WebError> {
    let pc = cfg.new_pc()?;
    let label = webswarm_core::util::hex_encode(&platform::random_id());
    let dc = pc.create_data_channel(&label);
    dc.set_binary_type(RtcDataChannelType::Arraybuffer);
    keep_early(&dc);
    let offer = JsFuture::from(pc.create_offer()).await.map_err(rtc_err)?;
    let init: RtcSessionDescriptionInit = offer.unchecked_into();
    JsFuture::from(pc.set_local_description(&init))
        .await
        .map_err(rtc_err)?;
    let sdp = gathered_sdp(&pc, cfg.gather_timeout_ms).await?;
    Ok(Offer {
        pc,
        dc,
        sdp,
        handed_off: Cell::new(false),
    })
}

impl Offer {
    /// Applies the remote's answer and waits for the channel to open.
    pub async fn connect(self, answer_sdp: &str, cfg: &RtcConfig) -> Result<Channel, WebError> {
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        init.set_sdp(answer_sdp);
        JsFuture::from(self.pc.set_remote_description(&init))
            .await
            .map_err(rtc_err)?;
        let open = channel_open(&self.pc, Some(self.dc.clone()), cfg.connect_timeout_ms);
        match JsFuture::from(open).await {
            Ok(_) => {
                self.handed_off.set(true);
                Ok(Channel::new(self.pc.clone(), self.dc.clone(), false))
            }
            Err(e) => Err(rtc_err(e)),
        }
    }

    pub fn close(&self) {
        self.dc.close();
        self.pc.close();
    }
}

impl Drop for Offer {
    fn drop(&mut self) {
        if !self.handed_off.get() {
            self.close();
        }
    }
}

/// Answers a remote offer; the returned SDP goes back through the tracker
/// and the future opens the channel.
pub async fn answer_offer(
    cfg: &RtcConfig,
    offer_sdp: &str,
) -> Result<(String, PendingAnswer), WebError> {
    let pc = cfg.new_pc()?;
    let fail = |e| {
        pc.close();
        rtc_err(e)
    };
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(offer_sdp);
    JsFuture::from(pc.set_remote_description(&init))
        .await
        .map_err(fail)?;
    // Listen for the channel before anything can deliver it.
    let open = channel_open(&pc, None, cfg.connect_timeout_ms);
    let answer = JsFuture::from(pc.create_answer()).await.map_err(fail)?;
    let init: RtcSessionDescriptionInit = answer.unchecked_into();
    JsFuture::from(pc.set_local_description(&init))
        .await
        .map_err(fail)?;
    let sdp = gathered_sdp(&pc, cfg.gather_timeout_ms).await?;
    Ok((sdp, PendingAnswer { pc, open }))
}

pub struct PendingAnswer {
    pc: RtcPeerConnection,
    open: js_sys::Promise,
}

impl PendingAnswer {
    pub async fn connected(self) -> Result<Channel, WebError> {
        match JsFuture::from(self.open).await {
            Ok(dc) => Ok(Channel::new(self.pc, dc.unchecked_into(), true)),
            Err(e) => {
                self.pc.close();
                Err(rtc_err(e))
            }
        }
    }
}

async fn gathered_sdp(pc: &RtcPeerConnection, timeout_ms: u32) -> Result<String, WebError> {
    let _ = JsFuture::from(gather_done(pc, timeout_ms)).await;
    let desc = pc
        .local_description()
        .ok_or_else(|| WebError::Rtc("no local description after gathering".into()))?;
    // WebTorrent strips this line: the SDP already holds every candidate.
    Ok(desc.sdp().replace("a=ice-options:trickle\r\n", ""))
}

/// What a channel reports to its owner.
pub struct ChannelEvents {
    pub on_data: Box<dyn FnMut(Vec<u8>)>,
    pub on_close: Box<dyn FnMut()>,
    /// The send buffer drained below `LOW_WATER`.
    pub on_writable: Box<dyn FnMut()>,
}

/// Above this many buffered bytes the peer counts as unwritable.
pub const HIGH_WATER: u32 = 1 << 20;
const LOW_WATER: u32 = 256 << 10;

/// An open data channel and its peer connection. Dropping it closes both.
pub struct Channel {
    pc: RtcPeerConnection,
    dc: RtcDataChannel,
    max_message: usize,
    handlers: Option<Handlers>,
    closed: Rc<Cell<bool>>,
    /// On the answering side, what we send before the remote's first message
    /// arrives. Chromium's offering side drops data that reaches it before it
    /// has taken our DCEP ACK (its channel is not open yet): our handshake,
    /// sent at once, was lost in 1 of 40 and 1 of 50 first connections, and
    /// the offerer closed the stream that began without it. The offerer sends
    /// only once open, so its first message proves our data will be taken.
    held: Rc<RefCell<Option<Vec<u8>>>>,
}

struct Handlers {
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut()>,
    _low: Closure<dyn FnMut()>,
}

impl Channel {
    /// `answering`: we answered the remote's offer (see `held`).
    fn new(pc: RtcPeerConnection, dc: RtcDataChannel, answering: bool) -> Self {
        let remote_max = max_message_size(&pc) as usize;
        let max_message = if remote_max == 0 {
            DEFAULT_MAX_MESSAGE
        } else {
            remote_max.min(MAX_MESSAGE)
        };
        dc.set_buffered_amount_low_threshold(LOW_WATER);
        Channel {
            pc,
            dc,
            max_message,
            handlers: None,
            closed: Rc::default(),
            held: Rc::new(RefCell::new(answering.then(Vec::new))),
        }
    }

    /// Starts delivering events. Callbacks run from the browser's event loop.
    pub fn attach(&mut self, ev: ChannelEvents) {
        let ChannelEvents {
            mut on_data,
            mut on_close,
            on_writable,
        } = ev;
        let closed = self.closed.clone();
        let (held, dc, max_message) = (self.held.clone(), self.dc.clone(), self.max_message);
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(bytes) = held.take() {
                send_chunks(&dc, max_message, &bytes);
            }
            if let Ok(buf) = e.data().dyn_into::<ArrayBuffer>() {
                on_data(Uint8Array::new(&buf).to_vec());
            } else if let Some(s) = e.data().as_string() {
                // Peers must send binary; a string is still bytes to the decoder.
                on_data(s.into_bytes());
            }
        });
        let close = Closure::<dyn FnMut()>::new(move || {
            if !closed.replace(true) {
                on_close();
            }
        });
        let low = Closure::<dyn FnMut()>::new(on_writable);
        self.dc
            .set_onmessage(Some(message.as_ref().unchecked_ref()));
        self.dc.set_onclose(Some(close.as_ref().unchecked_ref()));
        self.dc.set_onerror(Some(close.as_ref().unchecked_ref()));
        self.dc
            .set_onbufferedamountlow(Some(low.as_ref().unchecked_ref()));
        self.handlers = Some(Handlers {
            _message: message,
            _close: close,
            _low: low,
        });
        hand_over_early(&self.dc);
    }

    /// The largest message the remote takes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Queues bytes; returns `false` when the send buffer is now above its
    /// high-water mark (the caller stops reading blocks for this peer).
    pub fn send(&self, data: &[u8]) -> bool {
        if let Some(held) = self.held.borrow_mut().as_mut() {
            held.extend_from_slice(data);
            return held.len() <= HIGH_WATER as usize;
        }
        send_chunks(&self.dc, self.max_message, data)
    }
}

/// Sends `data` in messages of at most `max_message` bytes; `false` when the
/// send buffer is above its high-water mark (or the channel refused).
fn send_chunks(dc: &RtcDataChannel, max_message: usize, data: &[u8]) -> bool {
    for chunk in data.chunks(max_message) {
        if dc.send_with_u8_array(chunk).is_err() {
            return false;
        }
    }
    dc.buffered_amount() <= HIGH_WATER
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.dc.set_onmessage(None);
        self.dc.set_onclose(None);
        self.dc.set_onerror(None);
        self.dc.set_onbufferedamountlow(None);
        self.dc.close();
        self.pc.close();
        // The drop may happen inside one of these very callbacks (a peer's
        // bad bytes close it): free them after the current task instead.
        if let Some(h) = self.handlers.take() {
            crate::platform::spawn(async move { drop(h) });
        }
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use wasm_bindgen_test::*;

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    fn config() -> RtcConfig {
        RtcConfig {
            ice_servers: Array::new(),
            gather_timeout_ms: 3000,
            connect_timeout_ms: 10_000,
        }
    }

    /// An offering and an answering channel of one page, connected.
    async fn pair() -> (Channel, Channel) {
        let cfg = config();
        let offer = create_offer(&cfg).await.expect("offer");
        let (sdp, pending) = answer_offer(&cfg, &offer.sdp).await.expect("answer");
        // The answering side opens on its own (JS drives it): one at a time.
        let offering = offer.connect(&sdp, &cfg).await.expect("offer side opens");
        let answering = pending.connected().await.expect("answer side opens");
        (offering, answering)
    }

    /// Attaches handlers that collect what arrives.
    fn collect(ch: &mut Channel) -> Rc<RefCell<Vec<u8>>> {
        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = got.clone();
        ch.attach(ChannelEvents {
            on_data: Box::new(move |d| sink.borrow_mut().extend_from_slice(&d)),
            on_close: Box::new(|| {}),
            on_writable: Box::new(|| {}),
        });
        got
    }

    async fn wait_for(got: &Rc<RefCell<Vec<u8>>>, want: &[u8]) {
        for _ in 0..200 {
            if got.borrow().as_slice() == want {
                return;
            }
            crate::platform::sleep(10.0).await;
        }
        panic!("expected {want:?}, got {:?}", got.borrow());
    }

    #[wasm_bindgen_test]
    async fn the_answering_side_sends_nothing_until_the_offerer_has_spoken() {
        let (mut offering, mut answering) = pair().await;
        let at_offerer = collect(&mut offering);
        let at_answerer = collect(&mut answering);
        answering.send(b"answerer first");
        crate::platform::sleep(300.0).await;
        assert!(
            at_offerer.borrow().is_empty(),
            "held until the offerer spoke"
        );
        offering.send(b"hello");
        wait_for(&at_answerer, b"hello").await;
        wait_for(&at_offerer, b"answerer first").await;
    }

    #[wasm_bindgen_test]
    async fn messages_that_arrive_before_the_handler_are_kept() {
        let (mut offering, mut answering) = pair().await;
        let at_answerer = collect(&mut answering);
        offering.send(b"hello");
        wait_for(&at_answerer, b"hello").await;
        answering.send(b"reply");
        // The reply reaches the offering side while nothing listens there.
        crate::platform::sleep(300.0).await;
        let at_offerer = collect(&mut offering);
        wait_for(&at_offerer, b"reply").await;
    }
}

//! HTTP for webseeds (BEP 19): carries out the engine's `Fetch` with the
//! page's `fetch` and `Range` headers, at most [`PER_HOST`] requests per host
//! across every torrent of the page.

use std::cell::RefCell;
use std::collections::VecDeque;

use futures_channel::oneshot;
use js_sys::Uint8Array;
use wasm_bindgen_futures::JsFuture;
use webswarm_core::vec_map::VecMap;
use webswarm_core::webseed::RangeRequest;

use crate::error::{js_message, WebError};
use crate::http::fetch_range;

/// Requests in flight to one host (browsers open at most 6 connections per host).
const PER_HOST: usize = 4;

/// Per host: requests in flight, and the ones waiting for a turn.
type Hosts = VecMap<String, (usize, VecDeque<oneshot::Sender<()>>)>;

thread_local! {
    static HOSTS: RefCell<Hosts> = RefCell::new(VecMap::new());
}

/// A turn to talk to one host; dropping it lets the next waiter go.
struct Turn(String);

impl Turn {
    async fn take(url: &str) -> Turn {
        let host = url.split('/').take(3).collect::<Vec<_>>().join("/");
        let wait = HOSTS.with(|h| {
            let mut h = h.borrow_mut();
            let e = h.get_or_insert_with(host.clone(), Default::default);
            if e.0 < PER_HOST {
                e.0 += 1;
                None
            } else {
                let (tx, rx) = oneshot::channel();
                e.1.push_back(tx);
                Some(rx)
            }
        });
        if let Some(rx) = wait {
            // The dropping turn hands its slot over; a dropped sender also ends the wait.
            let _ = rx.await;
        }
        Turn(host)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        HOSTS.with(|h| {
            let mut h = h.borrow_mut();
            let Some(e) = h.get_mut(&self.0) else { return };
            // Hand the slot to the first waiter still there.
            while let Some(tx) = e.1.pop_front() {
                if tx.send(()).is_ok() {
                    return;
                }
            }
            e.0 = e.0.saturating_sub(1);
            if e.0 == 0 {
                h.remove(&self.0);
            }
        });
    }
}

/// Fetches `len` bytes described by `reqs`; bytes no request covers
/// (padding files) stay zero.
pub async fn fetch(reqs: Vec<RangeRequest>, len: u32) -> Result<Vec<u8>, WebError> {
    let mut buf = vec![0u8; len as usize];
    for r in reqs {
        let _turn = Turn::take(&r.url).await;
        let data = JsFuture::from(fetch_range(&r.url, r.start as f64, r.end as f64))
            .await
            .map_err(|e| WebError::Fetch {
                url: r.url.clone(),
                reason: js_message(&e),
            })?;
        let data = Uint8Array::new(&data);
        let at = r.dest as usize;
        let n = data.length() as usize;
        if at + n > buf.len() {
            return Err(WebError::Fetch {
                url: r.url,
                reason: "more bytes than the range".into(),
            });
        }
        data.copy_to(&mut buf[at..at + n]);
    }
    Ok(buf)
}

//! HTTP for webseeds (BEP 19): carries out the engine's `Fetch` with the
//! page's `fetch` and `Range` headers. Requests per host are bounded by the
//! engine (4 fetches per webseed) and by the browser's own per-host limit.

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webswarm_core::webseed::RangeRequest;

use crate::error::{js_message, WebError};

#[wasm_bindgen(inline_js = r#"
export async function fetchRange(url, start, end) {
  const want = end - start + 1;
  const r = await fetch(url, {
    headers: { Range: 'bytes=' + start + '-' + end },
    signal: AbortSignal.timeout(30000),
  });
  // 200 is a server ignoring Range: usable only when the range is the whole body.
  const whole = r.status === 200 && start === 0 && Number(r.headers.get('content-length')) === want;
  if (r.status !== 206 && !whole) {
    if (r.body) r.body.cancel();
    throw new Error('HTTP ' + r.status);
  }
  const b = new Uint8Array(await r.arrayBuffer());
  if (b.length !== want) throw new Error(b.length + ' bytes for a ' + want + '-byte range');
  return b;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fetchRange)]
    fn fetch_range(url: &str, start: f64, end: f64) -> js_sys::Promise;
}

/// Fetches `len` bytes described by `reqs`; bytes no request covers
/// (padding files) stay zero.
pub async fn fetch(reqs: Vec<RangeRequest>, len: u32) -> Result<Vec<u8>, WebError> {
    let mut buf = vec![0u8; len as usize];
    for r in reqs {
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

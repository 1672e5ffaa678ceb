//! HTTP through the page's `fetch`. One JS snippet for all of it: every
//! snippet is one more module the page loads before the wasm starts.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error('HTTP ' + r.status + ' ' + r.statusText);
  return new Uint8Array(await r.arrayBuffer());
}
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
    /// The whole body of `url`; rejects on a non-2xx status.
    #[wasm_bindgen(js_name = fetchBytes)]
    pub fn fetch_bytes(url: &str) -> js_sys::Promise;
    /// Bytes `start..=end` of `url` as a Uint8Array; rejects unless the
    /// server honours the range (or the range is the whole body).
    #[wasm_bindgen(js_name = fetchRange)]
    pub fn fetch_range(url: &str, start: f64, end: f64) -> js_sys::Promise;
}

//! SHA-1 of pieces. WebCrypto's digest runs natively and off the wasm
//! thread's critical path (measured 1.5–2.8× the sha1 crate compiled to wasm);
//! where `crypto.subtle` is missing (pages served over plain http from a
//! non-local host are not a secure context) the sha1 crate does it.

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_namespace = crypto, js_name = subtle)]
    static SUBTLE: JsValue;
}

/// SHA-1 of bytes already in the JS heap.
pub async fn sha1_js(data: &Uint8Array) -> [u8; 20] {
    if let Some(h) = subtle_digest(data).await {
        return h;
    }
    webswarm_core::sha1(&data.to_vec())
}

async fn subtle_digest(data: &Uint8Array) -> Option<[u8; 20]> {
    let subtle = SUBTLE.with(|s| s.clone());
    let subtle: web_sys::SubtleCrypto = subtle.dyn_into().ok()?;
    let promise = subtle.digest_with_str_and_js_u8_array("SHA-1", data).ok()?;
    let buf: ArrayBuffer = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    let mut out = [0u8; 20];
    Uint8Array::new(&buf).copy_to(&mut out);
    Some(out)
}

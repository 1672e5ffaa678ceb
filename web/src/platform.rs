//! Time, timers and randomness from the JS global scope, written against
//! `globalThis` so the peer runs in a window and in a worker alike.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use webswarm_core::Time;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(cb: &Function, ms: i32) -> i32;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: i32);
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Monotonic milliseconds since the page started.
pub fn now_ms() -> f64 {
    performance_now()
}

/// The engine's clock.
pub fn now() -> Time {
    Time::from_micros((performance_now() * 1000.0) as u64)
}

pub fn fill_random(buf: &mut [u8]) {
    // getRandomValues refuses more than 64 KiB at once; ids are 20 bytes.
    for chunk in buf.chunks_mut(65536) {
        get_random_values(chunk);
    }
}

pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    fill_random(&mut b);
    u64::from_le_bytes(b)
}

pub fn random_id() -> [u8; 20] {
    let mut b = [0u8; 20];
    fill_random(&mut b);
    b
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: f64) {
    let p = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms.clamp(0.0, i32::MAX as f64) as i32);
    });
    let _ = JsFuture::from(p).await;
}

/// One re-armable `setTimeout` calling a fixed callback. Dropping it cancels
/// the pending call, so the callback never runs after its owner is gone.
pub struct Timer {
    callback: Closure<dyn FnMut()>,
    armed: Rc<Cell<Option<(i32, u64)>>>,
}

impl Timer {
    pub fn new(mut f: impl FnMut() + 'static) -> Self {
        let armed: Rc<Cell<Option<(i32, u64)>>> = Rc::default();
        let a = armed.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            a.set(None);
            f();
        });
        Timer { callback, armed }
    }

    /// Fires at engine time `at` (re-arms only when `at` changed).
    pub fn arm(&self, at: Time) {
        let at_us = at.as_micros();
        if let Some((id, prev)) = self.armed.get() {
            if prev == at_us {
                return;
            }
            clear_timeout(id);
        }
        let wait_ms = at_us.saturating_sub(now().as_micros()).div_ceil(1000);
        let id = set_timeout(
            self.callback.as_ref().unchecked_ref(),
            wait_ms.min(i32::MAX as u64) as i32,
        );
        self.armed.set(Some((id, at_us)));
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((id, _)) = self.armed.take() {
            clear_timeout(id);
        }
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(cb: &Function, ms: i32) -> i32;
    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(id: i32);
}

/// A `setInterval` that stops when dropped.
pub struct Interval {
    _callback: Closure<dyn FnMut()>,
    id: i32,
}

impl Interval {
    pub fn new(ms: i32, f: impl FnMut() + 'static) -> Self {
        let callback = Closure::<dyn FnMut()>::new(f);
        let id = set_interval(callback.as_ref().unchecked_ref(), ms);
        Interval {
            _callback: callback,
            id,
        }
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        clear_interval(self.id);
    }
}

/// Development builds print panics to the console (release builds abort
/// with a bare `unreachable`, to keep the formatting code out of the wasm).
#[cfg(debug_assertions)]
pub fn log_panics() {
    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = console, js_name = error)]
        fn console_error(s: &str);
    }
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("webswarm panic: {info}"))
    }));
}

/// Development builds log connection events to the console.
#[cfg(debug_assertions)]
pub fn debug_log(msg: &str) {
    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = console, js_name = log)]
        fn console_log(s: &str);
    }
    console_log(msg);
}

#[cfg(not(debug_assertions))]
pub fn debug_log(_msg: &str) {}

/// `future_to_promise` behind one boxed future type, so its glue is
/// compiled once instead of once per async export (wasm size).
pub fn promise(
    f: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Promise {
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
        Box::pin(f);
    wasm_bindgen_futures::future_to_promise(boxed)
}

/// `spawn_local` behind one boxed future type, for the same reason.
pub fn spawn(f: impl std::future::Future<Output = ()> + 'static) {
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = Box::pin(f);
    wasm_bindgen_futures::spawn_local(boxed);
}

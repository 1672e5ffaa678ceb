use js_sys::Function;
use wasm_bindgen::JsValue;

/// Events for the page, queued while the engine runs and delivered after,
/// so a listener may call back into the torrent.
#[derive(Default)]
pub struct EventSink {
    listener: Option<Function>,
    queue: Vec<(&'static str, JsValue)>,
}

impl EventSink {
    pub fn set_listener(&mut self, f: Option<Function>) {
        self.listener = f;
    }

    pub fn push(&mut self, name: &'static str, detail: JsValue) {
        if self.listener.is_some() {
            self.queue.push((name, detail));
        }
    }

    /// Takes what is queued, to deliver once the torrent is not borrowed.
    pub fn take(&mut self) -> Option<(Function, Vec<(&'static str, JsValue)>)> {
        if self.queue.is_empty() {
            return None;
        }
        let f = self.listener.clone()?;
        Some((f, std::mem::take(&mut self.queue)))
    }
}

pub fn deliver(batch: Option<(Function, Vec<(&'static str, JsValue)>)>) {
    let Some((f, events)) = batch else { return };
    for (name, detail) in events {
        // A throwing listener must not break the torrent.
        let _ = f.call2(&JsValue::NULL, &JsValue::from_str(name), &detail);
    }
}

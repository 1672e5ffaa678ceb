use wasm_bindgen::JsValue;

/// Everything the browser peer can fail with, in words a page can show.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("invalid magnet link: {0}")]
    Magnet(#[from] webswarm_core::MagnetError),
    #[error("invalid torrent file: {0}")]
    Torrent(#[from] webswarm_core::MetainfoError),
    #[error("{0}")]
    Input(String),
    #[error("WebRTC failed: {0}")]
    Rtc(String),
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("fetching {url} failed: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the torrent was destroyed")]
    Destroyed,
    #[error("this torrent is already added")]
    Duplicate,
}

impl WebError {
    pub fn input(msg: impl Into<String>) -> Self {
        WebError::Input(msg.into())
    }
}

/// A JS exception's message, for wrapping into one of ours.
pub fn js_message(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

use wasm_bindgen::JsCast;

impl From<WebError> for JsValue {
    fn from(e: WebError) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

//! webswarm-web: the browser peer. The sans-IO engine of `webswarm-core`
//! driven by browser APIs: RTCPeerConnection data channels for peers, a
//! WebSocket tracker client, the Origin Private File System or memory for
//! storage, WebCrypto for hashing, `fetch` for webseeds, and `setTimeout` for time. `api` is what
//! JavaScript sees; everything else is plain Rust behind it.

pub mod api;
mod error;
mod hash;
mod http;
mod platform;
mod rtc;
mod session;
mod storage;
mod tracker;
mod webseed;

pub use error::WebError;

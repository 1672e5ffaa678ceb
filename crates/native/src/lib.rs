//! webswarm-native: the native peer. It seeds files from disk into swarms of
//! browsers and native peers over WebRTC, and downloads too.
//!
//! - [`demo`]: the `webswarm demo` web server (page, package, webseed).
//! - [`storage`]: a torrent's files on disk and the resume record.
//! - [`transport`]: how peers reach each other (WebRTC via webrtc-rs).
//! - [`util`]: clock and randomness for the sans-IO core.

pub mod cli;
pub mod create;
pub mod demo;
pub mod session;
pub mod storage;
pub mod tracker_client;
pub mod transport;
pub mod util;

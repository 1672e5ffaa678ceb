//! webswarm-native: the native peer library. It seeds files from disk into
//! swarms of browsers and native peers over WebRTC, and downloads too; the
//! `webswarm` command (crates/cli) is built on it.
//!
//! - [`session`]: many torrents in one process; each runs core's
//!   `TorrentHost`, with its I/O here.
//! - [`tracker_client`]: the WebSocket tracker sockets around core's `TrackerClient`.
//! - [`storage`]: a torrent's files on disk and the resume record.
//! - [`transport`]: how peers reach each other (WebRTC via webrtc-rs).
//! - [`create`]: hashing files on disk into a torrent.
//! - [`util`]: clock and randomness for the sans-IO core.

pub mod classic;
pub mod create;
pub mod half_open;
pub mod session;
pub mod storage;
pub mod tracker_client;
pub mod transport;
pub mod util;

//! What JavaScript sees. These are thin wrappers: they parse JS values into
//! typed Rust ones once, and hand the work to `session`. The npm package's
//! `index.js` builds the friendlier classes (EventTarget torrents, file
//! streams) on top of them.

mod client;
mod options;
mod source;
mod torrent;

pub use client::Client;
pub use torrent::Torrent;

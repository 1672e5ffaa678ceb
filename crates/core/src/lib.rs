//! webswarm-core: a sans-IO BitTorrent engine and everything around it that
//! is the same on every platform.
//!
//! Nothing here owns a socket, clock, thread, file or random source (the
//! crate's `clippy.toml` refuses them): a platform (the native peer, the
//! browser peer, the simulator) feeds in time, bytes and results, and carries
//! out the work that comes back. The same code therefore runs natively, in
//! WebAssembly, and under a fake clock in the swarm simulator.
//!
//! - [`host::TorrentHost`]: one torrent, with the engine inside; what a
//!   platform drives.
//! - [`tracker::TrackerClient`]: one WebSocket tracker, shared by torrents.
//! - [`engine::Torrent`]: the BitTorrent state machine itself.
//! - Formats: [`bencode`], [`Metainfo`] / [`Info`] (.torrent files),
//!   [`Magnet`], [`wire`] (the peer protocol), [`webseed`] (BEP 19 ranges).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bencode;
#[cfg(not(target_arch = "wasm32"))]
pub mod classic;
pub mod engine;
pub mod host;
pub mod tracker;
pub mod webseed;
pub mod wire;

mod backoff;
mod bitfield;
mod choke;
mod magnet;
mod metainfo;
mod picker;
mod rate;
mod rng;
mod sha1;
mod sort;
mod types;
mod util;
mod vec_map;

pub use crate::sha1::{sha1, Sha1Hasher};
pub use bitfield::Bitfield;
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{
    auto_piece_length, FileEntry, FileSlice, Info, Metainfo, MetainfoError, TorrentCreator,
};
pub use picker::Priority;
pub use rng::Rng;
pub use types::{
    BlockRef, InfoHash, Layout, LayoutError, PeerId, PeerKey, PieceIndex, Time, BLOCK_SIZE,
};
pub use util::{hex_decode, hex_encode, percent_decode};
pub use vec_map::VecMap;

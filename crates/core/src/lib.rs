//! webswarm-core: a sans-IO BitTorrent engine.
//!
//! The engine owns no socket, clock, thread or random source. A host (the native
//! peer, the browser peer, the simulator) feeds it time, received bytes, storage
//! results and hash results, and carries out the actions it emits: bytes to send,
//! blocks to read or write, pieces to verify. The same code therefore runs
//! natively, in WebAssembly, and under a fake clock in the swarm simulator.

pub mod backoff;
pub mod bencode;
pub mod bitfield;
pub mod choke;
pub mod engine;
pub mod host;
pub mod magnet;
pub mod metainfo;
pub mod picker;
pub mod rate;
pub mod rng;
pub mod sort;
pub mod tracker;
pub mod types;
pub mod util;
pub mod vec_map;
pub mod webseed;
pub mod wire;

pub use bitfield::Bitfield;
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{Info, Metainfo, MetainfoError, TorrentCreator};
pub use types::{BlockRef, InfoHash, Layout, PeerId, PeerKey, PieceIndex, Time, BLOCK_SIZE};
pub use util::sha1;

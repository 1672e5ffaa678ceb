//! The torrent host: everything between the engine and a platform that is
//! the same on every platform. The native peer, the browser peer and the
//! simulator drive one [`TorrentHost`] per torrent and carry out its
//! [`Work`]; see ARCHITECTURE.md for the contract.

mod glare;
mod read_cache;
mod resume;
mod stream_window;
mod throttle;
mod torrent;
mod work;

pub use torrent::{HostConfig, Start, TorrentHost};
pub use work::{Note, Stats, Work};

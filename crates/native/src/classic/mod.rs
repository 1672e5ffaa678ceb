//! Classic BitTorrent wires: peers over TCP (BEP 3) and uTP (BEP 29), found
//! through HTTP and UDP trackers, the mainline DHT and PEX. The rules
//! (announce schedule, codecs, whom to dial on which wire) are core's
//! `classic` module; this is their I/O.
//!
//! - [`stream`]: a TCP or uTP connection as a `Channel`, so the torrent task
//!   takes it like a data channel.
//! - [`listener`]: incoming peers on both wires, routed to their torrent by
//!   the handshake.
//! - [`utp`]: the client's uTP socket (the `librqbit-utp` crate).
//! - [`discovery`]: one torrent's announces, DHT lookups and dials.
//! - [`dht`]: the client's DHT node (the `mainline` crate).

pub mod dht;
pub mod discovery;
pub mod listener;
pub mod mse;
pub mod stream;
pub mod utp;

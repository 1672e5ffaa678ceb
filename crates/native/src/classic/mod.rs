//! Classic BitTorrent wires: peers over TCP (BEP 3), found through HTTP and
//! UDP trackers and the mainline DHT. The rules (announce schedule, codecs, whom to dial) are
//! core's `classic` module; this is their I/O.
//!
//! - [`tcp`]: a TCP connection as a `Channel`, so the torrent task takes it
//!   like a data channel.
//! - [`listener`]: incoming peers, routed to their torrent by the handshake.
//! - [`discovery`]: one torrent's announces, DHT lookups and dials.
//! - [`dht`]: the client's DHT node (the `mainline` crate).

pub mod dht;
pub mod discovery;
pub mod listener;
pub mod tcp;

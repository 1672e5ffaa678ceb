//! webswarm-signaling: a WebTorrent-compatible WebSocket tracker. The rules
//! live without any I/O: [`swarm`] (one shard's torrents) and [`connection`]
//! (one connection's limits). [`shard`] runs the swarm workers, [`socket`]
//! serves one WebSocket, [`server`] is the thin axum layer around them.

pub mod cli;
pub mod config;
pub mod connection;
mod io_threads;
mod link;
pub mod server;
pub mod shard;
mod socket;
pub mod stats;
pub mod swarm;
pub mod tls;

//! webswarm-signaling: a WebTorrent-compatible WebSocket tracker. The rules
//! live without any I/O: [`swarm`] (one shard's torrents) and [`connection`]
//! (one connection's limits). [`shard`] holds the shards, [`socket`] serves
//! one WebSocket, `threads` runs the threads that serve them (`wake` wakes
//! their connections across threads, once per batch), [`server`] is the thin
//! axum layer around it all.

pub mod access;
pub mod classic;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connection;
mod handoff;
mod home;
mod link;
pub mod refusal;
pub mod server;
pub mod shard;
mod socket;
pub mod stats;
pub mod swarm;
mod threads;
pub mod tls;
pub mod token;
pub mod turn;
pub mod ws;

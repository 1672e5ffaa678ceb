//! webswarm-signaling: a WebTorrent-compatible WebSocket tracker. The swarm
//! rules live in [`swarm`] without any I/O; [`server`] is the thin axum layer.

pub mod cli;
pub mod config;
pub mod server;
pub mod swarm;
pub mod tls;

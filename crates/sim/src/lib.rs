//! webswarm-sim: many webswarm-core torrent hosts and tracker clients in one
//! process on a fake clock,
//! over a simulated network with per-peer upload and download capacity and
//! latency. Every random choice comes from the scenario's seed, so a run replays
//! exactly. It is the engine's main test bed and a benchmark (see the binary).

mod diagnose;
mod dirset;
mod network;
mod origin;
mod report;
mod scenario;
mod storage;
mod swarm;
mod tracker;

pub use network::Uplink;
pub use origin::origin_alone;
pub use report::{quantile, PeerOutcome, Report};
pub use scenario::{Behaviour, PeerSpec, Scenario, StorageMode};
pub use swarm::Sim;

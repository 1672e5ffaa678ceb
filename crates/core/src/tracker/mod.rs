//! The WebSocket tracker client every platform uses: the message codec and
//! the state machine that decides when to connect, announce, offer and
//! answer. The platform carries out its [`TrackerWork`].

mod client;
pub mod json;
mod messages;

pub use client::{Standing, TorrentStatus, TrackerClient, TrackerConfig, TrackerWork};
pub use messages::{binstr, Announce, AnnounceEvent, Answer, Incoming, OfferId};

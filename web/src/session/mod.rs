//! The state one `Client` shares between its torrents and trackers: the
//! connection budget, the tracker sockets, and the torrents by info-hash.

pub mod driver;
mod events;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use webswarm_core::vec_map::VecMap;
use webswarm_core::{engine, InfoHash};

pub use driver::{Driver, Handle};

use crate::rtc::RtcConfig;
use crate::storage::StorageKind;
use crate::tracker::Tracker;

pub struct SessionConfig {
    pub rtc: RtcConfig,
    /// Peer connections open or being set up, across all torrents: browsers
    /// refuse new RTCPeerConnections past a few hundred.
    pub max_connections: usize,
    pub offers_per_announce: usize,
    pub storage: StorageKind,
    /// Trackers added to every torrent.
    pub trackers: Vec<String>,
    pub engine: engine::Config,
}

pub struct Shared {
    pub cfg: SessionConfig,
    connections: Cell<usize>,
    pub torrents: RefCell<VecMap<InfoHash, Handle>>,
    pub trackers: RefCell<VecMap<String, Rc<Tracker>>>,
}

impl Shared {
    pub fn new(cfg: SessionConfig) -> Rc<Self> {
        Rc::new(Shared {
            cfg,
            connections: Cell::new(0),
            torrents: RefCell::default(),
            trackers: RefCell::default(),
        })
    }

    /// Reserves one peer connection, if the budget has room.
    pub fn take_slot(self: &Rc<Self>) -> Option<Slot> {
        let n = self.connections.get();
        if n >= self.cfg.max_connections {
            return None;
        }
        self.connections.set(n + 1);
        Some(Slot(Rc::downgrade(self)))
    }

    pub fn free_slots(&self) -> usize {
        self.cfg
            .max_connections
            .saturating_sub(self.connections.get())
    }

    pub fn torrent(&self, hash: &InfoHash) -> Option<Handle> {
        self.torrents.borrow().get(hash).cloned()
    }

    /// The shared socket for a tracker URL, opened on first use.
    pub fn tracker(self: &Rc<Self>, url: &str) -> Rc<Tracker> {
        let mut trackers = self.trackers.borrow_mut();
        trackers
            .get_or_insert_with(url.to_owned(), || Tracker::start(url, Rc::downgrade(self)))
            .clone()
    }
}

/// One reserved connection; dropping it gives the slot back.
pub struct Slot(Weak<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(s) = self.0.upgrade() {
            s.connections.set(s.connections.get().saturating_sub(1));
        }
    }
}

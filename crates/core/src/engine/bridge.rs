//! Demand through a bridge. A native node with classic TCP peers and WebRTC
//! peers at once carries a classic swarm to browsers; browsers cannot ask it
//! for pieces it has not got, so it looks at what they lack instead: the
//! lowest piece any of its WebRTC peers lacks and it lacks too, and the few
//! after it, go to the front of its own picking. A browser playing a video
//! from the start then finds its next pieces on the bridge first, instead of
//! wherever rarest-first put them. Streaming deadlines the application set
//! itself take precedence.

use std::time::Duration;

use super::{Torrent, Wire};
use crate::types::Time;

/// Pieces put ahead, from the first one a WebRTC peer is waiting for.
const WINDOW: usize = 8;
/// Their deadline: far enough not to count as urgent (urgent blocks are
/// asked of several peers at once).
const LEAD: Duration = Duration::from_secs(10);

impl Torrent {
    /// Re-aims the bridge's deadlines; called every engine tick.
    pub(super) fn aim_bridge(&mut self, now: Time) {
        let (Some(info), Some(picker)) = (self.info.as_ref(), self.picker.as_mut()) else {
            return;
        };
        if !self.bridge_deadlines && picker.has_deadlines() {
            return;
        }
        let bridging = self.peers.values().any(|p| p.wire.is_classic());
        let have = picker.have();
        let n = info.layout.num_pieces();
        let frontier = self
            .peers
            .values()
            .filter(|p| bridging && p.wire == Wire::DataChannel)
            // Seeds lack nothing: not scanned.
            .filter(|p| !p.has.as_ref().is_some_and(|b| b.is_full()))
            .filter_map(|p| {
                (0..n).find(|&i| !have.get(i) && !p.has.as_ref().is_some_and(|b| b.get(i)))
            })
            .min();
        let Some(first) = frontier else {
            if self.bridge_deadlines {
                picker.set_deadlines(Vec::new());
                self.bridge_deadlines = false;
            }
            return;
        };
        let d = (first..n)
            .filter(|&i| !have.get(i))
            .take(WINDOW)
            .enumerate()
            .filter_map(|(k, i)| {
                let p = info.layout.piece(i)?;
                Some((now + LEAD + Duration::from_millis(k as u64), p))
            })
            .collect();
        picker.set_deadlines(d);
        self.bridge_deadlines = true;
    }
}

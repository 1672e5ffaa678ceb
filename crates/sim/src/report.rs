//! What a simulation measured.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::scenario::Behaviour;

#[derive(Debug, Clone)]
pub struct PeerOutcome {
    pub seed: bool,
    pub behaviour: Behaviour,
    pub streaming: bool,
    pub joined: Duration,
    pub left: Option<Duration>,
    pub completed: Option<Duration>,
    /// When the first MiB of the file (what a player needs to start) was verified.
    pub first_mib: Option<Duration>,
    /// When its first connection opened.
    pub first_peer: Option<Duration>,
    /// When its first piece verified (from a peer or storage).
    pub first_piece: Option<Duration>,
    /// Pieces in the order they were verified.
    pub verified_order: Vec<u32>,
    /// When each piece of that first MiB was verified.
    pub prefix_pieces: Vec<Duration>,
    pub uploaded: u64,
    /// Storage work carried out before its storage opened (must be 0).
    pub early_storage_work: usize,
    pub verified_pieces: u32,
    /// Real storage mode: whether the stored bytes equal the content.
    pub content_matches: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub peers: Vec<PeerOutcome>,
    pub num_pieces: u32,
    pub fluid_bound: Duration,
    pub sim_time: Duration,
    /// Hash of every event in order: equal seeds must give equal hashes.
    pub trace_hash: u64,
    /// (banning peer, banned peer) by scenario index.
    pub bans: Vec<(usize, usize)>,
    /// Connections closed by engines, by reason.
    pub closes: BTreeMap<String, usize>,
    /// Per simulated second: bytes sent over the upload capacity of peers
    /// that had at least one piece.
    pub utilization: Vec<f64>,
    /// Connections opened through the tracker.
    pub connections: usize,
    /// Most connections two peers had open at once (duplicates are settled: 1).
    pub max_links_per_pair: usize,
    /// Announces with offers the tracker received: (peer, when, offers).
    pub announces: Vec<(usize, Duration, usize)>,
    /// Bytes the site's origin served (webseed fetches).
    pub origin_bytes: u64,
    pub file_len: u64,
}

/// The nearest-rank quantile `q` (0 to 1) of sorted values; `None` if empty.
pub fn quantile<T>(sorted: &[T], q: f64) -> Option<&T> {
    sorted.get(((sorted.len() as f64 - 1.0) * q) as usize)
}

impl Report {
    fn honest_leechers(&self) -> impl Iterator<Item = &PeerOutcome> {
        self.peers
            .iter()
            .filter(|p| !p.seed && p.behaviour == Behaviour::Honest)
    }

    /// Every honest leecher that stayed finished with every piece verified.
    pub fn all_complete(&self) -> bool {
        self.honest_leechers()
            .filter(|p| p.left.is_none())
            .all(|p| {
                p.completed.is_some()
                    && p.verified_pieces == self.num_pieces
                    && p.content_matches != Some(false)
            })
    }

    /// Completion time of the last honest leecher (from time zero).
    pub fn last_completion(&self) -> Option<Duration> {
        self.honest_leechers()
            .filter(|p| p.left.is_none())
            .map(|p| p.completed)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }

    pub fn bound_ratio(&self) -> Option<f64> {
        Some(self.last_completion()?.as_secs_f64() / self.fluid_bound.as_secs_f64())
    }

    /// Completion times of honest leechers that stayed, sorted.
    pub fn completion_times(&self) -> Vec<std::time::Duration> {
        let mut v: Vec<_> = self.honest_leechers().filter_map(|p| p.completed).collect();
        v.sort();
        v
    }

    /// Share of the honest leechers' content that the origin served.
    pub fn origin_share(&self) -> f64 {
        let wanted = self.honest_leechers().count() as f64 * self.file_len as f64;
        self.origin_bytes as f64 / wanted.max(1.0)
    }

    /// Share of all uploaded bytes that came from seeders.
    pub fn seeder_share(&self) -> f64 {
        let total: u64 = self.peers.iter().map(|p| p.uploaded).sum();
        let seeds: u64 = self
            .peers
            .iter()
            .filter(|p| p.seed)
            .map(|p| p.uploaded)
            .sum();
        seeds as f64 / total.max(1) as f64
    }
}

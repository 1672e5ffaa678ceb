//! The simulated WebSocket tracker: it speaks the real protocol (the
//! tracker's own codec, `webswarm-tracker-proto`) to each peer's real
//! `TrackerClient`, relays every announce's offers to random other peers of
//! the swarm and every answer back to its offerer, as WebTorrent trackers do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use webswarm_core::PeerId;
use webswarm_core::Rng;
use webswarm_tracker_proto::{
    AnnounceEvent, AnnounceResponse, ClientMessage, RelayedAnswer, RelayedOffer, TrackerMessage,
};

pub struct SimTracker {
    /// Peers that announced and have not stopped: (node, peer id), in no
    /// particular order, with where each node is and who has which id.
    swarm: Vec<(usize, PeerId)>,
    position: BTreeMap<usize, usize>,
    by_id: BTreeMap<PeerId, usize>,
    /// Nodes of the swarm whose last announce said they hold everything.
    seeds: BTreeSet<usize>,
    /// Every announce that carried offers: (node, when, offers).
    announces: Vec<(usize, Duration, usize)>,
    now: Duration,
    interval_secs: u32,
    rng: Rng,
}

impl SimTracker {
    pub fn new(interval_secs: u32, seed: u64) -> Self {
        SimTracker {
            swarm: Vec::new(),
            position: BTreeMap::new(),
            by_id: BTreeMap::new(),
            seeds: BTreeSet::new(),
            announces: Vec::new(),
            now: Duration::ZERO,
            interval_secs,
            rng: Rng::new(seed),
        }
    }

    pub fn announces(&self) -> &[(usize, Duration, usize)] {
        &self.announces
    }

    /// A frame from `from` at `now`; what the tracker sends back goes to `out` as (node, frame).
    pub fn receive(
        &mut self,
        now: Duration,
        from: usize,
        text: &str,
        out: &mut Vec<(usize, String)>,
    ) {
        self.now = now;
        match ClientMessage::from_json(text) {
            Ok(ClientMessage::Announce(a)) => {
                if !a.offers.is_empty() {
                    self.announces.push((from, self.now, a.offers.len()));
                }
                if a.event == Some(AnnounceEvent::Stopped) {
                    self.leave(from);
                    return;
                }
                if !self.position.contains_key(&from) {
                    self.position.insert(from, self.swarm.len());
                    self.by_id.insert(a.peer_id, from);
                    self.swarm.push((from, a.peer_id));
                }
                if a.left == Some(0) {
                    self.seeds.insert(from);
                } else {
                    self.seeds.remove(&from);
                }
                let others = self.pick_others(from, a.offers.len());
                for (offer, k) in a.offers.into_iter().zip(others) {
                    let m = TrackerMessage::Offer(RelayedOffer {
                        action: "announce".into(),
                        offer: offer.offer,
                        offer_id: offer.offer_id,
                        peer_id: a.peer_id,
                        info_hash: a.info_hash,
                    });
                    out.push((self.swarm[k].0, m.to_json()));
                }
                let reply = TrackerMessage::Announced(AnnounceResponse {
                    action: "announce".into(),
                    info_hash: a.info_hash,
                    complete: self.seeds.len() as u32,
                    incomplete: (self.swarm.len() - self.seeds.len()) as u32,
                    interval: self.interval_secs,
                });
                out.push((from, reply.to_json()));
            }
            Ok(ClientMessage::Answer(a)) => {
                if let Some(&to) = self.by_id.get(&a.to_peer_id) {
                    let m = TrackerMessage::Answer(RelayedAnswer {
                        action: "announce".into(),
                        answer: a.answer,
                        offer_id: a.offer_id,
                        peer_id: a.peer_id,
                        info_hash: a.info_hash,
                    });
                    out.push((to, m.to_json()));
                }
            }
            Ok(ClientMessage::Scrape(_)) | Err(_) => {}
        }
    }

    fn leave(&mut self, node: usize) {
        let Some(i) = self.position.remove(&node) else {
            return;
        };
        let (_, id) = self.swarm.swap_remove(i);
        self.by_id.remove(&id);
        self.seeds.remove(&node);
        if let Some(&(moved, _)) = self.swarm.get(i) {
            self.position.insert(moved, i);
        }
    }

    /// Up to `k` distinct swarm positions other than `from`'s, uniformly at
    /// random: O(k) draws, not a shuffle of the whole swarm per announce
    /// (which dominated runs at N = 10,000).
    fn pick_others(&mut self, from: usize, k: usize) -> Vec<usize> {
        let mine = self.position.get(&from).copied();
        let n = self.swarm.len();
        let others = n - usize::from(mine.is_some());
        if others <= 2 * k {
            let mut all: Vec<usize> = (0..n).filter(|&i| Some(i) != mine).collect();
            self.rng.shuffle(&mut all);
            all.truncate(k);
            return all;
        }
        let mut picked = Vec::with_capacity(k);
        while picked.len() < k {
            let i = self.rng.below(n);
            if Some(i) != mine && !picked.contains(&i) {
                picked.push(i);
            }
        }
        picked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_others_and_forgets_peers_that_leave() {
        let mut t = SimTracker::new(30, 1);
        for node in 0..100 {
            t.position.insert(node, t.swarm.len());
            let id = PeerId([node as u8; 20]);
            t.by_id.insert(id, node);
            t.swarm.push((node, id));
        }
        for k in [5, 12, 60, 99, 150] {
            let got = t.pick_others(7, k);
            assert_eq!(got.len(), k.min(99));
            let mut sorted = got.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), got.len(), "distinct");
            assert!(got.iter().all(|&i| t.swarm[i].0 != 7));
        }
        t.leave(3);
        t.leave(99);
        assert_eq!(t.swarm.len(), 98);
        for (i, &(node, id)) in t.swarm.iter().enumerate() {
            assert_eq!(t.position[&node], i);
            assert_eq!(t.by_id[&id], node);
        }
        assert!(!t.position.contains_key(&3));
    }

    #[test]
    fn replies_count_seeds_and_leechers_by_their_last_announce() {
        use webswarm_tracker_proto::{Announce, InfoHash};
        let announce = |left: u64, event: Option<AnnounceEvent>, who: u8| {
            ClientMessage::Announce(Announce {
                action: "announce",
                info_hash: InfoHash([1; 20]),
                peer_id: PeerId([who; 20]),
                numwant: None,
                uploaded: 0,
                downloaded: 0,
                left: Some(left),
                event,
                offers: Vec::new(),
                trackerid: None,
            })
            .to_json()
        };
        let mut t = SimTracker::new(30, 1);
        let counts = |t: &mut SimTracker, node: usize, text: String| {
            let mut out = Vec::new();
            t.receive(Duration::ZERO, node, &text, &mut out);
            use webswarm_core::tracker::Incoming;
            match out.pop().and_then(|(_, m)| Incoming::parse(&m)) {
                Some(Incoming::Announced { counts, .. }) => counts,
                _ => None,
            }
        };
        assert_eq!(
            counts(&mut t, 0, announce(0, Some(AnnounceEvent::Started), 0)),
            Some((1, 0))
        );
        assert_eq!(
            counts(&mut t, 1, announce(9, Some(AnnounceEvent::Started), 1)),
            Some((1, 1))
        );
        // The leecher completes; the seed leaves.
        assert_eq!(
            counts(&mut t, 1, announce(0, Some(AnnounceEvent::Completed), 1)),
            Some((2, 0))
        );
        counts(&mut t, 0, announce(0, Some(AnnounceEvent::Stopped), 0));
        assert_eq!(counts(&mut t, 2, announce(5, None, 2)), Some((1, 1)));
    }
}

//! The simulated WebSocket tracker: it speaks the real protocol (the
//! tracker's own codec, `webswarm-tracker-proto`) to each peer's real
//! `TrackerClient`, relays every announce's offers to random other peers of
//! the swarm and every answer back to its offerer, as WebTorrent trackers do.

use std::time::Duration;

use webswarm_core::PeerId;
use webswarm_core::Rng;
use webswarm_tracker_proto::{
    AnnounceEvent, AnnounceResponse, ClientMessage, RelayedAnswer, RelayedOffer, TrackerMessage,
};

pub struct SimTracker {
    /// Peers that announced and have not stopped: (node, peer id).
    swarm: Vec<(usize, PeerId)>,
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
                    self.swarm.retain(|&(n, _)| n != from);
                    return;
                }
                if !self.swarm.iter().any(|&(n, _)| n == from) {
                    self.swarm.push((from, a.peer_id));
                }
                let mut others: Vec<usize> = (0..self.swarm.len())
                    .filter(|&k| self.swarm[k].0 != from)
                    .collect();
                self.rng.shuffle(&mut others);
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
                    complete: 0,
                    incomplete: self.swarm.len() as u32,
                    interval: self.interval_secs,
                });
                out.push((from, reply.to_json()));
            }
            Ok(ClientMessage::Answer(a)) => {
                if let Some(&(to, _)) = self.swarm.iter().find(|(_, id)| *id == a.to_peer_id) {
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
}

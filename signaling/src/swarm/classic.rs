//! Classic peers in the same swarms: HTTP (BEP 3, 23) and UDP (BEP 15)
//! announces join a torrent by TCP address and get other classic peers'
//! addresses back (WebRTC peers have none to give); counts and scrapes
//! cover both kinds.

use std::net::SocketAddr;

use webswarm_core::{InfoHash, PeerId, Rng, Time};

use super::Swarms;

/// Most addresses one answer carries.
const MAX_NUMWANT: usize = 200;

pub(super) struct ClassicPeer {
    pub complete: bool,
    pub last_seen: Time,
}

/// One classic announce, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassicAnnounce {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// The peer's TCP address: the announce's source IP and its `port`.
    pub addr: SocketAddr,
    pub left: u64,
    pub completed: bool,
    pub stopped: bool,
    pub numwant: usize,
}

/// The answer to a classic announce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassicReply {
    pub peers: Vec<SocketAddr>,
    pub complete: u32,
    pub incomplete: u32,
    pub interval_secs: u32,
}

impl Swarms {
    /// Joins, updates or leaves; returns other classic peers.
    pub fn classic_announce(
        &mut self,
        a: &ClassicAnnounce,
        now: Time,
        rng: &mut Rng,
    ) -> ClassicReply {
        self.counters.announces += 1;
        let interval_secs = self.limits.interval.as_secs() as u32;
        if a.stopped {
            if let Some(t) = self.torrents.get_mut(&a.info_hash) {
                t.classic.remove(&a.addr);
                if t.is_empty() {
                    self.torrents.remove(&a.info_hash);
                }
            }
            return ClassicReply {
                interval_secs,
                ..ClassicReply::default()
            };
        }
        let t = self.torrents.entry(a.info_hash).or_default();
        let complete = a.left == 0;
        let was = t.classic.insert(
            a.addr,
            ClassicPeer {
                complete,
                last_seen: now,
            },
        );
        if a.completed && !was.is_some_and(|p| p.complete) {
            t.downloaded += 1;
        }
        let mut others: Vec<SocketAddr> = t
            .classic
            .iter()
            // A seed needs no seeds.
            .filter(|(addr, p)| **addr != a.addr && !(complete && p.complete))
            .map(|(addr, _)| *addr)
            .collect();
        rng.shuffle(&mut others);
        others.truncate(a.numwant.min(MAX_NUMWANT));
        let (c, i) = t.counts();
        ClassicReply {
            peers: others,
            complete: c,
            incomplete: i,
            interval_secs,
        }
    }

    /// Drops classic peers not heard from within the peer timeout.
    pub(super) fn expire_classic(&mut self, now: Time) {
        let timeout = self.limits.peer_timeout;
        self.torrents.retain(|_, t| {
            t.classic
                .retain(|_, p| now.saturating_since(p.last_seen) <= timeout);
            !t.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::SwarmLimits;
    use std::time::Duration;

    fn announce(port: u16, left: u64) -> ClassicAnnounce {
        ClassicAnnounce {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([port as u8; 20]),
            addr: SocketAddr::from(([10, 0, 0, 1], port)),
            left,
            completed: false,
            stopped: false,
            numwant: 50,
        }
    }

    #[test]
    fn classic_peers_find_each_other_and_count_in_the_swarm() {
        let mut s = Swarms::new(SwarmLimits::default());
        let mut rng = Rng::new(1);
        let t0 = Time::ZERO;
        let first = s.classic_announce(&announce(1, 0), t0, &mut rng);
        assert!(first.peers.is_empty());
        assert_eq!((first.complete, first.incomplete), (1, 0));
        let second = s.classic_announce(&announce(2, 100), t0, &mut rng);
        assert_eq!(second.peers, vec![announce(1, 0).addr]);
        assert_eq!((second.complete, second.incomplete), (1, 1));
        // A seed is not sent to a seed.
        let again = s.classic_announce(&announce(1, 0), t0, &mut rng);
        assert_eq!(again.peers, vec![announce(2, 100).addr]);
        let scrape = s.scrape(&[InfoHash([1; 20])])[0];
        assert_eq!((scrape.complete, scrape.incomplete), (1, 1));
        assert_eq!(s.totals(), (1, 1, 1));
        let stop = ClassicAnnounce {
            stopped: true,
            ..announce(2, 100)
        };
        s.classic_announce(&stop, t0, &mut rng);
        assert_eq!(s.totals(), (1, 1, 0));
        // Silence past the timeout drops the last one, and the torrent.
        s.expire(t0 + Duration::from_secs(1000));
        assert_eq!(s.totals(), (0, 0, 0));
    }

    #[test]
    fn numwant_is_bounded() {
        let mut s = Swarms::new(SwarmLimits::default());
        let mut rng = Rng::new(1);
        for p in 1..400 {
            s.classic_announce(&announce(p, 100), Time::ZERO, &mut rng);
        }
        let r = s.classic_announce(
            &ClassicAnnounce {
                numwant: 10_000,
                ..announce(500, 100)
            },
            Time::ZERO,
            &mut rng,
        );
        assert_eq!(r.peers.len(), MAX_NUMWANT);
    }
}

//! Classic peers in the same swarms: HTTP (BEP 3, 23) and UDP (BEP 15)
//! announces join a torrent by TCP address and get other classic peers'
//! addresses back (WebRTC peers have none to give); counts and scrapes
//! cover both kinds. In a cluster a classic peer's latest announce may land
//! on any node (each HTTP request goes through the load balancer on its
//! own): the node that took it holds the peer and tells the others
//! ([`Event::ClassicJoined`]), so every node hands out every classic peer.

use std::net::SocketAddr;

use webswarm_core::{InfoHash, PeerId, Rng, Time};

use super::{Event, NodeId, Swarms};

/// Most addresses one answer carries.
const MAX_NUMWANT: usize = 200;

pub(super) struct ClassicPeer {
    pub complete: bool,
    pub last_seen: Time,
    /// The node that took its latest announce; `None`: this one.
    pub home: Option<NodeId>,
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
        let ih = a.info_hash;
        if a.stopped {
            if let Some(t) = self.torrents.get_mut(&ih) {
                t.classic.remove(&a.addr);
                if t.is_empty() {
                    self.torrents.remove(&ih);
                }
            }
            self.published.push(Event::ClassicLeft {
                ih,
                addr: a.addr,
                stopped: true,
            });
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
                home: None,
            },
        );
        let completed = a.completed && !was.as_ref().is_some_and(|p| p.complete);
        if completed {
            t.downloaded += 1;
        }
        // Other nodes hear of a peer that is new here or changed, not of
        // every re-announce.
        if was.is_none_or(|p| p.home.is_some() || p.complete != complete) {
            self.published.push(Event::ClassicJoined {
                ih,
                addr: a.addr,
                complete,
                completed,
            });
        }
        let t = self.torrents.entry(ih).or_default();
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

    /// Drops classic peers of this node not heard from within the peer
    /// timeout (another node's are that node's to drop).
    pub(super) fn expire_classic(&mut self, now: Time) {
        let timeout = self.limits.peer_timeout;
        let published = &mut self.published;
        self.torrents.retain(|ih, t| {
            t.classic.retain(|addr, p| {
                let keep = p.home.is_some() || now.saturating_since(p.last_seen) <= timeout;
                if !keep {
                    published.push(Event::ClassicLeft {
                        ih: *ih,
                        addr: *addr,
                        stopped: false,
                    });
                }
                keep
            });
            !t.is_empty()
        });
    }

    /// Another node took a classic peer's announce: it holds the peer now.
    pub fn remote_classic_joined(&mut self, node: NodeId, e: &Event) {
        let Event::ClassicJoined {
            ih,
            addr,
            complete,
            completed,
        } = *e
        else {
            return;
        };
        let t = self.torrents.entry(ih).or_default();
        let was = t.classic.insert(
            addr,
            ClassicPeer {
                complete,
                last_seen: Time::from_micros(0),
                home: Some(node),
            },
        );
        if completed && !was.is_some_and(|p| p.complete) {
            t.downloaded += 1;
        }
    }

    /// A classic peer left through another node. A stop removes it
    /// wherever it is held; silence only removes that node's entry (the
    /// peer's latest announce may have come here since).
    pub fn remote_classic_left(
        &mut self,
        node: NodeId,
        ih: &InfoHash,
        addr: &SocketAddr,
        stopped: bool,
    ) {
        let Some(t) = self.torrents.get_mut(ih) else {
            return;
        };
        if t.classic
            .get(addr)
            .is_some_and(|p| stopped || p.home == Some(node))
        {
            t.classic.remove(addr);
            if t.is_empty() {
                self.torrents.remove(ih);
            }
        }
    }

    /// Forgets the classic peers `gone` says are another node's.
    pub(super) fn forget_classic(&mut self, gone: impl Fn(NodeId) -> bool) {
        self.torrents.retain(|_, t| {
            t.classic.retain(|_, p| !p.home.is_some_and(&gone));
            !t.is_empty()
        });
    }

    /// This node's classic peers, as events for another node.
    pub(super) fn local_classic(&self, out: &mut Vec<Event>) {
        for (ih, t) in &self.torrents {
            for (addr, p) in &t.classic {
                if p.home.is_none() {
                    out.push(Event::ClassicJoined {
                        ih: *ih,
                        addr: *addr,
                        complete: p.complete,
                        completed: false,
                    });
                }
            }
        }
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
    fn in_a_cluster_the_node_with_the_latest_announce_holds_a_classic_peer() {
        let mut s = Swarms::new(SwarmLimits::default());
        let mut rng = Rng::new(1);
        let t0 = Time::ZERO;
        let ih = InfoHash([1; 20]);
        let joined = |port, complete| Event::ClassicJoined {
            ih,
            addr: announce(port, 0).addr,
            complete,
            completed: false,
        };
        // New here: published; the same again: not; complete now: published.
        s.classic_announce(&announce(1, 100), t0, &mut rng);
        assert_eq!(s.take_published(), vec![joined(1, false)]);
        s.classic_announce(&announce(1, 100), t0, &mut rng);
        assert!(s.take_published().is_empty());
        s.classic_announce(&announce(1, 0), t0, &mut rng);
        assert_eq!(s.take_published(), vec![joined(1, true)]);
        // Node 7's peer is handed out here, and never expires here.
        s.remote_classic_joined(7, &joined(2, false));
        let r = s.classic_announce(&announce(3, 100), t0, &mut rng);
        assert!(r.peers.contains(&announce(2, 0).addr));
        s.take_published();
        // Its next announce comes here: this node holds it, and node 7's
        // later "silent" does not remove it; a stop through node 7 does.
        s.classic_announce(&announce(2, 100), t0, &mut rng);
        assert_eq!(s.take_published(), vec![joined(2, false)]);
        let addr2 = announce(2, 0).addr;
        s.remote_classic_left(7, &ih, &addr2, false);
        assert_eq!(s.totals(), (1, 1, 2));
        s.remote_classic_left(7, &ih, &addr2, true);
        assert_eq!(s.totals(), (1, 1, 1));
        // Node 8 goes: its peers go; this node's expire with a Left each.
        s.remote_classic_joined(8, &joined(4, false));
        assert_eq!(s.totals(), (1, 1, 2));
        s.forget_node(Some(8));
        assert_eq!(s.totals(), (1, 1, 1));
        s.remote_classic_joined(8, &joined(4, false));
        s.expire(t0 + Duration::from_secs(1000));
        assert_eq!(s.totals(), (1, 0, 1), "node 8's peer stays: 8 expires it");
        let left: Vec<Event> = s.take_published();
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left
            .iter()
            .all(|e| matches!(e, Event::ClassicLeft { stopped: false, .. })));
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

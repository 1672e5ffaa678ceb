//! Peers connected to other nodes of a cluster, as this node learns of them
//! ([`Event`]s it is told), and messages relayed to and from them.

use super::*;

impl Swarms {
    /// Another node says one of its peers joined or changed. A peer of the
    /// same id connected here is superseded: the client reconnected there.
    pub fn remote_joined(&mut self, node: NodeId, e: &Event) -> Outbox {
        let mut out = Outbox::new();
        let Event::Joined {
            ih,
            peer,
            complete,
            completed,
        } = *e
        else {
            return out;
        };
        let torrent = self.torrents.entry(ih).or_default();
        let was_complete = torrent.peers.get(&peer).is_some_and(|p| p.complete);
        if completed && !was_complete {
            torrent.downloaded += 1;
        }
        if let Some(Home::Local(old)) = torrent.peers.get(&peer).map(|p| p.home) {
            self.unlist(old, &ih, &peer);
            out.push(Out::Dropped(old, ih, peer));
        }
        let torrent = self.torrents.entry(ih).or_default();
        torrent.insert(
            peer,
            Peer {
                home: Home::Remote(node),
                complete,
                last_seen: Time::from_micros(0),
                answerable: HashMap::new(),
            },
        );
        out
    }

    /// Another node says one of its peers left. Only that node's entry goes:
    /// the peer may have reconnected elsewhere meanwhile.
    pub fn remote_left(&mut self, node: NodeId, ih: &InfoHash, peer: &PeerId) {
        let theirs = self
            .torrents
            .get(ih)
            .and_then(|t| t.peers.get(peer))
            .is_some_and(|p| p.home == Home::Remote(node));
        if theirs {
            self.leave(ih, peer);
        }
    }

    /// Forgets every peer of `node` (it stopped, or is unreachable), or of
    /// every other node (`None`: this node lost the cluster).
    pub fn forget_node(&mut self, node: Option<NodeId>) {
        let gone = |h: Home| match (h, node) {
            (Home::Remote(_), None) => true,
            (Home::Remote(n), Some(m)) => n == m,
            (Home::Local(_), _) => false,
        };
        let mut drop: Vec<(InfoHash, PeerId)> = Vec::new();
        for (ih, t) in &self.torrents {
            drop.extend(
                t.peers
                    .iter()
                    .filter(|(_, p)| gone(p.home))
                    .map(|(id, _)| (*ih, *id)),
            );
        }
        for (ih, id) in drop {
            self.leave(&ih, &id);
        }
        self.forget_classic(|n| node.is_none_or(|m| m == n));
    }

    /// An offer relayed by another node for a peer connected here.
    pub fn remote_offer(&mut self, to: &PeerId, offer: RelayedOffer, now: Time) -> Outbox {
        let expires = now + self.limits.offer_timeout;
        let max = 4 * self.limits.max_offers_per_announce;
        let peer = self
            .torrents
            .get_mut(&offer.info_hash)
            .and_then(|t| t.peers.get_mut(to));
        let Some(p) = peer else {
            return Vec::new();
        };
        let Home::Local(c) = p.home else {
            return Vec::new();
        };
        if !p.expect_answer(&offer, expires, now, max) {
            return Vec::new();
        }
        vec![Out::To(c, TrackerMessage::Offer(offer))]
    }

    /// An answer relayed by another node (which checked it) for a peer here.
    pub fn remote_answer(&mut self, to: &PeerId, answer: RelayedAnswer) -> Outbox {
        let home = self
            .torrents
            .get(&answer.info_hash)
            .and_then(|t| t.peers.get(to))
            .map(|p| p.home);
        match home {
            Some(Home::Local(c)) => vec![Out::To(c, TrackerMessage::Answer(answer))],
            _ => Vec::new(),
        }
    }

    /// Every local peer, as `Joined` events: what another node needs to
    /// know this node's share of the swarms.
    pub fn local_peers(&self) -> Vec<Event> {
        let mut v = Vec::new();
        for (ih, t) in &self.torrents {
            for (peer, p) in &t.peers {
                if matches!(p.home, Home::Local(_)) {
                    v.push(Event::Joined {
                        ih: *ih,
                        peer: *peer,
                        complete: p.complete,
                        completed: false,
                    });
                }
            }
        }
        self.local_classic(&mut v);
        v
    }
}

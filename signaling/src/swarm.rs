//! The tracker's swarm logic, without sockets: which peers are in which
//! torrent, who gets each relayed offer, which answers may be relayed, and
//! when peers expire. Time and randomness are arguments, so every rule here is
//! unit-tested without a network.

use std::collections::HashMap;
use std::time::Duration;

use webswarm_core::Rng;
use webswarm_core::Time;
use webswarm_tracker_proto::{
    Announce, AnnounceEvent, AnnounceResponse, Answer, Failure, InfoHash, OfferId, PeerId,
    RelayedAnswer, RelayedOffer, ScrapeFile, TrackerMessage,
};

/// A WebSocket connection, numbered by the server.
pub type ConnId = u64;

/// Timings and bounds of the swarm logic.
#[derive(Clone, Debug)]
pub struct SwarmLimits {
    pub interval: Duration,
    pub peer_timeout: Duration,
    /// How long an offer relayed to a peer may still be answered.
    pub offer_timeout: Duration,
    pub max_offers_per_announce: usize,
}

impl Default for SwarmLimits {
    fn default() -> Self {
        SwarmLimits {
            interval: Duration::from_secs(120),
            peer_timeout: Duration::from_secs(180),
            offer_timeout: Duration::from_secs(60),
            max_offers_per_announce: 10,
        }
    }
}

struct Peer {
    conn: ConnId,
    complete: bool,
    last_seen: Time,
    /// Offers relayed to this peer that it may answer: offer id -> (offerer, expiry).
    answerable: HashMap<OfferId, (PeerId, Time)>,
}

#[derive(Default)]
struct Torrent {
    peers: HashMap<PeerId, Peer>,
    /// The same ids in a vector, for O(1) random choice.
    order: Vec<PeerId>,
    /// The complete ones, likewise.
    seeds: Vec<PeerId>,
    downloaded: u32,
}

impl Torrent {
    fn counts(&self) -> (u32, u32) {
        let complete = self.peers.values().filter(|p| p.complete).count() as u32;
        (complete, self.peers.len() as u32 - complete)
    }

    fn insert(&mut self, id: PeerId, peer: Peer) {
        let complete = peer.complete;
        match self.peers.insert(id, peer) {
            None => self.order.push(id),
            Some(old) if old.complete => {
                if !complete {
                    forget(&mut self.seeds, &id);
                }
                return;
            }
            Some(_) => {}
        }
        if complete {
            self.seeds.push(id);
        }
    }

    fn remove(&mut self, id: &PeerId) -> Option<Peer> {
        let p = self.peers.remove(id)?;
        forget(&mut self.order, id);
        if p.complete {
            forget(&mut self.seeds, id);
        }
        Some(p)
    }

    /// Whom a peer's offers go to: random peers, but a downloader's reach
    /// a seed whenever the swarm has one. Otherwise peers that only claim to
    /// download (fakes, or many idle ones) can absorb every offer of an
    /// honest downloader and keep it from the seed for whole announces.
    fn targets(&self, n: usize, from: &PeerId, downloading: bool, rng: &mut Rng) -> Vec<PeerId> {
        let mut targets = self.sample(n, from, rng);
        let has_seed = |t: &[PeerId]| {
            t.iter()
                .any(|p| self.peers.get(p).is_some_and(|p| p.complete))
        };
        if !downloading || targets.is_empty() || has_seed(&targets) {
            return targets;
        }
        // `from` is in `seeds` at most once: a second draw always differs.
        let others = self.seeds.len() - usize::from(self.seeds.contains(from));
        if others > 0 {
            let seed = loop {
                let s = self.seeds[rng.below(self.seeds.len())];
                if s != *from {
                    break s;
                }
            };
            let last = targets.len() - 1;
            targets[last] = seed;
        }
        targets
    }

    /// Up to `n` distinct random peers other than `not`.
    fn sample(&self, n: usize, not: &PeerId, rng: &mut Rng) -> Vec<PeerId> {
        let others = self
            .order
            .len()
            .saturating_sub(usize::from(self.peers.contains_key(not)));
        let n = n.min(others);
        let mut out: Vec<PeerId> = Vec::with_capacity(n);
        if n * 3 >= self.order.len() {
            // Dense: shuffle a copy.
            let mut all: Vec<PeerId> = self.order.iter().filter(|p| *p != not).copied().collect();
            rng.shuffle(&mut all);
            all.truncate(n);
            return all;
        }
        while out.len() < n {
            let p = self.order[rng.below(self.order.len())];
            if p != *not && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// Removes `id` from an unordered list of ids.
fn forget(list: &mut Vec<PeerId>, id: &PeerId) {
    if let Some(i) = list.iter().position(|x| x == id) {
        list.swap_remove(i);
    }
}

/// What the swarm logic asks its shell to do, in order.
#[derive(Debug)]
pub enum Out {
    /// Send this to a connection.
    To(ConnId, TrackerMessage),
    /// The connection's peer left this torrent without the connection saying
    /// so (it timed out, or another connection took its peer id over).
    Dropped(ConnId, InfoHash, PeerId),
}

pub type Outbox = Vec<Out>;

/// Counters for `/stats.json` and `/metrics`.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct SwarmCounters {
    pub announces: u64,
    pub offers_relayed: u64,
    pub answers_relayed: u64,
    pub answers_refused: u64,
    pub scrapes: u64,
    pub failures: u64,
}

/// The torrents of one shard. A connection's peers here are listed so that
/// its disconnection leaves them all; the connection's own limits (rate,
/// torrents, peer id) are checked before a message gets here
/// ([`crate::connection`]).
pub struct Swarms {
    limits: SwarmLimits,
    torrents: HashMap<InfoHash, Torrent>,
    conns: HashMap<ConnId, Vec<(InfoHash, PeerId)>>,
    pub counters: SwarmCounters,
}

fn failure(reason: &str, action: &str, info_hash: Option<InfoHash>) -> TrackerMessage {
    TrackerMessage::Failure(Failure {
        reason: reason.to_owned(),
        action: Some(action.to_owned()),
        info_hash,
    })
}

impl Swarms {
    pub fn new(limits: SwarmLimits) -> Self {
        Swarms {
            limits,
            torrents: HashMap::new(),
            conns: HashMap::new(),
            counters: SwarmCounters::default(),
        }
    }

    pub fn limits(&self) -> &SwarmLimits {
        &self.limits
    }

    /// The socket closed: every swarm it joined sees it as stopped.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(joined) = self.conns.remove(&conn) else {
            return;
        };
        for (ih, id) in joined {
            self.leave(&ih, &id);
        }
    }

    /// Removes `conn`'s record of (ih, id), dropping the record when empty.
    fn unlist(&mut self, conn: ConnId, ih: &InfoHash, id: &PeerId) {
        if let Some(joined) = self.conns.get_mut(&conn) {
            joined.retain(|(h, p)| !(h == ih && p == id));
            if joined.is_empty() {
                self.conns.remove(&conn);
            }
        }
    }

    fn leave(&mut self, ih: &InfoHash, id: &PeerId) {
        if let Some(t) = self.torrents.get_mut(ih) {
            t.remove(id);
            if t.peers.is_empty() {
                self.torrents.remove(ih);
            }
        }
    }

    /// An announce the connection's rules admitted
    /// ([`crate::connection::ConnRules::admit`]): joins, updates or leaves
    /// the torrent and relays its offers.
    pub fn announce(&mut self, conn: ConnId, a: Announce, now: Time, rng: &mut Rng) -> Outbox {
        let mut out = Outbox::new();
        self.join(conn, a, now, rng, &mut out);
        out
    }

    fn join(&mut self, conn: ConnId, a: Announce, now: Time, rng: &mut Rng, out: &mut Outbox) {
        let ih = a.info_hash;
        self.counters.announces += 1;
        if a.event == Some(AnnounceEvent::Stopped) {
            let ours = self
                .torrents
                .get(&ih)
                .and_then(|t| t.peers.get(&a.peer_id))
                .is_some_and(|p| p.conn == conn);
            if ours {
                self.leave(&ih, &a.peer_id);
                self.unlist(conn, &ih, &a.peer_id);
            }
            return;
        }
        // The same peer id from another connection is taken over by this one.
        let old = self
            .torrents
            .get(&ih)
            .and_then(|t| t.peers.get(&a.peer_id))
            .map(|p| p.conn)
            .filter(|&c| c != conn);
        if let Some(old) = old {
            self.unlist(old, &ih, &a.peer_id);
            out.push(Out::Dropped(old, ih, a.peer_id));
        }
        let torrent = self.torrents.entry(ih).or_default();
        let complete = a.left == Some(0) || a.event == Some(AnnounceEvent::Completed);
        let was_complete = torrent.peers.get(&a.peer_id).is_some_and(|p| p.complete);
        if a.event == Some(AnnounceEvent::Completed) && !was_complete {
            torrent.downloaded += 1;
        }
        let answerable = torrent
            .peers
            .get_mut(&a.peer_id)
            .map(|p| std::mem::take(&mut p.answerable))
            .unwrap_or_default();
        torrent.insert(
            a.peer_id,
            Peer {
                conn,
                complete,
                last_seen: now,
                answerable,
            },
        );
        let joined = self.conns.entry(conn).or_default();
        if !joined.contains(&(ih, a.peer_id)) {
            joined.push((ih, a.peer_id));
        }
        let offers: Vec<_> = a
            .offers
            .into_iter()
            .take(self.limits.max_offers_per_announce)
            .collect();
        let targets = torrent.targets(offers.len(), &a.peer_id, !complete, rng);
        let expires = now + self.limits.offer_timeout;
        for (to, offer) in targets.iter().zip(offers) {
            let Some(peer) = torrent.peers.get_mut(to) else {
                continue;
            };
            // Bounded: at most one live entry per offer id, and old ones are
            // dropped when the map grows past a few announces' worth.
            if peer.answerable.len() >= 4 * self.limits.max_offers_per_announce {
                peer.answerable.retain(|_, (_, exp)| *exp > now);
                if peer.answerable.len() >= 4 * self.limits.max_offers_per_announce {
                    continue;
                }
            }
            peer.answerable.insert(offer.offer_id, (a.peer_id, expires));
            self.counters.offers_relayed += 1;
            out.push(Out::To(
                peer.conn,
                TrackerMessage::Offer(RelayedOffer {
                    action: "announce".into(),
                    offer: offer.offer,
                    offer_id: offer.offer_id,
                    peer_id: a.peer_id,
                    info_hash: ih,
                }),
            ));
        }
        let (complete, incomplete) = torrent.counts();
        out.push(Out::To(
            conn,
            TrackerMessage::Announced(AnnounceResponse {
                action: "announce".into(),
                info_hash: ih,
                complete,
                incomplete,
                interval: self.limits.interval.as_secs() as u32,
            }),
        ));
    }

    /// Relays an answer to the peer whose offer it answers, if this peer
    /// was sent that offer; otherwise the answerer gets a failure reply.
    pub fn answer(&mut self, conn: ConnId, a: Answer, now: Time) -> Outbox {
        let mut out = Outbox::new();
        self.relay_answer(conn, a, now, &mut out);
        if matches!(out.first(), Some(Out::To(_, TrackerMessage::Failure(_)))) {
            self.counters.failures += 1;
        }
        out
    }

    fn relay_answer(&mut self, conn: ConnId, a: Answer, now: Time, out: &mut Outbox) {
        let ih = a.info_hash;
        let refuse = |out: &mut Outbox, why: &str| {
            out.push(Out::To(conn, failure(why, "announce", Some(ih))))
        };
        let Some(torrent) = self.torrents.get_mut(&ih) else {
            self.counters.answers_refused += 1;
            return refuse(out, "answer for a torrent you have not joined");
        };
        let Some(answerer) = torrent.peers.get_mut(&a.peer_id).filter(|p| p.conn == conn) else {
            self.counters.answers_refused += 1;
            return refuse(
                out,
                "answer from a peer id this connection did not announce",
            );
        };
        answerer.last_seen = now;
        // Relay only an answer to an offer we forwarded to this peer, once.
        let forwarded = answerer.answerable.remove(&a.offer_id);
        if answerer.answerable.is_empty() {
            // An idle peer should not keep the table its busiest moment needed.
            answerer.answerable = HashMap::new();
        }
        match forwarded {
            Some((offerer, exp)) if offerer == a.to_peer_id && exp > now => {}
            _ => {
                self.counters.answers_refused += 1;
                return refuse(out, "answer to an offer this peer was not sent");
            }
        }
        let Some(offerer) = torrent.peers.get(&a.to_peer_id) else {
            self.counters.answers_refused += 1;
            return refuse(out, "the offering peer has left");
        };
        self.counters.answers_relayed += 1;
        out.push(Out::To(
            offerer.conn,
            TrackerMessage::Answer(RelayedAnswer {
                action: "announce".into(),
                answer: a.answer,
                offer_id: a.offer_id,
                peer_id: a.peer_id,
                info_hash: ih,
            }),
        ));
    }

    /// Counts for each named torrent (zero for one this shard does not hold).
    pub fn scrape(&mut self, hashes: &[InfoHash]) -> Vec<ScrapeFile> {
        self.counters.scrapes += 1;
        hashes
            .iter()
            .map(|ih| {
                self.torrents.get(ih).map_or(ScrapeFile::default(), |t| {
                    let (complete, incomplete) = t.counts();
                    ScrapeFile {
                        complete,
                        incomplete,
                        downloaded: t.downloaded,
                    }
                })
            })
            .collect()
    }

    /// Drops peers not heard from within the timeout. Call periodically.
    pub fn expire(&mut self, now: Time) -> Outbox {
        let timeout = self.limits.peer_timeout;
        let mut gone: Vec<(InfoHash, PeerId, ConnId)> = Vec::new();
        for (ih, t) in &self.torrents {
            for (id, p) in &t.peers {
                if now.saturating_since(p.last_seen) > timeout {
                    gone.push((*ih, *id, p.conn));
                }
            }
        }
        gone.into_iter()
            .map(|(ih, id, conn)| {
                self.leave(&ih, &id);
                self.unlist(conn, &ih, &id);
                Out::Dropped(conn, ih, id)
            })
            .collect()
    }

    /// (torrents, seeders, leechers)
    pub fn totals(&self) -> (usize, u64, u64) {
        let (mut s, mut l) = (0, 0);
        for t in self.torrents.values() {
            let (c, i) = t.counts();
            s += u64::from(c);
            l += u64::from(i);
        }
        (self.torrents.len(), s, l)
    }
}

#[cfg(test)]
mod tests;

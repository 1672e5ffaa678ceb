//! The tracker's swarm logic, without sockets: which peers are in which
//! torrent, who gets each relayed offer, which answers may be relayed, and
//! when peers expire. Time and randomness are arguments, so every rule here is
//! unit-tested without a network.

use std::collections::HashMap;
use std::net::SocketAddr;
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

/// A tracker node of a cluster ([`crate::cluster`]).
pub type NodeId = u64;

/// Where a peer is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Home {
    /// To this node, on this connection.
    Local(ConnId),
    /// To another node of the cluster.
    Remote(NodeId),
}

struct Peer {
    home: Home,
    complete: bool,
    last_seen: Time,
    /// Offers relayed to this peer that it may answer: offer id -> (offerer, expiry).
    answerable: HashMap<OfferId, (PeerId, Time)>,
}

#[derive(Default)]
struct Torrent {
    peers: HashMap<PeerId, Peer>,
    /// Classic peers (HTTP and UDP announces), by TCP address: the same
    /// swarm in counts and scrapes, but only they can use each other's
    /// addresses.
    classic: HashMap<SocketAddr, ClassicPeer>,
    /// The same ids in a vector, for O(1) random choice.
    order: Vec<PeerId>,
    /// The complete ones, likewise.
    seeds: Vec<PeerId>,
    downloaded: u32,
}

impl Torrent {
    fn counts(&self) -> (u32, u32) {
        let complete = self.peers.values().filter(|p| p.complete).count() as u32;
        let classic = self.classic.values().filter(|p| p.complete).count() as u32;
        let all = (self.peers.len() + self.classic.len()) as u32;
        (complete + classic, all - complete - classic)
    }

    fn is_empty(&self) -> bool {
        self.peers.is_empty() && self.classic.is_empty()
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

impl Peer {
    /// Records that this peer was sent `offer` and may answer it until
    /// `expires`; `false` if it has too many unanswered offers already (old
    /// ones are dropped first).
    fn expect_answer(
        &mut self,
        offer: &RelayedOffer,
        expires: Time,
        now: Time,
        max: usize,
    ) -> bool {
        if self.answerable.len() >= max {
            self.answerable.retain(|_, (_, exp)| *exp > now);
            if self.answerable.len() >= max {
                return false;
            }
        }
        self.answerable
            .insert(offer.offer_id, (offer.peer_id, expires));
        true
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
    /// Send this to the node where its peer is connected.
    Relay(NodeId, Relay),
    /// Tell the other nodes: a peer connected here changed.
    Publish(Event),
}

/// A message for a peer connected to another node.
#[derive(Clone, Debug, PartialEq)]
pub enum Relay {
    Offer { to: PeerId, offer: RelayedOffer },
    Answer { to: PeerId, answer: RelayedAnswer },
}

/// A change in a swarm, as other nodes learn it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Joined, or its state changed; `completed`: it just finished the
    /// download (counted once, cluster-wide).
    Joined {
        ih: InfoHash,
        peer: PeerId,
        complete: bool,
        completed: bool,
    },
    Left {
        ih: InfoHash,
        peer: PeerId,
    },
    /// A classic peer (HTTP or UDP announce) joined here, or changed; the
    /// node that took its latest announce holds it.
    ClassicJoined {
        ih: InfoHash,
        addr: SocketAddr,
        complete: bool,
        completed: bool,
    },
    /// A classic peer left: it said so (`stopped`: gone wherever it was
    /// held), or its holder stopped hearing from it (gone from there).
    ClassicLeft {
        ih: InfoHash,
        addr: SocketAddr,
        stopped: bool,
    },
}

impl Event {
    pub fn info_hash(&self) -> &InfoHash {
        match self {
            Event::Joined { ih, .. }
            | Event::Left { ih, .. }
            | Event::ClassicJoined { ih, .. }
            | Event::ClassicLeft { ih, .. } => ih,
        }
    }
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
    /// Local membership changes for other nodes that no announce reply
    /// carries: peers that left with their connection, classic peers.
    published: Vec<Event>,
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
            published: Vec::new(),
            counters: SwarmCounters::default(),
        }
    }

    /// The socket closed: every swarm it joined sees it as stopped.
    pub fn disconnect(&mut self, conn: ConnId) {
        let Some(joined) = self.conns.remove(&conn) else {
            return;
        };
        for (ih, id) in joined {
            self.leave(&ih, &id);
            self.published.push(Event::Left { ih, peer: id });
        }
    }

    /// Membership changes of local peers made outside `announce` (a
    /// disconnection): for the other nodes of a cluster.
    pub fn take_published(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.published)
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
            if t.is_empty() {
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
                .is_some_and(|p| p.home == Home::Local(conn));
            if ours {
                self.leave(&ih, &a.peer_id);
                self.unlist(conn, &ih, &a.peer_id);
                out.push(Out::Publish(Event::Left {
                    ih,
                    peer: a.peer_id,
                }));
            }
            return;
        }
        let before = self
            .torrents
            .get(&ih)
            .and_then(|t| t.peers.get(&a.peer_id))
            .map(|p| (p.home, p.complete));
        // The same peer id from another connection is taken over by this one.
        if let Some((Home::Local(old), _)) = before.filter(|(h, _)| *h != Home::Local(conn)) {
            self.unlist(old, &ih, &a.peer_id);
            out.push(Out::Dropped(old, ih, a.peer_id));
        }
        let torrent = self.torrents.entry(ih).or_default();
        let complete = a.left == Some(0) || a.event == Some(AnnounceEvent::Completed);
        let was_complete = before.is_some_and(|(_, c)| c);
        let completed = a.event == Some(AnnounceEvent::Completed) && !was_complete;
        if completed {
            torrent.downloaded += 1;
        }
        if before != Some((Home::Local(conn), complete)) || completed {
            out.push(Out::Publish(Event::Joined {
                ih,
                peer: a.peer_id,
                complete,
                completed,
            }));
        }
        let answerable = torrent
            .peers
            .get_mut(&a.peer_id)
            .map(|p| std::mem::take(&mut p.answerable))
            .unwrap_or_default();
        torrent.insert(
            a.peer_id,
            Peer {
                home: Home::Local(conn),
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
        let max_answerable = 4 * self.limits.max_offers_per_announce;
        for (to, offer) in targets.iter().zip(offers) {
            let Some(peer) = torrent.peers.get_mut(to) else {
                continue;
            };
            let relayed = RelayedOffer {
                action: "announce".into(),
                offer: offer.offer,
                offer_id: offer.offer_id,
                peer_id: a.peer_id,
                info_hash: ih,
            };
            let o = match peer.home {
                // Its node records what it may answer.
                Home::Remote(node) => Out::Relay(
                    node,
                    Relay::Offer {
                        to: *to,
                        offer: relayed,
                    },
                ),
                Home::Local(c) => {
                    if !peer.expect_answer(&relayed, expires, now, max_answerable) {
                        continue;
                    }
                    Out::To(c, TrackerMessage::Offer(relayed))
                }
            };
            self.counters.offers_relayed += 1;
            out.push(o);
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
        let answerer = torrent.peers.get_mut(&a.peer_id);
        let Some(answerer) = answerer.filter(|p| p.home == Home::Local(conn)) else {
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
        let answer = RelayedAnswer {
            action: "announce".into(),
            answer: a.answer,
            offer_id: a.offer_id,
            peer_id: a.peer_id,
            info_hash: ih,
        };
        out.push(match offerer.home {
            Home::Local(c) => Out::To(c, TrackerMessage::Answer(answer)),
            Home::Remote(node) => Out::Relay(
                node,
                Relay::Answer {
                    to: a.to_peer_id,
                    answer,
                },
            ),
        });
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

    /// Drops local peers not heard from within the timeout (remote ones are
    /// their own node's to drop). Call periodically.
    pub fn expire(&mut self, now: Time) -> Outbox {
        let timeout = self.limits.peer_timeout;
        let mut gone: Vec<(InfoHash, PeerId, ConnId)> = Vec::new();
        for (ih, t) in &self.torrents {
            for (id, p) in &t.peers {
                match p.home {
                    Home::Local(c) if now.saturating_since(p.last_seen) > timeout => {
                        gone.push((*ih, *id, c))
                    }
                    _ => {}
                }
            }
        }
        self.expire_classic(now);
        let mut out = Outbox::new();
        for (ih, peer, conn) in gone {
            self.leave(&ih, &peer);
            self.unlist(conn, &ih, &peer);
            out.push(Out::Dropped(conn, ih, peer));
            out.push(Out::Publish(Event::Left { ih, peer }));
        }
        out
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

mod classic;
mod remote;
#[cfg(test)]
mod tests;

use classic::ClassicPeer;
pub use classic::{ClassicAnnounce, ClassicReply};

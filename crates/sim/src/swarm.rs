//! The simulation loop: peers join, announce through a simulated tracker with
//! their real tracker clients, connect when an offer is answered, and run the
//! real torrent hosts (the same `TorrentHost` the native and browser peers
//! drive) over the simulated network.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use webswarm_core::engine::Source;
use webswarm_core::host::{HostConfig, Note, Start, TorrentHost, Work};
use webswarm_core::tracker::{TorrentStatus, TrackerClient, TrackerConfig, TrackerWork};
use webswarm_core::Rng;
use webswarm_core::{engine, Bitfield, BlockRef, Info, PeerId, PeerKey, Time, TorrentCreator};

use crate::diagnose::{self, Second, Unused};
use crate::dirset::DirSet;
use crate::network::{
    allocate, by_sender, water_fill, Dir, Flow, Link, Turn, Uplink, ALLOCATION_ROUNDS, HIGH_WATER,
    LOW_WATER,
};
use crate::origin::Origin;
use crate::report::{PeerOutcome, Report};
use crate::scenario::{Behaviour, PeerSpec, Scenario};
use crate::storage::Storage;
use crate::tracker::SimTracker;

pub(crate) struct Node {
    pub(crate) spec: PeerSpec,
    pub(crate) host: Option<TorrentHost>,
    tracker: Option<TrackerClient>,
    storage: Storage,
    pub(crate) conns: BTreeMap<PeerKey, usize>,
    /// What the tracker client was last told.
    told: TorrentStatus,
    done_at: Option<Time>,
    prefix_at: Option<Time>,
    prefix_times: Vec<Time>,
    verified: Vec<u32>,
    left_at: Option<Time>,
    /// When the first connection opened.
    pub(crate) first_peer_at: Option<Time>,
    pub(crate) first_piece_at: Option<Time>,
    /// When its storage opens, once the host asked for it.
    storage_opens: Option<Time>,
    /// Storage work carried out before storage opened (must stay 0).
    early_storage_work: usize,
}

impl Node {
    /// Has a verified piece to give.
    fn has_data(&self) -> bool {
        self.host
            .as_ref()
            .is_some_and(|h| h.have().is_some_and(|b| b.count() > 0))
    }
}

pub struct Sim {
    pub(crate) sc: Scenario,
    pub(crate) info: Info,
    pub(crate) nodes: Vec<Node>,
    pub(crate) links: Vec<Option<Link>>,
    /// Directions with bytes queued, bytes on the wire, and above the
    /// high-water mark (told unwritable, until below the low one).
    busy: DirSet,
    blocked: DirSet,
    /// Directions with a message arriving, by arrival time: a tick visits
    /// only those due, not every direction with bytes on the wire.
    arrivals: BTreeMap<Time, Vec<(usize, usize)>>,
    /// Which node has which peer id (a host is running).
    ids: BTreeMap<PeerId, usize>,
    /// Links open between each pair of nodes (lower index first).
    pair_links: BTreeMap<(usize, usize), usize>,
    pub(crate) now: Time,
    trace: u64,
    bans: Vec<(usize, usize)>,
    closes: BTreeMap<String, usize>,
    /// Bytes put on the wire in the current second, and per-second utilisation.
    sent_this_second: f64,
    pub(crate) seed_reads: Vec<u32>,
    /// Every piece the seeds have read (diagnostics).
    seed_pieces_so_far: BTreeSet<u32>,
    utilization: Vec<f64>,
    tracker: SimTracker,
    /// Tracker frames on their way to peers: (arrival, peer, frame).
    inbox: VecDeque<(Time, usize, String)>,
    /// Connections opened, in order: (offerer, answerer).
    pub(crate) opened: Vec<(usize, usize, Time)>,
    /// Most links two peers ever had open at once.
    max_links_per_pair: usize,
    /// Diagnostics: upload left unused this second, by cause.
    unused: Unused,
    /// The site's origin (a webseed), and the content it serves.
    origin: Option<Origin>,
    content: Bytes,
}

/// Why a peer with data sends nothing (diagnostics), most telling first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Idle {
    BehindData,
    OnTheWire,
    UnchokeOnTheWire,
    AsksNothing,
    Choking,
    Unwanted,
}

/// Where the simulated site serves the file (the URL is not fetched: the
/// origin answers from the content).
const ORIGIN_URL: &str = "http://origin.example/sim.bin";

/// One-way latency between the origin and the network core.
const ORIGIN_LATENCY: std::time::Duration = std::time::Duration::from_millis(10);

/// The leading bytes a streaming player needs first.
pub const PREFIX: u64 = 1 << 20;

/// Deterministic file content: a cheap keyed byte stream.
fn content(len: u64, seed: u64) -> Bytes {
    let mut rng = Rng::new(seed);
    let mut v = vec![0u8; len as usize];
    rng.fill(&mut v);
    v.into()
}

fn fnv(h: u64, s: &str) -> u64 {
    s.bytes()
        .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

impl Sim {
    pub fn new(sc: Scenario) -> Self {
        let data = content(sc.file_len, sc.seed);
        let mut c = TorrentCreator::new("sim.bin", vec![(vec![], sc.file_len)], Some(sc.piece_len))
            .expect("scenario piece length is a multiple of 16 KiB");
        c.update(&data);
        let info = c.finish().expect("all bytes were fed").1.info;
        let nodes = sc
            .peers
            .iter()
            .map(|spec| Node {
                spec: spec.clone(),
                host: None,
                tracker: None,
                storage: Storage::new(sc.storage, info.layout, data.clone(), spec.seed),
                conns: BTreeMap::new(),
                told: TorrentStatus::default(),
                done_at: None,
                prefix_at: None,
                prefix_times: Vec::new(),
                verified: Vec::new(),
                left_at: None,
                first_peer_at: None,
                first_piece_at: None,
                storage_opens: None,
                early_storage_work: 0,
            })
            .collect();
        let interval = sc.reannounce.as_secs() as u32;
        let sc_origin = sc.origin;
        Sim {
            tracker: SimTracker::new(interval, sc.seed ^ 0x7a11),
            sc,
            info,
            nodes,
            links: Vec::new(),
            busy: DirSet::default(),
            arrivals: BTreeMap::new(),
            blocked: DirSet::default(),
            ids: BTreeMap::new(),
            pair_links: BTreeMap::new(),
            now: Time::ZERO,
            trace: 0xcbf2_9ce4_8422_2325,
            bans: Vec::new(),
            closes: BTreeMap::new(),
            sent_this_second: 0.0,
            seed_reads: Vec::new(),
            seed_pieces_so_far: BTreeSet::new(),
            utilization: Vec::new(),
            inbox: VecDeque::new(),
            opened: Vec::new(),
            max_links_per_pair: 0,
            unused: Unused::default(),
            origin: sc_origin.map(Origin::new),
            content: data,
        }
    }

    /// Runs until every leecher that stays has finished, or `max_time`.
    pub fn run(mut self) -> Report {
        let end = Time::ZERO + self.sc.max_time;
        while self.now < end && !self.finished() {
            self.step_membership();
            self.step_network();
            self.step_timers();
            self.deliver_frames();
            self.now = self.now + self.sc.tick;
            if self.now.as_micros() % 1_000_000 == 0 {
                self.sample_utilization();
            }
        }
        self.report()
    }

    /// Upload used in the last second over the capacity of peers that had
    /// something to give (everyone but leechers with no verified piece).
    fn sample_utilization(&mut self) {
        let cap: f64 = self
            .nodes
            .iter()
            .filter(|n| n.has_data())
            .map(|n| n.spec.up)
            .sum();
        self.utilization.push(self.sent_this_second / cap.max(1.0));
        if self.sc.diagnostics {
            let all: f64 = self
                .nodes
                .iter()
                .filter(|n| n.host.is_some())
                .map(|n| n.spec.up)
                .sum();
            self.seed_pieces_so_far
                .extend(self.seed_reads.iter().copied());
            let mut s = self.second();
            s.capacity = (self.sent_this_second, all - cap, all);
            diagnose::print_second(&s);
            diagnose::print_unused(s.at, &std::mem::take(&mut self.unused));
        }
        self.seed_reads.clear();
        self.sent_this_second = 0.0;
    }

    fn finished(&self) -> bool {
        self.nodes.iter().all(|n| {
            n.spec.seed
                || n.spec.behaviour != Behaviour::Honest
                || n.done_at.is_some()
                || n.spec.leave.is_some()
        })
    }

    fn log(&mut self, node: usize, what: &str) {
        self.trace = fnv(
            self.trace,
            &format!("{}:{node}:{what};", self.now.as_micros()),
        );
    }

    // ---- membership -------------------------------------------------------------

    fn step_membership(&mut self) {
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.left_at.is_some() {
                continue;
            }
            if n.host.is_none() && self.now >= Time::ZERO + n.spec.join {
                self.start(i);
            }
            let n = &self.nodes[i];
            if n.host.is_some() && n.spec.leave.is_some_and(|l| self.now >= Time::ZERO + l) {
                self.leave(i);
            }
        }
    }

    fn start(&mut self, i: usize) {
        let spec = &self.nodes[i].spec;
        let have = spec
            .seed
            .then(|| Bitfield::full(self.info.layout.num_pieces()));
        let seed = self.sc.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let peer_id = engine::Torrent::generate_peer_id(seed);
        let start = Start {
            source: Source::Info {
                info: Box::new(self.info.clone()),
                have,
            },
            peer_id,
            webseeds: match self.sc.origin {
                Some(_) => vec![ORIGIN_URL.to_owned()],
                None => Vec::new(),
            },
            storage_open: spec.storage_delay.is_none(),
            recheck: Vec::new(),
        };
        let cfg = HostConfig {
            engine: self.sc.engine.clone(),
            ..HostConfig::default()
        };
        let mut host = TorrentHost::new(cfg, start, self.now, seed);
        if spec.streaming {
            // The player reads the first bytes at once: the deadline picker goes first.
            host.want_range(self.now, 0, PREFIX);
        }
        let tcfg = TrackerConfig {
            offers_per_announce: self.sc.numwant,
            default_interval: self.sc.reannounce,
            ..TrackerConfig::default()
        };
        let mut tracker = TrackerClient::new(tcfg, self.now, seed ^ 0x51);
        tracker.join(
            self.now,
            self.info.info_hash,
            peer_id,
            host.tracker_status(),
        );
        self.ids.insert(peer_id, i);
        let n = &mut self.nodes[i];
        n.told = host.tracker_status();
        n.host = Some(host);
        n.tracker = Some(tracker);
        self.log(i, "join");
        self.drain(i);
    }

    fn leave(&mut self, i: usize) {
        let links: Vec<usize> = self.nodes[i].conns.values().copied().collect();
        for l in links {
            self.drop_link(l, None);
        }
        if let Some(t) = self.nodes[i].tracker.as_mut() {
            t.leave(self.info.info_hash);
        }
        self.drain(i);
        if let Some(h) = self.nodes[i].host.as_ref() {
            self.ids.remove(&h.peer_id());
        }
        let n = &mut self.nodes[i];
        n.host = None;
        n.tracker = None;
        n.left_at = Some(self.now);
        self.log(i, "leave");
    }

    fn node_of(&self, id: PeerId) -> Option<usize> {
        self.ids.get(&id).copied()
    }

    /// A channel opened between `a` (which offered) and `b`.
    fn connect(&mut self, a: usize, b: usize) {
        let now = self.now;
        let id = |n: &Node| n.host.as_ref().map(TorrentHost::peer_id);
        let (Some(id_a), Some(id_b)) = (id(&self.nodes[a]), id(&self.nodes[b])) else {
            return;
        };
        let add = |n: &mut Node, remote, we_offered| {
            n.host
                .as_mut()
                .and_then(|h| h.add_peer(now, Some(remote), we_offered).ok())
        };
        let ka = add(&mut self.nodes[a], id_b, true);
        let kb = add(&mut self.nodes[b], id_a, false);
        match (ka, kb) {
            (Some(ka), Some(kb)) => {
                let latency = self.nodes[a].spec.latency + self.nodes[b].spec.latency;
                let l = self.links.len();
                self.links.push(Some(Link {
                    ends: [(a, ka), (b, kb)],
                    dirs: [Dir::default(), Dir::default()],
                    latency,
                }));
                self.nodes[a].conns.insert(ka, l);
                self.nodes[b].conns.insert(kb, l);
                self.opened.push((a, b, now));
                *self.pair_links.entry((a.min(b), a.max(b))).or_default() += 1;

                for x in [a, b] {
                    self.nodes[x].first_peer_at.get_or_insert(now);
                }
            }
            // One side refused (full, banned, a duplicate): the other sees it close.
            (Some(k), None) => self.closed_by_remote(a, k),
            (None, Some(k)) => self.closed_by_remote(b, k),
            (None, None) => {}
        }
        self.drain(a);
        self.drain(b);
        // Once both sides settled a duplicate, one connection is left.
        let open = self
            .pair_links
            .get(&(a.min(b), a.max(b)))
            .copied()
            .unwrap_or(0);
        self.max_links_per_pair = self.max_links_per_pair.max(open);
    }

    fn closed_by_remote(&mut self, node: usize, key: PeerKey) {
        let now = self.now;
        if let Some(h) = self.nodes[node].host.as_mut() {
            h.handle_closed(now, key);
        }
    }

    /// Tears a link down; the side that did not close it is told.
    fn drop_link(&mut self, l: usize, closed_by: Option<usize>) {
        let Some(link) = self.links[l].take() else {
            return;
        };
        for d in 0..2 {
            self.busy.remove(l, d);
            self.blocked.remove(l, d);
        }
        let (a, b) = (link.ends[0].0, link.ends[1].0);
        let pair = (a.min(b), a.max(b));
        if let Some(n) = self.pair_links.get_mut(&pair) {
            *n -= 1;
            if *n == 0 {
                self.pair_links.remove(&pair);
            }
        }
        for (node, key) in link.ends {
            self.nodes[node].conns.remove(&key);
            if Some(node) != closed_by {
                self.closed_by_remote(node, key);
            }
        }
        for (node, _) in link.ends {
            if Some(node) != closed_by {
                self.drain(node);
            }
        }
    }

    // ---- signalling through the tracker ---------------------------------------------

    /// Frames reach a peer after the sender's and its own latency to the
    /// tracker (at the network core): two peers can offer to each other at once.
    /// Due frames go in the order they were sent, one pass over the inbox
    /// per round (a frame sent while handling one arrives in a later round).
    fn deliver_frames(&mut self) {
        let now = self.now;
        while self.inbox.iter().any(|(t, _, _)| *t <= now) {
            let (due, later) = std::mem::take(&mut self.inbox)
                .into_iter()
                .partition::<VecDeque<_>, _>(|(t, _, _)| *t <= now);
            self.inbox = later;
            for (_, i, text) in due {
                if let Some(t) = self.nodes[i].tracker.as_mut() {
                    t.handle_message(now, &text);
                    self.drain(i);
                }
            }
        }
    }

    fn tracker_work(&mut self, i: usize, w: TrackerWork) {
        let now = self.now;
        let n = &mut self.nodes[i];
        let (Some(t), host) = (n.tracker.as_mut(), n.host.as_ref()) else {
            return;
        };
        match w {
            TrackerWork::Connect => t.handle_connected(now),
            TrackerWork::Disconnect | TrackerWork::DropOffer(_) => {}
            TrackerWork::Send(text) => {
                let mut out = Vec::new();
                self.tracker
                    .receive(now.saturating_since(Time::ZERO), i, &text, &mut out);
                let from = self.nodes[i].spec.latency;
                for (to, frame) in out {
                    let at = now + from + self.nodes[to].spec.latency;
                    self.inbox.push_back((at, to, frame));
                }
            }
            TrackerWork::MakeOffers { info_hash, ids } => {
                let made = ids
                    .into_iter()
                    .map(|id| (id, format!("offer of {i}")))
                    .collect();
                t.handle_offers_made(now, info_hash, made);
            }
            TrackerWork::AnswerOffer {
                info_hash,
                remote,
                offer_id,
                ..
            } => {
                if host.is_some_and(|h| h.accepts(remote)) {
                    t.handle_answer_made(info_hash, remote, offer_id, format!("answer of {i}"));
                }
            }
            TrackerWork::AcceptAnswer { remote, .. } => {
                if let Some(j) = self.node_of(remote) {
                    self.connect(i, j);
                }
            }
        }
    }

    // ---- the network ------------------------------------------------------------

    fn step_network(&mut self) {
        self.transmit();
        self.deliver();
        self.unblock();
        self.serve_origin();
    }

    /// The origin's answers whose last byte arrived go to their hosts.
    fn serve_origin(&mut self) {
        let now = self.now;
        let Some(o) = self.origin.as_mut() else {
            return;
        };
        for f in o.step(now, self.sc.tick) {
            let start = self.info.layout.piece_offset(f.piece) as usize + f.offset as usize;
            let data = self.content.slice(start..start + f.len as usize);
            if let Some(h) = self.nodes[f.node].host.as_mut() {
                h.handle_fetched(now, f.webseed, f.piece, f.offset, Ok(data));
                self.drain(f.node);
            }
        }
    }

    /// Moves queued bytes onto the wire: each busy direction gets its share
    /// of its sender's upload, within its receiver's download (`allocate`).
    fn transmit(&mut self) {
        let dt = self.sc.tick.as_secs_f64();
        // Busy directions grouped by sender, senders in index order and each
        // sender's directions in (link, dir) order (the sort is stable).
        let mut by_sender: Vec<(usize, usize, usize)> = self
            .busy
            .to_vec()
            .into_iter()
            .filter_map(|(l, d)| Some((self.links[l].as_ref()?.ends[d].0, l, d)))
            .collect();
        by_sender.sort_by_key(|&(sender, _, _)| sender);
        let flows: Vec<Flow> = by_sender
            .iter()
            .map(|&(sender, l, d)| {
                let link = self.links[l].as_ref();
                Flow {
                    sender,
                    receiver: link.map_or(0, |k| k.ends[1 - d].0),
                    queued: link.map_or(0, |k| k.dirs[d].queued),
                    turn: match (self.sc.uplink, link) {
                        (Uplink::Serial, Some(k)) => k.dirs[d].turn(),
                        _ => Turn::IDLE,
                    },
                }
            })
            .collect();
        let offered = self.sc.diagnostics.then(|| self.note_unused(&flows, dt));
        let mut up: Vec<f64> = self.nodes.iter().map(|n| n.spec.up * dt).collect();
        let mut down: Vec<f64> = self.nodes.iter().map(|n| n.spec.down * dt).collect();
        let sent = allocate(
            &flows,
            &mut up,
            &mut down,
            ALLOCATION_ROUNDS,
            self.sc.uplink,
        );
        if let Some(offered) = offered {
            self.unused.receivers_full += (offered - sent.iter().sum::<f64>()).max(0.0);
        }
        for (&(_, l, d), n) in by_sender.iter().zip(sent) {
            let Some(link) = self.links[l].as_mut() else {
                continue;
            };
            let arrive = self.now + link.latency;
            let dir = &mut link.dirs[d];
            let before = dir.in_flight.len();
            self.sent_this_second += dir.transmit(n as usize, arrive) as f64;
            if dir.queued == 0 {
                self.busy.remove(l, d);
            }
            if dir.in_flight.len() > before {
                self.arrivals.entry(arrive).or_default().push((l, d));
            }
        }
    }

    /// Diagnostics: why peers with data left upload unused this tick, given
    /// what each sender's upload alone would give its flows; returns the
    /// bytes so offered.
    fn note_unused(&mut self, flows: &[Flow], dt: f64) -> f64 {
        let mut granted: Vec<Option<f64>> = vec![None; self.nodes.len()];
        for (_, group) in by_sender(flows) {
            let s = group[0].sender;
            let demands: Vec<usize> = group.iter().map(|f| f.queued).collect();
            let g: usize = water_fill(&demands, self.nodes[s].spec.up * dt)
                .iter()
                .sum();
            *granted[s].get_or_insert(0.0) += g as f64;
        }
        let mut u = std::mem::take(&mut self.unused);
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.has_data() {
                continue;
            }
            let cap = n.spec.up * dt;
            u.capacity += cap;
            match granted[i] {
                Some(g) => u.short += (cap - g).max(0.0),
                None => {
                    *match self.why_idle(i) {
                        Idle::BehindData => &mut u.behind_data,
                        Idle::OnTheWire => &mut u.on_the_wire,
                        Idle::UnchokeOnTheWire => &mut u.unchoke_on_the_wire,
                        Idle::AsksNothing => &mut u.asks_nothing,
                        Idle::Choking => &mut u.choking,
                        Idle::Unwanted => &mut u.unwanted,
                    } += cap
                }
            }
        }
        self.unused = u;
        granted.iter().flatten().sum()
    }

    /// Why a peer with data has nothing queued to anyone.
    fn why_idle(&self, i: usize) -> Idle {
        let Some(h) = self.nodes[i].host.as_ref() else {
            return Idle::Unwanted;
        };
        let stats = h.engine().peer_stats(self.now);
        let mut why = if stats.iter().any(|p| p.peer_interested) {
            Idle::Choking
        } else {
            Idle::Unwanted
        };
        for p in stats.iter().filter(|p| p.peer_interested && !p.am_choking) {
            let Some(link) = self.nodes[i]
                .conns
                .get(&p.peer)
                .and_then(|&l| self.links[l].as_ref())
            else {
                continue;
            };
            let d = usize::from(link.ends[0].0 != i);
            let (j, key) = link.ends[1 - d];
            let Some(q) = self.nodes[j].host.as_ref().and_then(|hj| {
                hj.engine()
                    .peer_stats(self.now)
                    .into_iter()
                    .find(|q| q.peer == key)
            }) else {
                continue;
            };
            // The most telling cause among its unchoked peers wins.
            let this = match (q.requests_out > 0, q.peer_choking) {
                (true, _) if link.dirs[1 - d].queued > 0 => Idle::BehindData,
                (true, _) => Idle::OnTheWire,
                (false, true) => Idle::UnchokeOnTheWire,
                (false, false) => Idle::AsksNothing,
            };
            why = why.min(this);
        }
        why
    }

    /// Hands each message whose last byte arrived to its receiver, the
    /// directions in `(link, dir)` order.
    fn deliver(&mut self) {
        let mut due = Vec::new();
        while let Some(e) = self.arrivals.first_entry() {
            if *e.key() > self.now {
                break;
            }
            due.extend(e.remove());
        }
        due.sort_unstable();
        due.dedup();
        for (l, d) in due {
            while let Some(link) = self.links[l].as_mut() {
                let dir = &mut link.dirs[d];
                if dir.in_flight.front().is_none_or(|(t, _)| *t > self.now) {
                    break;
                }
                let Some((_, data)) = dir.in_flight.pop_front() else {
                    break;
                };
                let (node, key) = link.ends[1 - d];
                let now = self.now;
                if let Some(h) = self.nodes[node].host.as_mut() {
                    h.handle_bytes(now, key, data);
                }
                self.drain(node);
            }
        }
    }

    fn unblock(&mut self) {
        let now = self.now;
        let mut wake = Vec::new();
        for (l, d) in self.blocked.to_vec() {
            let Some(link) = self.links[l].as_mut() else {
                continue;
            };
            if link.dirs[d].queued < LOW_WATER {
                self.blocked.remove(l, d);
                wake.push(link.ends[d]);
            }
        }
        for (node, key) in wake {
            if let Some(h) = self.nodes[node].host.as_mut() {
                h.handle_writable(now, key, true);
            }
            self.drain(node);
        }
    }

    fn step_timers(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            let mut due = false;
            if let Some(h) = n.host.as_mut().filter(|h| h.poll_timeout() <= now) {
                h.handle_timeout(now);
                due = true;
            }
            if n.storage_opens.is_some_and(|t| t <= now) {
                n.storage_opens = None;
                if let Some(h) = n.host.as_mut() {
                    h.handle_storage_opened(now, Ok(()));
                }
                due = true;
            }
            if let Some(t) = n
                .tracker
                .as_mut()
                .filter(|t| t.poll_timeout().is_some_and(|d| d <= now))
            {
                t.handle_timeout(now);
                due = true;
            }
            if due {
                self.drain(i);
            }
        }
    }

    // ---- carrying out a node's work ---------------------------------------------------

    fn drain(&mut self, i: usize) {
        loop {
            let mut busy = false;
            while let Some(w) = self.nodes[i].host.as_mut().and_then(TorrentHost::poll_work) {
                busy = true;
                self.host_work(i, w);
            }
            self.tell_tracker(i);
            while let Some(w) = self.nodes[i]
                .tracker
                .as_mut()
                .and_then(TrackerClient::poll_work)
            {
                busy = true;
                self.tracker_work(i, w);
            }
            if !busy {
                return;
            }
        }
    }

    fn tell_tracker(&mut self, i: usize) {
        let now = self.now;
        let ih = self.info.info_hash;
        let n = &mut self.nodes[i];
        let (Some(h), Some(t)) = (n.host.as_ref(), n.tracker.as_mut()) else {
            return;
        };
        let s = h.tracker_status();
        if s != n.told {
            n.told = s;
            t.set_status(now, ih, s);
        }
    }

    fn host_work(&mut self, i: usize, w: Work) {
        let now = self.now;
        let n = &mut self.nodes[i];
        let storage_work = matches!(
            w,
            Work::ReadPiece { .. } | Work::StoreBlock { .. } | Work::CheckPiece { .. }
        );
        if storage_work && n.storage_opens.is_some() {
            n.early_storage_work += 1;
        }
        match w {
            Work::Send { peer, data } => self.send(i, peer, data),
            Work::Close { peer, reason } => {
                *self.closes.entry(format!("{reason}")).or_default() += 1;
                if let Some(&l) = self.nodes[i].conns.get(&peer) {
                    self.drop_link(l, Some(i));
                }
            }
            Work::ReadPiece { piece, len } => {
                if self.nodes[i].spec.seed && self.sc.diagnostics {
                    self.seed_reads.push(piece.get());
                }
                let n = &mut self.nodes[i];
                let whole = BlockRef {
                    piece,
                    offset: 0,
                    len,
                };
                let data = n
                    .storage
                    .read(whole, n.spec.behaviour == Behaviour::Corrupt);
                if let Some(h) = n.host.as_mut() {
                    h.handle_piece_read(now, piece, Some(data));
                }
            }
            Work::StoreBlock { block, data } => self.nodes[i].storage.write(block, &data),
            Work::CheckPiece { piece, hash } => {
                let n = &mut self.nodes[i];
                let ok = n.storage.verify(piece, hash);
                if let Some(h) = n.host.as_mut() {
                    h.handle_piece_checked(now, piece, ok);
                }
            }
            Work::Fetch {
                webseed,
                piece,
                offset,
                len,
                ..
            } => {
                let latency = self.nodes[i].spec.latency + ORIGIN_LATENCY;
                if let Some(o) = self.origin.as_mut() {
                    o.request(now, latency, (i, webseed, piece, offset, len));
                }
            }
            Work::OpenStorage => {
                let n = &mut self.nodes[i];
                n.storage_opens = Some(now + n.spec.storage_delay.unwrap_or_default());
            }
            Work::SaveResume { .. } => {
                if let Some(h) = self.nodes[i].host.as_mut() {
                    h.handle_resume_saved(now, Ok(()));
                }
            }
            Work::Notify(note) => self.on_note(i, note),
            // The simulator has no classic peers to dial.
            Work::Dial(_) => {}
        }
    }

    fn send(&mut self, i: usize, peer: PeerKey, data: Bytes) {
        let Some(&l) = self.nodes[i].conns.get(&peer) else {
            return;
        };
        let Some(link) = self.links[l].as_mut() else {
            return;
        };
        let d = usize::from(link.ends[0] != (i, peer));
        let dir = &mut link.dirs[d];
        dir.push(data, self.now);
        self.busy.insert(l, d);
        if dir.queued > HIGH_WATER && !self.blocked.contains(l, d) {
            self.blocked.insert(l, d);
            let now = self.now;
            if let Some(h) = self.nodes[i].host.as_mut() {
                h.handle_writable(now, peer, false);
            }
        }
    }

    fn on_note(&mut self, i: usize, note: Note) {
        match &note {
            Note::Verified(p, _) => {
                let prefix = self.info.layout.pieces_in_range(0, PREFIX);
                self.nodes[i].verified.push(p.get());
                let now = self.now;
                self.nodes[i].first_piece_at.get_or_insert(now);
                if prefix.contains(&p.get()) {
                    self.nodes[i].prefix_times.push(self.now);
                }
                let have_prefix = self.nodes[i]
                    .host
                    .as_ref()
                    .and_then(TorrentHost::have)
                    .is_some_and(|h| prefix.clone().all(|j| h.get(j)));
                if have_prefix && self.nodes[i].prefix_at.is_none() {
                    self.nodes[i].prefix_at = Some(self.now);
                }
                self.log(i, &format!("v{}", p.get()));
            }
            Note::Done => {
                self.nodes[i].done_at = Some(self.now);
                self.log(i, "done");
            }
            Note::Banned(peer_id) => {
                if let Some(w) = self.node_of(*peer_id) {
                    self.bans.push((i, w));
                }
                self.log(i, &format!("ban{peer_id}"));
            }
            other => self.log(i, &format!("{other:?}")),
        }
    }

    // ---- results ----------------------------------------------------------------------

    /// This second's numbers for the diagnostics.
    fn second(&self) -> Second {
        let mut s = Second {
            at: self.now.saturating_since(Time::ZERO),
            seed_piece_reads: self.seed_reads.len(),
            distinct_seed_pieces: self.seed_reads.iter().collect::<BTreeSet<_>>().len(),
            seed_pieces_so_far: self.seed_pieces_so_far.len(),
            held_by_leechers: self.held_by_leechers(),
            ..Second::default()
        };
        for n in self.nodes.iter().filter(|n| !n.spec.seed) {
            s.progress.push((n.spec.up, n.verified.len()));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let Some(h) = node.host.as_ref().filter(|_| node.has_data()) else {
                continue;
            };
            let queued = node.conns.values().any(|&l| {
                self.links[l].as_ref().is_some_and(|link| {
                    let d = usize::from(link.ends[0].0 != i);
                    link.dirs[d].queued > 0
                })
            });
            let stats = h.engine().peer_stats(self.now);
            if queued || stats.iter().any(|p| p.requests_in > 0) {
                s.sending += 1;
            } else if !stats.iter().any(|p| p.peer_interested) {
                s.unwanted += 1;
            } else if !stats.iter().any(|p| p.peer_interested && !p.am_choking) {
                s.choking += 1;
            } else {
                s.unasked += 1;
            }
        }
        s
    }

    /// Pieces at least one leecher has verified.
    fn held_by_leechers(&self) -> usize {
        let haves: Vec<&Bitfield> = self
            .nodes
            .iter()
            .filter(|n| !n.spec.seed)
            .filter_map(|n| n.host.as_ref()?.have())
            .collect();
        (0..self.info.layout.num_pieces())
            .filter(|&i| haves.iter().any(|h| h.get(i)))
            .count()
    }

    fn report(&self) -> Report {
        let peers = self
            .nodes
            .iter()
            .map(|n| PeerOutcome {
                seed: n.spec.seed,
                behaviour: n.spec.behaviour,
                streaming: n.spec.streaming,
                joined: n.spec.join,
                left: n.left_at.map(|t| t - Time::ZERO),
                completed: n.done_at.map(|t| t - Time::ZERO),
                first_mib: n.prefix_at.map(|t| t - Time::ZERO),
                first_peer: n.first_peer_at.map(|t| t - Time::ZERO),
                first_piece: n.first_piece_at.map(|t| t - Time::ZERO),
                verified_order: n.verified.clone(),
                prefix_pieces: n.prefix_times.iter().map(|&t| t - Time::ZERO).collect(),
                uploaded: n.host.as_ref().map_or(0, |h| h.engine().uploaded()),
                early_storage_work: n.early_storage_work,
                verified_pieces: n
                    .host
                    .as_ref()
                    .and_then(TorrentHost::have)
                    .map_or(0, Bitfield::count),
                content_matches: n.storage.matches_content(),
            })
            .collect();
        Report {
            peers,
            num_pieces: self.info.layout.num_pieces(),
            fluid_bound: self.sc.fluid_bound(),
            sim_time: self.now - Time::ZERO,
            trace_hash: self.trace,
            bans: self.bans.clone(),
            closes: self.closes.clone(),
            utilization: self.utilization.clone(),
            connections: self.opened.len(),
            max_links_per_pair: self.max_links_per_pair,
            announces: self.tracker.announces().to_vec(),
            origin_bytes: self.origin.as_ref().map_or(0, Origin::served),
            file_len: self.sc.file_len,
        }
    }
}

//! The simulation loop: peers join, announce to a simulated tracker, connect,
//! and run real webswarm-core engines over the simulated network.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use webswarm_core::engine::{Event, Output, Source, Torrent};
use webswarm_core::rng::Rng;
use webswarm_core::{Bitfield, Info, PeerKey, Time, TorrentCreator};

use crate::network::{water_fill, Dir, Link, HIGH_WATER, LOW_WATER};
use crate::report::{PeerOutcome, Report};
use crate::scenario::{Behaviour, PeerSpec, Scenario};
use crate::storage::Storage;

pub(crate) struct Node {
    pub(crate) spec: PeerSpec,
    pub(crate) torrent: Option<Torrent>,
    storage: Storage,
    pub(crate) conns: BTreeMap<PeerKey, usize>,
    next_announce: Time,
    done_at: Option<Time>,
    prefix_at: Option<Time>,
    prefix_times: Vec<Time>,
    verified: Vec<u32>,
    left_at: Option<Time>,
}

pub struct Sim {
    pub(crate) sc: Scenario,
    pub(crate) info: Info,
    pub(crate) nodes: Vec<Node>,
    pub(crate) links: Vec<Option<Link>>,
    busy: BTreeSet<(usize, usize)>,
    flying: BTreeSet<(usize, usize)>,
    rng: Rng,
    pub(crate) now: Time,
    trace: u64,
    bans: Vec<(usize, usize)>,
    closes: BTreeMap<String, usize>,
    /// Bytes put on the wire in the current second, and per-second utilisation.
    sent_this_second: f64,
    pub(crate) seed_reads: Vec<u32>,
    utilization: Vec<f64>,
}

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
                torrent: None,
                storage: Storage::new(sc.storage, info.layout, data.clone(), spec.seed),
                conns: BTreeMap::new(),
                next_announce: Time::ZERO + spec.join,
                done_at: None,
                prefix_at: None,
                prefix_times: Vec::new(),
                verified: Vec::new(),
                left_at: None,
            })
            .collect();
        Sim {
            rng: Rng::new(sc.seed),
            sc,
            info,
            nodes,
            links: Vec::new(),
            busy: BTreeSet::new(),
            flying: BTreeSet::new(),
            now: Time::ZERO,
            trace: 0xcbf2_9ce4_8422_2325,
            bans: Vec::new(),
            closes: BTreeMap::new(),
            sent_this_second: 0.0,
            seed_reads: Vec::new(),
            utilization: Vec::new(),
        }
    }

    /// Runs until every leecher that stays has finished, or `max_time`.
    pub fn run(mut self) -> Report {
        let end = Time::ZERO + self.sc.max_time;
        while self.now < end && !self.finished() {
            self.step_membership();
            self.step_network();
            self.step_timers();
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
            .filter(|n| {
                n.torrent
                    .as_ref()
                    .is_some_and(|t| t.have().is_some_and(|h| h.count() > 0))
            })
            .map(|n| n.spec.up)
            .sum();
        self.utilization.push(self.sent_this_second / cap.max(1.0));
        if self.sc.diagnostics {
            crate::diagnose::print_second(self);
        }
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

    // ---- membership: joining, leaving, the tracker ------------------------

    fn step_membership(&mut self) {
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if n.left_at.is_some() {
                continue;
            }
            if n.torrent.is_none() && self.now >= Time::ZERO + n.spec.join {
                self.start(i);
            }
            let n = &self.nodes[i];
            if n.torrent.is_some() && n.spec.leave.is_some_and(|l| self.now >= Time::ZERO + l) {
                self.leave(i);
                continue;
            }
            if n.torrent.is_some() && self.now >= n.next_announce {
                self.announce(i);
            }
        }
    }

    fn start(&mut self, i: usize) {
        let spec = &self.nodes[i].spec;
        let have = spec
            .seed
            .then(|| Bitfield::full(self.info.layout.num_pieces()));
        let source = Source::Info {
            info: Box::new(self.info.clone()),
            have,
        };
        let seed = self.sc.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let id = Torrent::generate_peer_id(seed);
        let mut t = Torrent::new(self.sc.engine.clone(), source, id, self.now, seed);
        if spec.streaming {
            // Ask for the first bytes within a second: the deadline picker goes first.
            t.set_deadline(self.now, 0, PREFIX, self.now + Duration::from_secs(1));
        }
        self.nodes[i].torrent = Some(t);
        self.log(i, "join");
    }

    fn leave(&mut self, i: usize) {
        let links: Vec<usize> = self.nodes[i].conns.values().copied().collect();
        for l in links {
            self.drop_link(l, None);
        }
        self.nodes[i].torrent = None;
        self.nodes[i].left_at = Some(self.now);
        self.log(i, "leave");
    }

    /// Connects to random live peers until the node has `numwant` connections.
    fn announce(&mut self, i: usize) {
        self.nodes[i].next_announce = self.now + self.sc.reannounce;
        let want = self.sc.numwant.saturating_sub(self.nodes[i].conns.len());
        if want == 0 {
            return;
        }
        let mut candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != i && self.nodes[j].torrent.is_some())
            .filter(|&j| !self.connected(i, j))
            .collect();
        self.rng.shuffle(&mut candidates);
        for j in candidates.into_iter().take(want) {
            self.connect(i, j);
        }
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.nodes[a].conns.values().any(|&l| {
            self.links[l]
                .as_ref()
                .is_some_and(|link| link.ends[0].0 == b || link.ends[1].0 == b)
        })
    }

    fn connect(&mut self, a: usize, b: usize) {
        let now = self.now;
        let id_b = self.nodes[b].torrent.as_ref().map(Torrent::peer_id);
        let id_a = self.nodes[a].torrent.as_ref().map(Torrent::peer_id);
        let Some(Ok(ka)) = self.nodes[a]
            .torrent
            .as_mut()
            .map(|t| t.add_peer(now, id_b))
        else {
            return;
        };
        let Some(Ok(kb)) = self.nodes[b]
            .torrent
            .as_mut()
            .map(|t| t.add_peer(now, id_a))
        else {
            // b refused (full or banned): a forgets the half-open connection.
            if let Some(t) = self.nodes[a].torrent.as_mut() {
                t.peer_disconnected(now, ka);
            }
            self.drain(a);
            return;
        };
        let latency = self.nodes[a].spec.latency + self.nodes[b].spec.latency;
        let id = self.links.len();
        self.links.push(Some(Link {
            ends: [(a, ka), (b, kb)],
            dirs: [Dir::default(), Dir::default()],
            latency,
        }));
        self.nodes[a].conns.insert(ka, id);
        self.nodes[b].conns.insert(kb, id);
        self.drain(a);
        self.drain(b);
    }

    /// Tears a link down; the side that did not close it is told.
    fn drop_link(&mut self, l: usize, closed_by: Option<usize>) {
        let Some(link) = self.links[l].take() else {
            return;
        };
        let now = self.now;
        for (node, key) in link.ends {
            self.nodes[node].conns.remove(&key);
            if Some(node) != closed_by {
                if let Some(t) = self.nodes[node].torrent.as_mut() {
                    t.peer_disconnected(now, key);
                }
            }
        }
        for (node, _) in link.ends {
            if Some(node) != closed_by {
                self.drain(node);
            }
        }
    }

    // ---- the network ------------------------------------------------------

    fn step_network(&mut self) {
        self.transmit();
        self.deliver();
        self.unblock();
    }

    fn transmit(&mut self) {
        let dt = self.sc.tick.as_secs_f64();
        let mut by_sender: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for &(l, d) in &self.busy {
            if let Some(link) = &self.links[l] {
                by_sender.entry(link.ends[d].0).or_default().push((l, d));
            }
        }
        // Offers per sender, then scaled per receiver.
        let mut offers: Vec<(usize, usize, usize, f64)> = Vec::new();
        for (sender, dirs) in by_sender {
            let demands: Vec<usize> = dirs
                .iter()
                .map(|&(l, d)| self.links[l].as_ref().map_or(0, |k| k.dirs[d].queued))
                .collect();
            let grants = water_fill(&demands, self.nodes[sender].spec.up * dt);
            for (&(l, d), g) in dirs.iter().zip(grants) {
                let receiver = self.links[l].as_ref().map_or(0, |k| k.ends[1 - d].0);
                offers.push((l, d, receiver, g as f64));
            }
        }
        let mut incoming: BTreeMap<usize, f64> = BTreeMap::new();
        for &(_, _, r, g) in &offers {
            *incoming.entry(r).or_default() += g;
        }
        for (l, d, r, g) in offers {
            let cap = self.nodes[r].spec.down * dt;
            let scale = (cap / incoming[&r]).min(1.0);
            let n = (g * scale) as usize;
            let Some(link) = self.links[l].as_mut() else {
                continue;
            };
            let arrive = self.now + link.latency;
            self.sent_this_second += link.dirs[d].transmit(n, arrive) as f64;
            if link.dirs[d].queued == 0 {
                self.busy.remove(&(l, d));
            }
            if !link.dirs[d].in_flight.is_empty() {
                self.flying.insert((l, d));
            }
        }
    }

    fn deliver(&mut self) {
        let flying: Vec<(usize, usize)> = self.flying.iter().copied().collect();
        for (l, d) in flying {
            loop {
                let Some(link) = self.links[l].as_mut() else {
                    self.flying.remove(&(l, d));
                    break;
                };
                let dir = &mut link.dirs[d];
                match dir.in_flight.front() {
                    Some((t, _)) if *t <= self.now => {}
                    Some(_) => break,
                    None => {
                        self.flying.remove(&(l, d));
                        break;
                    }
                }
                let Some((_, data)) = dir.in_flight.pop_front() else {
                    break;
                };
                let (node, key) = link.ends[1 - d];
                let now = self.now;
                if let Some(t) = self.nodes[node].torrent.as_mut() {
                    t.handle_data(now, key, &data);
                }
                self.drain(node);
            }
        }
    }

    fn unblock(&mut self) {
        let now = self.now;
        let mut wake = Vec::new();
        for (l, link) in self.links.iter_mut().enumerate() {
            let Some(link) = link else { continue };
            for d in 0..2 {
                if link.dirs[d].blocked && link.dirs[d].queued < LOW_WATER {
                    link.dirs[d].blocked = false;
                    wake.push((l, link.ends[d]));
                }
            }
        }
        for (_, (node, key)) in wake {
            if let Some(t) = self.nodes[node].torrent.as_mut() {
                t.set_peer_writable(now, key, true);
            }
            self.drain(node);
        }
    }

    fn step_timers(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            let due = self.nodes[i]
                .torrent
                .as_ref()
                .is_some_and(|t| t.poll_timeout() <= now);
            if due {
                if let Some(t) = self.nodes[i].torrent.as_mut() {
                    t.handle_timeout(now);
                }
                self.drain(i);
            }
        }
    }

    // ---- carrying out engine outputs --------------------------------------

    fn drain(&mut self, i: usize) {
        let now = self.now;
        loop {
            let Some(out) = self.nodes[i]
                .torrent
                .as_mut()
                .and_then(Torrent::poll_output)
            else {
                return;
            };
            match out {
                Output::Send { peer, data } => self.send(i, peer, data),
                Output::Close { peer, reason } => {
                    *self.closes.entry(format!("{reason}")).or_default() += 1;
                    if let Some(&l) = self.nodes[i].conns.get(&peer) {
                        self.drop_link(l, Some(i));
                    }
                }
                Output::Read { peer, block } => {
                    if self.nodes[i].spec.seed && self.sc.diagnostics {
                        self.seed_reads.push(block.piece.get());
                    }
                    let n = &self.nodes[i];
                    let data = n
                        .storage
                        .read(block, n.spec.behaviour == Behaviour::Corrupt);
                    if let Some(t) = self.nodes[i].torrent.as_mut() {
                        t.block_read(now, peer, block, data);
                    }
                }
                Output::Write { block, data } => self.nodes[i].storage.write(block, &data),
                Output::Verify { piece, hash } => {
                    let ok = self.nodes[i].storage.verify(piece, hash);
                    if let Some(t) = self.nodes[i].torrent.as_mut() {
                        t.piece_verified(now, piece, ok);
                    }
                }
                // The simulator adds no webseeds, so the engine asks for none.
                Output::Fetch { .. } => {}
                Output::Event(e) => self.on_event(i, e),
            }
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
        dir.push(data);
        self.busy.insert((l, d));
        if !dir.blocked && dir.queued > HIGH_WATER {
            dir.blocked = true;
            let now = self.now;
            if let Some(t) = self.nodes[i].torrent.as_mut() {
                t.set_peer_writable(now, peer, false);
            }
        }
    }

    fn on_event(&mut self, i: usize, e: Event) {
        match &e {
            Event::PieceVerified(p) => {
                let prefix = self.info.layout.pieces_in_range(0, PREFIX);
                self.nodes[i].verified.push(p.get());
                if prefix.contains(&p.get()) {
                    self.nodes[i].prefix_times.push(self.now);
                }
                let have_prefix = self.nodes[i]
                    .torrent
                    .as_ref()
                    .and_then(Torrent::have)
                    .is_some_and(|h| prefix.clone().all(|j| h.get(j)));
                if have_prefix && self.nodes[i].prefix_at.is_none() {
                    self.nodes[i].prefix_at = Some(self.now);
                }
                self.log(i, &format!("v{}", p.get()));
            }
            Event::Completed => {
                self.nodes[i].done_at = Some(self.now);
                self.log(i, "done");
            }
            Event::PeerBanned { peer_id } => {
                let who = self
                    .nodes
                    .iter()
                    .position(|n| n.torrent.as_ref().is_some_and(|t| t.peer_id() == *peer_id));
                if let Some(w) = who {
                    self.bans.push((i, w));
                }
                self.log(i, &format!("ban{peer_id}"));
            }
            other => self.log(i, &format!("{other:?}")),
        }
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
                verified_order: n.verified.clone(),
                prefix_pieces: n.prefix_times.iter().map(|&t| t - Time::ZERO).collect(),
                uploaded: n.torrent.as_ref().map_or(0, Torrent::uploaded),
                verified_pieces: n
                    .torrent
                    .as_ref()
                    .and_then(Torrent::have)
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
        }
    }
}

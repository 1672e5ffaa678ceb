//! Hosts on a fake clock, connected in memory, with an in-memory platform
//! that carries out their work exactly as the contract says.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::rng::Rng;
use crate::sha1::sha1;
use crate::TorrentCreator;

const MS: Duration = Duration::from_millis(1);

fn content(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    Rng::new(9).fill(&mut v);
    v
}

fn info_for(data: &[u8], piece_len: u64) -> Info {
    let mut c =
        TorrentCreator::new("t.bin", vec![(vec![], data.len() as u64)], Some(piece_len)).unwrap();
    c.update(data);
    c.finish().unwrap().1.info
}

/// One host and the platform around it.
struct Node {
    host: TorrentHost,
    /// Verified pieces in storage.
    stored: BTreeMap<u32, Vec<u8>>,
    /// Blocks of pieces not checked yet.
    assembling: BTreeMap<u32, Vec<u8>>,
    /// Answer `OpenStorage` at once.
    open_storage: bool,
    /// Fail the first block write with this message.
    fail_writes: Option<String>,
    storage_asked: bool,
    saves: Vec<Time>,
    notes: Vec<Note>,
    /// Kinds of storage work seen.
    storage_work: usize,
    /// Hash pieces read for serving and report wrong ones as lost.
    verify_reads: bool,
    /// Pieces whose reads fail with an I/O error.
    unreadable: BTreeSet<u32>,
}

struct Net {
    now: Time,
    nodes: Vec<Node>,
    /// (node, key) <-> (node, key)
    links: Vec<[(usize, PeerKey); 2]>,
    data: Vec<u8>,
    info: Info,
    /// Connections whose far end is the test itself (hostile peers): what
    /// the host sent them, and whether it was closed.
    raw: Vec<Raw>,
}

struct Raw {
    node: usize,
    key: PeerKey,
    sent: usize,
    closed: bool,
    /// The far end never reads: past this many bytes the channel reports
    /// itself full (the browser's and the native send buffers are 1 MiB).
    buffer: usize,
}

fn cfg() -> HostConfig {
    HostConfig::default()
}

impl Net {
    fn new(len: usize, piece_len: u64) -> Net {
        let data = content(len);
        let info = info_for(&data, piece_len);
        Net {
            now: Time::from_millis(1000),
            nodes: Vec::new(),
            links: Vec::new(),
            data,
            info,
            raw: Vec::new(),
        }
    }

    fn add(&mut self, cfg: HostConfig, seed: bool, storage_open: bool) -> usize {
        let n = self.info.layout.num_pieces();
        let have = seed.then(|| Bitfield::full(n));
        let stored = match seed {
            true => (0..n).map(|i| (i, self.piece(i).to_vec())).collect(),
            false => BTreeMap::new(),
        };
        let i = self.nodes.len() as u64;
        let start = Start {
            source: Source::Info {
                info: Box::new(self.info.clone()),
                have,
            },
            peer_id: engine::Torrent::generate_peer_id(i + 1),
            webseeds: Vec::new(),
            storage_open,
            recheck: Vec::new(),
        };
        self.nodes.push(Node {
            host: TorrentHost::new(cfg, start, self.now, i + 7),
            stored,
            assembling: BTreeMap::new(),
            open_storage: true,
            fail_writes: None,
            storage_asked: false,
            saves: Vec::new(),
            notes: Vec::new(),
            storage_work: 0,
            verify_reads: false,
            unreadable: BTreeSet::new(),
        });
        self.nodes.len() - 1
    }

    fn piece(&self, i: u32) -> &[u8] {
        let p = self.info.layout.piece(i).unwrap();
        let start = self.info.layout.piece_offset(p) as usize;
        &self.data[start..start + self.info.layout.piece_size(p) as usize]
    }

    /// Opens a connection; `a` made the offer.
    fn connect(&mut self, a: usize, b: usize) -> Option<(PeerKey, PeerKey)> {
        let (ida, idb) = (self.nodes[a].host.peer_id(), self.nodes[b].host.peer_id());
        let ka = self.nodes[a].host.add_peer(self.now, Some(idb), true).ok();
        let kb = self.nodes[b].host.add_peer(self.now, Some(ida), false).ok();
        match (ka, kb) {
            (Some(ka), Some(kb)) => self.links.push([(a, ka), (b, kb)]),
            // One side refused: the other sees the channel close.
            (Some(k), None) => self.nodes[a].host.handle_closed(self.now, k),
            (None, Some(k)) => self.nodes[b].host.handle_closed(self.now, k),
            (None, None) => {}
        }
        self.settle();
        ka.zip(kb)
    }

    fn peer_of(&self, node: usize, key: PeerKey) -> Option<(usize, PeerKey)> {
        self.links.iter().find_map(|l| match (l[0], l[1]) {
            (x, y) if x == (node, key) => Some(y),
            (y, x) if x == (node, key) => Some(y),
            _ => None,
        })
    }

    /// Carries out work until nothing is left.
    fn settle(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                while let Some(w) = self.nodes[i].host.poll_work() {
                    busy = true;
                    self.carry_out(i, w);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn carry_out(&mut self, i: usize, w: Work) {
        let now = self.now;
        match w {
            Work::Send { peer, data } => {
                if let Some((j, k)) = self.peer_of(i, peer) {
                    self.nodes[j].host.handle_data(now, k, &data);
                }
                if let Some(r) = self.raw.iter_mut().find(|r| (r.node, r.key) == (i, peer)) {
                    let full = r.sent >= r.buffer;
                    r.sent += data.len();
                    if !full && r.sent >= r.buffer {
                        self.nodes[i].host.handle_writable(now, peer, false);
                    }
                }
            }
            Work::Close { peer, .. } => {
                if let Some(r) = self.raw.iter_mut().find(|r| (r.node, r.key) == (i, peer)) {
                    r.closed = true;
                }
                if let Some((j, k)) = self.peer_of(i, peer) {
                    self.links.retain(|l| !l.contains(&(i, peer)));
                    self.nodes[j].host.handle_closed(now, k);
                }
            }
            Work::ReadPiece { piece, len } => {
                let n = &mut self.nodes[i];
                n.storage_work += 1;
                let data = n.stored.get(&piece.get()).cloned().map(Bytes::from);
                assert!(data.as_ref().is_none_or(|d| d.len() == len as usize));
                let hash = self.info.piece_hash(piece);
                if n.unreadable.contains(&piece.get()) {
                    n.host
                        .handle_piece_unreadable(now, piece, "Input/output error (os error 5)");
                } else if n.verify_reads && data.as_ref().is_some_and(|d| sha1(d) != hash) {
                    n.host.handle_piece_lost(now, piece);
                } else {
                    n.host.handle_piece_read(now, piece, data);
                }
            }
            Work::StoreBlock { block, data } => {
                let n = &mut self.nodes[i];
                n.storage_work += 1;
                if let Some(e) = n.fail_writes.take() {
                    n.host.handle_storage_failed(now, e);
                    return;
                }
                let size = self.info.layout.piece_size(block.piece) as usize;
                let buf = n
                    .assembling
                    .entry(block.piece.get())
                    .or_insert_with(|| vec![0; size]);
                buf[block.offset as usize..][..data.len()].copy_from_slice(&data);
            }
            Work::CheckPiece { piece, hash } => {
                let n = &mut self.nodes[i];
                n.storage_work += 1;
                let ok = match n.assembling.remove(&piece.get()) {
                    Some(buf) => {
                        let ok = sha1(&buf) == hash;
                        if ok {
                            n.stored.insert(piece.get(), buf);
                        }
                        ok
                    }
                    None => n.stored.get(&piece.get()).is_some_and(|b| sha1(b) == hash),
                };
                n.host.handle_piece_checked(now, piece, ok);
            }
            Work::Fetch { .. } => panic!("no webseeds here"),
            Work::OpenStorage => {
                let n = &mut self.nodes[i];
                n.storage_asked = true;
                if n.open_storage {
                    n.host.handle_storage_opened(now, Ok(()));
                }
            }
            Work::SaveResume { .. } => {
                let n = &mut self.nodes[i];
                n.saves.push(now);
                n.host.handle_resume_saved(now, Ok(()));
            }
            Work::Notify(note) => self.nodes[i].notes.push(note),
            #[cfg(not(target_arch = "wasm32"))]
            Work::Dial(_) => {}
        }
    }

    /// Advances the clock in 10 ms steps until `done` or `limit`.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.now = self.now + 10 * MS;
            for i in 0..self.nodes.len() {
                if self.nodes[i].host.poll_timeout() <= self.now {
                    let now = self.now;
                    self.nodes[i].host.handle_timeout(now);
                }
            }
            self.settle();
        }
        done(self)
    }

    fn complete(&self, i: usize) -> bool {
        self.nodes[i].host.is_complete()
    }

    fn assert_content(&self, i: usize) {
        let n = self.info.layout.num_pieces();
        for p in 0..n {
            assert_eq!(
                self.nodes[i].stored.get(&p).map(Vec::as_slice),
                Some(self.piece(p)),
                "piece {p}"
            );
        }
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn storage_work_waits_until_storage_is_open() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let leech = net.add(cfg(), false, false);
    net.nodes[leech].open_storage = false;
    net.settle();
    assert!(net.nodes[leech].storage_asked, "storage is opened at start");
    net.connect(leech, seed).unwrap();
    net.run_until(Duration::from_secs(1), |_| false);
    let n = &net.nodes[leech];
    assert!(n.host.engine().downloaded() > 0, "blocks arrived");
    assert_eq!(
        n.storage_work, 0,
        "nothing was stored or checked before storage opened"
    );
    assert!(!n.notes.contains(&Note::Ready));
    let now = net.now;
    net.nodes[leech].host.handle_storage_opened(now, Ok(()));
    net.settle();
    assert!(net.run_until(Duration::from_secs(30), |n| n.complete(leech)));
    net.assert_content(leech);
    let notes = &net.nodes[leech].notes;
    assert_eq!(notes.iter().filter(|n| **n == Note::Ready).count(), 1);
    assert!(notes.contains(&Note::Done));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn both_sides_keep_the_same_one_of_two_simultaneous_connections() {
    for (first, second) in [(0, 1), (1, 0)] {
        let mut net = Net::new(256 << 10, 16 << 10);
        net.add(cfg(), true, true);
        net.add(cfg(), false, true);
        // Both offer at once: `first`'s offer opens first, then `second`'s.
        let x = net.connect(first, second);
        let y = net.connect(second, first);
        assert!(x.is_some());
        let keys = |net: &Net, i: usize| net.nodes[i].host.engine().peer_keys().collect::<Vec<_>>();
        let (k0, k1) = (keys(&net, 0), keys(&net, 1));
        assert_eq!(
            (k0.len(), k1.len()),
            (1, 1),
            "one connection left on each side"
        );
        let survivor = net
            .peer_of(0, k0[0])
            .expect("the kept connection is one link");
        assert_eq!(survivor, (1, k1[0]), "both kept the same connection");
        // The lower id's offer wins.
        let lower = usize::from(net.nodes[1].host.peer_id().0 < net.nodes[0].host.peer_id().0);
        let kept_x =
            net.links.len() == 1 && x.is_some_and(|(a, _)| k0.contains(&a) || k1.contains(&a));
        assert_eq!(
            kept_x,
            first == lower,
            "x offered by {first}, lower id {lower}, y {y:?}"
        );
        assert!(net.run_until(Duration::from_secs(30), |n| n.complete(1)));
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn the_upload_limit_paces_the_seeder_and_resume_records_follow_the_interval() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let mut slow = cfg();
    slow.max_upload_rate = Some(128 << 10);
    let seed = net.add(slow, true, true);
    let leech = net.add(cfg(), false, true);
    net.connect(leech, seed).unwrap();
    let start = net.now;
    assert!(net.run_until(Duration::from_secs(30), |n| n.complete(leech)));
    let took = net.now.saturating_since(start).as_secs_f64();
    // 1 MiB at 128 KiB/s, less the 64 KiB burst.
    assert!((7.0..9.5).contains(&took), "took {took} s");
    net.assert_content(leech);
    let saves = &net.nodes[leech].saves;
    assert!(saves.len() >= 2, "{saves:?}");
    for w in saves[..saves.len() - 1].windows(2) {
        assert!(
            w[1].saturating_since(w[0]) >= Duration::from_secs(5),
            "{saves:?}"
        );
    }
    // The last save is the completion's, right away.
    let done_at = net.now;
    assert!(done_at.saturating_since(*saves.last().unwrap()) < Duration::from_millis(20));
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn unrecorded_pieces_in_storage_count_once_they_hash_right() {
    let mut net = Net::new(512 << 10, 64 << 10);
    let n = net.info.layout.num_pieces();
    let start = Start {
        source: Source::Info {
            info: Box::new(net.info.clone()),
            have: Some(Bitfield::new(n)),
        },
        peer_id: engine::Torrent::generate_peer_id(1),
        webseeds: Vec::new(),
        storage_open: true,
        recheck: (0..5).filter_map(|i| net.info.layout.piece(i)).collect(),
    };
    let mut stored: BTreeMap<u32, Vec<u8>> = (0..5).map(|i| (i, net.piece(i).to_vec())).collect();
    stored.get_mut(&4).unwrap()[7] ^= 1;
    net.nodes.push(Node {
        host: TorrentHost::new(cfg(), start, net.now, 1),
        stored,
        assembling: BTreeMap::new(),
        open_storage: true,
        fail_writes: None,
        storage_asked: false,
        saves: Vec::new(),
        notes: Vec::new(),
        storage_work: 0,
        verify_reads: false,
        unreadable: BTreeSet::new(),
    });
    net.settle();
    let have = net.nodes[0].host.have().unwrap();
    assert_eq!(
        (0..n).filter(|&i| have.get(i)).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_storage_failure_stops_the_download_with_its_message() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let leech = net.add(cfg(), false, true);
    net.nodes[leech].fail_writes = Some("disk full".into());
    net.connect(leech, seed).unwrap();
    net.run_until(Duration::from_secs(2), |_| false);
    let h = &net.nodes[leech].host;
    assert_eq!(h.error(), Some("disk full"));
    assert_eq!((h.num_peers(), h.room()), (0, 0));
    assert!(net.links.is_empty());
    assert!(net.nodes[leech]
        .notes
        .contains(&Note::Error("disk full".into())));
    assert_eq!(h.stats(net.now).error.as_deref(), Some("disk full"));
    // A check the platform had started before the failure answers late: its
    // piece's writes failed, so it says nothing about the peers, and the
    // error stays the last word (the CLI prints the last line).
    let now = net.now;
    let piece = net.info.layout.piece(0).unwrap();
    net.nodes[leech]
        .host
        .handle_piece_checked(now, piece, false);
    // Nor do other late answers and news: the application hears nothing
    // after the error.
    let h = &mut net.nodes[leech].host;
    h.handle_piece_unreadable(now, piece, "I/O error");
    h.handle_piece_lost(now, piece);
    h.handle_resume_saved(now, Err("could not save the resume record".into()));
    for _ in 0..UNREACHABLE_AFTER {
        h.handle_connect_failed(now, "refused");
    }
    net.run_until(Duration::from_millis(100), |_| false);
    assert_eq!(
        net.nodes[leech].notes.last(),
        Some(&Note::Error("disk full".into()))
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn pause_closes_every_connection_and_refuses_new_ones_until_resumed() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let leech = net.add(cfg(), false, true);
    net.connect(leech, seed).unwrap();
    net.run_until(Duration::from_millis(100), |_| false);
    let now = net.now;
    net.nodes[leech].host.pause(now);
    net.settle();
    assert!(net.links.is_empty());
    assert_eq!(net.nodes[leech].host.room(), 0);
    assert!(net.connect(leech, seed).is_none());
    net.nodes[leech].host.resume();
    net.connect(leech, seed).unwrap();
    assert!(net.run_until(Duration::from_secs(30), |n| n.complete(leech)));
    net.assert_content(leech);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_piece_changed_in_storage_is_never_served_and_is_downloaded_again() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    net.nodes[seed].verify_reads = true;
    // The seeder's file changed under it: piece 3 is no longer what it verified.
    net.nodes[seed].stored.get_mut(&3).unwrap()[100] ^= 1;
    let leech = net.add(cfg(), false, true);
    net.connect(leech, seed).unwrap();
    net.run_until(Duration::from_secs(20), |n| {
        n.nodes[leech].stored.len() == 15
    });
    assert_eq!(
        net.nodes[leech].stored.len(),
        15,
        "every other piece arrives"
    );
    assert!(!net.nodes[leech].stored.contains_key(&3));
    assert!(
        !net.nodes[leech]
            .notes
            .iter()
            .any(|n| matches!(n, Note::Banned(_))),
        "the seeder never sent the changed piece"
    );
    assert!(!net.nodes[seed].host.have().unwrap().get(3));
    let warnings = |n: &Net| {
        n.nodes[seed]
            .notes
            .iter()
            .filter(
                |n| matches!(n, Note::Warning(w) if w.contains("piece 3 is no longer in storage")),
            )
            .count()
    };
    assert_eq!(warnings(&net), 1);
    // A read that was under way when it was lost reports it again: no news.
    let (now, piece) = (net.now, net.info.layout.piece(3).unwrap());
    net.nodes[seed].host.handle_piece_lost(now, piece);
    net.settle();
    assert_eq!(warnings(&net), 1, "one warning per loss");
    // A second seeder with the right data: both finish, the first with its piece 3 repaired.
    let dones = |n: &Net| {
        n.nodes[seed]
            .notes
            .iter()
            .filter(|n| matches!(n, Note::Done))
            .count()
    };
    let done_before = dones(&net);
    let other = net.add(cfg(), true, true);
    net.connect(leech, other).unwrap();
    net.connect(seed, other).unwrap();
    net.run_until(Duration::from_secs(20), |n| {
        n.complete(leech) && n.complete(seed)
    });
    net.assert_content(leech);
    assert!(net.complete(seed));
    assert_eq!(net.nodes[seed].stored[&3], net.piece(3));
    assert_eq!(dones(&net), done_before + 1, "complete again, and told so");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_piece_storage_cannot_read_is_refused_with_one_warning_and_stays_verified() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    net.nodes[seed].unreadable.insert(3);
    let leech = net.add(cfg(), false, true);
    net.connect(leech, seed).unwrap();
    net.run_until(Duration::from_secs(20), |n| {
        n.nodes[leech].stored.len() == 15
    });
    assert_eq!(
        net.nodes[leech].stored.len(),
        15,
        "every other piece arrives"
    );
    let warnings = |n: &Net| {
        n.nodes[seed]
            .notes
            .iter()
            .filter(|n| matches!(n, Note::Warning(w) if w.contains("piece 3 could not be read")))
            .count()
    };
    assert_eq!(warnings(&net), 1, "{:?}", net.nodes[seed].notes);
    assert!(
        net.nodes[seed].host.have().unwrap().get(3),
        "a read error does not lose a verified piece"
    );
    assert!(!net.nodes[leech]
        .notes
        .iter()
        .any(|n| matches!(n, Note::Banned(_))));
    // The disk recovers: the piece is served again at the next ask.
    net.nodes[seed].unreadable.clear();
    assert!(net.run_until(Duration::from_secs(60), |n| n.complete(leech)));
    net.assert_content(leech);
    assert_eq!(warnings(&net), 1);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn failed_connection_attempts_are_explained_once_per_streak() {
    let mut net = Net::new(256 << 10, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let leech = net.add(cfg(), false, true);
    let warned = |n: &Net| {
        n.nodes[leech]
            .notes
            .iter()
            .filter(
                |n| matches!(n, Note::Warning(w) if w.contains("TURN") && w.contains("ICE failed")),
            )
            .count()
    };
    let fail = |n: &mut Net, times: usize| {
        for _ in 0..times {
            let now = n.now;
            n.nodes[leech].host.handle_connect_failed(now, "ICE failed");
        }
        n.settle();
    };
    fail(&mut net, 3);
    assert_eq!(warned(&net), 0, "three failures are not a pattern yet");
    fail(&mut net, 1);
    assert_eq!(warned(&net), 1);
    fail(&mut net, 10);
    assert_eq!(warned(&net), 1, "once per streak");
    // A peer connects: the streak is over; a new one is told again.
    net.connect(leech, seed).unwrap();
    fail(&mut net, 4);
    assert_eq!(warned(&net), 2);
}

// ---- hostile peers -------------------------------------------------------------------

impl Net {
    /// A connection to `node` whose far end is the test; returns its index in `raw`.
    fn raw_peer(&mut self, node: usize, tag: u8) -> usize {
        let key = self.nodes[node]
            .host
            .add_peer(self.now, Some(PeerId([tag; 20])), false)
            .unwrap();
        self.raw.push(Raw {
            node,
            key,
            sent: 0,
            closed: false,
            buffer: 1 << 20,
        });
        self.settle();
        self.raw.len() - 1
    }

    fn raw_send(&mut self, r: usize, bytes: &[u8]) {
        let (node, key) = (self.raw[r].node, self.raw[r].key);
        let now = self.now;
        self.nodes[node].host.handle_data(now, key, bytes);
        self.settle();
    }

    fn raw_handshake(&mut self, r: usize, tag: u8) {
        let hs = crate::wire::Handshake::new(self.info.info_hash, PeerId([tag; 20])).encode();
        self.raw_send(r, &hs);
    }

    /// The raw peer asks for every block of the first `pieces` pieces.
    fn raw_request_all(&mut self, r: usize, pieces: usize) {
        let layout = self.info.layout;
        for p in layout.pieces().take(pieces) {
            for i in 0..layout.blocks_in(p) {
                let b = layout.block(p, i);
                let m = crate::wire::Message::Request {
                    index: p.get(),
                    begin: b.offset,
                    len: b.len,
                };
                self.raw_message(r, m);
            }
        }
    }

    fn raw_message(&mut self, r: usize, m: crate::wire::Message) {
        self.raw_send(r, &m.to_bytes());
    }
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_peer_that_never_finishes_its_handshake_is_dropped_after_the_handshake_timeout() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let r = net.raw_peer(seed, 9);
    net.raw_send(r, &[19, b'B', b'i', b't']);
    net.run_until(Duration::from_secs(19), |n| n.raw[r].closed);
    assert!(!net.raw[r].closed, "not before the timeout");
    net.run_until(Duration::from_secs(3), |n| n.raw[r].closed);
    assert!(
        net.raw[r].closed,
        "dropped once the handshake timeout passed"
    );
    assert_eq!(net.nodes[seed].host.num_peers(), 0);
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_peer_that_trickles_a_byte_a_second_is_dropped_as_idle() {
    let mut net = Net::new(1 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let r = net.raw_peer(seed, 9);
    net.raw_handshake(r, 9);
    net.raw_message(r, crate::wire::Message::Interested);
    // A piece message announced as 16 KiB + 9 bytes, sent a byte a second.
    let head = [0u8, 0, 0x40, 9, 7, 0, 0, 0, 0];
    let idle = cfg().engine.idle_timeout;
    let mut closed_after = None;
    for s in 0..idle.as_secs() + 30 {
        let b = head.get(s as usize).copied().unwrap_or(0);
        net.raw_send(r, &[b]);
        net.run_until(Duration::from_secs(1), |n| n.raw[r].closed);
        if net.raw[r].closed {
            closed_after = Some(s + 1);
            break;
        }
    }
    let after = closed_after.expect("the trickler was never dropped");
    assert!(after <= idle.as_secs() + 12, "dropped after {after} s");
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_peer_that_asks_for_everything_and_never_reads_costs_a_bounded_amount() {
    let mut net = Net::new(4 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let r = net.raw_peer(seed, 9);
    net.raw_handshake(r, 9);
    net.raw_message(r, crate::wire::Message::Interested);
    net.run_until(Duration::from_secs(11), |_| false);
    // Every block of the torrent, asked for at once, again and again.
    for _ in 0..3 {
        net.raw_request_all(r, usize::MAX);
    }
    // Meanwhile an honest leecher downloads the whole torrent.
    let leech = net.add(cfg(), false, true);
    net.connect(leech, seed).unwrap();
    // (This in-memory network has no bandwidth: the honest download's speed
    // beside a hostile peer needs a real network to measure.)
    assert!(net.run_until(Duration::from_secs(60), |n| n.complete(leech)));
    net.assert_content(leech);
    // The hostile peer got at most its buffer and the block in flight.
    assert!(
        net.raw[r].sent <= (1 << 20) + (32 << 10),
        "sent {}",
        net.raw[r].sent
    );
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn a_peer_that_never_reads_but_keeps_alive_is_dropped_when_its_buffer_stays_full() {
    let mut net = Net::new(4 << 20, 64 << 10);
    let seed = net.add(cfg(), true, true);
    let r = net.raw_peer(seed, 9);
    net.raw_handshake(r, 9);
    net.raw_message(r, crate::wire::Message::Interested);
    net.run_until(Duration::from_secs(11), |_| false);
    net.raw_request_all(r, 32);
    net.run_until(Duration::from_secs(1), |_| false);
    assert!(net.raw[r].sent >= net.raw[r].buffer, "its buffer is full");
    let full_at = net.now;
    // Keep-alives every 30 s: never idle, but it takes nothing.
    while !net.raw[r].closed && net.now - full_at < Duration::from_secs(240) {
        net.raw_message(r, crate::wire::Message::KeepAlive);
        net.run_until(Duration::from_secs(30), |n| n.raw[r].closed);
    }
    let after = net.now - full_at;
    assert!(net.raw[r].closed, "still connected after {after:?}");
    assert!(
        after >= Duration::from_secs(119) && after <= Duration::from_secs(122),
        "dropped after {after:?}"
    );
}

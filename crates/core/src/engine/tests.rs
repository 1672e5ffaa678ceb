//! Two or more engines wired back to back with in-memory storage and real SHA-1.

use std::collections::VecDeque;

use bytes::Bytes;

use super::*;
use crate::metainfo::TorrentCreator;
use crate::sha1::sha1;
use crate::wire::Message;

struct Node {
    t: Torrent,
    data: Vec<u8>,
    corrupt: bool,
    /// What this node's webseed serves (`None`: it answers every fetch with an error).
    webseed: Option<Vec<u8>>,
    fetches: usize,
    events: Vec<Event>,
    closed: Vec<(PeerKey, CloseReason)>,
}

/// Connections as (node, key) pairs; bytes are delivered in `chunk`-sized pieces.
struct Net {
    nodes: Vec<Node>,
    links: Vec<((usize, PeerKey), (usize, PeerKey))>,
    wire: VecDeque<(usize, PeerKey, Bytes)>,
    now: Time,
    chunk: usize,
}

fn torrent_bytes(len: usize, piece: u64) -> (Vec<u8>, Info) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let mut c = TorrentCreator::new("f.bin", vec![(vec![], len as u64)], Some(piece)).unwrap();
    c.update(&data);
    (data, c.finish().unwrap().1.info)
}

impl Net {
    fn new(chunk: usize) -> Self {
        Net {
            nodes: Vec::new(),
            links: Vec::new(),
            wire: VecDeque::new(),
            now: Time::ZERO,
            chunk,
        }
    }

    fn add(&mut self, source: Source, data: Vec<u8>) -> usize {
        self.add_with(Config::default(), source, data)
    }

    fn add_with(&mut self, cfg: Config, source: Source, data: Vec<u8>) -> usize {
        let id = Torrent::generate_peer_id(self.nodes.len() as u64);
        self.add_as(cfg, id, source, data)
    }

    fn add_as(&mut self, cfg: Config, id: PeerId, source: Source, data: Vec<u8>) -> usize {
        let i = self.nodes.len();
        let t = Torrent::new(cfg, source, id, self.now, i as u64);
        self.nodes.push(Node {
            t,
            data,
            corrupt: false,
            webseed: None,
            fetches: 0,
            events: Vec::new(),
            closed: Vec::new(),
        });
        self.drain(i);
        i
    }

    fn connect(&mut self, a: usize, b: usize) {
        let ka = self.nodes[a].t.add_peer(self.now, None).unwrap();
        let kb = self.nodes[b].t.add_peer(self.now, None).unwrap();
        self.links.push(((a, ka), (b, kb)));
        self.drain(a);
        self.drain(b);
    }

    /// `a` sees `b` on `wire_a`, `b` sees `a` on `wire_b`.
    #[cfg(not(target_arch = "wasm32"))]
    fn connect_on(&mut self, a: usize, wire_a: Wire, b: usize, wire_b: Wire) {
        let ka = self.nodes[a].t.add_peer_on(self.now, None, wire_a).unwrap();
        let kb = self.nodes[b].t.add_peer_on(self.now, None, wire_b).unwrap();
        self.links.push(((a, ka), (b, kb)));
        self.drain(a);
        self.drain(b);
    }

    fn other(&self, node: usize, key: PeerKey) -> Option<(usize, PeerKey)> {
        self.links.iter().find_map(|&(x, y)| {
            if x == (node, key) {
                Some(y)
            } else if y == (node, key) {
                Some(x)
            } else {
                None
            }
        })
    }

    fn drain(&mut self, i: usize) {
        while let Some(o) = self.nodes[i].t.poll_output() {
            let now = self.now;
            match o {
                Output::Send { peer, data } => {
                    if let Some((j, k)) = self.other(i, peer) {
                        for c in data.chunks(self.chunk) {
                            self.wire.push_back((j, k, Bytes::copy_from_slice(c)));
                        }
                    }
                }
                Output::Close { peer, reason } => {
                    self.nodes[i].closed.push((peer, reason));
                    if let Some((j, k)) = self.other(i, peer) {
                        self.nodes[j].t.peer_disconnected(now, k);
                    }
                }
                Output::Read { peer, block } => {
                    let n = &self.nodes[i];
                    let start = n.t.info().unwrap().layout.piece_offset(block.piece) as usize
                        + block.offset as usize;
                    let mut d = n.data[start..start + block.len as usize].to_vec();
                    if n.corrupt {
                        d.iter_mut().for_each(|b| *b ^= 0xff);
                    }
                    self.nodes[i].t.block_read(now, peer, block, d.into());
                }
                Output::Write { block, data } => {
                    let n = &mut self.nodes[i];
                    let start = n.t.info().unwrap().layout.piece_offset(block.piece) as usize
                        + block.offset as usize;
                    let total = n.t.info().unwrap().layout.total_len() as usize;
                    n.data.resize(total, 0);
                    n.data[start..start + data.len()].copy_from_slice(&data);
                }
                Output::Verify { piece, hash } => {
                    let n = &self.nodes[i];
                    let l = n.t.info().unwrap().layout;
                    let s = l.piece_offset(piece) as usize;
                    let ok = sha1(&n.data[s..s + l.piece_size(piece) as usize]) == hash;
                    self.nodes[i].t.piece_verified(now, piece, ok);
                }
                Output::Fetch {
                    webseed,
                    piece,
                    offset,
                    len,
                } => {
                    let n = &mut self.nodes[i];
                    n.fetches += 1;
                    let start =
                        n.t.info().unwrap().layout.piece_offset(piece) as usize + offset as usize;
                    match &n.webseed {
                        Some(w) => {
                            let d = Bytes::copy_from_slice(&w[start..start + len as usize]);
                            n.t.webseed_data(now, webseed, piece, offset, d);
                        }
                        None => n.t.webseed_failed(now, webseed, piece, offset),
                    }
                }
                Output::Event(e) => self.nodes[i].events.push(e),
            }
        }
    }

    /// A seeder sending corrupt blocks, an honest one and a leecher
    /// connected to both: (corrupt, honest, leecher).
    fn corrupt_and_honest_seeder(&mut self, info: &Info, data: &[u8]) -> (usize, usize, usize) {
        let bad = self.add(seeder(info), data.to_vec());
        self.nodes[bad].corrupt = true;
        let good = self.add(seeder(info), data.to_vec());
        let l = self.add(leecher(info), Vec::new());
        self.connect(bad, l);
        self.connect(good, l);
        (bad, good, l)
    }

    /// Delivers the next message; with none in flight, moves the clock
    /// 100 ms on and fires the timers that are due (then `false`).
    fn step(&mut self) -> bool {
        if let Some((j, k, data)) = self.wire.pop_front() {
            self.nodes[j].t.handle_data(self.now, k, &data);
            self.drain(j);
            return true;
        }
        self.now = self.now + std::time::Duration::from_millis(100);
        for i in 0..self.nodes.len() {
            if self.nodes[i].t.poll_timeout() <= self.now {
                self.nodes[i].t.handle_timeout(self.now);
                self.drain(i);
            }
        }
        false
    }

    /// Delivers bytes and fires timers until nothing moves or `secs` pass.
    fn run(&mut self, secs: u64) {
        let end = self.now + std::time::Duration::from_secs(secs);
        while self.now < end {
            if self.step() {
                continue;
            }
            if self.nodes.iter().all(|n| n.t.is_complete()) && self.wire.is_empty() {
                break;
            }
        }
    }
}

fn leecher(info: &Info) -> Source {
    Source::Info {
        info: Box::new(info.clone()),
        have: None,
    }
}

/// A seeding engine with one connected peer, and that peer's handshake bytes.
fn seed_with_peer(info: &Info) -> (Torrent, PeerKey, Vec<u8>) {
    let mut t = Torrent::new(
        Config::default(),
        seeder(info),
        PeerId([1; 20]),
        Time::ZERO,
        1,
    );
    let k = t.add_peer(Time::ZERO, None).unwrap();
    let hs = crate::wire::Handshake::new(info.info_hash, PeerId([2; 20]))
        .encode()
        .to_vec();
    (t, k, hs)
}

fn seeder(info: &Info) -> Source {
    Source::Info {
        info: Box::new(info.clone()),
        have: Some(Bitfield::full(info.layout.num_pieces())),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn leecher_downloads_every_piece_from_a_seeder_over_a_byte_stream() {
    let (data, info) = torrent_bytes(300_000, 32768);
    let mut net = Net::new(1000);
    let s = net.add(seeder(&info), data.clone());
    let l = net.add(leecher(&info), Vec::new());
    net.connect(s, l);
    net.run(60);
    assert!(net.nodes[l].t.is_complete());
    assert_eq!(net.nodes[l].data, data);
    assert!(net.nodes[l].events.contains(&Event::Completed));
    assert_eq!(net.nodes[s].t.uploaded(), data.len() as u64);
}

/// A bridge's ledger: bytes in and out are counted on the wire that carried them.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn bytes_are_counted_by_the_wire_that_carried_them() {
    let (data, info) = torrent_bytes(300_000, 32768);
    let mut net = Net::new(1000);
    let classic = net.add(seeder(&info), data.clone());
    let bridge = net.add(leecher(&info), Vec::new());
    let browser = net.add(leecher(&info), Vec::new());
    net.connect_on(bridge, Wire::Tcp, classic, Wire::Tcp);
    net.connect_on(bridge, Wire::DataChannel, browser, Wire::DataChannel);
    net.run(60);
    assert!(net.nodes[browser].t.is_complete());
    let (down, up) = (
        net.nodes[bridge].t.downloaded_by_wire(),
        net.nodes[bridge].t.uploaded_by_wire(),
    );
    // Everything came from the classic seeder (the browser had nothing to give).
    assert_eq!(down.tcp, data.len() as u64);
    assert_eq!(down.data_channel, 0);
    assert_eq!(up.data_channel, data.len() as u64);
    assert_eq!(up.tcp, 0);
    assert_eq!(
        net.nodes[classic].t.uploaded_by_wire().tcp,
        data.len() as u64
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn magnet_leecher_fetches_metadata_from_peers_then_the_content() {
    let (data, info) = torrent_bytes(100_000, 16384);
    let mut net = Net::new(7);
    let s = net.add(seeder(&info), data.clone());
    let l = net.add(Source::Magnet(info.info_hash), Vec::new());
    net.connect(l, s);
    net.run(60);
    assert!(net.nodes[l].events.contains(&Event::MetadataReceived));
    assert_eq!(net.nodes[l].t.info().unwrap().raw, info.raw);
    assert_eq!(net.nodes[l].data, data);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_peer_sending_corrupt_blocks_is_banned_and_the_download_still_completes() {
    let (data, info) = torrent_bytes(200_000, 16384);
    let mut net = Net::new(16384);
    let (bad, good, l) = net.corrupt_and_honest_seeder(&info, &data);
    net.run(120);
    assert_eq!(net.nodes[l].data, data);
    let bad_id = net.nodes[bad].t.peer_id();
    assert!(net.nodes[l].t.is_banned(&bad_id));
    assert!(!net.nodes[l].t.is_banned(&net.nodes[good].t.peer_id()));
    assert!(net.nodes[l]
        .events
        .iter()
        .any(|e| matches!(e, Event::PieceFailed { .. })));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn an_honest_peer_sharing_pieces_with_a_corrupt_one_is_not_banned() {
    // Pieces of 16 blocks, taken from either seeder: many failures have both
    // as contributors, and the corrupt one's half-sent pieces are finished by
    // the honest one after its ban.
    for seed in 0..8 {
        let (data, info) = torrent_bytes(4 << 20, 262144);
        let mut net = Net::new(16384);
        // Idle nodes first give the three below other random seeds.
        for _ in 0..seed {
            net.add(leecher(&info), Vec::new());
        }
        let (bad, good, l) = net.corrupt_and_honest_seeder(&info, &data);
        net.run(300);
        let good_id = net.nodes[good].t.peer_id();
        assert!(
            !net.nodes[l].t.is_banned(&good_id),
            "seed {seed}: the honest seeder was banned"
        );
        assert_eq!(net.nodes[l].data, data, "seed {seed}");
        assert!(
            net.nodes[l].t.is_banned(&net.nodes[bad].t.peer_id()),
            "seed {seed}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hostile_bytes_close_the_peer_with_a_reason() {
    let (_, info) = torrent_bytes(50_000, 16384);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "protocol"),
        (
            [&[0, 0, 0, 5, 4, 0, 0, 0, 99][..]].concat(),
            "have out of range",
        ),
        ([&[0xff, 0xff, 0xff, 0xff][..]].concat(), "too long"),
        (
            Message::Request {
                index: 0,
                begin: 0,
                len: 1 << 20,
            }
            .to_bytes()
            .to_vec(),
            "oversized request",
        ),
        (
            Message::Bitfield(Bytes::from_static(&[0xff, 0xff]))
                .to_bytes()
                .to_vec(),
            "bad bitfield",
        ),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"xx"),
            }
            .to_bytes()
            .to_vec(),
            "bad ext",
        ),
    ];
    for (bytes, what) in cases {
        let (mut t, k, hs) = seed_with_peer(&info);
        let mut input = if what == "protocol" { Vec::new() } else { hs };
        input.extend_from_slice(&bytes);
        t.handle_data(Time::ZERO, k, &input);
        let closed =
            std::iter::from_fn(|| t.poll_output()).any(|o| matches!(o, Output::Close { .. }));
        assert!(closed, "{what}");
        assert_eq!(t.peer_count(), 0, "{what}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn requests_from_a_choked_fast_peer_are_rejected() {
    let (_, info) = torrent_bytes(50_000, 16384);
    let (mut t, k, mut input) = seed_with_peer(&info);
    input.extend_from_slice(
        &Message::Request {
            index: 0,
            begin: 0,
            len: 16384,
        }
        .to_bytes(),
    );
    t.handle_data(Time::ZERO, k, &input);
    let sent: Vec<u8> = std::iter::from_fn(|| t.poll_output())
        .filter_map(|o| match o {
            Output::Send { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    let reject = Message::Reject {
        index: 0,
        begin: 0,
        len: 16384,
    }
    .to_bytes();
    assert!(sent.windows(reject.len()).any(|w| w == &reject[..]));
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn deadline_range_is_downloaded_first() {
    let (data, info) = torrent_bytes(20 * 16384, 16384);
    let mut net = Net::new(16384);
    let s = net.add(seeder(&info), data.clone());
    let l = net.add(leecher(&info), Vec::new());
    let len = data.len() as u64;
    net.nodes[l]
        .t
        .set_deadline(Time::ZERO, len - 3 * 16384, len, Time::from_millis(500));
    net.connect(s, l);
    net.run(60);
    let order: Vec<u32> = net.nodes[l]
        .events
        .iter()
        .filter_map(|e| match e {
            Event::PieceVerified(p, _) => Some(p.get()),
            _ => None,
        })
        .collect();
    assert_eq!(order.len(), 20);
    let mut first: Vec<u32> = order[..3].to_vec();
    first.sort();
    assert_eq!(first, vec![17, 18, 19], "{order:?}");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn skipped_files_are_not_downloaded_and_completion_counts_wanted_pieces_only() {
    // Three files of 5, 3 and 4 blocks; pieces are one block, so file 1 (blocks
    // 5-7) shares no piece with the others.
    let lens = [5 * 16384u64, 3 * 16384, 4 * 16384];
    let data: Vec<u8> = (0..lens.iter().sum::<u64>())
        .map(|i| (i % 253) as u8)
        .collect();
    let files = lens
        .iter()
        .enumerate()
        .map(|(i, &l)| (vec![format!("f{i}")], l))
        .collect();
    let mut c = TorrentCreator::new("multi", files, Some(16384)).unwrap();
    c.update(&data);
    let info = c.finish().unwrap().1.info;
    let mut net = Net::new(16384);
    let s = net.add(seeder(&info), data.clone());
    let l = net.add(leecher(&info), Vec::new());
    net.nodes[l]
        .t
        .set_file_priority(Time::ZERO, 1, crate::picker::Priority::Skip);
    net.connect(s, l);
    net.run(60);
    let have = net.nodes[l].t.have().unwrap().clone();
    assert!(net.nodes[l].t.is_complete());
    assert!(net.nodes[l].events.contains(&Event::Completed));
    assert_eq!(
        have.iter_ones().collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4, 8, 9, 10, 11]
    );
    assert_eq!(net.nodes[l].t.bytes_left(), Some(0));
    // Wanting the skipped file later: it downloads, and completion is announced again.
    let now = net.now;
    net.nodes[l]
        .t
        .set_file_priority(now, 1, crate::picker::Priority::Normal);
    assert!(!net.nodes[l].t.is_complete());
    net.run(60);
    assert!(net.nodes[l].t.is_seed());
    let completions = net.nodes[l]
        .events
        .iter()
        .filter(|e| **e == Event::Completed)
        .count();
    assert_eq!(completions, 2);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_torrent_without_peers_downloads_from_its_webseed() {
    let (data, info) = torrent_bytes(3 << 20, 256 << 10);
    let mut net = Net::new(1000);
    let l = net.add(leecher(&info), Vec::new());
    net.nodes[l].webseed = Some(data.clone());
    net.nodes[l].t.add_webseed(net.now);
    net.drain(l);
    net.run(10);
    assert!(net.nodes[l].t.is_complete());
    assert_eq!(net.nodes[l].data, data);
    // 1 MiB runs within 256 KiB pieces: one fetch per piece.
    assert_eq!(net.nodes[l].fetches, 12);
    assert_eq!(net.nodes[l].t.downloaded(), data.len() as u64);
    assert!(net.nodes[l].events.contains(&Event::Completed));
}

/// What a page shows as where its bytes came from: a native node is known by
/// its peer id's prefix, a webseed by its key, anyone else is a peer.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn each_verified_piece_says_where_it_came_from() {
    let (data, info) = torrent_bytes(1 << 20, 64 << 10);
    let id = |prefix: &[u8; 8]| {
        let mut id = [b'x'; 20];
        id[..8].copy_from_slice(prefix);
        PeerId(id)
    };
    let mut net = Net::new(16384);
    let cfg = Config::default;
    let native = net.add_as(cfg(), id(NATIVE_PREFIX), seeder(&info), data.clone());
    let browser = net.add_as(cfg(), id(b"-WB0100-"), seeder(&info), data.clone());
    let webtorrent = net.add_as(cfg(), id(b"-WW0208-"), seeder(&info), data.clone());
    let from_native = net.add(leecher(&info), Vec::new());
    let from_peers = net.add(leecher(&info), Vec::new());
    let from_webseed = net.add(leecher(&info), Vec::new());
    net.connect(native, from_native);
    net.connect(browser, from_peers);
    net.connect(webtorrent, from_peers);
    net.nodes[from_webseed].webseed = Some(data.clone());
    net.nodes[from_webseed].t.add_webseed(net.now);
    net.drain(from_webseed);
    net.run(30);
    let sources = |n: usize| -> Vec<PieceSource> {
        let ev = &net.nodes[n].events;
        ev.iter()
            .filter_map(|e| match e {
                Event::PieceVerified(_, from) => Some(*from),
                _ => None,
            })
            .collect()
    };
    for (n, want) in [
        (from_native, PieceSource::Native),
        (from_peers, PieceSource::Peer),
        (from_webseed, PieceSource::Webseed),
    ] {
        assert!(net.nodes[n].t.is_complete());
        assert_eq!(sources(n), vec![want; 16]);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_webseed_with_wrong_bytes_is_dropped_and_peers_finish() {
    let (data, info) = torrent_bytes(2 << 20, 256 << 10);
    let mut net = Net::new(16384);
    let s = net.add(seeder(&info), data.clone());
    let l = net.add(leecher(&info), Vec::new());
    let mut bad = data.clone();
    bad.iter_mut().for_each(|b| *b ^= 1);
    net.nodes[l].webseed = Some(bad);
    let ws = net.nodes[l].t.add_webseed(net.now);
    net.drain(l);
    net.connect(s, l);
    net.run(60);
    assert!(net.nodes[l].t.is_complete());
    assert_eq!(net.nodes[l].data, data);
    assert!(net.nodes[l].events.contains(&Event::WebseedRemoved {
        webseed: ws,
        reason: WebseedError::BadData
    }));
    assert_eq!(net.nodes[l].t.webseed_count(), 0);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_webseed_is_not_asked_for_pieces_fast_peers_have() {
    let (data, info) = torrent_bytes(1 << 20, 64 << 10);
    let mut net = Net::new(16384);
    let s = net.add(seeder(&info), data.clone());
    let cfg = Config {
        webseed_swarm_floor: 0.0,
        ..Config::default()
    };
    let l = net.add_with(cfg, leecher(&info), Vec::new());
    net.connect(s, l);
    // Bitfields exchanged: the seeder has every piece.
    while let Some((j, k, d)) = net.wire.pop_front() {
        net.nodes[j].t.handle_data(net.now, k, &d);
        net.drain(j);
    }
    net.nodes[l].webseed = Some(data.clone());
    net.nodes[l].t.add_webseed(net.now);
    net.drain(l);
    net.run(60);
    assert!(net.nodes[l].t.is_complete());
    assert_eq!(net.nodes[l].fetches, 0);
    // A streaming deadline makes the webseed race the peers for that piece.
    let l2 = net.add_with(
        Config {
            webseed_swarm_floor: 0.0,
            ..Config::default()
        },
        leecher(&info),
        Vec::new(),
    );
    net.connect(s, l2);
    net.nodes[l2].webseed = Some(data.clone());
    net.nodes[l2].t.add_webseed(net.now);
    let now = net.now;
    net.nodes[l2].t.set_deadline(now, 900_000, 900_001, now);
    net.drain(l2);
    assert!(net.nodes[l2].fetches >= 1);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn an_unreachable_webseed_is_retried_with_backoff_then_dropped() {
    let (_, info) = torrent_bytes(1 << 20, 64 << 10);
    let mut net = Net::new(16384);
    let l = net.add(leecher(&info), Vec::new());
    let ws = net.nodes[l].t.add_webseed(net.now);
    net.drain(l);
    assert_eq!(net.nodes[l].fetches, 4, "four fetches at once, all failing");
    net.run(120);
    // 5 failures in a row drop it; backoff kept it from hammering the host.
    assert!(net.nodes[l].fetches <= 8, "{}", net.nodes[l].fetches);
    assert!(net.nodes[l].events.contains(&Event::WebseedRemoved {
        webseed: ws,
        reason: WebseedError::Unreachable(5)
    }));
    assert!(!net.nodes[l].t.is_complete());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_peer_that_unchokes_but_rejects_every_request_is_not_asked_again_at_once() {
    // A fast peer that says it has everything, unchokes, and rejects every
    // request (as a peer that lost the pieces but does not speak
    // lt_donthave). Each reject is answered at once, for 60 s.
    let (_, info) = torrent_bytes(8 * 16384, 16384);
    let mut t = Torrent::new(
        Config::default(),
        leecher(&info),
        PeerId([1; 20]),
        Time::ZERO,
        1,
    );
    let k = t.add_peer(Time::ZERO, None).unwrap();
    let mut input = crate::wire::Handshake::new(info.info_hash, PeerId([2; 20]))
        .encode()
        .to_vec();
    input.extend_from_slice(&Message::HaveAll.to_bytes());
    input.extend_from_slice(&Message::Unchoke.to_bytes());
    let mut decoder = crate::wire::Decoder::new(1 << 20);
    let mut handshake_seen = false;
    let mut requests = 0u32;
    for step in 0..600u64 {
        let now = Time::from_millis(step * 100);
        if !input.is_empty() {
            t.handle_data(now, k, &std::mem::take(&mut input));
        }
        t.handle_timeout(now);
        while let Some(o) = t.poll_output() {
            let Output::Send { data, .. } = o else {
                continue;
            };
            decoder.feed(&data);
        }
        if !handshake_seen {
            handshake_seen = decoder.handshake().unwrap().is_some();
        }
        while let Some(m) = decoder.next_message().unwrap() {
            if let Message::Request { index, begin, len } = m {
                requests += 1;
                input.extend_from_slice(&Message::Reject { index, begin, len }.to_bytes());
            }
        }
    }
    assert!(handshake_seen);
    // 8 blocks, each asked again at most every 15 s over 60 s: 5 rounds.
    assert!(requests > 0, "nothing was requested");
    assert!(
        requests <= 8 * 5,
        "{requests} requests for 8 blocks in 60 s"
    );
}

/// PEX (BEP 11) from a classic peer: its added addresses go to the platform,
/// one message per 30 s is taken, junk closes the peer, and a data-channel
/// peer's PEX is ignored (browsers cannot dial TCP).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn pex_from_a_tcp_peer_reaches_the_platform_within_its_limits() {
    use crate::classic::PexMessage;
    use std::net::SocketAddr;
    use std::time::Duration;
    let (_, info) = torrent_bytes(50_000, 16384);
    let pex = |payload: Vec<u8>| {
        Message::Extended {
            id: crate::wire::LOCAL_UT_PEX,
            payload: Bytes::from(payload),
        }
        .to_bytes()
        .to_vec()
    };
    let added = |a: &str| {
        PexMessage {
            added: vec![a.parse().unwrap()],
            ..PexMessage::default()
        }
        .encode()
    };
    let found = |t: &mut Torrent| -> Vec<Vec<SocketAddr>> {
        std::iter::from_fn(|| t.poll_output())
            .filter_map(|o| match o {
                Output::Event(Event::PexPeers(a)) => Some(a),
                _ => None,
            })
            .collect()
    };
    let at = |s: u64| Time::ZERO + Duration::from_secs(s);
    let hs = crate::wire::Handshake::new(info.info_hash, PeerId([2; 20]))
        .encode()
        .to_vec();

    let mut t = Torrent::new(Config::default(), seeder(&info), PeerId([1; 20]), at(0), 1);
    let k = t.add_peer_on(at(0), None, Wire::Tcp).unwrap();
    t.handle_data(
        at(0),
        k,
        &[hs.clone(), pex(added("10.0.0.1:6881"))].concat(),
    );
    assert_eq!(found(&mut t), vec![vec!["10.0.0.1:6881".parse().unwrap()]]);
    t.handle_data(at(10), k, &pex(added("10.0.0.2:6881")));
    assert!(found(&mut t).is_empty(), "a second message within 30 s");
    t.handle_data(at(31), k, &pex(added("10.0.0.3:6881")));
    assert_eq!(found(&mut t).len(), 1);
    t.handle_data(at(62), k, &pex(b"junk".to_vec()));
    assert_eq!(t.peer_count(), 0, "junk PEX closes the peer");

    let (mut t, k, hs) = seed_with_peer(&info);
    t.handle_data(at(0), k, &[hs, pex(added("10.0.0.1:6881"))].concat());
    assert!(found(&mut t).is_empty(), "PEX over a data channel");
    assert_eq!(t.peer_count(), 1);
}

/// A bridge (a classic TCP seeder on one side, a browser on the other)
/// asks the seeder first for the lowest piece the browser lacks, not for
/// whatever rarest-first would pick.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_bridge_fetches_first_what_its_webrtc_peers_lack() {
    use crate::wire::Decoder;
    use std::time::Duration;
    let (_, info) = torrent_bytes(64 * 16384, 16384);
    let hs = |id: u8| {
        crate::wire::Handshake::new(info.info_hash, PeerId([id; 20]))
            .encode()
            .to_vec()
    };
    let mut t = Torrent::new(
        Config::default(),
        leecher(&info),
        PeerId([1; 20]),
        Time::ZERO,
        7,
    );
    let seed = t.add_peer_on(Time::ZERO, None, Wire::Tcp).unwrap();
    let browser = t.add_peer_on(Time::ZERO, None, Wire::DataChannel).unwrap();
    // The browser has pieces 0..=2 and lacks the rest.
    let mut bits = vec![0u8; 8];
    bits[0] = 0b1110_0000;
    t.handle_data(
        Time::ZERO,
        seed,
        &[hs(2), Message::HaveAll.to_bytes().to_vec()].concat(),
    );
    let bitfield = Message::Bitfield(Bytes::from(bits)).to_bytes().to_vec();
    t.handle_data(Time::ZERO, browser, &[hs(3), bitfield].concat());
    let tick = Time::ZERO + Duration::from_secs(1);
    t.handle_timeout(tick);
    t.handle_data(tick, seed, &Message::Unchoke.to_bytes());
    let mut sent = Vec::new();
    while let Some(o) = t.poll_output() {
        if let Output::Send { peer, data } = o {
            if peer == seed {
                sent.extend_from_slice(&data);
            }
        }
    }
    let mut d = Decoder::new(1 << 20);
    d.feed(&sent);
    d.handshake().unwrap().unwrap();
    let first = std::iter::from_fn(|| d.next_message().ok().flatten()).find_map(|m| match m {
        Message::Request { index, .. } => Some(index),
        _ => None,
    });
    assert_eq!(
        first,
        Some(3),
        "the first request is the browser's next piece"
    );
}

/// PEX sent: each classic peer that speaks ut_pex is told, soon after its
/// handshake and then once a minute, where our other classic peers listen
/// (a dialled address, or an incoming peer's address with the listen port
/// its handshake names), and later which of them left.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn classic_peers_are_told_of_each_other_and_of_who_left() {
    use crate::classic::PexMessage;
    use crate::wire::{Decoder, ExtendedHandshake};
    use std::net::SocketAddr;
    use std::time::Duration;
    let (_, info) = torrent_bytes(50_000, 16384);
    let at = |s: u64| Time::ZERO + Duration::from_secs(s);
    let hello = |id: u8, port: u16| {
        let ext = ExtendedHandshake {
            ut_pex: Some(9),
            port: Some(port),
            ..Default::default()
        };
        let ext = Message::Extended {
            id: 0,
            payload: Bytes::from(ext.encode()),
        };
        [
            crate::wire::Handshake::new(info.info_hash, PeerId([id; 20]))
                .encode()
                .to_vec(),
            ext.to_bytes().to_vec(),
        ]
        .concat()
    };
    let mut t = Torrent::new(Config::default(), seeder(&info), PeerId([1; 20]), at(0), 1);
    // A over uTP, B over TCP: B hears that A takes uTP.
    let a = t.add_peer_on(at(0), None, Wire::Utp).unwrap();
    let b = t.add_peer_on(at(0), None, Wire::Tcp).unwrap();
    let a_addr: SocketAddr = "10.0.0.1:6881".parse().unwrap();
    t.set_peer_addr(a, a_addr, true);
    t.set_peer_addr(b, "10.0.0.2:50000".parse().unwrap(), false);
    t.handle_data(at(0), a, &hello(2, 7000));
    t.handle_data(at(0), b, &hello(3, 51413));
    // Everything sent to each peer, as PEX messages.
    let mut streams: Vec<(PeerKey, Decoder, bool)> = vec![
        (a, Decoder::new(1 << 20), false),
        (b, Decoder::new(1 << 20), false),
    ];
    let mut told = |t: &mut Torrent| -> Vec<(PeerKey, PexMessage)> {
        let mut out = Vec::new();
        while let Some(o) = t.poll_output() {
            let Output::Send { peer, data } = o else {
                continue;
            };
            let Some((_, d, shook)) = streams.iter_mut().find(|s| s.0 == peer) else {
                continue;
            };
            d.feed(&data);
            if !*shook {
                *shook = d.handshake().unwrap().is_some();
            }
            while let Ok(Some(m)) = d.next_message() {
                if let Message::Extended { id: 9, payload } = m {
                    out.push((peer, PexMessage::parse(&payload).unwrap()));
                }
            }
        }
        out
    };
    for s in 1..=4 {
        t.handle_timeout(at(s));
    }
    let first = told(&mut t);
    let to_b = first.iter().find(|(k, _)| *k == b).map(|(_, m)| m.clone());
    let to_a = first.iter().find(|(k, _)| *k == a).map(|(_, m)| m.clone());
    let (to_b, to_a) = (to_b.unwrap(), to_a.unwrap());
    assert_eq!((to_b.added, to_b.utp), (vec![a_addr], vec![a_addr]));
    assert_eq!(to_a.added, vec!["10.0.0.2:51413".parse().unwrap()]);
    assert!(to_a.utp.is_empty());
    // A leaves; B hears of it a minute later, not before.
    t.peer_disconnected(at(5), a);
    for s in 6..=30 {
        t.handle_timeout(at(s));
    }
    assert!(told(&mut t).is_empty(), "one message a minute");
    for s in 31..=70 {
        t.handle_timeout(at(s));
    }
    let later = told(&mut t);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].0, b);
    assert_eq!(later[0].1.dropped, vec![a_addr]);
    assert!(later[0].1.added.is_empty());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_seed_passes_its_slots_on_so_every_leecher_gets_a_first_piece_early() {
    // Eight leechers on one seed with five slots (four regular, one
    // optimistic): three wait. Without passing slots on, the first five
    // take every piece before the others get one.
    let (data, info) = torrent_bytes(40 * 32768, 32768);
    let mut net = Net::new(1 << 20);
    let s = net.add(seeder(&info), data.clone());
    let leechers: Vec<usize> = (0..8)
        .map(|_| net.add(leecher(&info), Vec::new()))
        .collect();
    for &l in &leechers {
        net.connect(s, l);
    }
    let pieces = |net: &Net, l: usize| net.nodes[l].t.have().map_or(0, Bitfield::count);
    let mut most_when_all_had_one = None;
    for _ in 0..100_000 {
        net.step();
        if leechers.iter().all(|&l| pieces(&net, l) > 0) {
            most_when_all_had_one = leechers.iter().map(|&l| pieces(&net, l)).max();
            break;
        }
    }
    let most = most_when_all_had_one.expect("every leecher got a piece");
    assert!(
        most <= 4,
        "a leecher had {most} of 40 pieces before the last one had any"
    );
    net.run(120);
    for &l in &leechers {
        assert_eq!(net.nodes[l].data, data);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn rechoke_rounds_are_jittered_around_the_interval() {
    let (_, info) = torrent_bytes(4 * 32768, 32768);
    let mut t = Torrent::new(
        Config::default(),
        seeder(&info),
        PeerId([1; 20]),
        Time::ZERO,
        7,
    );
    let every = Config::default().rechoke_interval;
    let mut gaps = std::collections::BTreeSet::new();
    let mut now = Time::ZERO;
    t.handle_timeout(now);
    for _ in 0..20 {
        let due = t.next_rechoke;
        gaps.insert((due - now).as_millis());
        assert!(due - now >= every * 3 / 4 && due - now <= every * 5 / 4);
        now = due;
        t.handle_timeout(now);
    }
    assert!(
        gaps.len() > 10,
        "peers that joined together reshuffle at different times"
    );
}

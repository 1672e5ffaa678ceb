//! The torrent host (and the engine inside it) fed any sequence of wire
//! traffic from three peers, with channel events and time passing, while an
//! in-memory platform carries out its work exactly as the contract says.
//! Messages are built from the input (a real handshake, blocks that are
//! right or wrong, extension messages with any payload) so the fuzzer gets
//! past the handshake; raw bytes are fed too. Checked: no verified piece is
//! ever wrong, every piece sent is right, peers are bounded and gone when
//! their channels are.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use webswarm_core::engine::{self, Source};
use webswarm_core::host::{HostConfig, Start, TorrentHost, Work};
use webswarm_core::wire::{Decoder, Handshake, Message};
use webswarm_core::{sha1, Bitfield, Info, PeerId, PeerKey, Rng, Time, TorrentCreator};

use crate::cursor::Cursor;

const PEERS: u8 = 3;
const PIECE: u64 = 32 << 10;
const LEN: usize = 100_000;

struct Platform {
    data: Vec<u8>,
    info: Info,
    stored: BTreeMap<u32, Vec<u8>>,
    assembling: BTreeMap<u32, Vec<u8>>,
    keys: [Option<PeerKey>; PEERS as usize],
    /// What each peer has been sent, decoded as it would be, and whether
    /// its handshake is through.
    sent: [(Decoder, bool); PEERS as usize],
}

impl Platform {
    fn piece(&self, i: u32) -> &[u8] {
        let start = i as usize * PIECE as usize;
        &self.data[start..(start + PIECE as usize).min(LEN)]
    }

    fn carry_out(&mut self, h: &mut TorrentHost, now: Time) {
        while let Some(w) = h.poll_work() {
            match w {
                Work::Send { peer, data } => self.sent_to(peer, &data),
                Work::Close { peer, .. } => {
                    self.keys
                        .iter_mut()
                        .filter(|k| **k == Some(peer))
                        .for_each(|k| *k = None);
                }
                Work::ReadPiece { piece, .. } => {
                    let data = self.stored.get(&piece.get()).cloned().map(Bytes::from);
                    h.handle_piece_read(now, piece, data);
                }
                Work::StoreBlock { block, data } => {
                    let size = self.info.layout.piece_size(block.piece) as usize;
                    let buf = self
                        .assembling
                        .entry(block.piece.get())
                        .or_insert_with(|| vec![0; size]);
                    buf[block.offset as usize..][..data.len()].copy_from_slice(&data);
                }
                Work::CheckPiece { piece, hash } => {
                    let buf = self.assembling.remove(&piece.get());
                    let ok = buf.as_ref().is_some_and(|b| sha1(b) == hash);
                    if let Some(b) = buf.filter(|_| ok) {
                        assert_eq!(b, self.piece(piece.get()), "a wrong piece passed its hash");
                        self.stored.insert(piece.get(), b);
                    }
                    h.handle_piece_checked(now, piece, ok);
                }
                Work::Fetch { .. } => unreachable!("no webseeds"),
                Work::OpenStorage => h.handle_storage_opened(now, Ok(())),
                Work::SaveResume { .. } => h.handle_resume_saved(now, Ok(())),
                Work::Notify(_) | Work::Dial(_) => {}
            }
        }
        if let Some(have) = h.have() {
            for p in 0..have.len() {
                if have.get(p) {
                    assert!(
                        self.stored.contains_key(&p),
                        "piece {p} counted but not stored"
                    );
                }
            }
        }
    }

    /// Decodes what the host sent: every block it serves must be right.
    fn sent_to(&mut self, peer: PeerKey, data: &[u8]) {
        let Some(i) = self.keys.iter().position(|k| *k == Some(peer)) else {
            return;
        };
        let (d, shook) = &mut self.sent[i];
        d.feed(data);
        if !*shook {
            match d.handshake() {
                Ok(Some(_)) => *shook = true,
                Ok(None) => return,
                Err(e) => panic!("the host sent a bad handshake: {e}"),
            }
        }
        while let Ok(Some(m)) = d.next_message() {
            if let Message::Piece { index, begin, data } = m {
                let start = index as usize * PIECE as usize + begin as usize;
                assert_eq!(
                    &data[..],
                    &self.data[start..start + data.len()],
                    "served wrong data"
                );
            }
        }
    }
}

fn message(c: &mut Cursor, p: &Platform) -> Message {
    let pieces = p.info.layout.num_pieces();
    let index = c.u16() as u32 % (pieces + 1);
    match c.below(14) {
        0 => Message::Unchoke,
        1 => Message::Interested,
        2 => Message::Have(index),
        3 => Message::Bitfield(Bytes::copy_from_slice(c.bytes(4))),
        4 | 5 => {
            let begin = u32::from(c.below(3)) * (16 << 10);
            let len = [16 << 10, 1, LEN % (16 << 10)][usize::from(c.below(3))];
            let start = (index as usize * PIECE as usize + begin as usize).min(LEN);
            let mut data = p.data[start..(start + len).min(LEN)].to_vec();
            if c.below(4) == 0 && !data.is_empty() {
                data[0] ^= 1;
            }
            Message::Piece {
                index,
                begin,
                data: Bytes::from(data),
            }
        }
        6 => Message::Request {
            index,
            begin: u32::from(c.u16()),
            len: u32::from(c.u16()),
        },
        7 => Message::HaveAll,
        8 => Message::HaveNone,
        9 => Message::Choke,
        10 => Message::Reject {
            index,
            begin: 0,
            len: 16 << 10,
        },
        11 => Message::AllowedFast(index),
        _ => Message::Extended {
            id: c.below(4),
            payload: Bytes::copy_from_slice(c.bytes(600)),
        },
    }
}

fn start(c: &mut Cursor, info: &Info) -> Start {
    let n = info.layout.num_pieces();
    let source = match c.below(3) {
        0 => Source::Magnet(info.info_hash),
        1 => Source::Info {
            info: Box::new(info.clone()),
            have: None,
        },
        _ => Source::Info {
            info: Box::new(info.clone()),
            have: Some(Bitfield::full(n)),
        },
    };
    Start {
        source,
        peer_id: engine::Torrent::generate_peer_id(1),
        webseeds: Vec::new(),
        storage_open: false,
        recheck: Vec::new(),
    }
}

/// The torrent's content and info dictionary, made once per process.
fn torrent() -> &'static (Vec<u8>, Info) {
    static T: OnceLock<(Vec<u8>, Info)> = OnceLock::new();
    T.get_or_init(|| {
        let mut data = vec![0u8; LEN];
        Rng::new(5).fill(&mut data);
        let mut creator =
            TorrentCreator::new("f", vec![(vec![], LEN as u64)], Some(PIECE)).unwrap();
        creator.update(&data);
        let info = creator.finish().unwrap().1.info;
        (data, info)
    })
}

pub fn run(input: &[u8]) {
    let mut c = Cursor::new(input);
    let (data, info) = torrent().clone();
    let st = start(&mut c, &info);
    let seeding = matches!(&st.source, Source::Info { have: Some(_), .. });
    let mut now = Time::from_millis(1000);
    let mut h = TorrentHost::new(HostConfig::default(), st, now, 3);
    let mut p = Platform {
        stored: match seeding {
            true => (0..info.layout.num_pieces())
                .map(|i| {
                    (
                        i,
                        data[i as usize * PIECE as usize..]
                            [..info.layout.piece_size(info.layout.piece(i).unwrap()) as usize]
                            .to_vec(),
                    )
                })
                .collect(),
            false => BTreeMap::new(),
        },
        data,
        info,
        assembling: BTreeMap::new(),
        keys: [None; PEERS as usize],
        sent: std::array::from_fn(|_| (Decoder::new(1 << 20), false)),
    };
    p.carry_out(&mut h, now);
    while !c.is_empty() {
        let i = usize::from(c.below(PEERS));
        let op = c.below(8);
        let Some(key) = p.keys[i] else {
            let remote = PeerId([b'r'; 20].map(|b| b + i as u8));
            if let Ok(k) = h.add_peer(now, Some(remote), c.byte() & 1 == 0) {
                p.keys[i] = Some(k);
                p.sent[i] = (Decoder::new(1 << 20), false);
                let hs = Handshake::new(p.info.info_hash, remote).encode();
                if op != 0 {
                    h.handle_data(now, k, &hs);
                }
            }
            p.carry_out(&mut h, now);
            continue;
        };
        match op {
            0 => h.handle_data(now, key, c.bytes(300)),
            1 => {
                h.handle_closed(now, key);
                p.keys[i] = None;
            }
            2 => h.handle_writable(now, key, c.byte() & 1 == 0),
            3 => {
                now = now + Duration::from_millis(u64::from(c.u16()));
                if h.poll_timeout() <= now {
                    h.handle_timeout(now);
                }
            }
            _ => {
                let mut out = BytesMut::new();
                message(&mut c, &p).encode(&mut out);
                // Whole messages come as a channel's owned bytes or as a slice.
                match op & 1 {
                    1 => h.handle_bytes(now, key, out.freeze()),
                    _ => h.handle_data(now, key, &out),
                }
            }
        }
        p.carry_out(&mut h, now);
        assert!(h.num_peers() <= usize::from(PEERS));
    }
    for k in p.keys.iter_mut() {
        if let Some(key) = k.take() {
            h.handle_closed(now, key);
        }
    }
    p.carry_out(&mut h, now);
    assert_eq!(h.num_peers(), 0, "peers outlive their channels");
}

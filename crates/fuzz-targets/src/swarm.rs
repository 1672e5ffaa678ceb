//! The tracker's connection and swarm rules fed any sequence of announces,
//! answers, scrapes, disconnects and expiry from four connections, with
//! small id spaces so that ids collide: replies only go to open
//! connections, a connection's torrents stay within its limit, and a tracker
//! whose connections all left holds nothing.

use std::time::Duration;

use webswarm_core::{Rng, Time};
use webswarm_signaling::connection::{check_scrape, ConnLimits, ConnRules};
use webswarm_signaling::swarm::{Out, SwarmLimits, Swarms};
use webswarm_tracker_proto::{
    Announce, AnnounceEvent, Answer, ClientMessage, InfoHash, Offer, OfferId, PeerId, Scrape, Sdp,
};

use crate::cursor::Cursor;

const CONNS: u8 = 4;

fn id20(tag: u8, n: u8) -> [u8; 20] {
    let mut b = [tag; 20];
    b[19] = n;
    b
}

fn message(c: &mut Cursor) -> ClientMessage {
    let info_hash = InfoHash(id20(b'i', c.below(3)));
    let peer_id = PeerId(id20(b'p', c.below(4)));
    match c.below(3) {
        0 => ClientMessage::Announce(Announce {
            action: "announce",
            info_hash,
            peer_id,
            numwant: Some(u32::from(c.below(12))),
            uploaded: u64::from(c.u32()),
            downloaded: u64::from(c.u32()),
            left: (c.byte() & 1 == 0).then(|| u64::from(c.below(3))),
            event: match c.below(5) {
                0 => Some(AnnounceEvent::Started),
                1 => Some(AnnounceEvent::Stopped),
                2 => Some(AnnounceEvent::Completed),
                3 => Some(AnnounceEvent::Paused),
                _ => None,
            },
            offers: (0..c.below(14))
                .map(|_| Offer {
                    offer: Sdp::offer("v=0"),
                    offer_id: OfferId(id20(b'o', c.below(4))),
                })
                .collect(),
            trackerid: None,
        }),
        1 => ClientMessage::Answer(Answer {
            action: "announce",
            info_hash,
            peer_id,
            to_peer_id: PeerId(id20(b'p', c.below(4))),
            offer_id: OfferId(id20(b'o', c.below(4))),
            answer: Sdp::answer("v=0"),
        }),
        _ => ClientMessage::Scrape(Scrape {
            info_hashes: (0..c.below(5)).map(|n| InfoHash(id20(b'i', n))).collect(),
        }),
    }
}

pub fn run(data: &[u8]) {
    let mut c = Cursor::new(data);
    let limits = SwarmLimits {
        max_offers_per_announce: 3,
        ..SwarmLimits::default()
    };
    let conn_limits = ConnLimits {
        max_torrents: 2,
        max_scrape_hashes: 3,
        ..ConnLimits::default()
    };
    let mut s = Swarms::new(limits);
    let mut rng = Rng::new(1);
    let mut now = Time::from_millis(0);
    let mut rules: [Option<ConnRules>; CONNS as usize] = Default::default();
    while !c.is_empty() {
        let conn = c.below(CONNS);
        let i = usize::from(conn);
        let out = match c.below(4) {
            0 => {
                s.disconnect(u64::from(conn));
                rules[i] = None;
                continue;
            }
            1 => {
                now = now + Duration::from_millis(u64::from(c.u16()) * 10);
                s.expire(now)
            }
            _ => {
                let r = rules[i].get_or_insert_with(|| ConnRules::new(&conn_limits, now));
                match message(&mut c) {
                    ClientMessage::Announce(a) => match r.admit(&conn_limits, &a, now) {
                        Ok(()) => s.announce(u64::from(conn), a, now, &mut rng),
                        Err(_) => continue,
                    },
                    ClientMessage::Answer(a) => s.answer(u64::from(conn), a, now),
                    ClientMessage::Scrape(sc) => {
                        if check_scrape(&conn_limits, &sc.info_hashes).is_ok() {
                            let files = s.scrape(&sc.info_hashes);
                            assert_eq!(files.len(), sc.info_hashes.len());
                        }
                        continue;
                    }
                }
            }
        };
        assert!(out.len() <= 16, "one message, a bounded fan-out");
        for o in out {
            let to = match &o {
                Out::To(to, _) | Out::Dropped(to, ..) => to,
                Out::Publish(_) => continue,
                Out::Relay(..) => panic!("a relay with no other node: {o:?}"),
            };
            let Some(r) = rules[*to as usize].as_mut() else {
                panic!("a message for a closed connection: {o:?}");
            };
            if let Out::Dropped(_, ih, peer) = o {
                r.forget(&ih, &peer);
            }
            assert!(r.joined() <= conn_limits.max_torrents);
        }
    }
    for conn in 0..CONNS {
        s.disconnect(u64::from(conn));
    }
    assert_eq!(s.totals(), (0, 0, 0), "nothing left once everyone left");
}

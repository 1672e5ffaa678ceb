//! The tracker's swarm rules fed any sequence of connects, announces,
//! answers, scrapes, disconnects and expiry from four connections, with
//! small id spaces so that ids collide: replies only go to open
//! connections, and a tracker whose connections all left holds nothing.

use std::time::Duration;

use webswarm_core::{Rng, Time};
use webswarm_signaling::swarm::{SwarmLimits, Swarms};
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
        max_torrents_per_connection: 2,
        ..SwarmLimits::default()
    };
    let mut s = Swarms::new(limits);
    let mut rng = Rng::new(1);
    let mut now = Time::from_millis(0);
    let mut open = [false; CONNS as usize];
    while !c.is_empty() {
        let conn = c.below(CONNS);
        let i = usize::from(conn);
        match c.below(4) {
            0 => {
                s.disconnect(u64::from(conn));
                open[i] = false;
            }
            1 => {
                now = now + Duration::from_millis(u64::from(c.u16()) * 10);
                s.expire(now);
            }
            _ => {
                if !open[i] {
                    s.connect(u64::from(conn), now);
                    open[i] = true;
                }
                let out = s.handle(u64::from(conn), message(&mut c), now, &mut rng);
                assert!(out.len() <= 16, "one message, a bounded fan-out");
                for (to, _) in &out {
                    assert!(open[*to as usize], "a reply to a closed connection");
                }
            }
        }
    }
    for conn in 0..CONNS {
        s.disconnect(u64::from(conn));
    }
    assert_eq!(s.totals(), (0, 0, 0), "nothing left once everyone left");
}

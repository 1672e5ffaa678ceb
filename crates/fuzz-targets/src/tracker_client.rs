//! The tracker client fed any sequence of socket events, tracker messages
//! (any text, or well-formed offers, answers and intervals with colliding
//! ids) and platform answers over time: it never panics, its pending-offer
//! table stays within its budget, and a stop leaves nothing pending.

use std::time::Duration;

use webswarm_core::tracker::{
    binstr, OfferId, TorrentStatus, TrackerClient, TrackerConfig, TrackerWork,
};
use webswarm_core::{InfoHash, PeerId, Time};

use crate::cursor::Cursor;

fn id20(tag: u8, n: u8) -> [u8; 20] {
    let mut b = [tag; 20];
    b[19] = n;
    b
}

fn tracker_text(c: &mut Cursor) -> String {
    let ih = binstr::encode(&id20(b'i', c.below(3)));
    let peer = binstr::encode(&id20(b'p', c.below(3)));
    let oid = binstr::encode(&id20(b'o', c.below(8)));
    match c.below(5) {
        0 => String::from_utf8_lossy(c.bytes(400)).into_owned(),
        1 => format!(
            r#"{{"action":"announce","info_hash":{ih:?},"peer_id":{peer:?},"offer_id":{oid:?},"offer":{{"type":"offer","sdp":"v=0"}}}}"#
        ),
        2 => format!(
            r#"{{"action":"announce","info_hash":{ih:?},"peer_id":{peer:?},"offer_id":{oid:?},"answer":{{"type":"answer","sdp":"v=0"}}}}"#
        ),
        3 => format!(
            r#"{{"action":"announce","info_hash":{ih:?},"interval":{},"complete":1,"incomplete":2}}"#,
            c.u16()
        ),
        _ => format!(r#"{{"failure reason":"no","info_hash":{ih:?}}}"#),
    }
}

pub fn run(data: &[u8]) {
    let mut c = Cursor::new(data);
    let cfg = TrackerConfig::default();
    let budget = cfg.max_pending_offers;
    let mut now = Time::from_millis(0);
    let mut t = TrackerClient::new(cfg, now, 9);
    let status = |left| TorrentStatus {
        peers: 0,
        room: 4,
        left,
        uploaded: 0,
        downloaded: 0,
        complete: left == Some(0),
        last_progress: Time::from_millis(0),
    };
    let mut asked: Vec<(InfoHash, Vec<OfferId>)> = Vec::new();
    while !c.is_empty() {
        let ih = InfoHash(id20(b'i', c.below(3)));
        match c.below(9) {
            0 => t.join(
                now,
                ih,
                PeerId(id20(b'm', 0)),
                status(Some(u64::from(c.below(2)))),
            ),
            1 => t.leave(ih),
            2 => t.set_status(now, ih, status((c.byte() & 1 == 0).then_some(5))),
            3 => t.handle_connected(now),
            4 => t.handle_disconnected(now, "gone"),
            5 => t.handle_message(now, &tracker_text(&mut c)),
            6 => {
                if let Some((ih, ids)) = asked.pop() {
                    let made = ids
                        .into_iter()
                        .take(usize::from(c.below(6)))
                        .map(|id| (id, "v=0".into()))
                        .collect();
                    t.handle_offers_made(now, ih, made);
                }
            }
            7 => t.handle_answer_made(
                ih,
                PeerId(id20(b'p', c.below(3))),
                OfferId(id20(b'o', c.below(8))),
                "v=0".into(),
            ),
            _ => {
                now = now + Duration::from_millis(u64::from(c.u16()) * 4);
                if t.poll_timeout().is_some_and(|d| d <= now) {
                    t.handle_timeout(now);
                }
            }
        }
        let mut n = 0;
        while let Some(w) = t.poll_work() {
            n += 1;
            assert!(n < 1000, "work without end");
            if let TrackerWork::MakeOffers { info_hash, ids } = w {
                asked.push((info_hash, ids));
            }
        }
        assert!(
            t.pending_offers() <= budget,
            "{} offers pending",
            t.pending_offers()
        );
    }
    for n in 0..3 {
        t.leave(InfoHash(id20(b'i', n)));
    }
    while t.poll_work().is_some() {}
    now = now + Duration::from_secs(3600);
    t.handle_timeout(now);
    assert_eq!(t.pending_offers(), 0, "offers outlive their TTL");
}

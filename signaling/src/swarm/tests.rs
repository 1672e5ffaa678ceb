use super::*;
use webswarm_tracker_proto::{ClientMessage, Offer, Sdp};

const IH: InfoHash = InfoHash([7; 20]);

fn pid(n: u8) -> PeerId {
    PeerId([n; 20])
}

fn announce(
    peer: u8,
    offers: usize,
    left: Option<u64>,
    event: Option<AnnounceEvent>,
) -> ClientMessage {
    ClientMessage::Announce(Announce {
        action: "announce",
        info_hash: IH,
        peer_id: pid(peer),
        numwant: Some(offers as u32),
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        offers: (0..offers)
            .map(|i| Offer {
                offer: Sdp::offer(&format!("sdp{peer}-{i}")),
                offer_id: OfferId([peer * 16 + i as u8; 20]),
            })
            .collect(),
        trackerid: None,
    })
}

fn answer(from: u8, to: u8, offer: OfferId) -> ClientMessage {
    ClientMessage::Answer(Answer {
        action: "announce",
        info_hash: IH,
        peer_id: pid(from),
        to_peer_id: pid(to),
        offer_id: offer,
        answer: Sdp::answer("ans"),
    })
}

struct T {
    s: Swarms,
    rng: Rng,
    now: Time,
}

impl T {
    fn new() -> Self {
        T {
            s: Swarms::new(SwarmLimits::default()),
            rng: Rng::new(1),
            now: Time::from_millis(1000),
        }
    }
    /// What the swarm sends to connections (drops are in `dropped`).
    fn send(&mut self, conn: ConnId, m: ClientMessage) -> Vec<(ConnId, TrackerMessage)> {
        let out = match m {
            ClientMessage::Announce(a) => self.s.announce(conn, a, self.now, &mut self.rng),
            ClientMessage::Answer(a) => self.s.answer(conn, a, self.now),
            ClientMessage::Scrape(_) => unreachable!("scrapes are asked with Swarms::scrape"),
        };
        sent(out)
    }
    /// Peer 2 announces one offer; returns it as relayed to peer 1 (connection 1).
    fn offer_to_peer_1(&mut self) -> RelayedOffer {
        let out = self.send(2, announce(2, 1, Some(5), None));
        match out.first() {
            Some((1, TrackerMessage::Offer(o))) => o.clone(),
            other => panic!("expected an offer for connection 1, got {other:?}"),
        }
    }
}

fn sent(out: Outbox) -> Vec<(ConnId, TrackerMessage)> {
    out.into_iter()
        .filter_map(|o| match o {
            Out::To(c, m) => Some((c, m)),
            _ => None,
        })
        .collect()
}

fn dropped(out: &Outbox) -> Vec<(ConnId, PeerId)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Dropped(c, _, p) => Some((*c, *p)),
            _ => None,
        })
        .collect()
}

fn failures(out: &[(ConnId, TrackerMessage)]) -> Vec<String> {
    out.iter()
        .filter_map(|(_, m)| match m {
            TrackerMessage::Failure(f) => Some(f.reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn offers_go_to_distinct_other_peers_and_counts_treat_null_left_as_incomplete() {
    let mut t = T::new();
    for c in 1..=4 {
        t.send(
            c,
            announce(c as u8, 0, Some(0), Some(AnnounceEvent::Started)),
        );
    }
    let out = t.send(9, announce(9, 10, None, Some(AnnounceEvent::Started)));
    let targets: Vec<ConnId> = out
        .iter()
        .filter(|(_, m)| matches!(m, TrackerMessage::Offer(_)))
        .map(|(c, _)| *c)
        .collect();
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![1, 2, 3, 4],
        "one offer per other peer, never the sender"
    );
    let Some((9, TrackerMessage::Announced(r))) = out.last() else {
        panic!("{out:?}")
    };
    assert_eq!((r.complete, r.incomplete, r.interval), (4, 1, 120));
}

#[test]
fn answers_are_relayed_only_for_offers_actually_forwarded_and_only_once() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(0), None));
    let offer_id = t.offer_to_peer_1().offer_id;
    // An answer to an offer never sent, and one naming the wrong offerer, are refused.
    assert_eq!(
        failures(&t.send(1, answer(1, 2, OfferId([99; 20])))).len(),
        1
    );
    assert_eq!(failures(&t.send(1, answer(1, 3, offer_id))).len(), 1);
    // The forwarded offer was consumed by the wrong answer above: re-offer.
    let o = t.offer_to_peer_1();
    let out = t.send(1, answer(1, 2, o.offer_id));
    assert!(matches!(out.as_slice(), [(2, TrackerMessage::Answer(a))] if a.peer_id == pid(1)));
    assert_eq!(
        failures(&t.send(1, answer(1, 2, o.offer_id))).len(),
        1,
        "only once"
    );
    // An answer from a connection that did not announce that peer id.
    assert_eq!(failures(&t.send(5, answer(1, 2, o.offer_id))).len(), 1);
}

#[test]
fn offers_expire_and_peers_time_out() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(0), None));
    let o = t.offer_to_peer_1();
    t.now = t.now + Duration::from_secs(61);
    assert_eq!(
        failures(&t.send(1, answer(1, 2, o.offer_id))).len(),
        1,
        "offer expired"
    );
    t.now = t.now + Duration::from_secs(200);
    t.s.expire(t.now);
    assert_eq!(t.s.totals(), (0, 0, 0));
}

#[test]
fn disconnect_leaves_every_swarm() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(3), None));
    let mut other = announce(1, 0, Some(0), Some(AnnounceEvent::Completed));
    if let ClientMessage::Announce(a) = &mut other {
        a.info_hash = InfoHash([8; 20]);
    }
    t.send(1, other);
    assert_eq!(t.s.totals(), (2, 1, 1));
    t.s.disconnect(1);
    assert_eq!(t.s.totals(), (0, 0, 0));
    assert!(t.s.conns.is_empty());
}

#[test]
fn a_peer_id_taken_over_or_timed_out_is_reported_dropped_to_its_connection() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(3), None));
    // Another connection announces the same peer id: it takes the peer over,
    // and connection 1 learns it no longer holds it.
    let out = t.s.announce(
        2,
        match announce(1, 0, Some(3), None) {
            ClientMessage::Announce(a) => a,
            _ => unreachable!(),
        },
        t.now,
        &mut t.rng,
    );
    assert_eq!(dropped(&out), vec![(1, pid(1))]);
    // A stopped from the old connection does not remove the new one's peer.
    t.send(1, announce(1, 0, Some(3), Some(AnnounceEvent::Stopped)));
    assert_eq!(t.s.totals(), (1, 0, 1));
    t.s.disconnect(1);
    assert_eq!(t.s.totals(), (1, 0, 1));
    t.now = t.now + Duration::from_secs(200);
    assert_eq!(dropped(&t.s.expire(t.now)), vec![(2, pid(1))]);
    assert_eq!(t.s.totals(), (0, 0, 0));
    assert!(t.s.conns.is_empty(), "nothing left for connection 2");
}

#[test]
fn stopped_leaves_and_completed_counts_downloads_once() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(3), Some(AnnounceEvent::Started)));
    t.send(1, announce(1, 0, Some(0), Some(AnnounceEvent::Completed)));
    t.send(1, announce(1, 0, Some(0), Some(AnnounceEvent::Completed)));
    let files = t.s.scrape(&[IH, InfoHash([8; 20])]);
    assert_eq!(
        files[0],
        ScrapeFile {
            complete: 1,
            incomplete: 0,
            downloaded: 1
        }
    );
    assert_eq!(files[1], ScrapeFile::default());
    t.send(1, announce(1, 0, Some(0), Some(AnnounceEvent::Stopped)));
    assert_eq!(t.s.totals(), (0, 0, 0));
}

#[test]
fn offers_to_a_peer_that_never_answers_stay_bounded() {
    let mut t = T::new();
    t.send(1, announce(1, 0, Some(0), None));
    for _ in 0..100 {
        t.now = t.now + Duration::from_millis(500);
        t.send(2, announce(2, 10, Some(5), None));
    }
    let answerable = t.s.torrents[&IH].peers[&pid(1)].answerable.len();
    assert!(answerable <= 40, "{answerable}");
}

#[test]
fn a_downloaders_offers_reach_a_seed_whenever_the_swarm_has_one() {
    let mut t = T::new();
    // One seed among 13 downloaders (fakes that never answer, say).
    t.send(1, announce(1, 0, Some(0), Some(AnnounceEvent::Started)));
    for c in 2..=14 {
        t.send(
            c,
            announce(c as u8, 0, Some(5), Some(AnnounceEvent::Started)),
        );
    }
    // Within the announce burst (50).
    for _ in 0..40 {
        let out = t.send(15, announce(15, 3, Some(5), None));
        let to: Vec<ConnId> = out
            .iter()
            .filter(|(_, m)| matches!(m, TrackerMessage::Offer(_)))
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(to.len(), 3);
        assert!(to.contains(&1), "no offer reached the seed: {to:?}");
        let mut distinct = to.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
    }
    // A seed's own offers are not steered; a seed that stops seeding is no
    // longer one.
    t.send(1, announce(1, 0, Some(7), None));
    let out = t.send(15, announce(15, 3, Some(5), None));
    assert_eq!(
        out.iter()
            .filter(|(_, m)| matches!(m, TrackerMessage::Offer(_)))
            .count(),
        3
    );
    assert!(t.s.torrents.get(&IH).unwrap().seeds.is_empty());
}

fn ann(peer: u8, offers: usize, left: Option<u64>) -> Announce {
    match announce(peer, offers, left, None) {
        ClientMessage::Announce(a) => a,
        _ => unreachable!(),
    }
}

#[test]
fn local_changes_are_published_once_and_remote_peers_get_relays() {
    let mut t = T::new();
    let out = t.s.announce(1, ann(1, 0, Some(0)), t.now, &mut t.rng);
    let published = |out: &Outbox| out.iter().filter(|o| matches!(o, Out::Publish(_))).count();
    assert_eq!(published(&out), 1, "a new local peer is published");
    let out = t.s.announce(1, ann(1, 0, Some(0)), t.now, &mut t.rng);
    assert_eq!(published(&out), 0, "an unchanged re-announce is not");
    // Peer 2 lives on node 9: an offer to it is relayed to node 9, which
    // records what may be answered; its answer comes back as a relay too.
    let joined = Event::Joined {
        ih: IH,
        peer: pid(2),
        complete: false,
        completed: false,
    };
    assert!(t.s.remote_joined(9, &joined).is_empty());
    assert_eq!(t.s.totals(), (1, 1, 1));
    let out = t.s.announce(1, ann(1, 1, Some(0)), t.now, &mut t.rng);
    let relayed: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Out::Relay(9, Relay::Offer { to, offer }) => Some((*to, offer.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].0, pid(2));
    assert!(t.s.torrents[&IH].peers[&pid(2)].answerable.is_empty());
    // An answer relayed here for the local offerer is delivered to its connection.
    let answer = RelayedAnswer {
        action: "announce".into(),
        answer: webswarm_tracker_proto::Sdp::answer("a"),
        offer_id: relayed[0].1.offer_id,
        peer_id: pid(2),
        info_hash: IH,
    };
    let out = sent(t.s.remote_answer(&pid(1), answer));
    assert!(matches!(out.as_slice(), [(1, TrackerMessage::Answer(_))]));
    // Node 9 leaves the cluster: its peer goes; ours stays.
    t.s.forget_node(Some(9));
    assert_eq!(t.s.totals(), (1, 1, 0));
}

#[test]
fn remote_offers_are_answerable_once_and_remote_joins_take_a_peer_id_over() {
    let mut t = T::new();
    t.s.announce(1, ann(1, 0, Some(0)), t.now, &mut t.rng);
    let offer = RelayedOffer {
        action: "announce".into(),
        offer: webswarm_tracker_proto::Sdp::offer("o"),
        offer_id: OfferId([5; 20]),
        peer_id: pid(2),
        info_hash: IH,
    };
    let joined = Event::Joined {
        ih: IH,
        peer: pid(2),
        complete: false,
        completed: false,
    };
    t.s.remote_joined(9, &joined);
    let out = sent(t.s.remote_offer(&pid(1), offer, t.now));
    assert!(matches!(out.as_slice(), [(1, TrackerMessage::Offer(_))]));
    // The answer goes back to node 9, once; a forged one is refused here.
    let out = t.s.answer(
        1,
        match answer(1, 2, OfferId([5; 20])) {
            ClientMessage::Answer(a) => a,
            _ => unreachable!(),
        },
        t.now,
    );
    assert!(matches!(
        out.as_slice(),
        [Out::Relay(9, Relay::Answer { .. })]
    ));
    assert_eq!(
        failures(&t.send(1, answer(1, 2, OfferId([5; 20])))).len(),
        1
    );
    // The client of peer 1 reconnected to node 8: it is dropped here.
    let moved = Event::Joined {
        ih: IH,
        peer: pid(1),
        complete: true,
        completed: false,
    };
    assert_eq!(dropped(&t.s.remote_joined(8, &moved)), vec![(1, pid(1))]);
    assert!(t.s.local_peers().is_empty());
    // A late "left" from node 9 about peer 1 does not remove node 8's entry.
    t.s.remote_left(9, &IH, &pid(1));
    assert_eq!(t.s.totals(), (1, 1, 1));
    t.s.forget_node(None);
    assert_eq!(t.s.totals(), (0, 0, 0));
}

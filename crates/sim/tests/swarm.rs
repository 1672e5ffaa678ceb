//! Engine behaviour in simulated swarms (fake clock, seeded randomness).

use std::time::Duration;

use webswarm_sim::{Behaviour, PeerSpec, Scenario, Sim, StorageMode};

const KIB: f64 = 1024.0;

fn real(mut sc: Scenario) -> Scenario {
    sc.storage = StorageMode::Real;
    sc.max_time = Duration::from_secs(1200);
    sc
}

#[test]
fn fifty_leechers_with_mixed_bandwidth_all_finish_with_verified_content() {
    let r = Sim::new(real(Scenario::mixed(11, 50, 2 << 20, 32 << 10))).run();
    assert!(
        r.all_complete(),
        "{:?}",
        r.peers.iter().map(|p| p.completed).collect::<Vec<_>>()
    );
    for p in r.peers.iter().filter(|p| !p.seed) {
        assert_eq!(p.content_matches, Some(true));
        assert_eq!(p.verified_pieces, r.num_pieces);
    }
    // Leechers carried most of the load, not the seeder.
    assert!(r.seeder_share() < 0.5, "seeder share {}", r.seeder_share());
}

#[test]
fn corrupt_peer_is_banned_and_everyone_still_gets_the_right_bytes() {
    let mut sc = Scenario::mixed(5, 20, 1 << 20, 32 << 10);
    let mut liar = PeerSpec::seeder(4096.0 * KIB, 10);
    liar.behaviour = Behaviour::Corrupt;
    sc.peers.push(liar);
    let liar_index = sc.peers.len() - 1;
    let r = Sim::new(real(sc)).run();
    assert!(r.all_complete());
    assert!(r
        .peers
        .iter()
        .filter(|p| !p.seed)
        .all(|p| p.content_matches == Some(true)));
    let banned_by: Vec<usize> = r
        .bans
        .iter()
        .filter(|b| b.1 == liar_index)
        .map(|b| b.0)
        .collect();
    assert!(banned_by.len() >= 5, "liar banned by {banned_by:?}");
    assert!(
        r.bans.iter().all(|b| b.1 == liar_index),
        "an honest peer was banned: {:?}",
        r.bans
    );
}

#[test]
fn peers_leaving_mid_transfer_do_not_stop_the_others() {
    let mut sc = Scenario::mixed(8, 30, 2 << 20, 32 << 10);
    // A second seeder that leaves early, and a third of the leechers leave half way.
    let mut early = PeerSpec::seeder(2048.0 * KIB, 20);
    early.leave = Some(Duration::from_secs(2));
    sc.peers.push(early);
    for (i, p) in sc.peers.iter_mut().enumerate().filter(|(_, p)| !p.seed) {
        if i % 3 == 0 {
            p.leave = Some(Duration::from_secs(3));
        }
    }
    let r = Sim::new(real(sc)).run();
    assert!(r.all_complete());
    assert!(r.peers.iter().filter(|p| p.left.is_some()).count() >= 10);
}

#[test]
fn the_same_seed_replays_the_same_trace() {
    let run = |seed| Sim::new(Scenario::mixed(seed, 20, 1 << 20, 32 << 10)).run();
    let (a, b, c) = (run(3), run(3), run(4));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.last_completion(), b.last_completion());
    assert_ne!(a.trace_hash, c.trace_hash);
}

#[test]
fn diagnostics_only_watch() {
    let run = |diagnostics| {
        let mut sc = Scenario::mixed(5, 20, 1 << 20, 32 << 10);
        sc.diagnostics = diagnostics;
        Sim::new(sc).run()
    };
    let (quiet, watched) = (run(false), run(true));
    assert_eq!(quiet.trace_hash, watched.trace_hash);
    assert_eq!(quiet.last_completion(), watched.last_completion());
}

#[test]
fn a_streaming_leecher_gets_the_first_bytes_early() {
    // Two identical latecomers join a swarm under way; one streams. A latecomer
    // is unchoked by few peers at first, so what matters is what it spends that
    // bandwidth on: the streaming one must fetch the first MiB (16 of 128
    // pieces) first; the other gets it in rarest-first order. Summed over a
    // few seeds so one lucky run cannot decide.
    let (mut streaming_prefix, mut plain_prefix) = (0, 0);
    for seed in 1..=4 {
        let mut sc = Scenario::mixed(seed, 30, 8 << 20, 64 << 10);
        for streaming in [true, false] {
            let mut p = PeerSpec::leecher(512.0 * KIB, 2048.0 * KIB, 30);
            p.join = Duration::from_secs(8);
            p.streaming = streaming;
            sc.peers.push(p);
        }
        let n = sc.peers.len();
        let r = Sim::new(sc).run();
        assert!(r.all_complete());
        let prefix_among_first_8 = |i: usize| {
            r.peers[i]
                .verified_order
                .iter()
                .take(8)
                .filter(|&&p| p < 16)
                .count()
        };
        streaming_prefix += prefix_among_first_8(n - 2);
        plain_prefix += prefix_among_first_8(n - 1);
        assert!(r.peers[n - 2].first_mib.is_some());
    }
    assert!(
        streaming_prefix >= 23,
        "streaming: {streaming_prefix} of its first 32 pieces were the prefix"
    );
    assert!(
        2 * plain_prefix < streaming_prefix,
        "plain {plain_prefix} vs streaming {streaming_prefix}"
    );
}

#[test]
fn peers_never_hold_two_connections_to_each_other() {
    // Every peer offers to random others through the tracker, so offers
    // reach peers already connected to the offerer; those are not answered
    // (the host's `accepts`), and a pair that offers to each other at once
    // is settled by the hosts (unit-tested in core's host). One connection
    // per pair, always, and none closed as a duplicate.
    let r = Sim::new(Scenario::mixed(12, 60, 2 << 20, 32 << 10)).run();
    assert!(r.all_complete());
    assert_eq!(r.max_links_per_pair, 1);
    assert_eq!(
        r.closes.get("already connected to this peer"),
        None,
        "{:?}",
        r.closes
    );
}

#[test]
fn a_lonely_leecher_reannounces_after_2_4_then_every_8_seconds() {
    // One leecher alone for 30 s, then a seeder joins.
    let mut sc = Scenario::new(
        5,
        1 << 20,
        32 << 10,
        vec![PeerSpec::leecher(512.0 * KIB, 2048.0 * KIB, 20)],
    );
    let mut seed = PeerSpec::seeder(1024.0 * KIB, 20);
    seed.join = Duration::from_secs(30);
    sc.peers.push(seed);
    let r = Sim::new(sc).run();
    let leecher: Vec<f64> = r
        .announces
        .iter()
        .filter(|a| a.0 == 0)
        .map(|a| a.1.as_secs_f64())
        .take_while(|&t| t < 30.0)
        .collect();
    assert_eq!(
        leecher,
        [0.0, 2.0, 6.0, 14.0, 22.0],
        "offers announced at {leecher:?}"
    );
    // The seeder's own offers reach the waiting leecher as soon as it joins.
    let first = r.peers[0].first_peer.expect("connected");
    assert!(
        first >= Duration::from_secs(30) && first < Duration::from_millis(30_100),
        "{first:?}"
    );
    assert!(r.all_complete());
}

#[test]
fn storage_that_opens_late_holds_the_download_without_losing_it() {
    let mut sc = Scenario::mixed(6, 10, 1 << 20, 32 << 10);
    for p in sc.peers.iter_mut().filter(|p| !p.seed).step_by(2) {
        p.storage_delay = Some(Duration::from_millis(1500));
    }
    let r = real(sc);
    let r = Sim::new(r).run();
    assert!(r.all_complete());
    for p in r.peers.iter().filter(|p| !p.seed) {
        assert_eq!(
            p.early_storage_work, 0,
            "storage work before storage opened"
        );
        assert_eq!(p.content_matches, Some(true));
    }
}

#[test]
fn the_swarm_policy_gets_a_site_swarm_done_sooner_than_tit_for_tat() {
    use webswarm_core::engine::Choking;
    // A hundred visitors of one site; the same three seeds under each policy.
    // (At fifty the two are even since seeds pass their slots on: 1.229 and
    // 1.222, where they were 1.240 and 1.311.)
    let last = |choking: Choking| -> Vec<f64> {
        (1..=3)
            .map(|seed| {
                let mut sc = Scenario::mixed(seed, 100, 16 << 20, 64 << 10);
                sc.engine.choking = choking;
                let r = Sim::new(sc).run();
                assert!(r.all_complete());
                r.bound_ratio().unwrap()
            })
            .collect()
    };
    let (tft, swarm) = (last(Choking::TitForTat), last(Choking::Swarm));
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[1]
    };
    let (tft, swarm) = (median(tft), median(swarm));
    // Measured: tit-for-tat 1.264, swarm 1.204 (the bench's --seeds 3 at N = 100).
    assert!(swarm < tft - 0.03, "swarm {swarm:.3}, tit-for-tat {tft:.3}");
}

#[test]
fn visitors_of_a_site_take_most_bytes_from_each_other_and_none_waits_longer_than_the_origin_alone_would(
) {
    use webswarm_sim::origin_alone;
    // 300 visitors arriving over two minutes; the origin uploads 4 MiB/s.
    let up = 4096.0 * KIB;
    let sc = Scenario::site(1, 300, Duration::from_secs(120), 16 << 20, 64 << 10, up);
    let joins: Vec<Duration> = sc.peers.iter().map(|p| p.join).collect();
    let downs: Vec<f64> = sc.peers.iter().map(|p| p.down).collect();
    let alone = origin_alone(&joins, &downs, sc.file_len, up, sc.tick);
    let r = Sim::new(sc).run();
    assert!(r.all_complete());
    // Measured: 10.5 % (it falls with more visitors: 3.2 % at 1000).
    assert!(r.origin_share() < 0.15, "origin share {}", r.origin_share());
    for (p, al) in r.peers.iter().zip(&alone) {
        let took = p.completed.unwrap() - p.joined;
        assert!(took <= *al, "took {took:?}, the origin alone {al:?}");
    }
}

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
fn a_streaming_leecher_gets_the_first_bytes_early() {
    // Two identical latecomers join a swarm under way; one streams. The
    // streaming one must hold most of the first MiB soon after joining, the
    // other only the share that random rarest-first order gives it.
    let mut sc = Scenario::mixed(21, 30, 8 << 20, 64 << 10);
    for streaming in [true, false] {
        let mut p = PeerSpec::leecher(512.0 * KIB, 2048.0 * KIB, 30);
        p.join = Duration::from_secs(8);
        p.streaming = streaming;
        sc.peers.push(p);
    }
    let n = sc.peers.len();
    let r = Sim::new(sc).run();
    assert!(r.all_complete());
    let by = |i: usize, after: u64| {
        let p = &r.peers[i];
        p.prefix_pieces
            .iter()
            .filter(|&&t| t <= p.joined + Duration::from_secs(after))
            .count()
    };
    let (s, plain) = (n - 2, n - 1);
    let prefix = r.peers[s].prefix_pieces.len();
    assert_eq!(prefix, 16);
    assert!(
        by(s, 2) >= prefix / 2,
        "streaming had {} of {prefix} after 2 s",
        by(s, 2)
    );
    assert!(
        by(s, 2) > by(plain, 2),
        "streaming {} vs plain {} after 2 s",
        by(s, 2),
        by(plain, 2)
    );
    let (fs, fp) = (
        r.peers[s].first_mib.unwrap(),
        r.peers[plain].first_mib.unwrap(),
    );
    assert!(fs < fp, "first MiB: streaming at {fs:?}, plain at {fp:?}");
}

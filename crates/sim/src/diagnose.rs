//! Per-second diagnostics (`Scenario::diagnostics`): how much of the seed's
//! upload was new content, and why peers that hold data are not uploading.

use std::collections::BTreeSet;

use webswarm_core::Time;

use crate::swarm::Sim;

pub(crate) fn print_second(sim: &Sim) {
    let secs = (sim.now - Time::ZERO).as_secs_f64();
    let distinct: BTreeSet<u32> = sim.seed_reads.iter().copied().collect();
    let blocks_per_piece =
        sim.info.layout.piece_len() as usize / webswarm_core::BLOCK_SIZE as usize;
    eprintln!(
        "t={secs:>5.1}s seeds sent {} pieces' worth, {} distinct pieces",
        sim.seed_reads.len() / blocks_per_piece.max(1),
        distinct.len()
    );
    // Peers holding data that upload nothing right now, by reason.
    let (mut busy, mut unwanted, mut choked, mut unasked) = (0, 0, 0, 0);
    for (i, node) in sim.nodes.iter().enumerate() {
        let Some(t) = node.torrent.as_ref() else {
            continue;
        };
        if t.have().is_none_or(|h| h.count() == 0) {
            continue;
        }
        let queued = node.conns.values().any(|&l| {
            sim.links[l].as_ref().is_some_and(|link| {
                let d = usize::from(link.ends[0].0 != i);
                link.dirs[d].queued > 0
            })
        });
        let stats = t.peer_stats(sim.now);
        if queued || stats.iter().any(|p| p.requests_in > 0) {
            busy += 1;
        } else if !stats.iter().any(|p| p.peer_interested) {
            unwanted += 1;
        } else if !stats.iter().any(|p| p.peer_interested && !p.am_choking) {
            choked += 1;
        } else {
            unasked += 1;
        }
    }
    eprintln!(
        "t={secs:>5.1}s peers with data: {busy} sending; idle: {unwanted} have nothing wanted, \
         {choked} choke everyone who wants, {unasked} unchoked but not asked (requests in flight)"
    );
}

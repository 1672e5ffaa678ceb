//! Who we upload to: regular slots go to the interested peers with the best
//! score (tit-for-tat while we leech: their upload rate to us; while we seed,
//! or under the swarm policy (`engine::Choking`): the peers furthest behind),
//! plus optimistic slots rotated among the others so newcomers get a start.

use crate::rng::Rng;
use crate::types::PeerKey;

/// One peer as the choker sees it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub peer: PeerKey,
    pub interested: bool,
    /// Higher wins a regular slot: bytes/s received from the peer
    /// (tit-for-tat), or minus its piece count (seeding, swarm policy).
    pub rate: f64,
    /// Connected recently enough to be favoured for an optimistic slot.
    pub is_new: bool,
    pub optimistic: bool,
}

/// The outcome of a rechoke round.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub unchoke: Vec<PeerKey>,
    pub optimistic: Vec<PeerKey>,
}

/// Chooses the unchoked set. `rotate` says whether optimistic slots move this round.
pub fn rechoke(
    candidates: &[Candidate],
    regular_slots: usize,
    optimistic_slots: usize,
    rotate: bool,
    rng: &mut Rng,
) -> Decision {
    let mut interested: Vec<&Candidate> = candidates.iter().filter(|c| c.interested).collect();
    // Equal rates go in shuffled order, not key order, so that no peer is
    // systematically favoured when nobody has a rate yet. (The sort is not
    // stable, but a fixed reordering of a uniform shuffle is still uniform.)
    rng.shuffle(&mut interested);
    crate::sort::sort_by(&mut interested, |a, b| a.rate.total_cmp(&b.rate).is_gt());
    let regular: Vec<PeerKey> = interested
        .iter()
        .filter(|c| rotate || !c.optimistic)
        .take(regular_slots)
        .map(|c| c.peer)
        .collect();
    let mut optimistic: Vec<PeerKey> = if rotate {
        Vec::new()
    } else {
        interested
            .iter()
            .filter(|c| c.optimistic && !regular.contains(&c.peer))
            .take(optimistic_slots)
            .map(|c| c.peer)
            .collect()
    };
    let mut pool: Vec<&Candidate> = interested
        .iter()
        .copied()
        .filter(|c| !regular.contains(&c.peer) && !optimistic.contains(&c.peer))
        .collect();
    while optimistic.len() < optimistic_slots && !pool.is_empty() {
        // New peers get three tickets (BEP 3's suggestion) so they can start trading.
        let tickets: usize = pool.iter().map(|c| if c.is_new { 3 } else { 1 }).sum();
        let mut t = rng.below(tickets);
        let i = pool
            .iter()
            .position(|c| {
                let w = if c.is_new { 3 } else { 1 };
                if t < w {
                    true
                } else {
                    t -= w;
                    false
                }
            })
            .unwrap_or(0);
        optimistic.push(pool.swap_remove(i).peer);
    }
    let mut unchoke = regular;
    unchoke.extend(optimistic.iter().copied());
    Decision {
        unchoke,
        optimistic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(k: u64, rate: f64, interested: bool) -> Candidate {
        Candidate {
            peer: PeerKey(k),
            interested,
            rate,
            is_new: false,
            optimistic: false,
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn fastest_interested_peers_win_regular_slots() {
        let cands = [
            c(1, 10.0, true),
            c(2, 50.0, true),
            c(3, 99.0, false),
            c(4, 30.0, true),
            c(5, 1.0, true),
        ];
        let d = rechoke(&cands, 2, 1, true, &mut Rng::new(3));
        assert_eq!(&d.unchoke[..2], &[PeerKey(2), PeerKey(4)]);
        assert_eq!(d.optimistic.len(), 1);
        assert!([PeerKey(1), PeerKey(5)].contains(&d.optimistic[0]));
        assert!(!d.unchoke.contains(&PeerKey(3)));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn optimistic_slot_is_kept_until_rotation_and_rotates_over_time() {
        let mut cands: Vec<Candidate> = (1..=6).map(|k| c(k, k as f64, true)).collect();
        cands[0].optimistic = true;
        let d = rechoke(&cands, 2, 1, false, &mut Rng::new(1));
        assert_eq!(d.optimistic, vec![PeerKey(1)]);
        let mut seen = std::collections::BTreeSet::new();
        let mut rng = Rng::new(9);
        for _ in 0..50 {
            seen.extend(rechoke(&cands, 2, 1, true, &mut rng).optimistic);
        }
        assert_eq!(seen.len(), 4, "every choked peer gets an optimistic turn");
    }
}

//! The site's origin as a webseed: range fetches served from one capped
//! uplink, shared equally among the fetches in progress (unused share goes
//! to the others), each answered when its last byte arrives. What peer
//! assistance is judged by is how little of the content this serves.

use std::time::Duration;

use webswarm_core::{PeerKey, PieceIndex, Time};

use crate::network::water_fill;

/// One fetch the origin is serving or will serve.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    pub node: usize,
    pub webseed: PeerKey,
    pub piece: PieceIndex,
    pub offset: u32,
    pub len: u32,
    left: usize,
    /// One-way latency between the node and the origin.
    latency: Duration,
}

pub struct Origin {
    up: f64,
    /// Requests on their way to the origin: (arrival, fetch).
    requested: Vec<(Time, Fetch)>,
    serving: Vec<Fetch>,
    /// Responses whose last byte is on its way back: (arrival, fetch).
    answered: Vec<(Time, Fetch)>,
    served: u64,
}

impl Origin {
    pub fn new(up: f64) -> Self {
        Origin {
            up,
            requested: Vec::new(),
            serving: Vec::new(),
            answered: Vec::new(),
            served: 0,
        }
    }

    /// Bytes the origin has sent.
    pub fn served(&self) -> u64 {
        self.served
    }

    pub fn request(
        &mut self,
        now: Time,
        latency: Duration,
        f: (usize, PeerKey, PieceIndex, u32, u32),
    ) {
        let (node, webseed, piece, offset, len) = f;
        let fetch = Fetch {
            node,
            webseed,
            piece,
            offset,
            len,
            left: len as usize,
            latency,
        };
        self.requested.push((now + latency, fetch));
    }

    /// One tick of `dt`: requests that arrived join the ones being served,
    /// the uplink is shared among them, and the fetches whose answer fully
    /// arrived by `now` are returned in the order they completed.
    pub fn step(&mut self, now: Time, dt: Duration) -> Vec<Fetch> {
        let (arrived, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.requested)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.requested = waiting;
        self.serving.extend(arrived.into_iter().map(|(_, f)| f));
        let demands: Vec<usize> = self.serving.iter().map(|f| f.left).collect();
        let grants = water_fill(&demands, self.up * dt.as_secs_f64());
        for (f, g) in self.serving.iter_mut().zip(grants) {
            f.left -= g.min(f.left);
            self.served += g as u64;
        }
        let (done, going): (Vec<_>, Vec<_>) = std::mem::take(&mut self.serving)
            .into_iter()
            .partition(|f| f.left == 0);
        self.serving = going;
        self.answered
            .extend(done.into_iter().map(|f| (now + f.latency, f)));
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.answered)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.answered = later;
        due.into_iter().map(|(_, f)| f).collect()
    }
}

/// How long each peer would take with the origin alone: peers joining at
/// `joins` share `up` equally (processor sharing, none above its `down`),
/// each needing `len` bytes. Durations from each peer's join.
pub fn origin_alone(
    joins: &[Duration],
    downs: &[f64],
    len: u64,
    up: f64,
    tick: Duration,
) -> Vec<Duration> {
    let n = joins.len();
    let mut left = vec![len as f64; n];
    let mut done: Vec<Option<Duration>> = vec![None; n];
    let dt = tick.as_secs_f64();
    let mut t = Duration::ZERO;
    while done.iter().any(Option::is_none) {
        let active: Vec<usize> = (0..n)
            .filter(|&i| joins[i] <= t && done[i].is_none())
            .collect();
        // Water-filling in bytes per tick, each capped by its download.
        let demands: Vec<usize> = active
            .iter()
            .map(|&i| left[i].min(downs[i] * dt).ceil() as usize)
            .collect();
        let grants = water_fill(&demands, up * dt);
        t += tick;
        for (&i, g) in active.iter().zip(grants) {
            left[i] -= g as f64;
            if left[i] <= 0.5 {
                done[i] = Some(t - joins[i]);
            }
        }
    }
    done.into_iter().map(|d| d.unwrap_or_default()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_alone_is_a_fair_share_of_the_uplink() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // Two peers at once share 1 MB/s: 1 MB each takes 2 s.
        let d = origin_alone(&[s(0), s(0)], &[1e9, 1e9], 1_000_000, 1e6, ms(10));
        assert!(
            d.iter().all(|d| (d.as_secs_f64() - 2.0).abs() < 0.02),
            "{d:?}"
        );
        // A peer alone is held to its own download rate.
        let d = origin_alone(&[s(0)], &[250_000.0], 1_000_000, 1e6, ms(10));
        assert!((d[0].as_secs_f64() - 4.0).abs() < 0.02, "{d:?}");
        // A latecomer shares only while both are active: the first has half
        // alone, then both share until 1.5 s; the latecomer ends alone at 2 s.
        let d = origin_alone(&[s(0), ms(500)], &[1e9, 1e9], 1_000_000, 1e6, ms(10));
        assert!((d[0].as_secs_f64() - 1.5).abs() < 0.02, "{d:?}");
        assert!((d[1].as_secs_f64() - 1.5).abs() < 0.02, "{d:?}");
    }

    #[test]
    fn fetches_share_the_uplink_and_answer_after_the_latency() {
        let mut o = Origin::new(1_000_000.0);
        let ms = Duration::from_millis;
        let p = webswarm_core::Layout::new(1 << 20, 1 << 18)
            .unwrap()
            .piece(0)
            .unwrap();
        o.request(Time::ZERO, ms(20), (1, PeerKey(1), p, 0, 100_000));
        o.request(Time::ZERO, ms(20), (2, PeerKey(1), p, 0, 50_000));
        let mut now = Time::ZERO;
        let mut done = Vec::new();
        while done.len() < 2 {
            now = now + ms(10);
            done.extend(o.step(now, ms(10)).into_iter().map(|f| (f.node, now)));
        }
        // Requests arrive at 20 ms and are served from that tick on: 50 KB
        // at 500 KB/s each takes ten ticks (20-110 ms), the other's last 50 KB
        // alone five more (120-160 ms); answers take 20 ms back.
        assert_eq!(done, [(2, Time::ZERO + ms(130)), (1, Time::ZERO + ms(180))]);
        assert_eq!(o.served(), 150_000);
    }
}

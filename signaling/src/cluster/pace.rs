//! When the link waits a moment before publishing: only while crossings
//! come fast enough that the wait gathers several into one PUBLISH.
//!
//! Every PUBLISH wakes Redis and the node it goes to; on a busy node those
//! wake-ups, not the bytes, are most of what a cluster costs over one node
//! (`webswarm-tracker-bench --short-sdp`, 2000 announces/s: two nodes + Redis
//! 1.65x one thread's CPU per announce when every turn of the runtime
//! published, 1.46x with a 1 ms wait). A wait costs latency, which matters
//! when a node is quiet: at 200 announces/s an unconditional wait took the
//! cross-node offer relay p99 from ~1.2 ms to 3.2 ms. So the link waits only
//! while the last window's rate is at least `cluster.gather_per_second`
//! ([`GATHER_PER_SECOND`] by default: the wait then gathers four or more).

use std::time::Duration;

use tokio::time::Instant;

/// How long the link waits to gather crossings (the runtime's timer rounds
/// up to its next millisecond).
pub const LINGER: Duration = Duration::from_millis(1);
/// The default rate from which the link waits (`cluster.gather_per_second`):
/// a 1 ms wait then gathers four crossings or more.
pub const GATHER_PER_SECOND: u64 = 4000;
/// The rate is measured over at least this long.
const WINDOW: Duration = Duration::from_millis(100);

/// The recent rate of crossings, and whether it is high enough to linger.
#[derive(Debug)]
pub struct Pace {
    /// Crossings a second from which to linger; 0: never.
    gather: u64,
    since: Option<Instant>,
    count: usize,
    busy: bool,
}

impl Pace {
    pub fn new(gather_per_second: u64) -> Self {
        Pace {
            gather: gather_per_second,
            since: None,
            count: 0,
            busy: false,
        }
    }

    /// Records `n` crossings taken off the queue at `now`.
    pub fn took(&mut self, now: Instant, n: usize) {
        let since = *self.since.get_or_insert(now);
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= WINDOW {
            let rate = self.count as f64 / elapsed.as_secs_f64();
            self.busy = self.gather > 0 && rate >= self.gather as f64;
            self.since = Some(now);
            self.count = 0;
        }
        self.count += n;
    }

    /// Whether to wait [`LINGER`] before taking the crossings that came at
    /// `now`: not after a quiet spell of two windows, whatever came before.
    pub fn linger(&self, now: Instant) -> bool {
        self.busy
            && self
                .since
                .is_some_and(|s| now.saturating_duration_since(s) < 2 * WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_ms` crossings every millisecond for `ms` milliseconds.
    fn feed(p: &mut Pace, t0: Instant, from_ms: u64, ms: u64, per_ms: usize) -> Instant {
        let mut t = t0;
        for k in from_ms..from_ms + ms {
            t = t0 + Duration::from_millis(k);
            p.took(t, per_ms);
        }
        t
    }

    #[test]
    fn a_quiet_node_never_waits() {
        let t0 = Instant::now();
        let mut p = Pace::new(GATHER_PER_SECOND);
        // 1000 crossings/s: a wait would gather one.
        let t = feed(&mut p, t0, 0, 1000, 1);
        assert!(!p.linger(t));
    }

    #[test]
    fn a_busy_node_waits_and_stops_when_the_load_falls() {
        let t0 = Instant::now();
        let mut p = Pace::new(GATHER_PER_SECOND);
        assert!(!p.linger(t0), "no rate known yet");
        // 10,000 crossings/s.
        let t = feed(&mut p, t0, 0, 250, 10);
        assert!(p.linger(t));
        // Then 2,000/s: it stops within a window or two.
        let t = feed(&mut p, t0, 250, 250, 2);
        assert!(!p.linger(t));
    }

    #[test]
    fn zero_turns_gathering_off() {
        let t0 = Instant::now();
        let mut p = Pace::new(0);
        let t = feed(&mut p, t0, 0, 500, 100);
        assert!(!p.linger(t));
    }

    #[test]
    fn a_pause_after_a_burst_ends_the_waiting() {
        let t0 = Instant::now();
        let mut p = Pace::new(GATHER_PER_SECOND);
        let t = feed(&mut p, t0, 0, 200, 10);
        assert!(p.linger(t));
        // The first crossing after a second of silence does not wait...
        let later = t0 + Duration::from_millis(1200);
        assert!(!p.linger(later));
        // ...and the rate over the gap is low.
        p.took(later, 1);
        assert!(!p.linger(later));
    }
}

//! How many bytes one data channel may keep unacknowledged.
//!
//! webrtc-rs' SCTP grows its congestion window without bound on a fast path
//! and sends whatever the window allows at once (it has no Max.Burst). On a
//! short path those bursts overflow Chromium's small UDP receive buffer; each
//! loss that fast retransmit misses costs a 1 s retransmission timeout.
//! Measured here (64 MiB raw, native -> Chromium over loopback, 16 KiB
//! writes): 1 MiB unacknowledged ran at 7–15 MB/s (or stalled past 120 s)
//! with hundreds to thousands of drops and 2–6 timeouts; 32–48 KiB ran at
//! 40–53 MB/s with no timeouts and few or no drops. A long path needs
//! the opposite (a 50 ms round trip at 32 KiB would be 0.7 MB/s), so the window
//! scales with the round trip the ICE checks measure.

use std::time::{Duration, Instant};

/// The window on a path with no measurable round trip (loopback, a LAN):
/// 32 KiB ran raw at 43–53 MB/s here, and BitTorrent into our browser peer
/// at 32–35 MB/s (48 KiB: 23–33, with drops in one run of three).
pub const MIN_WINDOW: usize = 32 << 10;
/// The rate the window allows at any round trip up to the cap. The ICE
/// checks' round trip includes both ends' scheduling (0.7–2.6 ms over
/// loopback here; at 32 MB/s a 2.5 ms sample gave an 80 KB window and drops
/// again), so a higher rate would reopen the bursts on short paths.
const RATE_BYTES_PER_SEC: f64 = 24e6;

/// Bytes in flight that let one round trip `rtt` carry 24 MB/s, between
/// [`MIN_WINDOW`] and `max` (the connection's send-buffer limit).
pub fn send_window(rtt: Option<Duration>, max: usize) -> usize {
    let max = max.max(MIN_WINDOW);
    let Some(rtt) = rtt else {
        return MIN_WINDOW;
    };
    let want = rtt.as_secs_f64() * RATE_BYTES_PER_SEC;
    // Casting a finite, non-negative f64 saturates at usize::MAX.
    (want as usize).clamp(MIN_WINDOW, max)
}

/// The window a remote's declared UDP receive buffer allows (see
/// [`super::sdp`]): a quarter of it, so bursts of its other connections fit
/// too, between [`MIN_WINDOW`] and `max`.
pub fn buffer_window(remote_buffer: usize, max: usize) -> usize {
    (remote_buffer / 4).clamp(MIN_WINDOW, max.max(MIN_WINDOW))
}

/// How often a channel's window follows a changed round trip.
pub const REFIT_EVERY: Duration = Duration::from_secs(2);

/// One channel's window over time: fitted to the shortest round trip seen,
/// which is the path's own, without the queueing and scheduling delays a
/// busy moment adds to a sample.
#[derive(Debug, Default)]
pub struct WindowFit {
    fitted_at: Option<Instant>,
    min_rtt: Option<Duration>,
}

impl WindowFit {
    /// Whether a refit is due at `now` (the first always is); a `true`
    /// counts as the refit, so concurrent writers do not all sample.
    pub fn due(&mut self, now: Instant) -> bool {
        let due = self
            .fitted_at
            .is_none_or(|t| now.saturating_duration_since(t) >= REFIT_EVERY);
        if due {
            self.fitted_at = Some(now);
        }
        due
    }

    /// Takes a round-trip sample (if the stats had one) and returns the
    /// window for the shortest seen, within `max`.
    pub fn fit(&mut self, sample: Option<Duration>, max: usize) -> usize {
        self.min_rtt = match (self.min_rtt, sample) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        send_window(self.min_rtt, max)
    }

    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }
}

/// A BitTorrent piece message carrying a 16 KiB block.
const BLOCK_MESSAGE: usize = (16 << 10) + 13;

/// How much of a message goes into one channel write: a quarter of the
/// window, so the window is honoured closely, but never less than a whole
/// block message (split, its 13 header bytes would cost the receiver a
/// second message event) and no more than the remote accepts.
pub fn chunk_size(window: usize, max_message: usize) -> usize {
    (window / 4)
        .max(BLOCK_MESSAGE)
        .min(max_message.max(1 << 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_paths_get_the_small_window() {
        assert_eq!(send_window(None, 2 << 20), MIN_WINDOW);
        assert_eq!(send_window(Some(Duration::ZERO), 2 << 20), MIN_WINDOW);
        assert_eq!(
            send_window(Some(Duration::from_micros(1000)), 2 << 20),
            MIN_WINDOW
        );
    }

    #[test]
    fn long_paths_get_a_window_that_fills_them_up_to_the_limit() {
        // 20 ms at 24 MB/s.
        assert_eq!(
            send_window(Some(Duration::from_millis(20)), 4 << 20),
            480_000
        );
        assert_eq!(
            send_window(Some(Duration::from_millis(200)), 2 << 20),
            2 << 20
        );
        // A limit below the minimum does not shrink it further.
        assert_eq!(
            send_window(Some(Duration::from_millis(50)), 1000),
            MIN_WINDOW
        );
    }

    #[test]
    fn the_shortest_round_trip_sets_the_window_and_refits_are_spaced() {
        let t0 = Instant::now();
        let mut f = WindowFit::default();
        assert!(f.due(t0));
        assert!(!f.due(t0 + Duration::from_millis(500)));
        assert_eq!(f.fit(None, 4 << 20), MIN_WINDOW);
        assert_eq!(f.fit(Some(Duration::from_millis(40)), 4 << 20), 960_000);
        // A busier moment's longer sample does not grow it; a shorter one shrinks it.
        assert_eq!(f.fit(Some(Duration::from_millis(90)), 4 << 20), 960_000);
        assert_eq!(f.fit(None, 4 << 20), 960_000);
        assert_eq!(f.fit(Some(Duration::from_millis(20)), 4 << 20), 480_000);
        assert_eq!(f.min_rtt(), Some(Duration::from_millis(20)));
        assert!(f.due(t0 + REFIT_EVERY));
    }

    #[test]
    fn a_declared_buffer_opens_the_window_within_the_limit() {
        assert_eq!(buffer_window(4 << 20, 2 << 20), 1 << 20);
        assert_eq!(buffer_window(16 << 20, 2 << 20), 2 << 20);
        assert_eq!(buffer_window(208 << 10, 2 << 20), 52 << 10);
        assert_eq!(buffer_window(0, 2 << 20), MIN_WINDOW);
    }

    #[test]
    fn chunks_follow_the_window_within_message_limits() {
        assert_eq!(chunk_size(MIN_WINDOW, 256 << 10), BLOCK_MESSAGE);
        assert_eq!(chunk_size(2 << 20, 256 << 10), 256 << 10);
        assert_eq!(chunk_size(2 << 20, 64 << 10), 64 << 10);
        assert_eq!(chunk_size(MIN_WINDOW, 8 << 10), 8 << 10);
    }
}

//! A fluid network model: each peer's upload is shared equally among its busy
//! outgoing connections (unused share goes to the others), and a receiver whose
//! download capacity would be exceeded scales its senders down. Bytes arrive
//! after the link's latency, split wherever a tick boundary falls; a message
//! is handed to the receiver when its last byte arrives, as a data channel
//! delivers whole messages (and at N = 10,000 a call into the receiving
//! engine per tick and link was most of a run).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use webswarm_core::{PeerKey, Time};

/// Above this many queued bytes a connection reports itself unwritable (the
/// 64 KiB bufferedAmount threshold WebTorrent uses on data channels).
pub const HIGH_WATER: usize = 64 * 1024;
pub const LOW_WATER: usize = 32 * 1024;

#[derive(Default)]
pub struct Dir {
    /// Messages waiting to be sent, with how many of their bytes are not sent yet.
    pub queue: VecDeque<(Bytes, usize)>,
    pub queued: usize,
    /// Messages whose last byte is on the wire, by arrival time.
    pub in_flight: VecDeque<(Time, Bytes)>,
}

impl Dir {
    pub fn push(&mut self, data: Bytes) {
        self.queued += data.len();
        let len = data.len();
        self.queue.push_back((data, len));
    }

    /// Moves up to `n` queued bytes onto the wire, arriving at `arrive`.
    pub fn transmit(&mut self, mut n: usize, arrive: Time) -> usize {
        let mut sent = 0;
        while n > 0 {
            let Some((_, left)) = self.queue.front_mut() else {
                break;
            };
            let take = n.min(*left);
            *left -= take;
            if *left == 0 {
                if let Some((message, _)) = self.queue.pop_front() {
                    self.in_flight.push_back((arrive, message));
                }
            }
            n -= take;
            sent += take;
        }
        self.queued -= sent;
        sent
    }
}

/// A connection between two peers: `ends[i]` is (node, the key node uses for
/// the other end); `dirs[i]` carries bytes sent by `ends[i]`.
pub struct Link {
    pub ends: [(usize, PeerKey); 2],
    pub dirs: [Dir; 2],
    pub latency: Duration,
}

/// Splits `budget` bytes among demands, no one getting more than it asks.
pub fn water_fill(demands: &[usize], budget: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| demands[i]);
    let mut out = vec![0; demands.len()];
    let mut left = budget;
    for (k, &i) in order.iter().enumerate() {
        let share = left / (order.len() - k) as f64;
        let give = (demands[i] as f64).min(share);
        out[i] = give as usize;
        left -= give;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_gives_unused_share_to_others() {
        assert_eq!(water_fill(&[10, 1000, 1000], 300.0), vec![10, 145, 145]);
        assert_eq!(water_fill(&[], 300.0), Vec::<usize>::new());
    }

    #[test]
    fn a_message_arrives_with_its_last_byte() {
        let mut d = Dir::default();
        d.push(Bytes::from_static(b"hello"));
        d.push(Bytes::from_static(b"world"));
        let t = |ms| Time::ZERO + std::time::Duration::from_millis(ms);
        assert_eq!(d.transmit(7, t(1)), 7);
        assert_eq!(d.queued, 3);
        assert_eq!(d.in_flight, [(t(1), Bytes::from_static(b"hello"))]);
        assert_eq!(d.transmit(100, t(2)), 3);
        assert_eq!(d.queued, 0);
        assert_eq!(d.in_flight[1], (t(2), Bytes::from_static(b"world")));
    }
}

//! A fluid network model: each peer's upload is shared equally among its busy
//! outgoing connections (unused share goes to the others), and a receiver whose
//! download capacity would be exceeded scales its senders down. Bytes arrive
//! after the link's latency, split wherever a tick boundary falls.

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
    pub queue: VecDeque<Bytes>,
    pub queued: usize,
    pub in_flight: VecDeque<(Time, Bytes)>,
    pub blocked: bool,
}

impl Dir {
    pub fn push(&mut self, data: Bytes) {
        self.queued += data.len();
        self.queue.push_back(data);
    }

    /// Moves up to `n` queued bytes onto the wire, arriving at `arrive`.
    pub fn transmit(&mut self, mut n: usize, arrive: Time) -> usize {
        let mut sent = 0;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let take = n.min(front.len());
            let chunk = front.split_to(take);
            if front.is_empty() {
                self.queue.pop_front();
            }
            self.in_flight.push_back((arrive, chunk));
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
    fn transmit_splits_queued_messages_at_any_byte() {
        let mut d = Dir::default();
        d.push(Bytes::from_static(b"hello"));
        d.push(Bytes::from_static(b"world"));
        assert_eq!(d.transmit(7, Time::ZERO), 7);
        assert_eq!(d.queued, 3);
        let got: Vec<u8> = d.in_flight.iter().flat_map(|(_, b)| b.to_vec()).collect();
        assert_eq!(got, b"hellowo");
    }
}

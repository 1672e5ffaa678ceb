//! Upload rate limit (`--max-upload-rate`, `maxUploadRate`): blocks read for peers wait in a
//! token bucket before the engine sends them. Order is kept, so a peer's
//! requests are answered first come, first served.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use crate::types::{BlockRef, PeerKey, Time};

/// Bytes that may go out at once after an idle spell.
const BURST: f64 = 64.0 * 1024.0;

pub type Item = (PeerKey, BlockRef, Bytes);

pub struct Throttle {
    rate: f64,
    tokens: f64,
    last: Time,
    queue: VecDeque<Item>,
}

impl Throttle {
    pub fn new(bytes_per_sec: u64, now: Time) -> Self {
        Throttle {
            rate: bytes_per_sec.max(1) as f64,
            tokens: BURST,
            last: now,
            queue: VecDeque::new(),
        }
    }

    fn refill(&mut self, now: Time) {
        let dt = now.saturating_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate).min(BURST);
        self.last = now;
    }

    pub fn push(&mut self, item: Item) {
        self.queue.push_back(item);
    }

    /// The blocks whose turn has come. The bucket may go negative by one
    /// block, which later blocks then wait out.
    pub fn release(&mut self, now: Time) -> Vec<Item> {
        self.refill(now);
        let mut out = Vec::new();
        while self.tokens >= 0.0 {
            let Some(item) = self.queue.pop_front() else {
                break;
            };
            self.tokens -= item.2.len() as f64;
            out.push(item);
        }
        out
    }

    /// When the next queued block may go.
    pub fn next_release(&self) -> Option<Time> {
        if self.queue.is_empty() {
            return None;
        }
        let wait = (-self.tokens).max(0.0) / self.rate;
        Some(self.last + Duration::from_secs_f64(wait))
    }

    /// Forgets the blocks of a peer that went away.
    pub fn forget(&mut self, peer: PeerKey) {
        self.queue.retain(|(k, _, _)| *k != peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Layout;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn releases_at_the_configured_rate() {
        let layout = Layout::new(1 << 20, 16384).unwrap();
        let b = layout.block(layout.piece(0).unwrap(), 0);
        let start = Time::from_millis(1000);
        let mut t = Throttle::new(16384 * 10, start);
        for _ in 0..20 {
            t.push((PeerKey(1), b, Bytes::from(vec![0u8; 16384])));
        }
        // The 64 KiB burst goes at once, plus the one that takes the bucket negative.
        assert_eq!(t.release(start).len(), 5);
        let next = t.next_release().unwrap();
        assert!(
            next.saturating_since(start) >= Duration::from_millis(99),
            "{:?}",
            next.saturating_since(start)
        );
        // Released whenever due, for one more second: ten more blocks' worth.
        let mut n = 0;
        for ms in (10..=1000).step_by(10) {
            n += t.release(start + Duration::from_millis(ms)).len();
        }
        assert!((9..=11).contains(&n), "{n}");
        t.forget(PeerKey(1));
        assert!(t.next_release().is_none());
    }
}

//! The TCP addresses a torrent has heard of (from trackers, later the DHT
//! and PEX) and which of them to dial: each is dialled at most once at a
//! time, a failed one waits longer after each failure and is forgotten
//! after a few, a closed one waits before it is tried again, and the book
//! holds a bounded number of addresses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::types::Time;

/// Limits and waits.
#[derive(Clone, Debug)]
pub struct PeerBookConfig {
    /// Addresses kept; more are ignored until some are forgotten.
    pub max_addresses: usize,
    /// Wait after a first failed dial; doubled per failure.
    pub retry_after_failure: Duration,
    /// Failures in a row after which an address is forgotten.
    pub max_failures: u32,
    /// Wait before dialling a peer again after its connection closed.
    pub retry_after_close: Duration,
}

impl Default for PeerBookConfig {
    fn default() -> Self {
        PeerBookConfig {
            max_addresses: 2000,
            // Short: a seed may drop a first connection for reasons of its
            // own (transmission closes the first one after a peer left) and
            // a downloader with one known peer should not sit out 15 s.
            retry_after_failure: Duration::from_secs(5),
            max_failures: 5,
            retry_after_close: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle {
        at: Time,
    },
    Dialing,
    Connected,
    /// The address reaches this client itself (the DHT and trackers hand
    /// back what we announced): kept, so that it is never dialled again.
    Ours,
}

struct Entry {
    state: State,
    failures: u32,
}

/// One torrent's dial candidates.
pub struct PeerBook {
    cfg: PeerBookConfig,
    entries: BTreeMap<SocketAddr, Entry>,
    dialing: usize,
}

impl PeerBook {
    /// An empty book.
    pub fn new(cfg: PeerBookConfig) -> Self {
        PeerBook {
            cfg,
            entries: BTreeMap::new(),
            dialing: 0,
        }
    }

    /// Addresses known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No address is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Dials under way.
    #[must_use]
    pub fn dialing(&self) -> usize {
        self.dialing
    }

    /// Learns addresses; known ones keep their state.
    pub fn add(&mut self, now: Time, addrs: impl IntoIterator<Item = SocketAddr>) {
        for a in addrs {
            if self.entries.len() >= self.cfg.max_addresses {
                return;
            }
            self.entries.entry(a).or_insert(Entry {
                state: State::Idle { at: now },
                failures: 0,
            });
        }
    }

    /// Up to `budget` addresses to dial now; each is dialling until
    /// `handle_connected` or `handle_failed`.
    pub fn poll_dials(&mut self, now: Time, budget: usize) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for (a, e) in &mut self.entries {
            if out.len() >= budget {
                break;
            }
            if matches!(e.state, State::Idle { at } if at <= now) {
                e.state = State::Dialing;
                out.push(*a);
            }
        }
        self.dialing += out.len();
        out
    }

    /// When an idle address next becomes worth dialling.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Time> {
        self.entries
            .values()
            .filter_map(|e| match e.state {
                State::Idle { at } => Some(at),
                _ => None,
            })
            .min()
    }

    fn finish_dial(&mut self, a: SocketAddr) -> Option<&mut Entry> {
        let e = self.entries.get_mut(&a)?;
        if e.state == State::Dialing {
            self.dialing -= 1;
        }
        Some(e)
    }

    /// The dial to `a` connected.
    pub fn handle_connected(&mut self, a: SocketAddr) {
        if let Some(e) = self.finish_dial(a) {
            e.state = State::Connected;
            e.failures = 0;
        }
    }

    /// The dial to `a` failed (refused, timed out, or the handshake was wrong).
    pub fn handle_failed(&mut self, now: Time, a: SocketAddr) {
        let (first, max) = (self.cfg.retry_after_failure, self.cfg.max_failures);
        let Some(e) = self.finish_dial(a) else {
            return;
        };
        e.failures += 1;
        if e.failures >= max {
            self.entries.remove(&a);
            return;
        }
        e.state = State::Idle {
            at: now + first * (1 << (e.failures - 1)),
        };
    }

    /// The dial to `a` reached this client itself.
    pub fn handle_ours(&mut self, a: SocketAddr) {
        if let Some(e) = self.finish_dial(a) {
            e.state = State::Ours;
        }
    }

    /// The connection we dialled to `a` closed.
    pub fn handle_closed(&mut self, now: Time, a: SocketAddr) {
        let wait = self.cfg.retry_after_close;
        if let Some(e) = self.finish_dial(a) {
            e.state = State::Idle { at: now + wait };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 1000 + i))
    }

    #[test]
    fn each_address_is_dialled_once_at_a_time_within_the_budget() {
        let t0 = Time::ZERO;
        let mut b = PeerBook::new(PeerBookConfig::default());
        b.add(t0, (0..5).map(addr));
        b.add(t0, [addr(0)]);
        assert_eq!(b.len(), 5);
        assert_eq!(b.poll_dials(t0, 3), vec![addr(0), addr(1), addr(2)]);
        assert_eq!(b.poll_dials(t0, 3), vec![addr(3), addr(4)]);
        assert_eq!(b.poll_dials(t0, 3), vec![]);
        assert_eq!(b.dialing(), 5);
        b.handle_connected(addr(0));
        assert_eq!(b.dialing(), 4);
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn our_own_address_is_never_dialled_again() {
        let t0 = Time::ZERO;
        let mut b = PeerBook::new(PeerBookConfig::default());
        b.add(t0, [addr(0)]);
        assert_eq!(b.poll_dials(t0, 8), vec![addr(0)]);
        b.handle_ours(addr(0));
        assert_eq!(b.dialing(), 0);
        b.add(t0, [addr(0)]);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.poll_dials(later, 8), vec![]);
        assert_eq!(b.poll_timeout(), None);
    }

    #[test]
    fn failures_wait_longer_each_time_then_the_address_is_forgotten() {
        let mut now = Time::ZERO;
        let mut b = PeerBook::new(PeerBookConfig::default());
        b.add(now, [addr(1)]);
        let mut waits = Vec::new();
        while let Some(t) = b.poll_timeout() {
            waits.push(t.saturating_since(now).as_secs());
            now = t;
            assert_eq!(b.poll_dials(now, 10), vec![addr(1)]);
            b.handle_failed(now, addr(1));
        }
        assert_eq!(waits, vec![0, 5, 10, 20, 40]);
        assert!(b.is_empty());
        assert_eq!(b.dialing(), 0);
    }

    #[test]
    fn a_closed_peer_is_tried_again_later_and_the_book_is_bounded() {
        let t0 = Time::ZERO;
        let cfg = PeerBookConfig {
            max_addresses: 3,
            ..PeerBookConfig::default()
        };
        let mut b = PeerBook::new(cfg);
        b.add(t0, (0..10).map(addr));
        assert_eq!(b.len(), 3);
        assert_eq!(b.poll_dials(t0, 1), vec![addr(0)]);
        b.handle_connected(addr(0));
        b.handle_closed(t0, addr(0));
        assert_eq!(b.poll_dials(t0, 5), vec![addr(1), addr(2)]);
        assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    }
}

//! The classic peer addresses a torrent has heard of (from trackers, the DHT
//! and PEX) and which of them to dial, over which wire: each is dialled at
//! most once at a time, on the first wire of the dial order that has not
//! failed it; a dial that fails on every wire waits longer after each round
//! and the address is forgotten after a few; a closed one waits before it is
//! tried again, and the book holds a bounded number of addresses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::engine::Wire;
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
    /// The wires to dial, in the order tried; a dial that fails tries the
    /// next one at once. Classic peers listen for TCP and uTP on the same
    /// port number, and most take both.
    pub dial_order: Vec<Wire>,
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
            // TCP first: the kernel's TCP is cheaper and faster here than a
            // user-space uTP (measured in the README's hybrid benchmark),
            // and uTP reaches peers that take only uTP.
            dial_order: vec![Wire::Tcp, Wire::Utp],
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
    /// Rounds of the dial order that failed on every wire, in a row.
    failures: u32,
    /// The place in the dial order of the wire to dial next.
    wire: usize,
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
                wire: 0,
            });
        }
    }

    /// Up to `budget` addresses to dial now, each with its wire; each is
    /// dialling until `handle_connected` or `handle_failed`.
    pub fn poll_dials(&mut self, now: Time, budget: usize) -> Vec<(SocketAddr, Wire)> {
        let mut out = Vec::new();
        let Some(&first) = self.cfg.dial_order.first() else {
            return out;
        };
        for (a, e) in &mut self.entries {
            if out.len() >= budget {
                break;
            }
            if matches!(e.state, State::Idle { at } if at <= now) {
                e.state = State::Dialing;
                out.push((*a, *self.cfg.dial_order.get(e.wire).unwrap_or(&first)));
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

    /// The dial to `a` failed (refused, timed out, or the handshake was
    /// wrong): the next wire at once, or after the last one a wait.
    pub fn handle_failed(&mut self, now: Time, a: SocketAddr) {
        let (first, max) = (self.cfg.retry_after_failure, self.cfg.max_failures);
        let wires = self.cfg.dial_order.len();
        let Some(e) = self.finish_dial(a) else {
            return;
        };
        if e.wire + 1 < wires {
            e.wire += 1;
            e.state = State::Idle { at: now };
            return;
        }
        e.wire = 0;
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
        assert_eq!(b.poll_dials(t0, 3), tcp([0, 1, 2]));
        assert_eq!(b.poll_dials(t0, 3), tcp([3, 4]));
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
        assert_eq!(b.poll_dials(t0, 8), tcp([0]));
        b.handle_ours(addr(0));
        assert_eq!(b.dialing(), 0);
        b.add(t0, [addr(0)]);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.poll_dials(later, 8), vec![]);
        assert_eq!(b.poll_timeout(), None);
    }

    fn tcp<const N: usize>(i: [u16; N]) -> Vec<(SocketAddr, Wire)> {
        i.into_iter().map(|i| (addr(i), Wire::Tcp)).collect()
    }

    #[test]
    fn failures_wait_longer_each_round_then_the_address_is_forgotten() {
        let mut now = Time::ZERO;
        let mut b = PeerBook::new(PeerBookConfig::default());
        b.add(now, [addr(1)]);
        let mut waits = Vec::new();
        while let Some(t) = b.poll_timeout() {
            waits.push(t.saturating_since(now).as_secs());
            now = t;
            // Each round: TCP, then uTP at once.
            let wire = if waits.len() % 2 == 1 {
                Wire::Tcp
            } else {
                Wire::Utp
            };
            assert_eq!(b.poll_dials(now, 10), vec![(addr(1), wire)]);
            b.handle_failed(now, addr(1));
        }
        assert_eq!(waits, vec![0, 0, 5, 0, 10, 0, 20, 0, 40, 0]);
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
        assert_eq!(b.poll_dials(t0, 1), tcp([0]));
        b.handle_connected(addr(0));
        b.handle_closed(t0, addr(0));
        assert_eq!(b.poll_dials(t0, 5), tcp([1, 2]));
        assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn a_wire_that_worked_is_the_one_dialled_again() {
        let t0 = Time::ZERO;
        let cfg = PeerBookConfig {
            dial_order: vec![Wire::Utp, Wire::Tcp],
            ..PeerBookConfig::default()
        };
        let mut b = PeerBook::new(cfg);
        b.add(t0, [addr(0)]);
        assert_eq!(b.poll_dials(t0, 1), vec![(addr(0), Wire::Utp)]);
        b.handle_failed(t0, addr(0));
        assert_eq!(b.poll_dials(t0, 1), vec![(addr(0), Wire::Tcp)]);
        b.handle_connected(addr(0));
        b.handle_closed(t0, addr(0));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.poll_dials(later, 1), vec![(addr(0), Wire::Tcp)]);
    }

    #[test]
    fn with_no_wire_to_dial_nothing_is_dialled() {
        let cfg = PeerBookConfig {
            dial_order: Vec::new(),
            ..PeerBookConfig::default()
        };
        let mut b = PeerBook::new(cfg);
        b.add(Time::ZERO, [addr(0)]);
        assert_eq!(b.poll_dials(Time::ZERO, 1), vec![]);
    }
}

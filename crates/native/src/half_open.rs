//! Answered connections that are not open yet, bounded across the client.
//!
//! Answering an offer costs a peer connection (sockets, ICE, DTLS, ~0.5 MiB)
//! until it opens or times out. Offers that never connect (a flood of fake
//! offers through the tracker) would otherwise fill the connection budget
//! with half-open connections for the whole connect timeout, and honest
//! peers' offers would find no room. When the bound is reached the oldest
//! attempt is given up for the new one: an honest connection opens in well
//! under a second, so it survives even a flood that evicts every attempt
//! after a few seconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

pub struct HalfOpen {
    cap: usize,
    state: Mutex<State>,
    evicted: AtomicU64,
}

#[derive(Default)]
struct State {
    next: u64,
    /// Oldest first; dropping a sender tells that attempt to give up.
    live: VecDeque<(u64, oneshot::Sender<()>)>,
}

/// One attempt's place; dropping it (the attempt ended) frees the place.
pub struct Ticket {
    owner: Arc<HalfOpen>,
    id: u64,
}

impl HalfOpen {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(HalfOpen {
            cap: cap.max(1),
            state: Mutex::new(State::default()),
            evicted: AtomicU64::new(0),
        })
    }

    /// Admits an attempt, giving up the oldest when full. The receiver
    /// resolves when this attempt is given up in turn.
    pub fn admit(self: &Arc<Self>) -> (Ticket, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.live.len() >= self.cap {
            s.live.pop_front();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let id = s.next;
        s.next += 1;
        s.live.push_back((id, tx));
        let ticket = Ticket {
            owner: self.clone(),
            id,
        };
        (ticket, rx)
    }

    /// Attempts given up for newer ones so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Attempts holding a place now.
    pub fn attempts(&self) -> usize {
        self.state.lock().map_or(0, |s| s.live.len())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.owner.state.lock().unwrap_or_else(|e| e.into_inner());
        s.live.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_attempt_is_given_up_for_a_new_one() {
        let h = HalfOpen::new(2);
        let (_a, mut a_rx) = h.admit();
        let (b, mut b_rx) = h.admit();
        assert!(a_rx
            .try_recv()
            .is_err_and(|e| e == oneshot::error::TryRecvError::Empty));
        let (_c, mut c_rx) = h.admit();
        assert_eq!(a_rx.try_recv(), Err(oneshot::error::TryRecvError::Closed));
        assert_eq!(b_rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        assert_eq!((h.attempts(), h.evicted()), (2, 1));
        // An attempt that ends frees its place: nobody is given up for the next.
        drop(b);
        let (_d, _) = h.admit();
        assert_eq!(c_rx.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        assert_eq!((h.attempts(), h.evicted()), (2, 1));
    }
}

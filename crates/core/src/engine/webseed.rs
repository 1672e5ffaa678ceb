//! Webseeds (BEP 19) as a request source beside the peers. The engine picks
//! runs of blocks for each webseed with the same picker the peers use; the
//! host turns a `Fetch` into HTTP range requests (see [`crate::webseed`]) and
//! answers with `webseed_data` or `webseed_failed`.
//!
//! A webseed costs the site owner bandwidth, so it is asked only for pieces no
//! connected peer has, pieces with a streaming deadline, or anything while the
//! peers together deliver less than `Config::webseed_swarm_floor`.

use std::time::Duration;

use bytes::Bytes;

use super::{Event, Output, Torrent};
use crate::backoff::backoff;
use crate::bitfield::Bitfield;
use crate::picker::Received;
use crate::rate::RateMeter;
use crate::types::{BlockRef, PeerKey, PieceIndex, Time, BLOCK_SIZE};

/// Longest wait before a failing webseed is tried again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(64);

/// One outstanding fetch: contiguous blocks of one piece.
#[derive(Debug, Clone)]
struct Run {
    piece: PieceIndex,
    offset: u32,
    blocks: Vec<BlockRef>,
}

impl Run {
    fn len(&self) -> u32 {
        self.blocks.iter().map(|b| b.len).sum()
    }
}

#[derive(Debug, Default)]
pub(super) struct Webseed {
    runs: Vec<Run>,
    /// Consecutive failed fetches; reset by a good one.
    failures: u32,
    /// Pieces it contributed to that failed their hash check.
    strikes: u32,
    retry_at: Time,
    pub(super) down: RateMeter,
}

impl Webseed {
    /// Fetches it may have out: after a failure, one probes the host until one succeeds.
    fn slots(&self, fetches: usize) -> usize {
        if self.failures > 0 {
            1
        } else {
            fetches
        }
    }
}

/// Why a webseed was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebseedError {
    #[error("webseed failed {0} fetches in a row")]
    /// It failed this many fetches in a row.
    Unreachable(u32),
    #[error("webseed sent data that failed verification")]
    /// Its bytes failed verification.
    BadData,
}

impl Torrent {
    /// Registers a webseed; its fetches come out as `Output::Fetch` with this key.
    pub fn add_webseed(&mut self, now: Time) -> PeerKey {
        let key = PeerKey(self.next_key);
        self.next_key += 1;
        self.webseeds.insert(key, Webseed::default());
        self.after_input(now);
        key
    }

    /// The bytes of a `Fetch`, in order. Anything that does not match an
    /// outstanding fetch (late, cancelled, wrong length) is ignored.
    pub fn webseed_data(
        &mut self,
        now: Time,
        key: PeerKey,
        piece: PieceIndex,
        offset: u32,
        data: Bytes,
    ) {
        let Some(ws) = self.webseeds.get_mut(&key) else {
            return;
        };
        let Some(i) = ws
            .runs
            .iter()
            .position(|r| r.piece == piece && r.offset == offset)
        else {
            return;
        };
        let run = ws.runs.swap_remove(i);
        if run.len() as usize != data.len() {
            self.cancel_run(key, &run);
            self.webseed_failed_inner(now, key);
            self.after_input(now);
            return;
        }
        ws.failures = 0;
        ws.down.add(now, data.len() as u64);
        for b in run.blocks {
            let at = (b.offset - offset) as usize;
            let block = data.slice(at..at + b.len as usize);
            // Blocks a peer delivered first (endgame, deadlines) are not counted twice.
            if self.accept_block(now, key, b, block) {
                self.downloaded += u64::from(b.len);
            }
        }
        self.after_input(now);
    }

    /// A `Fetch` failed (HTTP error, short body, timeout): its blocks go back
    /// to the pool and the webseed waits before its next fetch.
    pub fn webseed_failed(&mut self, now: Time, key: PeerKey, piece: PieceIndex, offset: u32) {
        let Some(ws) = self.webseeds.get_mut(&key) else {
            return;
        };
        if let Some(i) = ws
            .runs
            .iter()
            .position(|r| r.piece == piece && r.offset == offset)
        {
            let run = ws.runs.swap_remove(i);
            self.cancel_run(key, &run);
        }
        self.webseed_failed_inner(now, key);
        self.after_input(now);
    }

    /// Webseeds still in use.
    pub fn webseed_count(&self) -> usize {
        self.webseeds.len()
    }

    /// Bytes per second received from webseeds.
    pub fn webseed_rate(&self, now: Time) -> f64 {
        self.webseeds.values().map(|w| w.down.rate(now)).sum()
    }

    fn webseed_failed_inner(&mut self, now: Time, key: PeerKey) {
        let Some(ws) = self.webseeds.get_mut(&key) else {
            return;
        };
        if now < ws.retry_at {
            return; // the fetches in flight with the one that failed count once
        }
        ws.failures += 1;
        if ws.failures >= self.cfg.webseed_max_failures {
            let n = ws.failures;
            self.remove_webseed(key, WebseedError::Unreachable(n));
            return;
        }
        // The engine's own rng spreads the retries of many clients.
        ws.retry_at = now + backoff(ws.failures, MAX_RETRY_WAIT, self.rng.next_u64());
    }

    fn cancel_run(&mut self, key: PeerKey, run: &Run) {
        if let Some(picker) = self.picker.as_mut() {
            for &b in &run.blocks {
                picker.cancel(key, b);
            }
        }
    }

    pub(super) fn remove_webseed(&mut self, key: PeerKey, reason: WebseedError) {
        let Some(ws) = self.webseeds.remove(&key) else {
            return;
        };
        for run in &ws.runs {
            self.cancel_run(key, run);
        }
        self.emit(Event::WebseedRemoved {
            webseed: key,
            reason,
        });
    }

    /// A hash failure this webseed contributed to: alone, or too often, it is dropped.
    pub(super) fn webseed_strike(&mut self, key: PeerKey, sole: bool) {
        let Some(ws) = self.webseeds.get_mut(&key) else {
            return;
        };
        ws.strikes += 1;
        if sole || ws.strikes >= self.cfg.max_strikes {
            self.remove_webseed(key, WebseedError::BadData);
        }
    }

    pub(super) fn is_webseed(&self, key: PeerKey) -> bool {
        self.webseeds.contains_key(&key)
    }

    /// Gives every idle webseed slot a run of blocks, within the policy above.
    pub(super) fn fill_webseeds(&mut self, now: Time) {
        // Most calls find every webseed busy or waiting: skip the piece scan.
        let fetches = self.cfg.webseed_fetches;
        let idle = self
            .webseeds
            .values()
            .any(|w| now >= w.retry_at && w.runs.len() < w.slots(fetches));
        if !idle || self.picker.is_none() {
            return;
        }
        let any = self.swarm_rate(now) < self.cfg.webseed_swarm_floor;
        let allowed = self.webseed_allowed(any);
        let keys: Vec<PeerKey> = self.webseeds.keys().copied().collect();
        for key in keys {
            self.fill_webseed(now, key, &allowed);
        }
    }

    /// Pieces a webseed may be asked for now.
    fn webseed_allowed(&self, any: bool) -> Bitfield {
        let Some(picker) = self.picker.as_ref() else {
            return Bitfield::new(0);
        };
        let n = picker.have().len();
        let mut allowed = Bitfield::new(n);
        for i in 0..n {
            let ok = any
                || picker.has_deadline(i)
                || self
                    .info
                    .as_ref()
                    .and_then(|info| info.layout.piece(i))
                    .is_some_and(|p| picker.availability(p) == 0);
            if ok {
                allowed.set(i);
            }
        }
        allowed
    }

    fn fill_webseed(&mut self, now: Time, key: PeerKey, allowed: &Bitfield) {
        let (Some(picker), Some(ws)) = (self.picker.as_mut(), self.webseeds.get_mut(&key)) else {
            return;
        };
        if now < ws.retry_at {
            return;
        }
        // At most one piece per pick, so each pick is one or two runs.
        let piece_len = self
            .info
            .as_ref()
            .map_or(BLOCK_SIZE, |i| i.layout.piece_len());
        let per_run = (self.cfg.webseed_run_bytes.min(piece_len) / BLOCK_SIZE).max(1) as usize;
        let can = |i: u32| allowed.get(i);
        let slots = ws.slots(self.cfg.webseed_fetches);
        while ws.runs.len() < slots {
            let mut blocks = Vec::new();
            picker.pick(key, &can, per_run, now, &mut blocks);
            if blocks.is_empty() {
                break;
            }
            for run in split_runs(blocks) {
                self.out.push_back(Output::Fetch {
                    webseed: key,
                    piece: run.piece,
                    offset: run.offset,
                    len: run.len(),
                });
                ws.runs.push(run);
            }
        }
    }

    /// Records one block from any source: written, others' duplicate requests
    /// cancelled, the piece sent for verification when it is whole.
    pub(super) fn accept_block(
        &mut self,
        now: Time,
        key: PeerKey,
        b: BlockRef,
        data: Bytes,
    ) -> bool {
        let Some(picker) = self.picker.as_mut() else {
            return false;
        };
        let Received::Accepted {
            cancel,
            piece_complete,
        } = picker.block_received(key, b)
        else {
            return false;
        };
        self.record_suspect_block(key, b, &data);
        self.out.push_back(Output::Write { block: b, data });
        for other in cancel {
            self.withdraw_request(now, other, b);
        }
        if piece_complete {
            if let Some(hash) = self.info.as_ref().map(|i| i.piece_hash(b.piece)) {
                self.out.push_back(Output::Verify {
                    piece: b.piece,
                    hash,
                });
            }
        }
        true
    }
}

/// Splits picked blocks into runs of consecutive blocks of one piece.
fn split_runs(blocks: Vec<BlockRef>) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for b in blocks {
        match runs.last_mut() {
            Some(r) if r.piece == b.piece && r.offset + r.len() == b.offset => r.blocks.push(b),
            _ => runs.push(Run {
                piece: b.piece,
                offset: b.offset,
                blocks: vec![b],
            }),
        }
    }
    runs
}

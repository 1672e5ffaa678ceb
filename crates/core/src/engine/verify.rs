//! Hash verdicts: counting verified pieces, and finding the peers behind bad ones.
//!
//! A failed piece gives each contributor a strike; a sole contributor is banned
//! at once. A piece that a banned peer contributed to is explained by it: the
//! others get no strike, and a ban takes back the strikes its co-contributors
//! got from pieces they shared (a corrupt peer's half-sent pieces are finished
//! by others after its ban and fail: an honest seeder was banned that way).
//! While a failed piece is downloaded again, every block's digest is kept; when
//! it finally passes, contributors of the earlier failed attempt whose blocks
//! differ from the good ones are banned and the others cleared.

use bytes::Bytes;

use super::{Event, PieceSource, Torrent, NATIVE_PREFIX};
use crate::sha1::sha1;
use crate::types::{BlockRef, PeerId, PeerKey, PieceIndex, Time};
use crate::wire::Message;

/// (block index, who sent it, their id, SHA-1 of the block)
type BlockDigest = (u32, PeerKey, PeerId, [u8; 20]);

#[derive(Default)]
pub(super) struct SuspectPiece {
    failed: Vec<BlockDigest>,
    current: Vec<BlockDigest>,
    /// Peers its last failure gave a strike, not yet taken back.
    struck: Vec<PeerKey>,
}

impl Torrent {
    pub(super) fn record_suspect_block(&mut self, key: PeerKey, b: BlockRef, data: &[u8]) {
        let Some(s) = self.suspects.get_mut(&b.piece.get()) else {
            return;
        };
        let Some(id) = self.peers.get(&key).and_then(|p| p.peer_id()) else {
            return;
        };
        s.current.push((b.block_index(), key, id, sha1(data)));
    }

    pub(super) fn on_piece_verified(&mut self, now: Time, piece: PieceIndex, ok: bool) {
        let Some(picker) = self.picker.as_mut() else {
            return;
        };
        let contributors = picker.verified(piece, ok);
        if contributors.is_empty() && !picker.have().get(piece.get()) {
            return; // not a piece we asked to verify
        }
        if ok {
            let from = self.source_of(&contributors);
            self.piece_passed(now, piece, from);
        } else {
            self.piece_failed(now, piece, contributors);
        }
    }

    /// A piece we had is wanted again: peers that have it are interesting
    /// again, and peers that speak `lt_donthave` (BEP 54) hear that we no
    /// longer have it, so they stop asking for it.
    pub(super) fn piece_wanted_again(&mut self, now: Time, piece: PieceIndex) {
        let i = piece.get();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let Some(p) = self.peers.get_mut(&k) else {
                continue;
            };
            let donthave = p.remote.is_some().then_some(p.ext.lt_donthave).flatten();
            if p.has.as_ref().is_some_and(|h| h.get(i)) {
                p.interesting += 1;
                self.update_interest(now, k);
            }
            if let Some(id) = donthave {
                let payload = Bytes::copy_from_slice(&i.to_be_bytes());
                self.send(k, now, &Message::Extended { id, payload });
            }
        }
    }

    /// See `PieceSource`: a webseed first, then a native node, then any peer.
    fn source_of(&self, contributors: &[PeerKey]) -> PieceSource {
        let native = |k: &PeerKey| {
            let id = self.peers.get(k).and_then(|p| p.peer_id());
            id.is_some_and(|id| id.0[..3] == NATIVE_PREFIX[..3])
        };
        if contributors.is_empty() {
            PieceSource::Stored
        } else if contributors.iter().any(|&k| self.is_webseed(k)) {
            PieceSource::Webseed
        } else if contributors.iter().any(native) {
            PieceSource::Native
        } else {
            PieceSource::Peer
        }
    }

    pub(super) fn piece_passed(&mut self, now: Time, piece: PieceIndex, from: PieceSource) {
        let i = piece.get();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let Some(p) = self.peers.get_mut(&k) else {
                continue;
            };
            if p.remote.is_none() {
                continue;
            }
            if p.has.as_ref().is_some_and(|h| h.get(i)) {
                p.interesting = p.interesting.saturating_sub(1);
                self.update_interest(now, k);
            }
            // Everyone hears about it, even peers whose bitfield says they have
            // it: BEP 16 super-seeds reveal pieces and wait for this `have`.
            self.send(k, now, &Message::Have(i));
        }
        self.emit(Event::PieceVerified(piece, from));
        if let Some(mut s) = self.suspects.remove(&i) {
            for (block, key, id, digest) in s.failed {
                let good = s.current.iter().find(|d| d.0 == block).map(|d| d.3);
                if good.is_some_and(|g| g != digest) {
                    self.ban_id(now, id);
                } else if let Some(k) = s.struck.iter().position(|&k| k == key) {
                    s.struck.swap_remove(k);
                    if let Some(p) = self.peers.get_mut(&key) {
                        p.strikes = p.strikes.saturating_sub(1);
                    }
                }
            }
        }
        if !self.completed && self.is_complete() {
            self.completed = true;
            self.emit(Event::Completed);
        }
    }

    fn piece_failed(&mut self, now: Time, piece: PieceIndex, contributors: Vec<PeerKey>) {
        let ids: Vec<PeerId> = contributors
            .iter()
            .filter_map(|k| self.peers.get(k).and_then(|p| p.peer_id()))
            .collect();
        self.emit(Event::PieceFailed {
            piece,
            contributors: ids,
        });
        let explained = contributors.iter().any(|k| self.banned_keys.contains(k));
        let to_strike: &[PeerKey] = if explained { &[] } else { &contributors };
        let mut struck = Vec::new();
        let sole = contributors.len() == 1;
        for &k in to_strike {
            if self.is_webseed(k) {
                self.webseed_strike(k, sole);
            } else if let Some(p) = self.peers.get_mut(&k) {
                p.strikes += 1;
                struck.push(k);
            }
        }
        // Among several contributors, strikes point at one only when it has
        // more than the others: two peers that keep sharing pieces cannot be
        // told apart by counting, and a re-download's digests will tell.
        let (mut top, mut most, mut next) = (None, 0, 0);
        for k in &struck {
            let n = self.peers.get(k).map_or(0, |p| p.strikes);
            if n > most {
                (top, most, next) = (Some(*k), n, most);
            } else if n > next {
                next = n;
            }
        }
        let s = self
            .suspects
            .get_or_insert_with(piece.get(), SuspectPiece::default);
        s.failed = std::mem::take(&mut s.current);
        s.struck = struck;
        if let Some(k) = top.filter(|_| sole || (most >= self.cfg.max_strikes && most > next)) {
            self.ban(now, k);
        }
    }

    /// Takes back the strikes `banned`'s co-contributors got from the pieces
    /// whose last failure it shared with them.
    pub(super) fn refund_co_contributors(&mut self, banned: PeerKey) {
        for s in self.suspects.values_mut() {
            if !s.struck.contains(&banned) {
                continue;
            }
            for k in std::mem::take(&mut s.struck) {
                if let Some(p) = self.peers.get_mut(&k).filter(|_| k != banned) {
                    p.strikes = p.strikes.saturating_sub(1);
                }
            }
        }
    }

    fn ban_id(&mut self, now: Time, id: PeerId) {
        let key = self
            .peers
            .iter()
            .find(|(_, p)| p.peer_id() == Some(id))
            .map(|(&k, _)| k);
        match key {
            Some(k) => self.ban(now, k),
            None => self.remember_ban(id),
        }
    }
}

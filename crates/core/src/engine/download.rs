//! The download side: keeping request pipelines full, receiving blocks, and
//! taking requests away from peers that choke us or stop sending.

use bytes::Bytes;

use super::peer::REFUSED_BACKOFF;
use super::{Choking, CloseReason, Torrent};
use crate::types::{BlockRef, PeerKey, Time, BLOCK_SIZE};
use crate::wire::Message;

impl Torrent {
    /// Tops up the peer's request pipeline.
    pub(super) fn fill_requests(&mut self, now: Time, key: PeerKey) {
        let seeds_if_early = self.seeds_if_early(key);
        let (Some(picker), Some(p)) = (self.picker.as_mut(), self.peers.get_mut(&key)) else {
            return;
        };
        let Some(has) = p.has.as_ref() else { return };
        if !p.am_interested || (p.peer_choking && p.allowed_fast.is_empty()) {
            return;
        }
        let target = p.queue_target(now, &self.cfg);
        // A deep pipeline is topped up in batches: one request message per
        // received block would cost a browser one data-channel send each
        // (165 ms of its main thread per 64 MiB, profiled).
        let batch = (target / 8).clamp(1, 8);
        if p.requests.len() + batch > target {
            return;
        }
        p.refused.retain(|&(_, until)| until > now);
        let choked = p.peer_choking;
        let (allowed, refused) = (&p.allowed_fast, &p.refused);
        let can = |i: u32| {
            has.get(i) && (!choked || allowed.contains(&i)) && !refused.iter().any(|r| r.0 == i)
        };
        let mut blocks = Vec::new();
        let want = target - p.requests.len();
        // Early on, a seed is asked first for what only seeds have (in the
        // simulator, swarm policy, seeds 1-5: N = 100 1.179 -> 1.162 of the
        // fluid bound, N = 300 1.248 -> 1.222, N = 1000 1.305 -> 1.265).
        // Past a quarter of the pieces the usual order serves the swarm
        // better (always: N = 100 1.233; up to half: 1.223).
        if let Some(seeds) = seeds_if_early {
            picker.pick_fresh(key, &can, want, seeds, &mut blocks);
        }
        if blocks.len() < want {
            picker.pick(key, &can, want - blocks.len(), now, &mut blocks);
        }
        if p.requests.is_empty() {
            // The snub clock starts when we begin waiting.
            p.last_block = now;
            if blocks.is_empty() && !choked {
                p.starved = true;
                self.update_interest(now, key);
                return;
            }
        }
        for b in blocks {
            p.requests.push_back((b, now));
            Message::Request {
                index: b.piece.get(),
                begin: b.offset,
                len: b.len,
            }
            .encode(&mut p.out);
        }
        if !p.out.is_empty() {
            self.dirty.insert(key);
        }
    }

    /// The seeds we are connected to, if `key` is one, we hold under a
    /// quarter of the pieces and the swarm policy is on (under tit-for-tat,
    /// N = 100, seeds 1-5: 1.272 -> 1.296, so open swarms keep the usual order).
    fn seeds_if_early(&self, key: PeerKey) -> Option<usize> {
        let have = self.picker.as_ref()?.have();
        let early = have.count() < have.len() / 4;
        if !early || self.cfg.choking != Choking::Swarm || !self.peers.get(&key)?.is_seed() {
            return None;
        }
        Some(self.peers.values().filter(|q| q.is_seed()).count())
    }

    pub(super) fn on_choked(&mut self, key: PeerKey, fast: bool) {
        let (Some(picker), Some(p)) = (self.picker.as_mut(), self.peers.get_mut(&key)) else {
            if let Some(p) = self.peers.get_mut(&key) {
                p.peer_choking = true;
            }
            return;
        };
        p.peer_choking = true;
        // With the fast extension the peer rejects each request explicitly;
        // without it, a choke discards them all (BEP 6).
        if !fast {
            for (b, _) in p.requests.drain(..) {
                picker.cancel(key, b);
            }
        }
    }

    pub(super) fn on_reject(&mut self, now: Time, key: PeerKey, index: u32, begin: u32, len: u32) {
        let (Some(picker), Some(p)) = (self.picker.as_mut(), self.peers.get_mut(&key)) else {
            return;
        };
        let pos = p
            .requests
            .iter()
            .position(|(b, _)| (b.piece.get(), b.offset, b.len) == (index, begin, len));
        if let Some(i) = pos {
            if let Some((b, _)) = p.requests.remove(i) {
                picker.cancel(key, b);
            }
            // A reject because the peer choked us is expected; one while it
            // unchokes us (or of an allowed-fast piece) says it will not
            // serve this piece now.
            if !p.peer_choking || p.allowed_fast.contains(&index) {
                p.refuse(index, now + REFUSED_BACKOFF);
            }
        }
    }

    pub(super) fn on_piece(
        &mut self,
        now: Time,
        key: PeerKey,
        index: u32,
        begin: u32,
        data: Bytes,
    ) -> Result<(), CloseReason> {
        let len = data.len() as u64;
        let block = self
            .info
            .as_ref()
            .and_then(|i| i.layout.check_range(index, begin, data.len() as u32))
            .filter(|b| self.is_standard_block(b));
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        p.down.add(now, len);
        #[cfg(not(target_arch = "wasm32"))]
        let wire = p.wire;
        let requested = block.is_some_and(|b| p.take_request(&b));
        if requested {
            p.last_block = now;
        }
        let accepted = match block {
            Some(b) => self.accept_block(now, key, b, data),
            None => false,
        };
        if accepted {
            self.downloaded += len;
            #[cfg(not(target_arch = "wasm32"))]
            self.down_by_wire.add(wire, len);
        } else if let Some(p) = self.peers.get_mut(&key) {
            p.unwanted_bytes += len;
            if p.unwanted_bytes > self.cfg.max_unwanted_bytes {
                return Err(CloseReason::Misbehaved("too much unrequested data"));
            }
        }
        Ok(())
    }

    /// Another source delivered `b` first: a peer still asked for it gets a cancel.
    pub(super) fn withdraw_request(&mut self, now: Time, key: PeerKey, b: BlockRef) {
        if let Some(o) = self.peers.get_mut(&key) {
            if o.take_request(&b) {
                let m = Message::Cancel {
                    index: b.piece.get(),
                    begin: b.offset,
                    len: b.len,
                };
                self.send(key, now, &m);
            }
        }
    }

    fn is_standard_block(&self, b: &BlockRef) -> bool {
        let Some(info) = self.info.as_ref() else {
            return false;
        };
        b.offset % BLOCK_SIZE == 0 && info.layout.block(b.piece, b.block_index()).len == b.len
    }

    /// Per-second housekeeping: handshake and idle timeouts, keep-alives,
    /// snubbed peers, seeds connected to seeds, metadata retries.
    pub(super) fn check_timeouts(&mut self, now: Time) {
        let we_seed = self.is_seed();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            if p.remote.is_none() && now - p.connected_at > self.cfg.handshake_timeout {
                self.close(now, key, CloseReason::HandshakeTimeout);
                continue;
            }
            if now - p.last_recv > self.cfg.idle_timeout {
                self.close(now, key, CloseReason::Idle);
                continue;
            }
            if p.unwritable_since
                .is_some_and(|t| now - t > self.cfg.write_stall_timeout)
            {
                self.close(now, key, CloseReason::WriteStalled);
                continue;
            }
            if we_seed && p.is_seed() {
                self.close(now, key, CloseReason::BothSeeds);
                continue;
            }
            if !p.requests.is_empty() && now - p.last_block > self.cfg.request_timeout {
                self.snub(now, key);
            }
            let Some(p) = self.peers.get(&key) else {
                continue;
            };
            if now - p.last_sent > self.cfg.keepalive_interval {
                self.send(key, now, &Message::KeepAlive);
            }
        }
        self.metadata_timeouts(now);
        self.reclaim_idle_slots(now);
        self.retry_starved(now);
    }

    /// Peers we went quiet on get our interest back once the picker has
    /// something they could send.
    fn retry_starved(&mut self, now: Time) {
        let Some(picker) = self.picker.as_ref() else {
            return;
        };
        let ready: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.starved)
            .filter(|(_, p)| {
                p.has
                    .as_ref()
                    .is_some_and(|h| picker.has_requestable(&|i| h.get(i) && !p.refuses(i, now)))
            })
            .map(|(&k, _)| k)
            .collect();
        for k in ready {
            if let Some(p) = self.peers.get_mut(&k) {
                p.starved = false;
            }
            self.update_interest(now, k);
        }
    }

    /// The peer stopped delivering: its requests go back to the pool (a block
    /// that still arrives later is accepted if nobody else sent it first).
    fn snub(&mut self, now: Time, key: PeerKey) {
        let (Some(picker), Some(p)) = (self.picker.as_mut(), self.peers.get_mut(&key)) else {
            return;
        };
        let fast = p.fast();
        for (b, _) in p.requests.drain(..) {
            picker.cancel(key, b);
            if fast {
                Message::Cancel {
                    index: b.piece.get(),
                    begin: b.offset,
                    len: b.len,
                }
                .encode(&mut p.out);
            }
        }
        p.last_block = now;
        self.dirty.insert(key);
    }
}

//! The upload side: queueing peers' requests, reading blocks only for peers
//! that can take them, and choosing whom to unchoke.

use bytes::Bytes;

use super::{Choking, CloseReason, Output, Torrent, NEW_PEER_AGE};
use crate::bitfield::Bitfield;
use crate::choke::{rechoke, Candidate};
use crate::types::{BlockRef, PeerKey, Time};
use crate::wire::{piece_header, Message};

impl Torrent {
    pub(super) fn on_request(
        &mut self,
        now: Time,
        key: PeerKey,
        index: u32,
        begin: u32,
        len: u32,
    ) -> Result<(), CloseReason> {
        let Some(p) = self.peers.get(&key) else {
            return Ok(());
        };
        let block = match self.info.as_ref() {
            // Before we have the metadata we have no pieces either.
            None => None,
            Some(info) => Some(info.layout.check_range(index, begin, len).ok_or(
                CloseReason::Misbehaved("request outside the torrent or over 128 KiB"),
            )?),
        };
        let have = self.picker.as_ref().is_some_and(|pk| pk.have().get(index));
        let full = p.incoming.len() >= self.cfg.max_incoming_requests;
        match block {
            Some(b) if have && !p.am_choking && !full => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.last_request = now;
                    if !p.incoming.contains(&b) {
                        p.incoming.push_back(b);
                    }
                }
            }
            _ if p.fast() => self.send(key, now, &Message::Reject { index, begin, len }),
            _ => {}
        }
        Ok(())
    }

    /// Issues storage reads for queued requests while the peer can take data.
    pub(super) fn serve(&mut self, _now: Time, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        while p.writable && !p.am_choking && p.reading < self.cfg.max_reads_in_flight {
            let Some(block) = p.incoming.pop_front() else {
                break;
            };
            p.reading += 1;
            self.out.push_back(Output::Read { peer: key, block });
        }
    }

    pub(super) fn on_block_read(
        &mut self,
        now: Time,
        key: PeerKey,
        block: BlockRef,
        data: Option<Bytes>,
    ) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.reading = p.reading.saturating_sub(1);
        let (index, begin) = (block.piece.get(), block.offset);
        match data {
            Some(data) if data.len() == block.len as usize => {
                p.out
                    .extend_from_slice(&piece_header(index, begin, block.len));
                p.up.add(now, u64::from(block.len));
                p.sent_since_unchoke += u64::from(block.len);
                p.last_sent = now;
                self.uploaded += u64::from(block.len);
                #[cfg(not(target_arch = "wasm32"))]
                self.up_by_wire.add(p.wire, u64::from(block.len));
                // Header and anything queued before it go first, then the block
                // itself without a copy.
                let head = p.out.split().freeze();
                self.dirty.remove(&key);
                self.out.push_back(Output::Send {
                    peer: key,
                    data: head,
                });
                self.out.push_back(Output::Send { peer: key, data });
                self.pass_seed_slot(now, key, u64::from(block.len));
            }
            _ => {
                if p.fast() {
                    self.send(
                        key,
                        now,
                        &Message::Reject {
                            index,
                            begin,
                            len: block.len,
                        },
                    );
                }
            }
        }
    }

    pub(super) fn set_peer_interested(&mut self, now: Time, key: PeerKey, interested: bool) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.peer_interested = interested;
        // A slot held by a peer that wants nothing is wasted upload: give it
        // to someone who is waiting rather than waiting for the next round.
        if !interested && !p.am_choking {
            self.set_choking(now, key, true);
        }
        self.fill_unchoke_slots(now);
    }

    /// A seed hands a peer a piece's worth, then its slot to a peer that has
    /// nothing yet, if one is waiting: the first pieces out of a seed reach
    /// as many peers as possible, and each of them can start uploading
    /// (regular slots held for a whole rechoke round fed five peers while
    /// the rest of a flash crowd waited; in the simulator, N = 100, swarm
    /// policy, 11 seeds: 1.269 -> 1.231 of the fluid bound). Checked once
    /// per unchoke, when the piece's worth is reached.
    fn pass_seed_slot(&mut self, now: Time, key: PeerKey, just_sent: u64) {
        let Some(piece_len) = self.info.as_ref().map(|i| u64::from(i.layout.piece_len())) else {
            return;
        };
        let Some(p) = self.peers.get(&key) else {
            return;
        };
        let crossed =
            p.sent_since_unchoke >= piece_len && p.sent_since_unchoke - just_sent < piece_len;
        if !crossed || p.optimistic || !self.is_seed() {
            return;
        }
        let empty_waiting = self.peers.values().any(|p| {
            p.am_choking
                && p.peer_interested
                && p.remote.is_some()
                && p.has.as_ref().is_none_or(|h| h.count() == 0)
        });
        if !empty_waiting {
            return;
        }
        self.take_slot_back(now, key);
        self.fill_unchoke_slots(now);
    }

    /// Chokes a peer whose slot someone waiting should have; it goes last
    /// when slots are filled again.
    fn take_slot_back(&mut self, now: Time, key: PeerKey) {
        self.set_choking(now, key, true);
        if let Some(p) = self.peers.get_mut(&key) {
            p.slot_taken_at = Some(now);
        }
    }

    fn unchoked_count(&self) -> usize {
        self.peers.values().filter(|p| !p.am_choking).count()
    }

    /// Unchokes interested peers right away while slots are free, instead of
    /// making newcomers wait for the next rechoke round. Peers whose slot was
    /// just taken back go last.
    pub(super) fn fill_unchoke_slots(&mut self, now: Time) {
        let slots = self.cfg.unchoke_slots + self.cfg.optimistic_slots;
        let free = slots.saturating_sub(self.unchoked_count());
        if free == 0 {
            return;
        }
        let recently_taken = |p: &super::peer::Peer| {
            p.slot_taken_at
                .is_some_and(|t| now - t < self.cfg.rechoke_interval)
        };
        let mut waiting: Vec<(bool, PeerKey)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.am_choking && p.peer_interested && p.remote.is_some())
            .map(|(&k, p)| (recently_taken(p), k))
            .collect();
        // Ties go in shuffled order: the sort is not stable, but a fixed
        // reordering of a uniform shuffle is still uniform.
        self.rng.shuffle(&mut waiting);
        crate::sort::sort_by_key(&mut waiting, |&(idle, _)| idle);
        for (_, k) in waiting.into_iter().take(free) {
            self.set_choking(now, k, false);
        }
    }

    /// Takes slots back from unchoked peers that ask for nothing (they are
    /// interested, but what we have is already on its way to them from others)
    /// when someone else is waiting for one.
    pub(super) fn reclaim_idle_slots(&mut self, now: Time) {
        let waiting = self
            .peers
            .values()
            .any(|p| p.am_choking && p.peer_interested && p.remote.is_some());
        if !waiting {
            return;
        }
        let t = self.cfg.idle_unchoke_timeout;
        let idle: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                !p.am_choking
                    && p.incoming.is_empty()
                    && p.reading == 0
                    && now - p.unchoked_at > t
                    && now - p.last_request > t
            })
            .map(|(&k, _)| k)
            .collect();
        if idle.is_empty() {
            return;
        }
        for k in idle {
            self.take_slot_back(now, k);
        }
        self.fill_unchoke_slots(now);
    }

    fn set_choking(&mut self, now: Time, key: PeerKey, choke: bool) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        if p.am_choking == choke {
            return;
        }
        p.am_choking = choke;
        if choke {
            p.optimistic = false;
            let fast = p.fast();
            let pending: Vec<BlockRef> = p.incoming.drain(..).collect();
            self.send(key, now, &Message::Choke);
            if fast {
                for b in pending {
                    let m = Message::Reject {
                        index: b.piece.get(),
                        begin: b.offset,
                        len: b.len,
                    };
                    self.send(key, now, &m);
                }
            }
        } else {
            p.unchoked_at = now;
            p.sent_since_unchoke = 0;
            self.send(key, now, &Message::Unchoke);
        }
    }

    /// The periodic choking round (tit-for-tat with optimistic unchoke).
    pub(super) fn rechoke(&mut self, now: Time) {
        let behind_first = self.is_seed() || self.cfg.choking == Choking::Swarm;
        let candidates: Vec<Candidate> = self
            .peers
            .iter()
            .filter(|(_, p)| p.remote.is_some())
            .map(|(&peer, p)| Candidate {
                peer,
                interested: p.peer_interested,
                // Tit-for-tat while leeching (unless the swarm policy is on).
                // A seed gets nothing back, so it serves the peers furthest
                // behind: in the simulator this shortened the last completion
                // at N = 300 for every seed tried.
                rate: if behind_first {
                    -f64::from(p.has.as_ref().map_or(0, Bitfield::count))
                } else {
                    p.down.rate(now)
                },
                is_new: now - p.connected_at < NEW_PEER_AGE,
                optimistic: p.optimistic,
            })
            .collect();
        let rotate = self.rechoke_round % self.cfg.optimistic_rounds.max(1) == 0;
        self.rechoke_round += 1;
        let d = rechoke(
            &candidates,
            self.cfg.unchoke_slots,
            self.cfg.optimistic_slots,
            rotate,
            &mut self.rng,
        );
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            let unchoke = d.unchoke.contains(&k);
            self.set_choking(now, k, !unchoke);
            if let Some(p) = self.peers.get_mut(&k) {
                p.optimistic = d.optimistic.contains(&k);
            }
        }
    }
}

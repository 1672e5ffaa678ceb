//! Decoding a peer's stream and applying each message to the torrent state.

use bytes::Bytes;

use super::peer::{MAX_ALLOWED_FAST, MAX_EARLY_HAVES};
use super::{CloseReason, Event, Torrent};
use crate::bitfield::Bitfield;
use crate::types::{PeerKey, Time};
use crate::wire::{ExtendedHandshake, Handshake, Message, LOCAL_LT_DONTHAVE, LOCAL_UT_METADATA};

type Verdict = Result<(), CloseReason>;

impl Torrent {
    /// Decodes and applies everything buffered for `key`.
    pub(super) fn process_input(&mut self, now: Time, key: PeerKey) {
        loop {
            let Some(p) = self.peers.get_mut(&key) else {
                return;
            };
            // The idle timer counts whole messages, not bytes: a peer that
            // trickles a message a byte at a time is idle.
            let step = if p.remote.is_none() {
                match p.decoder.handshake() {
                    Ok(Some(h)) => {
                        p.last_recv = now;
                        self.on_handshake(now, key, h)
                    }
                    Ok(None) => return,
                    Err(e) => Err(e.into()),
                }
            } else {
                match p.decoder.next_message() {
                    Ok(Some(m)) => {
                        p.last_recv = now;
                        self.on_message(now, key, m)
                    }
                    Ok(None) => return,
                    Err(e) => Err(e.into()),
                }
            };
            if let Err(reason) = step {
                self.close(now, key, reason);
                return;
            }
        }
    }

    fn on_handshake(&mut self, now: Time, key: PeerKey, h: Handshake) -> Verdict {
        if h.info_hash != self.info_hash {
            return Err(CloseReason::WrongTorrent);
        }
        if h.peer_id == self.our_id {
            return Err(CloseReason::SelfConnection);
        }
        if self.banned.contains(&h.peer_id) {
            return Err(CloseReason::Banned);
        }
        if self
            .peers
            .iter()
            .any(|(&k, p)| k != key && p.peer_id() == Some(h.peer_id))
        {
            return Err(CloseReason::Duplicate);
        }
        let have = self.picker.as_ref().map(|p| p.have().clone());
        let cfg_reqq = self.cfg.max_incoming_requests as u32;
        let client = self.cfg.client_name.clone();
        let metadata_size = self.info.as_ref().map(|i| i.raw.len() as u32);
        #[cfg(not(target_arch = "wasm32"))]
        let (pex, port) = (self.pex_allowed(key), self.cfg.tcp_listen_port);
        let p = self.peers.get_mut(&key).ok_or(CloseReason::Duplicate)?;
        p.remote = Some(h);
        if h.supports_extended() {
            let ours = ExtendedHandshake {
                ut_metadata: Some(LOCAL_UT_METADATA),
                lt_donthave: Some(LOCAL_LT_DONTHAVE),
                metadata_size,
                reqq: Some(cfg_reqq),
                client: Some(client),
                #[cfg(not(target_arch = "wasm32"))]
                ut_pex: pex.then_some(crate::wire::LOCAL_UT_PEX),
                #[cfg(not(target_arch = "wasm32"))]
                port,
            };
            let payload = Bytes::from(ours.encode());
            self.send(key, now, &Message::Extended { id: 0, payload });
        }
        let fast = h.supports_fast();
        match have {
            Some(b) if b.is_full() && fast => self.send(key, now, &Message::HaveAll),
            Some(b) if b.count() > 0 => {
                let bits = Bytes::copy_from_slice(b.as_bytes());
                self.send(key, now, &Message::Bitfield(bits));
            }
            _ if fast => self.send(key, now, &Message::HaveNone),
            _ => {}
        }
        self.emit(Event::PeerConnected {
            peer: key,
            peer_id: h.peer_id,
        });
        Ok(())
    }

    fn on_message(&mut self, now: Time, key: PeerKey, m: Message) -> Verdict {
        let fast = self.peers.get(&key).is_some_and(|p| p.fast());
        let needs_fast = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(CloseReason::Misbehaved(
                    "fast-extension message without support",
                ))
            }
        };
        match m {
            Message::KeepAlive | Message::Port(_) | Message::Suggest(_) => Ok(()),
            Message::Choke => {
                self.on_choked(key, fast);
                Ok(())
            }
            Message::Unchoke => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_choking = false;
                    p.last_block = now;
                }
                Ok(())
            }
            Message::Interested => {
                self.set_peer_interested(now, key, true);
                Ok(())
            }
            Message::NotInterested => {
                self.set_peer_interested(now, key, false);
                Ok(())
            }
            Message::Have(i) => self.on_have(now, key, i),
            Message::Bitfield(b) => self.on_bitfield(now, key, Some(b)),
            Message::HaveAll => {
                needs_fast(fast)?;
                if let Some(p) = self.peers.get_mut(&key) {
                    p.early.all = true;
                }
                self.on_bitfield(now, key, None)
            }
            Message::HaveNone => {
                needs_fast(fast)?;
                self.on_bitfield(now, key, Some(Bytes::new()))
            }
            Message::Request { index, begin, len } => self.on_request(now, key, index, begin, len),
            Message::Cancel { index, begin, len } => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.incoming
                        .retain(|b| (b.piece.get(), b.offset, b.len) != (index, begin, len));
                }
                Ok(())
            }
            Message::Piece { index, begin, data } => self.on_piece(now, key, index, begin, data),
            Message::Reject { index, begin, len } => {
                needs_fast(fast)?;
                self.on_reject(now, key, index, begin, len);
                Ok(())
            }
            Message::AllowedFast(i) => {
                needs_fast(fast)?;
                let n = self.info.as_ref().map(|i| i.layout.num_pieces());
                if let Some(p) = self.peers.get_mut(&key) {
                    if n.is_none_or(|n| i < n)
                        && p.allowed_fast.len() < MAX_ALLOWED_FAST
                        && !p.allowed_fast.contains(&i)
                    {
                        p.allowed_fast.push(i);
                    }
                }
                Ok(())
            }
            Message::Extended { id: 0, payload } => {
                let ext = ExtendedHandshake::parse(&payload)?;
                if let Some(p) = self.peers.get_mut(&key) {
                    #[cfg(not(target_arch = "wasm32"))]
                    p.learn_listen_port(ext.port);
                    p.ext = ext;
                }
                self.request_metadata(now, key);
                Ok(())
            }
            Message::Extended {
                id: LOCAL_UT_METADATA,
                payload,
            } => self.on_metadata_message(now, key, &payload),
            Message::Extended {
                id: LOCAL_LT_DONTHAVE,
                payload,
            } => {
                let i = <[u8; 4]>::try_from(&payload[..])
                    .map(u32::from_be_bytes)
                    .map_err(|_| CloseReason::Misbehaved("lt_donthave payload is not 4 bytes"))?;
                self.on_donthave(now, key, i)
            }
            #[cfg(not(target_arch = "wasm32"))]
            Message::Extended {
                id: crate::wire::LOCAL_UT_PEX,
                payload,
            } => self.on_pex(now, key, &payload),
            Message::Extended { .. } => Ok(()),
        }
    }

    fn on_have(&mut self, now: Time, key: PeerKey, i: u32) -> Verdict {
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let Some(info) = self.info.as_ref() else {
            if p.early.haves.len() < MAX_EARLY_HAVES {
                p.early.haves.push(i);
            }
            return Ok(());
        };
        let piece = info.layout.piece(i).ok_or(CloseReason::Misbehaved(
            "have for a piece that does not exist",
        ))?;
        let n = info.layout.num_pieces();
        let has = p.has.get_or_insert_with(|| Bitfield::new(n));
        if has.set(i) {
            // picker exists whenever info does.
            if let Some(picker) = self.picker.as_mut() {
                picker.peer_has(piece);
                if picker.wants(i) {
                    p.interesting += 1;
                    // A new piece may be just what a starved peer lacked.
                    p.starved &= !picker.has_requestable(&|j| j == i);
                }
            }
            self.update_interest(now, key);
        }
        Ok(())
    }

    fn on_donthave(&mut self, now: Time, key: PeerKey, i: u32) -> Verdict {
        let (Some(info), Some(picker)) = (self.info.as_ref(), self.picker.as_mut()) else {
            return Ok(());
        };
        let Some(piece) = info.layout.piece(i) else {
            return Err(CloseReason::Misbehaved(
                "lt_donthave for a piece that does not exist",
            ));
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        if p.has.as_mut().is_some_and(|h| h.clear(i)) {
            picker.peer_lost(piece);
            if picker.wants(i) {
                p.interesting = p.interesting.saturating_sub(1);
            }
            self.update_interest(now, key);
        }
        Ok(())
    }

    /// `bits`: a wire bitfield, empty bytes for have_none, `None` for have_all.
    fn on_bitfield(&mut self, now: Time, key: PeerKey, bits: Option<Bytes>) -> Verdict {
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        // A second one adds to the first (pieces are not taken back this
        // way): aria2 sends one after `have`s and the like, and libtorrent
        // tolerates it too.
        if self.info.is_none() {
            p.early.bitfield = Some(bits.unwrap_or_default());
            return Ok(());
        }
        p.early.bitfield = Some(bits.unwrap_or_default());
        self.apply_early_haves(now, key)
    }

    /// Turns what a peer announced into its bitfield once the layout is known.
    pub(super) fn apply_early_haves(&mut self, now: Time, key: PeerKey) -> Verdict {
        let (Some(info), Some(picker)) = (self.info.as_ref(), self.picker.as_mut()) else {
            return Ok(());
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let n = info.layout.num_pieces();
        let mut has = if p.early.all {
            Bitfield::full(n)
        } else {
            match p.early.bitfield.take() {
                Some(b) if b.is_empty() => Bitfield::new(n),
                Some(b) => Bitfield::from_wire(&b, n).ok_or(CloseReason::Misbehaved(
                    "bitfield has the wrong length or spare bits set",
                ))?,
                None => Bitfield::new(n),
            }
        };
        for i in std::mem::take(&mut p.early.haves) {
            if i >= n {
                return Err(CloseReason::Misbehaved(
                    "have for a piece that does not exist",
                ));
            }
            has.set(i);
        }
        if let Some(old) = p.has.take() {
            // A `have` that arrived before the bitfield; keep it.
            old.iter_ones().for_each(|i| {
                has.set(i);
                if let Some(piece) = info.layout.piece(i) {
                    picker.peer_lost(piece);
                }
            });
        }
        p.early.all = false;
        let mut interesting = 0;
        for i in has.iter_ones() {
            if let Some(piece) = info.layout.piece(i) {
                picker.peer_has(piece);
                interesting += u32::from(picker.wants(i));
            }
        }
        p.interesting = interesting;
        p.has = Some(has);
        self.update_interest(now, key);
        Ok(())
    }

    /// Sends interested / not interested when our want of the peer changes.
    pub(super) fn update_interest(&mut self, now: Time, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let want = p.interesting > 0 && !p.starved;
        if want != p.am_interested {
            p.am_interested = want;
            let m = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send(key, now, &m);
        }
    }

    /// Recounts every peer's wanted pieces (after priorities change).
    pub(super) fn refresh_interest(&mut self, now: Time) {
        let Some(picker) = self.picker.as_ref() else {
            return;
        };
        for p in self.peers.values_mut() {
            p.interesting = p.has.as_ref().map_or(0, |h| {
                h.iter_ones().filter(|&i| picker.wants(i)).count() as u32
            });
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        keys.into_iter().for_each(|k| self.update_interest(now, k));
    }
}

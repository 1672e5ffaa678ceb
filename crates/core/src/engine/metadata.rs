//! BEP 9: fetching the info dictionary from peers for magnet links, and serving it.

use bytes::Bytes;

use super::{CloseReason, Event, Torrent};
use crate::bitfield::Bitfield;
use crate::metainfo::Info;
use crate::picker::{Picker, Priority};
use crate::types::{PeerKey, Time};
use crate::wire::{Message, MetadataMessage, MetadataMsgType};

const METADATA_PIECE: u32 = 16 * 1024;
/// Metadata requests outstanding at one peer.
const MAX_META_INFLIGHT: u32 = 64;
/// A metadata request unanswered this long may go to another peer.
const META_TIMEOUT_SECS: u64 = 10;

#[derive(Default)]
pub(super) struct MetadataFetch {
    size: u32,
    pieces: Vec<Option<Bytes>>,
    pending: Vec<Option<(PeerKey, Time)>>,
    sources: Vec<PeerKey>,
}

impl MetadataFetch {
    fn start(&mut self, size: u32) {
        let n = size.div_ceil(METADATA_PIECE) as usize;
        *self = MetadataFetch {
            size,
            pieces: vec![None; n],
            pending: vec![None; n],
            sources: Vec::new(),
        };
    }

    pub fn forget_peer(&mut self, key: PeerKey) {
        for slot in &mut self.pending {
            if slot.is_some_and(|(k, _)| k == key) {
                *slot = None;
            }
        }
    }

    fn piece_len(&self, i: u32) -> u32 {
        (self.size - i * METADATA_PIECE).min(METADATA_PIECE)
    }
}

impl Torrent {
    /// Asks `key` for missing metadata pieces if it has the info dictionary.
    pub(super) fn request_metadata(&mut self, now: Time, key: PeerKey) {
        if self.info.is_some() {
            return;
        }
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let (Some(id), Some(size)) = (p.ext.ut_metadata, p.ext.metadata_size) else {
            return;
        };
        if p.meta_rejected {
            return;
        }
        if self.metadata.size == 0 {
            self.metadata.start(size);
        } else if self.metadata.size != size {
            return;
        }
        let f = &mut self.metadata;
        for i in 0..f.pieces.len() {
            if p.meta_inflight >= MAX_META_INFLIGHT {
                break;
            }
            if f.pieces[i].is_none() && f.pending[i].is_none() {
                f.pending[i] = Some((key, now));
                p.meta_inflight += 1;
                let m = MetadataMessage {
                    msg_type: MetadataMsgType::Request,
                    piece: i as u32,
                    total_size: None,
                    data: Bytes::new(),
                };
                Message::Extended {
                    id,
                    payload: m.encode().into(),
                }
                .encode(&mut p.out);
                self.dirty.insert(key);
            }
        }
    }

    pub(super) fn on_metadata_message(
        &mut self,
        now: Time,
        key: PeerKey,
        payload: &Bytes,
    ) -> Result<(), CloseReason> {
        let msg = MetadataMessage::parse(payload)?;
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        match msg.msg_type {
            MetadataMsgType::Request => {
                let Some(their_id) = p.ext.ut_metadata else {
                    return Err(CloseReason::Misbehaved(
                        "ut_metadata request without the extension",
                    ));
                };
                let reply = match self.info.as_ref() {
                    Some(info) if msg.piece < (info.raw.len() as u32).div_ceil(METADATA_PIECE) => {
                        let start = (msg.piece * METADATA_PIECE) as usize;
                        let end = (start + METADATA_PIECE as usize).min(info.raw.len());
                        MetadataMessage {
                            msg_type: MetadataMsgType::Data,
                            piece: msg.piece,
                            total_size: Some(info.raw.len() as u32),
                            data: Bytes::copy_from_slice(&info.raw[start..end]),
                        }
                    }
                    _ => MetadataMessage {
                        msg_type: MetadataMsgType::Reject,
                        piece: msg.piece,
                        total_size: None,
                        data: Bytes::new(),
                    },
                };
                self.send(
                    key,
                    now,
                    &Message::Extended {
                        id: their_id,
                        payload: reply.encode().into(),
                    },
                );
            }
            MetadataMsgType::Reject => {
                p.meta_rejected = true;
                p.meta_inflight = 0;
                self.metadata.forget_peer(key);
            }
            MetadataMsgType::Data => {
                p.meta_inflight = p.meta_inflight.saturating_sub(1);
                if self.info.is_some() {
                    return Ok(());
                }
                let f = &mut self.metadata;
                let i = msg.piece;
                let fits = (i as usize) < f.pieces.len()
                    && msg.total_size.is_none_or(|s| s == f.size)
                    && msg.data.len() == f.piece_len(i) as usize;
                if !fits {
                    return Err(CloseReason::Misbehaved(
                        "metadata piece has the wrong index or size",
                    ));
                }
                f.pending[i as usize] = None;
                if f.pieces[i as usize].is_none() {
                    f.pieces[i as usize] = Some(msg.data);
                    if !f.sources.contains(&key) {
                        f.sources.push(key);
                    }
                }
                if f.pieces.iter().all(Option::is_some) {
                    self.finish_metadata(now);
                }
            }
        }
        Ok(())
    }

    fn finish_metadata(&mut self, now: Time) {
        let f = std::mem::take(&mut self.metadata);
        let raw: Vec<u8> = f
            .pieces
            .into_iter()
            .flatten()
            .flat_map(|b| b.to_vec())
            .collect();
        match Info::from_bytes_checked(&raw, self.info_hash) {
            Ok(info) => {
                self.install_info(now, info, None);
                self.emit(Event::MetadataReceived);
            }
            Err(_) => {
                for k in f.sources {
                    self.close(
                        now,
                        k,
                        CloseReason::Misbehaved("metadata does not match the info-hash"),
                    );
                }
                let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
                keys.into_iter().for_each(|k| self.request_metadata(now, k));
            }
        }
    }

    pub(super) fn metadata_timeouts(&mut self, now: Time) {
        if self.info.is_some() {
            return;
        }
        let expired: Vec<(usize, PeerKey)> = self
            .metadata
            .pending
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.filter(|(_, t)| now - *t > std::time::Duration::from_secs(META_TIMEOUT_SECS))
                    .map(|(k, _)| (i, k))
            })
            .collect();
        for (i, k) in expired {
            self.metadata.pending[i] = None;
            if let Some(p) = self.peers.get_mut(&k) {
                p.meta_inflight = p.meta_inflight.saturating_sub(1);
            }
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        keys.into_iter().for_each(|k| self.request_metadata(now, k));
    }

    /// Starts downloading once the layout is known.
    pub(super) fn install_info(&mut self, now: Time, info: Info, have: Option<Bitfield>) {
        let n = info.layout.num_pieces();
        let have = have
            .filter(|h| h.len() == n)
            .unwrap_or_else(|| Bitfield::new(n));
        self.file_prios = vec![Priority::Normal; info.files.len()];
        let cap = u16::try_from(self.cfg.max_peers).unwrap_or(u16::MAX);
        self.picker = Some(Picker::new(info.layout, have, cap, &mut self.rng));
        self.info = Some(info);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for k in keys {
            if let Err(reason) = self.apply_early_haves(now, k) {
                self.close(now, k, reason);
            }
        }
        if self.is_complete() {
            self.completed = true;
        }
    }
}

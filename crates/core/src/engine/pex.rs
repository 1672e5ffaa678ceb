//! Peer exchange (BEP 11) with classic TCP peers of non-private torrents
//! (BEP 27; a magnet's privacy is not known before its metadata): what they
//! tell us goes to the platform to dial, and once a minute each is told
//! which of our other classic peers it can connect to, and which left.

use std::net::SocketAddr;
use std::time::Duration;

use super::{CloseReason, Event, Torrent, Wire};
use crate::classic::PexMessage;
use crate::types::{PeerKey, Time};
use crate::wire::Message;

/// A peer's messages are taken at most this often (senders send one a minute).
const TAKE_EVERY: Duration = Duration::from_secs(30);
/// How often each peer is told (BEP 11: at most once a minute).
const TELL_EVERY: Duration = Duration::from_secs(60);
/// Its first message comes this soon after the extension handshake.
const FIRST_AFTER: Duration = Duration::from_secs(2);
/// Addresses added (and dropped) per message (BEP 11: 50).
const PER_MESSAGE: usize = 50;

impl Torrent {
    pub(super) fn pex_allowed(&self, key: PeerKey) -> bool {
        let classic = self.peers.get(&key).is_some_and(|p| p.wire.is_classic());
        classic && !self.info.as_ref().is_some_and(|i| i.private)
    }

    /// Where a TCP peer can be reached: the address we dialled
    /// (`connectable`), or the one it came from, whose port is replaced by
    /// the listen port its extension handshake names.
    pub fn set_peer_addr(&mut self, key: PeerKey, addr: SocketAddr, connectable: bool) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.addr = Some(addr);
            p.addr_connectable = connectable;
            let port = p.ext.port;
            p.learn_listen_port(port);
        }
    }

    /// A `ut_pex` message: its added peers go to the platform to dial.
    pub(super) fn on_pex(
        &mut self,
        now: Time,
        key: PeerKey,
        payload: &[u8],
    ) -> Result<(), CloseReason> {
        if !self.pex_allowed(key) {
            return Ok(());
        }
        let m = PexMessage::parse(payload).map_err(CloseReason::Misbehaved)?;
        let Some(p) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        if p.pex_at.is_some_and(|t| now - t < TAKE_EVERY) {
            return Ok(());
        }
        p.pex_at = Some(now);
        if !m.added.is_empty() {
            self.emit(Event::PexPeers(m.added));
        }
        Ok(())
    }

    /// Tells each PEX peer that is due what changed among our classic peers.
    pub(super) fn tell_pex(&mut self, now: Time) {
        let known: Vec<(PeerKey, SocketAddr)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.wire.is_classic() && p.addr_connectable)
            .filter_map(|(k, p)| Some((*k, p.addr?)))
            .collect();
        // Reached over uTP: it takes uTP (flag 0x04 to PEX peers).
        let utp: Vec<SocketAddr> = self
            .peers
            .values()
            .filter(|p| p.wire == Wire::Utp && p.addr_connectable)
            .filter_map(|p| p.addr)
            .collect();
        let due: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.ext.ut_pex.is_some() && p.pex_next.is_none_or(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if !self.pex_allowed(key) {
                continue;
            }
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            let Some(id) = p.ext.ut_pex else { continue };
            if p.pex_next.is_none() {
                // Just shook hands: the first message a moment later.
                p.pex_next = Some(now + FIRST_AFTER);
                continue;
            }
            p.pex_next = Some(now + TELL_EVERY);
            let now_known: Vec<SocketAddr> = known
                .iter()
                .filter(|(k, _)| *k != key)
                .map(|(_, a)| *a)
                .collect();
            let added: Vec<SocketAddr> = now_known
                .iter()
                .filter(|a| !p.pex_told.contains(a))
                .take(PER_MESSAGE)
                .copied()
                .collect();
            let dropped: Vec<SocketAddr> = p
                .pex_told
                .iter()
                .filter(|a| !now_known.contains(a))
                .take(PER_MESSAGE)
                .copied()
                .collect();
            if added.is_empty() && dropped.is_empty() {
                continue;
            }
            p.pex_told.retain(|a| !dropped.contains(a));
            p.pex_told.extend(&added);
            let utp = added.iter().filter(|a| utp.contains(a)).copied().collect();
            let payload = PexMessage {
                added,
                dropped,
                utp,
            }
            .encode()
            .into();
            self.send(key, now, &Message::Extended { id, payload });
        }
    }
}

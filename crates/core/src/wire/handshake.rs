use super::WireError;
use crate::types::{InfoHash, PeerId};

/// Bytes in a handshake.
pub const HANDSHAKE_LEN: usize = 68;
const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// The 68-byte BEP 3 handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// Extension bits (BEP 10 extended, BEP 6 fast).
    pub reserved: [u8; 8],
    /// The torrent.
    pub info_hash: InfoHash,
    /// The sender.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Our handshake: BEP 10 extension protocol and BEP 6 fast extension, as WebTorrent sends.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Self {
        Handshake {
            reserved: [0, 0, 0, 0, 0, 0x10, 0, 0x04],
            info_hash,
            peer_id,
        }
    }
    /// The sender speaks BEP 10 extended messages.
    pub fn supports_extended(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }
    /// The sender speaks BEP 6 fast messages.
    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }
    /// The 68 bytes to send.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash.0);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }
    /// Parses the first 68 bytes of a stream.
    pub fn decode(b: &[u8; HANDSHAKE_LEN]) -> Result<Self, WireError> {
        if &b[..20] != PROTOCOL {
            return Err(WireError::BadProtocol);
        }
        let mut h = Handshake::new(InfoHash([0; 20]), PeerId([0; 20]));
        h.reserved.copy_from_slice(&b[20..28]);
        h.info_hash.0.copy_from_slice(&b[28..48]);
        h.peer_id.0.copy_from_slice(&b[48..68]);
        Ok(h)
    }
}

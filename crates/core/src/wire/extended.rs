use bytes::Bytes;

use super::WireError;
use crate::bencode::{decode, decode_prefix, encode, OwnedValue};

/// Extended message ids we assign locally (the same numbers WebTorrent uses).
pub const LOCAL_UT_METADATA: u8 = 1;
/// Our id for `lt_donthave` in the extension handshake.
pub const LOCAL_LT_DONTHAVE: u8 = 2;
/// Our id for `ut_pex` (BEP 11), offered on classic TCP wires only.
#[cfg(not(target_arch = "wasm32"))]
pub const LOCAL_UT_PEX: u8 = 3;

/// Largest info dictionary accepted over BEP 9 (about 800k pieces).
pub const MAX_METADATA_SIZE: u32 = 16 << 20;

/// The BEP 10 handshake (extended message id 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedHandshake {
    /// The peer's id for ut_metadata, if it supports it.
    pub ut_metadata: Option<u8>,
    /// The remote's id for `lt_donthave`.
    pub lt_donthave: Option<u8>,
    /// Bytes of the info dictionary, from a peer that has it.
    pub metadata_size: Option<u32>,
    /// How many outstanding requests the peer will queue.
    pub reqq: Option<u32>,
    /// `v`: the client's name.
    pub client: Option<String>,
    /// The peer's id for `ut_pex` (classic peers; browsers have no use for it).
    #[cfg(not(target_arch = "wasm32"))]
    pub ut_pex: Option<u8>,
    /// `p`: the TCP port the peer accepts connections on.
    #[cfg(not(target_arch = "wasm32"))]
    pub port: Option<u16>,
}

impl ExtendedHandshake {
    /// Parses the payload of extended message 0.
    pub fn parse(payload: &[u8]) -> Result<Self, WireError> {
        let v = decode(payload).map_err(|_| WireError::BadExtension("handshake is not bencode"))?;
        let d = v
            .as_dict()
            .ok_or(WireError::BadExtension("handshake is not a dict"))?;
        let id = |name: &[u8]| {
            d.get_dict(b"m")
                .and_then(|m| m.get_int(name))
                .and_then(|i| u8::try_from(i).ok())
                .filter(|&i| i != 0)
        };
        let size = match d.get_int(b"metadata_size") {
            None => None,
            Some(s) => Some(
                u32::try_from(s)
                    .ok()
                    .filter(|&s| s > 0 && s <= MAX_METADATA_SIZE)
                    .ok_or(WireError::BadExtension("metadata_size out of range"))?,
            ),
        };
        Ok(ExtendedHandshake {
            ut_metadata: id(b"ut_metadata"),
            lt_donthave: id(b"lt_donthave"),
            metadata_size: size,
            reqq: d.get_int(b"reqq").and_then(|r| u32::try_from(r).ok()),
            client: d.get_str(b"v").map(|s| s.chars().take(64).collect()),
            #[cfg(not(target_arch = "wasm32"))]
            ut_pex: id(b"ut_pex"),
            #[cfg(not(target_arch = "wasm32"))]
            port: d
                .get_int(b"p")
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0),
        })
    }

    /// The payload of extended message 0.
    pub fn encode(&self) -> Vec<u8> {
        let mut m = Vec::new();
        if let Some(i) = self.ut_metadata {
            m.push(("ut_metadata", OwnedValue::Int(i64::from(i))));
        }
        if let Some(i) = self.lt_donthave {
            m.push(("lt_donthave", OwnedValue::Int(i64::from(i))));
        }
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(i) = self.ut_pex {
            m.push(("ut_pex", OwnedValue::Int(i64::from(i))));
        }
        let mut top = vec![("m", OwnedValue::dict(m))];
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(p) = self.port {
            top.push(("p", OwnedValue::Int(i64::from(p))));
        }
        if let Some(s) = self.metadata_size {
            top.push(("metadata_size", OwnedValue::Int(i64::from(s))));
        }
        if let Some(r) = self.reqq {
            top.push(("reqq", OwnedValue::Int(i64::from(r))));
        }
        if let Some(v) = &self.client {
            top.push(("v", OwnedValue::bytes(v)));
        }
        encode(&OwnedValue::dict(top))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// BEP 9 message types.
pub enum MetadataMsgType {
    /// Asks for a metadata piece.
    Request,
    /// Carries one.
    Data,
    /// Refuses a request.
    Reject,
}

/// A BEP 9 ut_metadata message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataMessage {
    /// What the message is.
    pub msg_type: MetadataMsgType,
    /// The 16 KiB metadata piece.
    pub piece: u32,
    /// The info dictionary's size (`Data` only).
    pub total_size: Option<u32>,
    /// The piece's bytes (`Data` only).
    pub data: Bytes,
}

impl MetadataMessage {
    /// Parses a `ut_metadata` payload (dictionary, then the raw piece).
    pub fn parse(payload: &Bytes) -> Result<Self, WireError> {
        let (v, used) = decode_prefix(payload)
            .map_err(|_| WireError::BadExtension("ut_metadata is not bencode"))?;
        let d = v
            .as_dict()
            .ok_or(WireError::BadExtension("ut_metadata is not a dict"))?;
        let msg_type = match d.get_int(b"msg_type") {
            Some(0) => MetadataMsgType::Request,
            Some(1) => MetadataMsgType::Data,
            Some(2) => MetadataMsgType::Reject,
            _ => return Err(WireError::BadExtension("ut_metadata msg_type")),
        };
        let piece = d
            .get_int(b"piece")
            .and_then(|p| u32::try_from(p).ok())
            .ok_or(WireError::BadExtension("ut_metadata piece"))?;
        let total_size = d.get_int(b"total_size").and_then(|s| u32::try_from(s).ok());
        if msg_type != MetadataMsgType::Data && used != payload.len() {
            return Err(WireError::BadExtension("ut_metadata trailing bytes"));
        }
        Ok(MetadataMessage {
            msg_type,
            piece,
            total_size,
            data: payload.slice(used..),
        })
    }

    /// Encodes with keys in the order msg_type, piece, total_size: WebTorrent's
    /// parser finds the end of the dict by searching for `ee`.
    pub fn encode(&self) -> Vec<u8> {
        let t = match self.msg_type {
            MetadataMsgType::Request => 0,
            MetadataMsgType::Data => 1,
            MetadataMsgType::Reject => 2,
        };
        let mut out = format!("d8:msg_typei{t}e5:piecei{}e", self.piece).into_bytes();
        if let Some(s) = self.total_size {
            out.extend_from_slice(format!("10:total_sizei{s}e").as_bytes());
        }
        out.push(b'e');
        out.extend_from_slice(&self.data);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn extended_handshake_round_trips_and_checks_ranges() {
        let h = ExtendedHandshake {
            ut_metadata: Some(3),
            lt_donthave: Some(7),
            metadata_size: Some(20564),
            reqq: Some(250),
            client: Some("webswarm 0.1".into()),
            #[cfg(not(target_arch = "wasm32"))]
            ut_pex: Some(3),
            #[cfg(not(target_arch = "wasm32"))]
            port: Some(6881),
        };
        assert_eq!(ExtendedHandshake::parse(&h.encode()).unwrap(), h);
        assert!(ExtendedHandshake::parse(b"d13:metadata_sizei-1ee").is_err());
        assert!(ExtendedHandshake::parse(b"le").is_err());
        let off = ExtendedHandshake::parse(b"d1:md11:ut_metadatai0eee").unwrap();
        assert_eq!(off.ut_metadata, None);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn metadata_data_message_matches_webtorrent_layout() {
        let m = MetadataMessage {
            msg_type: MetadataMsgType::Data,
            piece: 0,
            total_size: Some(20564),
            data: Bytes::from_static(b"RAW"),
        };
        let enc = m.encode();
        assert_eq!(enc, b"d8:msg_typei1e5:piecei0e10:total_sizei20564eeRAW");
        assert_eq!(MetadataMessage::parse(&Bytes::from(enc)).unwrap(), m);
        assert!(
            MetadataMessage::parse(&Bytes::from_static(b"d8:msg_typei0e5:piecei0eeX")).is_err()
        );
    }
}

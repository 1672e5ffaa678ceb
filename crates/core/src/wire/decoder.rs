use bytes::{Buf, BytesMut};

use super::{Handshake, Message, WireError, HANDSHAKE_LEN};

/// Incremental decoder for one peer's byte stream. Bytes may arrive split at
/// any point (a WebRTC data channel is a byte stream); the buffer never holds
/// more than one partial message of at most `max_len` bytes beyond what was fed.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_len: u32,
    handshake_done: bool,
}

impl Decoder {
    /// A decoder that refuses messages over `max_len` bytes.
    pub fn new(max_len: u32) -> Self {
        Decoder {
            buf: BytesMut::new(),
            max_len,
            handshake_done: false,
        }
    }

    /// Appends received bytes, split anywhere.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the handshake once 68 bytes have arrived.
    pub fn handshake(&mut self) -> Result<Option<Handshake>, WireError> {
        if self.handshake_done || self.buf.len() < HANDSHAKE_LEN {
            if self.handshake_done {
                return Ok(None);
            }
            // Fail early on a wrong protocol string instead of waiting for 68 bytes.
            let n = self.buf.len().min(20);
            if self.buf[..n] != b"\x13BitTorrent protocol"[..n] {
                return Err(WireError::BadProtocol);
            }
            return Ok(None);
        }
        let raw: [u8; HANDSHAKE_LEN] = self.buf[..HANDSHAKE_LEN]
            .try_into()
            .map_err(|_| WireError::BadProtocol)?;
        self.buf.advance(HANDSHAKE_LEN);
        self.handshake_done = true;
        Handshake::decode(&raw).map(Some)
    }

    /// Takes the next complete message, if any.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if len > self.max_len {
            return Err(WireError::TooLong {
                len,
                max: self.max_len,
            });
        }
        let total = 4 + len as usize;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        let body = self.buf.split_to(len as usize).freeze();
        Message::parse(body).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InfoHash, PeerId};
    use bytes::Bytes;

    fn sample() -> Vec<Message> {
        vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(7),
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request {
                index: 1,
                begin: 16384,
                len: 16384,
            },
            Message::Piece {
                index: 2,
                begin: 0,
                data: Bytes::from(vec![9u8; 1000]),
            },
            Message::Cancel {
                index: 1,
                begin: 0,
                len: 16384,
            },
            Message::Port(6881),
            Message::Suggest(3),
            Message::HaveAll,
            Message::HaveNone,
            Message::Reject {
                index: 4,
                begin: 0,
                len: 100,
            },
            Message::AllowedFast(5),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
        ]
    }

    fn stream() -> Vec<u8> {
        let mut out = Handshake::new(InfoHash([1; 20]), PeerId([2; 20]))
            .encode()
            .to_vec();
        let mut b = BytesMut::new();
        sample().iter().for_each(|m| m.encode(&mut b));
        out.extend_from_slice(&b);
        out
    }

    fn decode_chunks(chunks: &[&[u8]]) -> (Handshake, Vec<Message>) {
        let mut d = Decoder::new(1 << 20);
        let (mut hs, mut out) = (None, Vec::new());
        for c in chunks {
            d.feed(c);
            if hs.is_none() {
                hs = d.handshake().unwrap();
                if hs.is_none() {
                    continue;
                }
            }
            while let Some(m) = d.next_message().unwrap() {
                out.push(m);
            }
        }
        (hs.unwrap(), out)
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_split_point_gives_the_same_messages() {
        let s = stream();
        for cut in 0..s.len() {
            let (hs, msgs) = decode_chunks(&[&s[..cut], &s[cut..]]);
            assert!(hs.supports_extended() && hs.supports_fast());
            assert_eq!(msgs, sample(), "split at {cut}");
        }
        let bytes: Vec<&[u8]> = s.chunks(1).collect();
        assert_eq!(decode_chunks(&bytes).1, sample());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn refuses_oversized_malformed_and_unknown_messages() {
        let mut d = Decoder::new(100);
        d.handshake_done = true;
        d.feed(&101u32.to_be_bytes());
        assert_eq!(
            d.next_message(),
            Err(WireError::TooLong { len: 101, max: 100 })
        );

        for (body, err) in [
            (&[0u8, 1][..], WireError::BadMessage { id: 0, len: 1 }),
            (&[4, 0, 0], WireError::BadMessage { id: 4, len: 2 }),
            (&[7, 0, 0, 0, 0], WireError::BadMessage { id: 7, len: 4 }),
            (&[20], WireError::BadMessage { id: 20, len: 0 }),
            (&[99], WireError::UnknownId(99)),
        ] {
            let mut d = Decoder::new(100);
            d.handshake_done = true;
            d.feed(&(body.len() as u32).to_be_bytes());
            d.feed(body);
            assert_eq!(d.next_message(), Err(err));
        }

        let mut d = Decoder::new(100);
        d.feed(b"GET / HTTP/1.1\r\n");
        assert_eq!(d.handshake(), Err(WireError::BadProtocol));
    }
}

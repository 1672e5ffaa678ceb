#[cfg(not(target_arch = "wasm32"))]
use bytes::Bytes;
use bytes::{Buf, BytesMut};

#[cfg(not(target_arch = "wasm32"))]
use super::message::{BLOCK_HEADER_LEN, PIECE_ID};
use super::{Handshake, Message, WireError, HANDSHAKE_LEN};

/// Incremental decoder for one peer's byte stream. Bytes may arrive split at
/// any point (a WebRTC data channel is a byte stream); the buffer never holds
/// more than one partial message of at most `max_len` bytes beyond what was fed.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// Owned bytes fed, which come after `buf`'s: whole messages (and a
    /// block whose header waits in `buf`) are split off them without a copy
    /// (a block is 16 KiB; copying each one into `buf` was a tenth of a
    /// simulated swarm's time); anything else joins `buf`. Not in the
    /// browser module: its shell hands over a slice of one reused input
    /// buffer, and the path cost 288 B of the gzipped package.
    #[cfg(not(target_arch = "wasm32"))]
    front: Bytes,
    max_len: u32,
    handshake_done: bool,
}

impl Decoder {
    /// A decoder that refuses messages over `max_len` bytes.
    pub fn new(max_len: u32) -> Self {
        Decoder {
            buf: BytesMut::new(),
            #[cfg(not(target_arch = "wasm32"))]
            front: Bytes::new(),
            max_len,
            handshake_done: false,
        }
    }

    /// Appends received bytes, split anywhere.
    pub fn feed(&mut self, data: &[u8]) {
        self.spill();
        self.buf.extend_from_slice(data);
    }

    /// Appends received bytes the caller owns, split anywhere; the messages
    /// whole within them are decoded without copying their bytes.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn feed_bytes(&mut self, data: Bytes) {
        if self.front.is_empty() {
            self.front = data;
        } else {
            self.feed(&data);
        }
    }

    /// Moves what is left of `front` into `buf`.
    #[cfg(not(target_arch = "wasm32"))]
    fn spill(&mut self) {
        if !self.front.is_empty() {
            self.buf.extend_from_slice(&self.front);
            self.front.clear();
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn spill(&mut self) {}

    /// Bytes held but not yet decoded.
    pub fn buffered(&self) -> usize {
        #[cfg(not(target_arch = "wasm32"))]
        return self.buf.len() + self.front.len();
        #[cfg(target_arch = "wasm32")]
        self.buf.len()
    }

    /// Takes the handshake once 68 bytes have arrived.
    pub fn handshake(&mut self) -> Result<Option<Handshake>, WireError> {
        if self.handshake_done {
            return Ok(None);
        }
        self.spill();
        if self.buf.len() < HANDSHAKE_LEN {
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

    /// The length of the message `bytes` start with, prefix included, once
    /// its 4-byte prefix is there.
    fn frame_len(&self, bytes: &[u8]) -> Result<Option<usize>, WireError> {
        let Some(&[a, b, c, d]) = bytes.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([a, b, c, d]);
        if len > self.max_len {
            return Err(WireError::TooLong {
                len,
                max: self.max_len,
            });
        }
        Ok(Some(4 + len as usize))
    }

    /// The next message whole in `front`, split off it without a copy;
    /// otherwise `front` joins `buf`.
    #[cfg(not(target_arch = "wasm32"))]
    fn next_from_front(&mut self) -> Result<Option<Message>, WireError> {
        if self.buf.is_empty() {
            if let Some(total) = self.frame_len(&self.front)? {
                if total <= self.front.len() {
                    let mut frame = self.front.split_to(total);
                    frame.advance(4);
                    return Message::parse(frame).map(Some);
                }
            }
        } else if let Some(m) = self.block_after_header()? {
            return Ok(Some(m));
        }
        self.spill();
        Ok(None)
    }

    /// A block whose header waits in `buf` and whose bytes are in `front`:
    /// senders that do not copy blocks write the header, then the block
    /// (ours do), and a data channel delivers them as two messages.
    #[cfg(not(target_arch = "wasm32"))]
    fn block_after_header(&mut self) -> Result<Option<Message>, WireError> {
        let [_, _, _, _, PIECE_ID, i0, i1, i2, i3, b0, b1, b2, b3] = self.buf[..] else {
            return Ok(None);
        };
        let Some(total) = self.frame_len(&self.buf)? else {
            return Ok(None);
        };
        let Some(rest) = total.checked_sub(BLOCK_HEADER_LEN) else {
            return Ok(None);
        };
        if rest > self.front.len() {
            return Ok(None);
        }
        self.buf.clear();
        Ok(Some(Message::Piece {
            index: u32::from_be_bytes([i0, i1, i2, i3]),
            begin: u32::from_be_bytes([b0, b1, b2, b3]),
            data: self.front.split_to(rest),
        }))
    }

    /// Takes the next complete message, if any.
    pub fn next_message(&mut self) -> Result<Option<Message>, WireError> {
        #[cfg(not(target_arch = "wasm32"))]
        if !self.front.is_empty() {
            if let Some(m) = self.next_from_front()? {
                return Ok(Some(m));
            }
        }
        let Some(total) = self.frame_len(&self.buf)? else {
            return Ok(None);
        };
        let len = total - 4;
        if self.buf.len() < total {
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        let body = self.buf.split_to(len).freeze();
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
        decode_chunks_by(chunks, |d, _, c| d.feed(c))
    }

    /// Decodes `chunks`, each fed by `feed(decoder, its index, it)`.
    fn decode_chunks_by(
        chunks: &[&[u8]],
        feed: impl Fn(&mut Decoder, usize, &[u8]),
    ) -> (Handshake, Vec<Message>) {
        let mut d = Decoder::new(1 << 20);
        let (mut hs, mut out) = (None, Vec::new());
        for (i, c) in chunks.iter().enumerate() {
            feed(&mut d, i, c);
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

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn owned_bytes_split_anywhere_give_the_same_messages() {
        let owned = |d: &mut Decoder, _: usize, c: &[u8]| d.feed_bytes(Bytes::copy_from_slice(c));
        let mixed = |d: &mut Decoder, i: usize, c: &[u8]| match i % 2 {
            0 => d.feed(c),
            _ => d.feed_bytes(Bytes::copy_from_slice(c)),
        };
        let s = stream();
        for cut in 0..s.len() {
            for cut2 in [cut, (cut + 7).min(s.len()), (cut + 90).min(s.len())] {
                let parts = [&s[..cut], &s[cut..cut2], &s[cut2..]];
                assert_eq!(
                    decode_chunks_by(&parts, owned).1,
                    sample(),
                    "at {cut}, {cut2}"
                );
                assert_eq!(
                    decode_chunks_by(&parts, mixed).1,
                    sample(),
                    "at {cut}, {cut2}"
                );
            }
        }
        let bytes: Vec<&[u8]> = s.chunks(3).collect();
        assert_eq!(decode_chunks_by(&bytes, owned).1, sample());
        assert_eq!(decode_chunks_by(&bytes, mixed).1, sample());
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn a_block_fed_owned_is_not_copied() {
        let block = |index| Message::Piece {
            index,
            begin: 16384,
            data: Bytes::from(vec![7u8; 16384]),
        };
        let mut b = BytesMut::new();
        Message::Have(1).encode(&mut b);
        block(2).encode(&mut b);
        // As our sender writes a block: what was queued and the header, then the block.
        Message::Have(3).encode(&mut b);
        b.extend_from_slice(&crate::wire::piece_header(4, 16384, 16384));
        let head = b.freeze();
        let body = Bytes::from(vec![7u8; 16384]);

        let mut d = Decoder::new(1 << 20);
        d.handshake_done = true;
        d.feed_bytes(head.clone());
        let mut got = Vec::new();
        while let Some(m) = d.next_message().unwrap() {
            got.push(m);
        }
        assert_eq!(d.buffered(), 13, "the last block's header waits");
        d.feed_bytes(body.clone());
        while let Some(m) = d.next_message().unwrap() {
            got.push(m);
        }
        assert_eq!(
            got,
            [Message::Have(1), block(2), Message::Have(3), block(4)]
        );
        assert_eq!(d.buffered(), 0);
        let data = |m: &Message| match m {
            Message::Piece { data, .. } => data.as_ptr(),
            _ => unreachable!(),
        };
        assert!(
            head.as_ptr_range().contains(&data(&got[1])),
            "a view of the fed bytes"
        );
        assert_eq!(data(&got[3]), body.as_ptr(), "the body as it came");
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

use bytes::{BufMut, Bytes, BytesMut};

use super::WireError;

/// One peer wire message (after the handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Nothing but a length of zero.
    KeepAlive,
    /// We refuse your requests.
    Choke,
    /// We take your requests.
    Unchoke,
    /// We want pieces you have.
    Interested,
    /// We want nothing from you.
    NotInterested,
    /// We have this piece now.
    Have(u32),
    /// Every piece we have (right after the handshake).
    Bitfield(Bytes),
    /// Asks for a block.
    Request {
        /// The piece.
        index: u32,
        /// Byte offset in it.
        begin: u32,
        /// Bytes.
        len: u32,
    },
    /// A block's bytes.
    Piece {
        /// The piece.
        index: u32,
        /// Byte offset in it.
        begin: u32,
        /// The bytes.
        data: Bytes,
    },
    /// Withdraws a request.
    Cancel {
        /// The piece.
        index: u32,
        /// Byte offset in it.
        begin: u32,
        /// Bytes.
        len: u32,
    },
    /// A DHT port (ignored).
    Port(u16),
    /// BEP 6: a piece worth asking for.
    Suggest(u32),
    /// BEP 6: we have every piece.
    HaveAll,
    /// BEP 6: we have none.
    HaveNone,
    /// BEP 6: a request refused.
    Reject {
        /// The piece.
        index: u32,
        /// Byte offset in it.
        begin: u32,
        /// Bytes.
        len: u32,
    },
    /// BEP 6: a piece you may request while choked.
    AllowedFast(u32),
    /// BEP 10: an extension message.
    Extended {
        /// 0: the extension handshake; else the id the receiver assigned.
        id: u8,
        /// The message.
        payload: Bytes,
    },
}

/// The `piece` message's id.
pub(crate) const PIECE_ID: u8 = 7;

/// A block's header: length prefix, id, index, offset.
pub(crate) const BLOCK_HEADER_LEN: usize = 13;

/// The bytes that precede a block's data in a `piece` message; hosts send
/// them and the block as two writes so the block is never copied.
pub fn piece_header(index: u32, begin: u32, data_len: u32) -> [u8; BLOCK_HEADER_LEN] {
    let mut h = [0u8; BLOCK_HEADER_LEN];
    h[..4].copy_from_slice(&(9 + data_len).to_be_bytes());
    h[4] = PIECE_ID;
    h[5..9].copy_from_slice(&index.to_be_bytes());
    h[9..13].copy_from_slice(&begin.to_be_bytes());
    h
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Message {
    /// Parses a message body (length prefix already removed).
    pub(crate) fn parse(mut body: Bytes) -> Result<Message, WireError> {
        if body.is_empty() {
            return Ok(Message::KeepAlive);
        }
        let id = body[0];
        let payload = body.split_off(1);
        let n = payload.len();
        let bad = || WireError::BadMessage { id, len: n as u32 };
        let fixed = |want: usize| if n == want { Ok(()) } else { Err(bad()) };
        let triple = |p: &Bytes| (be32(&p[0..4]), be32(&p[4..8]), be32(&p[8..12]));
        Ok(match id {
            0 => fixed(0).map(|_| Message::Choke)?,
            1 => fixed(0).map(|_| Message::Unchoke)?,
            2 => fixed(0).map(|_| Message::Interested)?,
            3 => fixed(0).map(|_| Message::NotInterested)?,
            4 => fixed(4).map(|_| Message::Have(be32(&payload)))?,
            5 => Message::Bitfield(payload),
            6 | 8 | 16 => {
                fixed(12)?;
                let (index, begin, len) = triple(&payload);
                match id {
                    6 => Message::Request { index, begin, len },
                    8 => Message::Cancel { index, begin, len },
                    _ => Message::Reject { index, begin, len },
                }
            }
            PIECE_ID => {
                if n < 8 {
                    return Err(bad());
                }
                let (index, begin) = (be32(&payload[0..4]), be32(&payload[4..8]));
                Message::Piece {
                    index,
                    begin,
                    data: payload.slice(8..),
                }
            }
            9 => fixed(2).map(|_| Message::Port(u16::from_be_bytes([payload[0], payload[1]])))?,
            13 => fixed(4).map(|_| Message::Suggest(be32(&payload)))?,
            14 => fixed(0).map(|_| Message::HaveAll)?,
            15 => fixed(0).map(|_| Message::HaveNone)?,
            17 => fixed(4).map(|_| Message::AllowedFast(be32(&payload)))?,
            20 => {
                if n < 1 {
                    return Err(bad());
                }
                Message::Extended {
                    id: payload[0],
                    payload: payload.slice(1..),
                }
            }
            other => return Err(WireError::UnknownId(other)),
        })
    }

    /// Appends the length-prefixed encoding to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let simple = |out: &mut BytesMut, id: u8| {
            out.put_u32(1);
            out.put_u8(id);
        };
        let one = |out: &mut BytesMut, id: u8, v: u32| {
            out.put_u32(5);
            out.put_u8(id);
            out.put_u32(v);
        };
        let triple = |out: &mut BytesMut, id: u8, a: u32, b: u32, c: u32| {
            out.put_u32(13);
            out.put_u8(id);
            out.put_u32(a);
            out.put_u32(b);
            out.put_u32(c);
        };
        match self {
            Message::KeepAlive => out.put_u32(0),
            Message::Choke => simple(out, 0),
            Message::Unchoke => simple(out, 1),
            Message::Interested => simple(out, 2),
            Message::NotInterested => simple(out, 3),
            Message::Have(i) => one(out, 4, *i),
            Message::Bitfield(b) => {
                out.put_u32(1 + b.len() as u32);
                out.put_u8(5);
                out.put_slice(b);
            }
            Message::Request { index, begin, len } => triple(out, 6, *index, *begin, *len),
            Message::Piece { index, begin, data } => {
                out.put_slice(&piece_header(*index, *begin, data.len() as u32));
                out.put_slice(data);
            }
            Message::Cancel { index, begin, len } => triple(out, 8, *index, *begin, *len),
            Message::Port(p) => {
                out.put_u32(3);
                out.put_u8(9);
                out.put_u16(*p);
            }
            Message::Suggest(i) => one(out, 13, *i),
            Message::HaveAll => simple(out, 14),
            Message::HaveNone => simple(out, 15),
            Message::Reject { index, begin, len } => triple(out, 16, *index, *begin, *len),
            Message::AllowedFast(i) => one(out, 17, *i),
            Message::Extended { id, payload } => {
                out.put_u32(2 + payload.len() as u32);
                out.put_u8(20);
                out.put_u8(*id);
                out.put_slice(payload);
            }
        }
    }

    /// The encoded message, length prefix included.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

//! WebSocket frames (RFC 6455) as a server reads and writes them, without
//! I/O. The decoder keeps only the bytes of the frame or message still
//! incomplete and gives its buffer back once it is empty: an idle connection
//! holds no buffer, whatever size its last message was (tungstenite kept its
//! largest message's buffer for the life of the connection: 8-16 KB per idle
//! connection in tracker-bench).

/// A complete message or control frame from the client.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Text(String),
    /// Binary data (the tracker speaks JSON text only; the length is enough
    /// to say so).
    Binary(usize),
    Ping(Vec<u8>),
    Pong,
    /// The client is closing (code and reason, if it sent them).
    Close(Option<(u16, String)>),
}

/// Why the connection must close; `code()` is the close code to send.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("message over the tracker's size limit")]
    TooBig,
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("text that is not UTF-8")]
    BadUtf8,
}

impl FrameError {
    pub fn code(&self) -> u16 {
        match self {
            FrameError::TooBig => 1009,
            FrameError::Protocol(_) => 1002,
            FrameError::BadUtf8 => 1007,
        }
    }
}

pub struct Decoder {
    max: usize,
    /// Received bytes; those before `start` are decoded.
    buf: Vec<u8>,
    start: usize,
    /// A fragmented message so far: text or not, and its payload.
    partial: Option<(bool, Vec<u8>)>,
}

/// A parsed frame header.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header length and payload length.
    at: usize,
    len: usize,
}

/// XORs `payload` with the client's mask, eight bytes at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let [a, b, c, d] = mask;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut v = [0; 8];
        v.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(v) ^ wide).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8: the mask's phase is 0 again.
    for (i, x) in chunks.into_remainder().iter_mut().enumerate() {
        *x ^= mask[i % 4];
    }
}

impl Decoder {
    /// Messages (and frames) over `max` bytes are refused.
    pub fn new(max: usize) -> Self {
        Decoder {
            max,
            buf: Vec::new(),
            start: 0,
            partial: None,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        // Decoded bytes go only now: moving the rest after every frame cost
        // a copy per frame of everything behind it.
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            let Some(h) = self.header()? else {
                return Ok(None);
            };
            let (from, to) = (self.start + h.at, self.start + h.at + h.len);
            if self.buf.len() < to {
                return Ok(None);
            }
            let mut payload = self.buf[from..to].to_vec();
            self.start = to;
            if self.start == self.buf.len() {
                (self.buf, self.start) = (Vec::new(), 0);
            }
            unmask(&mut payload, h.mask);
            if let Some(f) = self.frame(&h, payload)? {
                return Ok(Some(f));
            }
        }
    }

    fn header(&self) -> Result<Option<Header>, FrameError> {
        let b = &self.buf[self.start..];
        if b.len() < 2 {
            return Ok(None);
        }
        if b[0] & 0x70 != 0 {
            return Err(FrameError::Protocol(
                "reserved bits set (no extension was agreed)",
            ));
        }
        if b[1] & 0x80 == 0 {
            return Err(FrameError::Protocol("client frames must be masked"));
        }
        let (len, at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap_or([0xff; 8])),
                10,
            ),
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        let opcode = b[0] & 0x0f;
        if opcode >= 8 && (len > 125 || b[0] & 0x80 == 0) {
            return Err(FrameError::Protocol("control frames are short and whole"));
        }
        let pending = self.partial.as_ref().map_or(0, |(_, p)| p.len()) as u64;
        if len > self.max as u64 || (opcode < 8 && pending + len > self.max as u64) {
            return Err(FrameError::TooBig);
        }
        if b.len() < at + 4 {
            return Ok(None);
        }
        Ok(Some(Header {
            fin: b[0] & 0x80 != 0,
            opcode,
            mask: [b[at], b[at + 1], b[at + 2], b[at + 3]],
            at: at + 4,
            len: len as usize,
        }))
    }

    /// A frame's meaning; `None` for a fragment of a message still incomplete.
    fn frame(&mut self, h: &Header, payload: Vec<u8>) -> Result<Option<Frame>, FrameError> {
        let (text, data) = match (h.opcode, self.partial.take()) {
            (0, Some((text, mut so_far))) => {
                so_far.extend_from_slice(&payload);
                (text, so_far)
            }
            (0, None) => return Err(FrameError::Protocol("continuation of no message")),
            (1 | 2, Some(_)) => {
                return Err(FrameError::Protocol("new message inside a fragmented one"))
            }
            (1, None) => (true, payload),
            (2, None) => (false, payload),
            (8, partial) => {
                self.partial = partial;
                return close(payload).map(Some);
            }
            (9, partial) => {
                self.partial = partial;
                return Ok(Some(Frame::Ping(payload)));
            }
            (10, partial) => {
                self.partial = partial;
                return Ok(Some(Frame::Pong));
            }
            _ => return Err(FrameError::Protocol("unknown opcode")),
        };
        if !h.fin {
            self.partial = Some((text, data));
            return Ok(None);
        }
        if !text {
            return Ok(Some(Frame::Binary(data.len())));
        }
        String::from_utf8(data)
            .map(|s| Some(Frame::Text(s)))
            .map_err(|_| FrameError::BadUtf8)
    }
}

fn close(payload: Vec<u8>) -> Result<Frame, FrameError> {
    match payload.len() {
        0 => Ok(Frame::Close(None)),
        1 => Err(FrameError::Protocol("a close frame's code takes two bytes")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let reason =
                String::from_utf8(payload[2..].to_vec()).map_err(|_| FrameError::BadUtf8)?;
            Ok(Frame::Close(Some((code, reason))))
        }
    }
}

fn header(out: &mut Vec<u8>, first: u8, len: usize) {
    out.push(first);
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// Appends a text frame (servers do not mask).
pub fn text(out: &mut Vec<u8>, s: &str) {
    header(out, 0x81, s.len());
    out.extend_from_slice(s.as_bytes());
}

pub fn close_frame(out: &mut Vec<u8>, code: u16, reason: &str) {
    let reason = &reason.as_bytes()[..reason.len().min(123)];
    header(out, 0x88, 2 + reason.len());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(reason);
}

pub fn pong(out: &mut Vec<u8>, payload: &[u8]) {
    header(out, 0x8a, payload.len().min(125));
    out.extend_from_slice(&payload[..payload.len().min(125)]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A client frame: masked, as browsers send.
    fn client(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        header(&mut out, first, payload.len());
        out[1] |= 0x80;
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    fn decode_all(d: &mut Decoder) -> Result<Vec<Frame>, FrameError> {
        let mut v = Vec::new();
        while let Some(f) = d.next_frame()? {
            v.push(f);
        }
        Ok(v)
    }

    #[test]
    fn messages_whole_fragmented_and_byte_by_byte() {
        let big = "x".repeat(70_000);
        let mut bytes = client(0x81, b"hello");
        bytes.extend(client(0x01, b"hel"));
        bytes.extend(client(0x89, b"p")); // a ping between fragments
        bytes.extend(client(0x80, "lo é".as_bytes()));
        bytes.extend(client(0x81, big.as_bytes()));
        bytes.extend(client(0x82, &[1, 2, 3]));
        bytes.extend(client(0x88, &[0x03, 0xe8, b'o', b'k']));
        let expected = vec![
            Frame::Text("hello".into()),
            Frame::Ping(b"p".to_vec()),
            Frame::Text("hello é".into()),
            Frame::Text(big),
            Frame::Binary(3),
            Frame::Close(Some((1000, "ok".into()))),
        ];
        let mut d = Decoder::new(100_000);
        d.feed(&bytes);
        assert_eq!(decode_all(&mut d).unwrap(), expected);
        assert_eq!(d.buf.capacity(), 0, "nothing kept once decoded");
        let mut d = Decoder::new(100_000);
        let mut got = Vec::new();
        for b in &bytes {
            d.feed(&[*b]);
            got.extend(decode_all(&mut d).unwrap());
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn what_a_server_must_refuse() {
        let cases: [(Vec<u8>, u16); 8] = [
            (
                {
                    let mut f = client(0x81, b"hi");
                    f[1] &= 0x7f;
                    f
                },
                1002,
            ), // unmasked
            (client(0xc1, b"hi"), 1002),         // RSV1
            (client(0x83, b"hi"), 1002),         // opcode 3
            (client(0x80, b"hi"), 1002),         // continuation of nothing
            (client(0x09, b"hi"), 1002),         // fragmented ping
            (client(0x89, &[0; 126]), 1002),     // long ping
            (client(0x81, &[0xff, 0xfe]), 1007), // not UTF-8
            (client(0x81, &[b'a'; 2000]), 1009), // over the limit
        ];
        for (bytes, code) in cases {
            let mut d = Decoder::new(1000);
            d.feed(&bytes);
            assert_eq!(
                decode_all(&mut d).map_err(|e| e.code()),
                Err(code),
                "{bytes:02x?}"
            );
        }
        // A message over the limit in fragments, refused before it is all in.
        let mut d = Decoder::new(1000);
        d.feed(&client(0x01, &[b'a'; 600]));
        d.feed(&client(0x00, &[b'a'; 600])[..20]);
        assert_eq!(decode_all(&mut d), Err(FrameError::TooBig));
        // A length claimed over the limit is refused from its header alone.
        let mut d = Decoder::new(1000);
        d.feed(&[0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::TooBig));
    }

    #[test]
    fn written_frames_are_what_a_client_reads() {
        let mut out = Vec::new();
        text(&mut out, &"y".repeat(300));
        assert_eq!(&out[..4], &[0x81, 126, 0x01, 0x2c]);
        let mut out = Vec::new();
        close_frame(&mut out, 1008, "send queue full");
        assert_eq!(&out[..4], &[0x88, 17, 0x03, 0xf0]);
    }

    proptest! {
        #[test]
        fn any_bytes_in_any_chunks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
            let mut d = Decoder::new(256);
            let cut = cut.min(bytes.len());
            d.feed(&bytes[..cut]);
            let _ = decode_all(&mut d);
            d.feed(&bytes[cut..]);
            let _ = decode_all(&mut d);
        }

        #[test]
        fn texts_fed_in_any_chunks_come_out_whole(texts in proptest::collection::vec("\\PC{0,300}", 1..6), cut in 0usize..2000) {
            let bytes: Vec<u8> = texts.iter().flat_map(|t| client(0x81, t.as_bytes())).collect();
            let mut d = Decoder::new(100_000);
            let cut = cut.min(bytes.len());
            d.feed(&bytes[..cut]);
            let mut got = decode_all(&mut d).unwrap();
            d.feed(&bytes[cut..]);
            got.extend(decode_all(&mut d).unwrap());
            let want: Vec<Frame> = texts.into_iter().map(Frame::Text).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(d.buf.capacity(), 0);
        }
    }
}

//! The work the module hands to its JS layer, as one byte stream: an op code,
//! then little-endian `u32`s, `f64`s and length-prefixed byte strings. The
//! decoder is `run` in `web/js/index.js`; the two change together.

/// Op codes. JS numbers them the same way.
pub mod code {
    /// conn, bytes: send on the data channel.
    pub const SEND: u8 = 1;
    /// handle: close the peer connection (open, connecting or an offer).
    pub const CLOSE: u8 = 2;
    /// torrent, piece, len: read the stored piece; answer `piece_read`.
    pub const READ: u8 = 3;
    /// torrent, piece, piece size, offset, bytes: keep a block of an unchecked piece.
    pub const STORE: u8 = 4;
    /// torrent, piece, hash: hash, store if right; answer `checked`.
    pub const CHECK: u8 = 5;
    /// torrent, webseed, piece, offset, len, n, n × (url, start f64, end f64, dest):
    /// HTTP ranges; answer `fetched`.
    pub const FETCH: u8 = 6;
    /// torrent, info bytes: keep the info dictionary, open storage; answer `opened`.
    pub const OPEN: u8 = 7;
    /// torrent, bitfield: record the verified pieces; answer `saved`.
    pub const SAVE: u8 = 8;
    /// torrent, kind, number, text: tell the page (see [`note`]).
    pub const NOTE: u8 = 9;
    /// tracker, url: open the WebSocket; answer `ws_opened` / `ws_closed`.
    pub const WS_OPEN: u8 = 10;
    /// tracker: close the WebSocket.
    pub const WS_CLOSE: u8 = 11;
    /// tracker, text: send a frame.
    pub const WS_SEND: u8 = 12;
    /// handle: make an offer; answer `offer_made`.
    pub const OFFER: u8 = 13;
    /// handle, sdp: answer this offer; answer `answer_made`, then `rtc_open`.
    pub const ANSWER: u8 = 14;
    /// handle, sdp: apply the remote's answer to our offer; then `rtc_open`.
    pub const ACCEPT: u8 = 15;
}

/// `NOTE` kinds.
pub mod note {
    pub const READY: u32 = 1;
    pub const PEERS: u32 = 2;
    pub const VERIFIED: u32 = 3;
    pub const DONE: u32 = 4;
    pub const WARNING: u32 = 5;
    pub const ERROR: u32 = 6;
}

#[derive(Default)]
pub struct Out(pub Vec<u8>);

impl Out {
    pub fn op(&mut self, code: u8) -> &mut Self {
        self.0.push(code);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
        self
    }
}

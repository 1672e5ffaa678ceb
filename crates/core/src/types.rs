//! Identifiers, typed indices and the clock type shared by every module.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// SHA-1 of a torrent's bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// A peer's 20-byte BitTorrent id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

macro_rules! id20 {
    ($t:ident) => {
        impl $t {
            /// Lowercase hex.
            pub fn to_hex(&self) -> String {
                crate::util::hex_encode(&self.0)
            }
            /// From 40 hex digits (either case).
            pub fn from_hex(s: &str) -> Option<Self> {
                crate::util::hex_decode(s)
                    .and_then(|v| <[u8; 20]>::try_from(v).ok())
                    .map($t)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.to_hex())
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}
id20!(InfoHash);
id20!(PeerId);

/// The standard request size; BEP 3 peers drop requests above 128 KiB.
pub const BLOCK_SIZE: u32 = 16 * 1024;
/// Largest block a remote peer may request from us.
pub const MAX_REQUEST_LEN: u32 = 128 * 1024;

/// Index of a piece that exists in the torrent (constructed by [`Layout`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PieceIndex(u32);

impl PieceIndex {
    /// The index.
    pub fn get(self) -> u32 {
        self.0
    }
    /// The index, for slicing.
    pub fn usize(self) -> usize {
        self.0 as usize
    }
}

/// A byte range inside one piece, already checked against the layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BlockRef {
    /// The piece it is in.
    pub piece: PieceIndex,
    /// Byte offset in the piece.
    pub offset: u32,
    /// Bytes.
    pub len: u32,
}

impl BlockRef {
    /// Index of a standard 16 KiB block within its piece.
    pub fn block_index(&self) -> u32 {
        self.offset / BLOCK_SIZE
    }
}

/// Piece geometry of a torrent: total length and piece length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    total_len: u64,
    piece_len: u32,
    num_pieces: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why a piece geometry is impossible.
pub enum LayoutError {
    /// The piece length is zero or not a multiple of 16 KiB.
    #[error("piece length {0} is not a positive multiple of 16 KiB")]
    BadPieceLength(u64),
    /// The torrent is empty.
    #[error("a torrent must contain at least one byte")]
    Empty,
    /// Too many pieces for a 32-bit index.
    #[error("torrent of {0} bytes has more pieces than fit in 32 bits")]
    TooManyPieces(u64),
}

impl Layout {
    /// Checks the geometry: `piece_len` a positive multiple of 16 KiB, at least one byte, fewer than 2³² pieces.
    pub fn new(total_len: u64, piece_len: u64) -> Result<Self, LayoutError> {
        if piece_len == 0 || piece_len % u64::from(BLOCK_SIZE) != 0 || piece_len > 1 << 30 {
            return Err(LayoutError::BadPieceLength(piece_len));
        }
        if total_len == 0 {
            return Err(LayoutError::Empty);
        }
        let num_pieces = u32::try_from(total_len.div_ceil(piece_len))
            .map_err(|_| LayoutError::TooManyPieces(total_len))?;
        Ok(Layout {
            total_len,
            // piece_len <= 1 GiB was checked above.
            piece_len: piece_len as u32,
            num_pieces,
        })
    }
    /// Bytes in the torrent.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }
    /// Bytes per piece (the last may be shorter).
    pub fn piece_len(&self) -> u32 {
        self.piece_len
    }
    /// Pieces in the torrent.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }
    /// The piece at `index`, if there is one.
    pub fn piece(&self, index: u32) -> Option<PieceIndex> {
        (index < self.num_pieces).then_some(PieceIndex(index))
    }
    /// Every piece, in order.
    pub fn pieces(&self) -> impl Iterator<Item = PieceIndex> + 'static {
        (0..self.num_pieces).map(PieceIndex)
    }
    /// Where piece `p` starts in the torrent.
    pub fn piece_offset(&self, p: PieceIndex) -> u64 {
        u64::from(p.0) * u64::from(self.piece_len)
    }
    /// Bytes in piece `p`.
    pub fn piece_size(&self, p: PieceIndex) -> u32 {
        let rest = self.total_len - self.piece_offset(p);
        // rest is positive for a valid index and the min is at most piece_len.
        rest.min(u64::from(self.piece_len)) as u32
    }
    /// 16 KiB blocks in piece `p` (the last may be shorter).
    pub fn blocks_in(&self, p: PieceIndex) -> u32 {
        self.piece_size(p).div_ceil(BLOCK_SIZE)
    }
    /// The `i`-th standard block of a piece.
    pub fn block(&self, p: PieceIndex, i: u32) -> BlockRef {
        let offset = i * BLOCK_SIZE;
        let len = (self.piece_size(p) - offset).min(BLOCK_SIZE);
        BlockRef {
            piece: p,
            offset,
            len,
        }
    }
    /// Checks a range a peer named; requests may be any size up to 128 KiB.
    pub fn check_range(&self, piece: u32, offset: u32, len: u32) -> Option<BlockRef> {
        let p = self.piece(piece)?;
        let end = offset.checked_add(len)?;
        (len > 0 && len <= MAX_REQUEST_LEN && end <= self.piece_size(p)).then_some(BlockRef {
            piece: p,
            offset,
            len,
        })
    }
    /// Pieces overlapping the byte range `[start, end)` of the whole torrent.
    pub fn pieces_in_range(&self, start: u64, end: u64) -> std::ops::Range<u32> {
        let end = end.min(self.total_len);
        if start >= end {
            return 0..0;
        }
        let pl = u64::from(self.piece_len);
        // Both quotients are below num_pieces, which is a u32.
        (start / pl) as u32..end.div_ceil(pl) as u32
    }
}

/// A point in time, in microseconds from an origin the host chooses. The
/// engine never reads a clock: the host passes `Time` with every input.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Time(u64);

impl Time {
    /// The clock's origin.
    pub const ZERO: Time = Time(0);
    /// `us` microseconds after the origin.
    pub fn from_micros(us: u64) -> Self {
        Time(us)
    }
    /// `ms` milliseconds after the origin.
    pub fn from_millis(ms: u64) -> Self {
        Time(ms.saturating_mul(1000))
    }
    /// Microseconds since the origin.
    pub fn as_micros(self) -> u64 {
        self.0
    }
    /// How long after `earlier` this is (zero if before).
    pub fn saturating_since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        )
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, rhs: Time) -> Duration {
        self.saturating_since(rhs)
    }
}

/// The engine's handle for one connection; assigned by the engine, never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct PeerKey(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn layout_handles_sizes_above_4_gib_and_short_last_piece() {
        let total = 5 * (1u64 << 30) + 1000;
        let l = Layout::new(total, 1 << 20).unwrap();
        assert_eq!(l.num_pieces(), 5 * 1024 + 1);
        let last = l.piece(l.num_pieces() - 1).unwrap();
        assert_eq!(l.piece_size(last), 1000);
        assert_eq!(l.blocks_in(last), 1);
        assert_eq!(l.block(last, 0).len, 1000);
        assert_eq!(l.piece_offset(last), 5 * (1u64 << 30));
        assert!(l.piece(l.num_pieces()).is_none());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn check_range_refuses_out_of_bounds_and_oversized() {
        let l = Layout::new(100_000, 32768).unwrap();
        assert!(l.check_range(0, 0, 16384).is_some());
        assert!(l.check_range(3, 0, 1696).is_some());
        assert!(l.check_range(3, 0, 1697).is_none());
        assert!(l.check_range(4, 0, 1).is_none());
        assert!(l.check_range(0, u32::MAX, 2).is_none());
        assert!(l.check_range(0, 0, 0).is_none());
        assert!(Layout::new(10, 1000).is_err());
        assert_eq!(l.pieces_in_range(32767, 32769), 0..2);
    }
}

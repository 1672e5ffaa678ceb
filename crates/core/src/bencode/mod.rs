//! Bencode (BEP 3): a borrowing decoder that keeps the raw bytes of every
//! dictionary (the info-hash is computed over the exact bytes received), and an
//! encoder for building documents.

mod decode;
mod encode;

pub use decode::{decode, decode_prefix, Dict, Value};
pub use encode::{encode, OwnedValue};

/// Why a bencoded document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    /// The input ended inside a value (at this offset).
    #[error("bencode ended early at byte {0}")]
    UnexpectedEnd(usize),
    /// A byte that cannot start or continue a value.
    #[error("unexpected byte {byte:#04x} at offset {offset} in bencode")]
    UnexpectedByte {
        /// The byte found.
        byte: u8,
        /// Where.
        offset: usize,
    },
    /// An integer with no digits, a leading zero, `-0`, or out of range.
    #[error("malformed bencode integer at offset {0}")]
    BadInteger(usize),
    /// A string length that is malformed or runs past the input.
    #[error("bencode string length at offset {0} is malformed or past the end")]
    BadLength(usize),
    /// Lists and dictionaries nested deeper than allowed.
    #[error("bencode nests deeper than {0} levels")]
    TooDeep(usize),
    /// A dictionary key that appears twice.
    #[error("bencode dictionary key at offset {0} is repeated")]
    DuplicateKey(usize),
    /// Bytes left after the one top-level value.
    #[error("{0} trailing bytes after the bencode value")]
    TrailingBytes(usize),
}

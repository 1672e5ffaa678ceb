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
    #[error("bencode ended early at byte {0}")]
    UnexpectedEnd(usize),
    #[error("unexpected byte {byte:#04x} at offset {offset} in bencode")]
    UnexpectedByte { byte: u8, offset: usize },
    #[error("malformed bencode integer at offset {0}")]
    BadInteger(usize),
    #[error("bencode string length at offset {0} is malformed or past the end")]
    BadLength(usize),
    #[error("bencode nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("bencode dictionary key at offset {0} is repeated")]
    DuplicateKey(usize),
    #[error("{0} trailing bytes after the bencode value")]
    TrailingBytes(usize),
}

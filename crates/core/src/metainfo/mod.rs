//! .torrent files (BEP 3 v1, BEP 12 announce-list, BEP 19 url-list, BEP 27 private):
//! parsing, the file layout, and creating new torrents.

mod create;
mod files;
mod parse;

pub use create::{auto_piece_length, TorrentCreator};
pub use files::{FileEntry, FileSlice};
pub use parse::{Info, Metainfo};

/// Why a torrent or info dictionary was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    /// The file is not bencode.
    #[error("not valid bencode: {0}")]
    Bencode(#[from] crate::bencode::BencodeError),
    /// A required field is missing or of the wrong type.
    #[error("torrent field `{0}` is missing or has the wrong type")]
    Field(&'static str),
    /// A field has a value that cannot be right.
    #[error("torrent field `{0}` has an invalid value")]
    Invalid(&'static str),
    /// A file path that could escape the download directory.
    #[error("file path {0:?} is unsafe (empty, `..`, or contains a separator)")]
    UnsafePath(String),
    /// The piece hashes do not match the length.
    #[error("torrent has {have} piece hashes but its {len} bytes need {need}")]
    PieceCount {
        /// Hashes given.
        have: usize,
        /// Hashes the length needs.
        need: u32,
        /// The torrent's length.
        len: u64,
    },
    /// The piece length or total length is impossible.
    #[error(transparent)]
    Layout(#[from] crate::types::LayoutError),
    /// The info dictionary does not hash to the expected info-hash.
    #[error("info dictionary does not match the info-hash")]
    HashMismatch,
}

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
    #[error("not valid bencode: {0}")]
    Bencode(#[from] crate::bencode::BencodeError),
    #[error("torrent field `{0}` is missing or has the wrong type")]
    Field(&'static str),
    #[error("torrent field `{0}` has an invalid value")]
    Invalid(&'static str),
    #[error("file path {0:?} is unsafe (empty, `..`, or contains a separator)")]
    UnsafePath(String),
    #[error("torrent has {have} piece hashes but its {len} bytes need {need}")]
    PieceCount { have: usize, need: u32, len: u64 },
    #[error(transparent)]
    Layout(#[from] crate::types::LayoutError),
    #[error("info dictionary does not match the info-hash")]
    HashMismatch,
}

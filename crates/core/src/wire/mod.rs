//! The peer wire protocol as a byte stream: BEP 3 handshake and messages, BEP 6
//! fast extension, BEP 10 extension protocol with BEP 9 ut_metadata and lt_donthave.
//!
//! Values here are as received: piece indices are plain `u32`s until the engine
//! checks them against the torrent's [`crate::Layout`].

mod decoder;
mod extended;
mod handshake;
mod message;

pub use decoder::Decoder;
pub use extended::{
    ExtendedHandshake, MetadataMessage, MetadataMsgType, LOCAL_LT_DONTHAVE, LOCAL_UT_METADATA,
};
pub use handshake::{Handshake, HANDSHAKE_LEN};
pub use message::{piece_header, Message};

/// Why a peer's bytes were refused; the connection is closed with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("handshake does not start with the BitTorrent protocol string")]
    BadProtocol,
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLong { len: u32, max: u32 },
    #[error("message id {id} with a {len}-byte payload is malformed")]
    BadMessage { id: u8, len: u32 },
    #[error("unknown message id {0}")]
    UnknownId(u8),
    #[error("extension message is malformed: {0}")]
    BadExtension(&'static str),
}

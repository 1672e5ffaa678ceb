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
#[cfg(not(target_arch = "wasm32"))]
pub use extended::LOCAL_UT_PEX;
pub use extended::{
    ExtendedHandshake, MetadataMessage, MetadataMsgType, LOCAL_LT_DONTHAVE, LOCAL_UT_METADATA,
};
pub use handshake::{Handshake, HANDSHAKE_LEN};
pub use message::{piece_header, Message};

/// Why a peer's bytes were refused; the connection is closed with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The stream did not start with the BitTorrent handshake.
    #[error("handshake does not start with the BitTorrent protocol string")]
    BadProtocol,
    /// A length prefix over the limit.
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLong {
        /// Its length prefix.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A payload of the wrong length for its message.
    #[error("message id {id} with a {len}-byte payload is malformed")]
    BadMessage {
        /// The message id.
        id: u8,
        /// Its payload length.
        len: u32,
    },
    /// A message id nobody defined.
    #[error("unknown message id {0}")]
    UnknownId(u8),
    /// An extension message that does not parse.
    #[error("extension message is malformed: {0}")]
    BadExtension(&'static str),
}

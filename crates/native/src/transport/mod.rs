//! How peers reach each other. The engine and the swarm logic see only these
//! traits, so another WebRTC stack (or plain TCP) can be added without
//! touching them; [`webrtc_rs`] is the implementation on the `webrtc` crate.

pub mod runtime;
pub mod sdp;
pub mod webrtc_rs;
pub mod window;

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("WebRTC: {0}")]
    Rtc(String),
    #[error("the remote description is not valid SDP: {0}")]
    BadSdp(String),
    #[error("connection did not open within {0:?}")]
    Timeout(std::time::Duration),
    #[error("connection closed")]
    Closed,
}

/// A reliable, ordered pipe of messages to one peer (a data channel). The
/// BitTorrent stream is carried in its messages, split anywhere.
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// Sends bytes; waits while the channel's send buffer is full, which is
    /// the back-pressure that keeps a slow peer from filling our memory.
    async fn send(&self, data: Bytes) -> Result<(), TransportError>;
    /// The next received message, or `None` once the channel has closed.
    async fn recv(&self) -> Option<Bytes>;
    async fn close(&self);
}

/// An offer waiting for its answer.
pub trait PendingOffer: Send + 'static {
    /// The complete SDP (ICE candidates included: no trickle).
    fn sdp(&self) -> &str;
    /// Applies the remote answer; resolves when the channel is open.
    fn connect(
        self: Box<Self>,
        answer_sdp: String,
    ) -> BoxFuture<Result<Box<dyn Channel>, TransportError>>;
}

/// Our answer to a remote offer and the channel it will open.
pub struct Answer {
    pub sdp: String,
    pub channel: BoxFuture<Result<Box<dyn Channel>, TransportError>>,
    /// Becomes `true` once the remote has answered connectivity checks: a
    /// real peer, not an offer naming addresses nobody listens on.
    pub reachable: tokio::sync::watch::Receiver<bool>,
}

#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Creates an offer whose data channel the remote peer will accept.
    async fn offer(&self) -> Result<Box<dyn PendingOffer>, TransportError>;
    /// Answers a remote offer.
    async fn answer(&self, offer_sdp: String) -> Result<Answer, TransportError>;
}

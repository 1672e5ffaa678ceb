//! A TCP or uTP connection as a [`Channel`]: the BitTorrent stream is the
//! same on a data channel, TCP and uTP, so the torrent task and its peer
//! links take any of them. Reads return what the socket has (up to 64 KiB);
//! writes wait for the send buffer (the kernel's, or uTP's window), which is
//! the back-pressure. Each half goes through the cipher Message Stream
//! Encryption selected (none: plaintext).

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use librqbit_utp::{UtpStream, UtpStreamReadHalf, UtpStreamWriteHalf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Mutex};

use super::mse::{Decrypting, Encrypting, Negotiated};
use crate::transport::{Channel, TransportError};

const READ_CHUNK: usize = 64 << 10;

/// A byte stream's two halves behind the `Channel` contract.
pub struct StreamChannel<R, W> {
    read: Mutex<(R, Option<Bytes>)>,
    write: Mutex<W>,
    closed: AtomicBool,
    /// Wakes a reader or writer waiting on a peer when the link is closed;
    /// also tells a watcher (the dialer) that the connection is gone.
    done: watch::Sender<bool>,
}

pub type TcpChannel = StreamChannel<Decrypting<OwnedReadHalf>, Encrypting<OwnedWriteHalf>>;
pub type UtpChannel = StreamChannel<Decrypting<UtpStreamReadHalf>, Encrypting<UtpStreamWriteHalf>>;

impl TcpChannel {
    /// `prefix`: bytes already read (and decrypted) from the stream (an
    /// incoming handshake, read to find its torrent), handed out by the
    /// first `recv`; `cipher`: what MSE selected.
    pub fn tcp(stream: TcpStream, prefix: Option<Bytes>, cipher: Negotiated) -> Self {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        Self::from_halves(r, w, prefix, cipher)
    }
}

impl UtpChannel {
    /// As [`TcpChannel::tcp`].
    pub fn utp(stream: UtpStream, prefix: Option<Bytes>, cipher: Negotiated) -> Self {
        let (r, w) = stream.split();
        Self::from_halves(r, w, prefix, cipher)
    }
}

impl<R, W> StreamChannel<Decrypting<R>, Encrypting<W>> {
    fn from_halves(r: R, w: W, prefix: Option<Bytes>, cipher: Negotiated) -> Self {
        let (r, w) = (
            Decrypting::new(r, cipher.read),
            Encrypting::new(w, cipher.write),
        );
        StreamChannel {
            read: Mutex::new((r, prefix)),
            write: Mutex::new(w),
            closed: AtomicBool::new(false),
            done: watch::channel(false).0,
        }
    }
}

impl<R, W> StreamChannel<R, W> {
    /// Resolves once the connection is closed or has failed.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.done.subscribe()
    }

    fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        self.done.send_replace(true);
    }
}

async fn until_closed(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|&c| c).await;
}

#[async_trait]
impl<R, W> Channel for StreamChannel<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn send(&self, data: Bytes) -> Result<(), TransportError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TransportError::Closed);
        }
        tracing::trace!(
            "stream out {}: {:02x?}",
            data.len(),
            &data[..data.len().min(48)]
        );
        let mut w = self.write.lock().await;
        // The flush finishes an encrypted write (the cipher's buffer); it
        // does not flush the socket.
        let r = tokio::select! {
            r = async { w.write_all(&data).await?; w.flush().await } => r,
            _ = until_closed(self.done.subscribe()) => return Err(TransportError::Closed),
        };
        r.map_err(|_| {
            self.mark_closed();
            TransportError::Closed
        })
    }

    async fn recv(&self) -> Option<Bytes> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut guard = self.read.lock().await;
        let (r, prefix) = &mut *guard;
        if let Some(p) = prefix.take() {
            return Some(p);
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let n = tokio::select! {
            n = r.read_buf(&mut buf) => n,
            _ = until_closed(self.done.subscribe()) => return None,
        };
        match n {
            Ok(n) if n > 0 => {
                tracing::trace!("stream in {n}: {:02x?}", &buf[..n.min(48)]);
                Some(buf.freeze())
            }
            _ => {
                self.mark_closed();
                None
            }
        }
    }

    async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.done.send_replace(true);
        // The writer may be mid-write; a shutdown that waits for it is
        // not worth holding the caller for.
        if let Ok(mut w) = self.write.try_lock() {
            let _ = w.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpChannel, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap());
        let (a, b) = tokio::join!(a, l.accept());
        (
            TcpChannel::tcp(a.unwrap(), None, Negotiated::plaintext()),
            b.unwrap().0,
        )
    }

    #[tokio::test]
    async fn bytes_both_ways_and_the_prefix_first() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap());
        let (a, b) = tokio::join!(a, l.accept());
        let mut a = a.unwrap();
        let ch = TcpChannel::tcp(
            b.unwrap().0,
            Some(Bytes::from_static(b"hand")),
            Negotiated::plaintext(),
        );
        a.write_all(b"shake").await.unwrap();
        assert_eq!(&ch.recv().await.unwrap()[..], b"hand");
        assert_eq!(&ch.recv().await.unwrap()[..], b"shake");
        ch.send(Bytes::from_static(b"back")).await.unwrap();
        let mut got = [0u8; 4];
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"back");
        drop(a);
        assert_eq!(ch.recv().await, None);
        assert!(*ch.closed().borrow());
    }

    #[tokio::test]
    async fn close_wakes_a_blocked_reader_and_writer() {
        let (ch, _other) = pair().await;
        let ch = std::sync::Arc::new(ch);
        let reader = tokio::spawn({
            let ch = ch.clone();
            async move { ch.recv().await }
        });
        // The other side never reads: the writer fills the socket buffers.
        let writer = tokio::spawn({
            let ch = ch.clone();
            async move {
                loop {
                    if ch.send(Bytes::from(vec![0u8; 1 << 20])).await.is_err() {
                        return;
                    }
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        ch.close().await;
        let r = tokio::time::timeout(Duration::from_secs(2), reader).await;
        assert_eq!(r.unwrap().unwrap(), None);
        tokio::time::timeout(Duration::from_secs(2), writer)
            .await
            .expect("the writer stayed blocked")
            .unwrap();
    }
}

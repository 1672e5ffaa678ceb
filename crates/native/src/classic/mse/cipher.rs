//! A stream's halves after the MSE handshake: RC4 both ways, or plaintext
//! (no cipher) when that was selected or MSE was not spoken at all.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::rc4::Rc4;

/// Decrypts what `inner` reads.
pub struct Decrypting<R> {
    inner: R,
    rc4: Option<Rc4>,
}

impl<R> Decrypting<R> {
    pub fn new(inner: R, rc4: Option<Rc4>) -> Self {
        Decrypting { inner, rc4 }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Decrypting<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut me.inner).poll_read(cx, buf))?;
        if let Some(rc4) = &mut me.rc4 {
            rc4.apply(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

/// Encrypts what is written to `inner`. A write is taken whole (encrypted
/// into a buffer, since the cipher cannot go back) and finished by later
/// writes or `flush`, which does not flush `inner` (TCP and uTP send
/// without it).
pub struct Encrypting<W> {
    inner: W,
    rc4: Option<Rc4>,
    pending: Vec<u8>,
    at: usize,
}

impl<W> Encrypting<W> {
    pub fn new(inner: W, rc4: Option<Rc4>) -> Self {
        Encrypting {
            inner,
            rc4,
            pending: Vec::new(),
            at: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> Encrypting<W> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.at < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.at += n;
        }
        self.pending.clear();
        self.at = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Encrypting<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.rc4.is_none() {
            return Pin::new(&mut me.inner).poll_write(cx, buf);
        }
        ready!(me.drain(cx))?;
        me.pending.extend_from_slice(buf);
        if let Some(rc4) = &mut me.rc4 {
            rc4.apply(&mut me.pending);
        }
        // Started now; whatever the socket does not take yet goes out with
        // the next write or flush.
        if let Poll::Ready(Err(e)) = me.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.drain(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}
